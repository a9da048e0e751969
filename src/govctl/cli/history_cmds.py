"""`govctl diff`, `govctl history`, `govctl trace`: commands that read git history."""

from __future__ import annotations

from typing import Annotated

import typer

from govctl.cli.options import (
    MAX_FILE_BYTES,
    AsOfOption,
    MaxFileBytesOption,
    RootOption,
    as_of_of,
    choice,
    gates,
    root_of,
)
from govctl.cli.output import print_lines, write
from govctl.errors import EXIT_FINDINGS, EXIT_OK


def register(app: typer.Typer) -> None:
    @app.command("diff")
    def diff(
        base: Annotated[str | None, typer.Argument(
            help="Base revision (default: merge-base of HEAD with the default branch).",
            show_default=False)] = None,
        head: Annotated[str | None, typer.Argument(
            help="Head revision (default: the working tree).", show_default=False)] = None,
        root: RootOption = None,
        output_format: Annotated[str, typer.Option(
            "--format", "-f", help="text | markdown | json.")] = "text",
        fail_on: Annotated[list[str] | None, typer.Option(
            "--fail-on", help="Exit 1 when a change is loosened | reapproval | unapproved "
            "(a touched use case without a good approval at HEAD) | any (repeatable: any "
            "gate trips).", show_default=False)] = None,
        as_of: AsOfOption = None,
        max_file_bytes: MaxFileBytesOption = MAX_FILE_BYTES,
    ) -> int:
        """Semantic diff of the records between two revisions, for pull-request review."""
        from govctl.history.revisions import diff_revisions

        fmt = choice(output_format, ("text", "markdown", "json"), "--format")
        chosen = gates(fail_on, ("loosened", "reapproval", "unapproved", "any"))
        result = diff_revisions(root_of(root), base, head, as_of_of(as_of), max_file_bytes)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(result.json()))
        elif fmt == "markdown":
            from govctl.report.diff import render_markdown

            write(render_markdown(result))
        else:
            from govctl.report.diff import render_text

            print_lines(render_text(result))
        return EXIT_FINDINGS if any(result.trips(g) for g in chosen) else EXIT_OK

    @app.command("history")
    def history(
        use_case: Annotated[str, typer.Argument(help="The UseCase's id.", show_default=False)],
        root: RootOption = None,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="text | json.")] = "text",
        max_file_bytes: MaxFileBytesOption = MAX_FILE_BYTES,
    ) -> int:
        """Timeline of every commit touching a use case or anything it depends on."""
        from govctl.history.timeline import history_of

        fmt = choice(output_format, ("text", "json"), "--format")
        timeline = history_of(root_of(root), use_case, max_file_bytes)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(timeline.json()))
        else:
            from govctl.report.history import render_text

            print_lines(render_text(timeline))
        return EXIT_OK

    @app.command("trace")
    def trace(
        digest: Annotated[str, typer.Argument(help="A bundle digest (sha256:…) as logged in "
                                              "production.", show_default=False)],
        root: RootOption = None,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="text | json.")] = "text",
        max_file_bytes: MaxFileBytesOption = MAX_FILE_BYTES,
    ) -> int:
        """Which bundle, use case and approvals a digest belongs to, searching history."""
        from govctl.history.trace import trace as run_trace

        fmt = choice(output_format, ("text", "json"), "--format")
        result = run_trace(root_of(root), digest, max_file_bytes)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(result.json()))
        else:
            from govctl.report.trace import render_text

            print_lines(render_text(result))
        return EXIT_OK
