"""`govctl card`, `govctl audit-pack`, `govctl verify`: documents from records and history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from govctl.cli.options import (
    AsOfOption,
    ForceOption,
    MaxObservationsBytesOption,
    ObservationsFormatOption,
    ObservationsOption,
    OutputOption,
    RootOption,
    as_of_of,
    choice,
    root_of,
    source_of,
)
from govctl.cli.output import say, write
from govctl.errors import EXIT_FINDINGS, EXIT_OK, GovctlError
from govctl.monitoring.limits import MAX_OBSERVATION_BYTES

if TYPE_CHECKING:  # imported by the command that runs, not at start-up
    from govctl.documents.verify import Verification

TemplateOption = Annotated[Path | None, typer.Option(
    "--template", help="A folder of Jinja2 templates overriding the built-in ones by name.",
    show_default=False)]


def outside_root(target: Path, root: Path, what: str, force: bool = False) -> Path:
    """The file a read-only command may write: never in the governance repository (its
    folder resolved, so no link leads there), never through a link, and with ``force``
    only over a regular file (SPEC §3; :func:`govctl.model.atomic.claim_output`)."""
    from govctl.model.atomic import claim_output, output_target
    from govctl.model.paths import is_inside

    if is_inside(output_target(target), root.resolve()):
        raise GovctlError(f"{what} {target} is inside the governance root {root}; govctl never "
                          "writes into the governance repository from this command — choose a "
                          "path outside it")
    return claim_output(target, force)


def emit(text: str, target: Path | None, output: Path | None, force: bool) -> None:
    """A document to stdout, or atomically to ``target`` (already claimed by
    :func:`outside_root`), saying so on stderr."""
    if target is None:
        write(text)
        return
    from govctl.model.atomic import write_atomic

    write_atomic(target, text.encode("utf-8"), overwrite=force)
    say(f"wrote {output}", err=True)


def register(app: typer.Typer) -> None:
    @app.command("card")
    def card(
        use_case: Annotated[str, typer.Argument(help="The UseCase's id.", show_default=False)],
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="md | html.")] = "md",
        output: OutputOption = None,
        force: ForceOption = False,
        at: Annotated[str | None, typer.Option(
            "--at", help="Render the records as committed at this git revision.",
            show_default=False)] = None,
        observations: ObservationsOption = None,
        observations_format: ObservationsFormatOption = None,
        max_observations_bytes: MaxObservationsBytesOption = MAX_OBSERVATION_BYTES,
        template: TemplateOption = None,
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """A living model card (Mitchell et al.) regenerated from the records."""
        from govctl.documents.card import FORMATS, CardRequest, render_card

        fmt = choice(output_format, FORMATS, "--format")
        governance_root = root_of(root)
        target = outside_root(output, governance_root, "-o", force) if output else None
        source = source_of(observations, observations_format, max_observations_bytes)
        text = render_card(governance_root, CardRequest(use_case, fmt, at, source, template),
                           as_of_of(as_of))
        emit(text, target, output, force)
        return EXIT_OK

    @app.command("drill")
    def drill(
        use_case: Annotated[str, typer.Argument(help="The UseCase's id.", show_default=False)],
        scenario: Annotated[str | None, typer.Option(
            "--scenario", help="What goes wrong, in words — or a built-in scenario: "
            "pii-leak, protected-class, amplification.", show_default=False)] = None,
        detected: Annotated[str | None, typer.Option(
            "--detected", help="When the failure was detected (RFC 3339): the Art. 73 "
            "clocks run from it.", show_default=False)] = None,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="md | html | json.")] = "md",
        output: OutputOption = None,
        force: ForceOption = False,
        fail_on: Annotated[list[str] | None, typer.Option(
            "--fail-on", help="Exit 1 on gap: any step not ready.", show_default=False)] = None,
        template: TemplateOption = None,
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """A tabletop drill sheet: seven steps of a model failure, filled or marked as gaps.

        Each step is filled from the records, the approved contract and git history, or
        marked as a gap with the record field that closes it (exit 0: gaps are the point
        of a drill, unless --fail-on gap)."""
        from govctl.cli.options import gates
        from govctl.documents.drill import FORMATS, build_drill, parse_detected, render_drill

        fmt = choice(output_format, FORMATS, "--format")
        chosen = gates(fail_on, ("gap",))
        governance_root = root_of(root)
        target = outside_root(output, governance_root, "-o", force) if output else None
        sheet = build_drill(governance_root, use_case, as_of_of(as_of), scenario,
                            parse_detected(detected))
        if fmt == "json":
            from govctl.report.json import dumps

            text = dumps(sheet.json())
        else:
            text = render_drill(sheet, fmt, template)
        emit(text, target, output, force)
        return EXIT_FINDINGS if "gap" in chosen and sheet.gaps else EXIT_OK

    @app.command("audit-pack")
    def audit_pack(
        use_cases: Annotated[list[str] | None, typer.Argument(
            help="UseCase ids to pack (or --all).", show_default=False)] = None,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="The pack folder to create (or zip file with --zip), "
            "outside the governance root.", show_default=False)] = None,
        all_use_cases: Annotated[bool, typer.Option("--all", help="Pack every use case.")
                                 ] = False,
        since: Annotated[str | None, typer.Option(
            "--since", help="Only history after this revision.", show_default=False)] = None,
        until: Annotated[str | None, typer.Option(
            "--until", help="The revision the pack describes (default: HEAD).",
            show_default=False)] = None,
        as_zip: Annotated[bool, typer.Option("--zip", help="Write one zip file.")] = False,
        pdf: Annotated[bool, typer.Option(
            "--pdf", help="Also write index.pdf, the index as a PDF (needs the pdf extra: "
            "WeasyPrint).")] = False,
        sign: Annotated[Path | None, typer.Option(
            "--sign", metavar="KEYFILE", help="Sign manifest.json with this SSH key "
            "(ssh-keygen -Y sign) into manifest.json.sig: the key you sign commits with.",
            show_default=False)] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Replace an existing pack.")] = False,
        observations: ObservationsOption = None,
        observations_format: ObservationsFormatOption = None,
        max_observations_bytes: MaxObservationsBytesOption = MAX_OBSERVATION_BYTES,
        template: TemplateOption = None,
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """A tamper-evident audit pack: the three answers, timelines, evidence, mapping."""
        import sys

        from govctl.documents.audit_pack import PackRequest, build_audit_pack
        from govctl.documents.manifest import MANIFEST, SIGNATURE

        if output is None:
            raise GovctlError("-o DIR is required: where to write the pack")
        if all_use_cases and use_cases:
            raise GovctlError("give use case ids or --all, not both")
        if pdf:  # before any work: one line when WeasyPrint is missing
            from govctl.documents.pdf import check_pdf

            check_pdf()
        governance_root = root_of(root)
        source = source_of(observations, observations_format, max_observations_bytes)
        request = PackRequest(tuple(use_cases or ()), all_use_cases, output, since, until,
                              as_zip, force, template, source, sign, pdf=pdf)
        if all_use_cases and sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True, console=None) as bar:
                task = bar.add_task("packing", total=None)

                def advance(use_case: str) -> None:
                    bar.update(task, advance=1, description=f"packing {use_case}")

                result = build_audit_pack(governance_root, request, as_of_of(as_of), advance)
        else:
            result = build_audit_pack(governance_root, request, as_of_of(as_of))
        signed = result.signer is not None
        say(f"wrote {result.path}: {result.files} files, {MANIFEST}"
            f"{f' and {SIGNATURE}' if signed else ''} for {len(result.use_cases)} use "
            "case(s)")
        say(f"manifest sha256 {result.manifest_sha256} (keep it, and give it to the pack's "
            "recipients, outside the pack: it is what --expect checks)")
        if result.signer is not None:
            say(f"signed {MANIFEST} with {result.signer.shown} from {result.signer.path}")
        say(f"check it with `govctl verify {result.path} "
            f"{'--allowed-signers allowed_signers ' if signed else ''}"
            f"--expect {result.manifest_sha256}`")
        return EXIT_OK

    @app.command("verify")
    def verify(
        pack: Annotated[Path, typer.Argument(help="An audit pack folder or zip.",
                                             show_default=False)],
        expect: Annotated[str | None, typer.Option(
            "--expect", metavar="SHA256", help="Require this manifest sha256 (the one "
            "`govctl audit-pack` printed), with or without sha256:.", show_default=False)
                          ] = None,
        allowed_signers: Annotated[Path | None, typer.Option(
            "--allowed-signers", metavar="FILE", help="Require manifest.json.sig to be a "
            "good signature by a key in FILE (`<email> <public key>` lines, as git's "
            "gpg.ssh.allowedSignersFile).", show_default=False)] = None,
        root: RootOption = None,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="text | json.")] = "text",
    ) -> int:
        """Check an audit pack against its manifest (and the repository, when at hand).

        With --expect or --allowed-signers, also that it is the pack that was built:
        without either, outside the repository, it checks integrity only."""
        from pathlib import Path as P

        from govctl.documents.verify import expected_sha256
        from govctl.documents.verify import verify as run_verify
        from govctl.model.repository import find_root

        fmt = choice(output_format, ("text", "json"), "--format")
        expected = expected_sha256(expect) if expect is not None else None
        governance_root = None
        try:
            governance_root = find_root(P.cwd(), root)
        except GovctlError:
            if root is not None:
                raise
        in_git = governance_root is not None and any(
            (folder / ".git").exists() for folder in (governance_root, *governance_root.parents))
        result = run_verify(pack, governance_root if in_git else None, expected,
                            allowed_signers)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps({"version": 1, "pack": str(pack), "intact": result.intact,
                         "files": result.files, "altered": list(result.altered),
                         "added": list(result.added), "removed": list(result.removed),
                         "repository": list(result.repository),
                         "checked_repository": result.checked_repository,
                         "manifest_sha256": result.manifest_sha256,
                         "expected_sha256": result.expected_sha256,
                         "signature": result.signature.json(),
                         "authentic": result.authentic, "verified": result.verified}))
        else:
            _say_verification(pack, result, allowed_signers)
        return EXIT_OK if result.verified else 1


def _say_verification(pack: Path, result: Verification, allowed_signers: Path | None
                      ) -> None:
    from govctl.documents.manifest import SIGNATURE
    from govctl.documents.signing import GOOD, UNCHECKED, UNSIGNED

    for label, names in (("altered", result.altered), ("added", result.added),
                         ("removed", result.removed),
                         ("not in the repository", result.repository)):
        for name in names:
            say(f"{label}: {name}")
    checked = ("; evidence checked against the repository" if result.checked_repository
               else "; evidence not checked against git (run inside the repository)")
    verdict = ("NOT intact" if not result.intact else "intact, but NOT authentic"
               if result.authentic is False else "intact and authentic" if result.authentic
               else "intact")
    say(f"{pack}: {verdict} ({result.files} files in the manifest{checked})")
    if result.expect_matches is None:
        say(f"manifest sha256 {result.manifest_sha256}")
    elif result.expect_matches:
        say(f"manifest sha256 {result.manifest_sha256} (as expected)")
    else:
        say(f"manifest sha256 {result.manifest_sha256} is NOT the expected "
            f"{result.expected_sha256}")
    signature = result.signature
    if signature.state == GOOD:
        say(f"signature: good, by {signature.by} ({signature.key}, listed in "
            f"{allowed_signers})")
    elif signature.state == UNCHECKED:
        say(f"signature: {SIGNATURE} NOT checked (give --allowed-signers FILE to check who "
            "signed)")
    elif signature.state != UNSIGNED:
        say(f"signature: {signature.state.upper()}: {signature.problem}")
    if not result.authenticity_checked and not result.checked_repository:
        say("integrity only: authenticity not checked")
