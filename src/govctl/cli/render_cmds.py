"""`govctl card`, `govctl audit-pack`, `govctl verify`: documents from records and history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govctl.cli.options import (
    AsOfOption,
    MaxObservationsBytesOption,
    ObservationsFormatOption,
    ObservationsOption,
    RootOption,
    as_of_of,
    choice,
    root_of,
    source_of,
)
from govctl.cli.output import say, write
from govctl.errors import EXIT_OK, GovctlError
from govctl.monitoring.limits import MAX_OBSERVATION_BYTES

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


def register(app: typer.Typer) -> None:
    @app.command("card")
    def card(
        use_case: Annotated[str, typer.Argument(help="The UseCase's id.", show_default=False)],
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="md | html.")] = "md",
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Write to FILE (outside the governance root) instead of "
            "stdout.", show_default=False)] = None,
        force: Annotated[bool, typer.Option("--force",
                                            help="Replace an existing FILE.")] = False,
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
        if target is None:
            write(text)
            return EXIT_OK
        from govctl.model.atomic import write_atomic

        write_atomic(target, text.encode("utf-8"), overwrite=force)
        say(f"wrote {output}", err=True)
        return EXIT_OK

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
        from govctl.documents.manifest import MANIFEST

        if output is None:
            raise GovctlError("-o DIR is required: where to write the pack")
        if all_use_cases and use_cases:
            raise GovctlError("give use case ids or --all, not both")
        governance_root = root_of(root)
        source = source_of(observations, observations_format, max_observations_bytes)
        request = PackRequest(tuple(use_cases or ()), all_use_cases, output, since, until,
                              as_zip, force, template, source)
        if all_use_cases and sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True, console=None) as bar:
                task = bar.add_task("packing", total=None)

                def advance(use_case: str) -> None:
                    bar.update(task, advance=1, description=f"packing {use_case}")

                result = build_audit_pack(governance_root, request, as_of_of(as_of), advance)
        else:
            result = build_audit_pack(governance_root, request, as_of_of(as_of))
        say(f"wrote {result.path}: {result.files} files and {MANIFEST} for "
                   f"{len(result.use_cases)} use case(s); check it with `govctl verify "
                   f"{result.path}`")
        say(f"manifest sha256 {result.manifest_sha256} (keep it outside the pack: "
                   "`govctl verify` prints it, so a rewritten manifest shows)")
        return EXIT_OK

    @app.command("verify")
    def verify(
        pack: Annotated[Path, typer.Argument(help="An audit pack folder or zip.",
                                             show_default=False)],
        root: RootOption = None,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="text | json.")] = "text",
    ) -> int:
        """Check an audit pack against its manifest (and the repository, when at hand)."""
        from pathlib import Path as P

        from govctl.documents.verify import verify as run_verify
        from govctl.model.repository import find_root

        fmt = choice(output_format, ("text", "json"), "--format")
        governance_root = None
        try:
            governance_root = find_root(P.cwd(), root)
        except GovctlError:
            if root is not None:
                raise
        in_git = governance_root is not None and any(
            (folder / ".git").exists() for folder in (governance_root, *governance_root.parents))
        result = run_verify(pack, governance_root if in_git else None)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps({"version": 1, "pack": str(pack), "intact": result.intact,
                         "files": result.files, "altered": list(result.altered),
                         "added": list(result.added), "removed": list(result.removed),
                         "repository": list(result.repository),
                         "checked_repository": result.checked_repository,
                         "manifest_sha256": result.manifest_sha256}))
        else:
            for label, names in (("altered", result.altered), ("added", result.added),
                                 ("removed", result.removed),
                                 ("not in the repository", result.repository)):
                for name in names:
                    say(f"{label}: {name}")
            checked = ("; evidence checked against the repository" if result.checked_repository
                       else "; evidence not checked against git (run inside the repository)")
            verdict = "intact" if result.intact else "NOT intact"
            say(f"{pack}: {verdict} ({result.files} files in the manifest{checked})")
            say(f"manifest sha256 {result.manifest_sha256}")
        return EXIT_OK if result.intact else 1
