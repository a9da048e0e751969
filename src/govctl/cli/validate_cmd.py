"""`govctl validate [PATH…]`."""

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
    root_of,
)
from govctl.cli.output import print_lines, say, write
from govctl.errors import EXIT_FINDINGS, EXIT_OK

FORMATS = ("text", "json", "github", "sarif", "junit")


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        paths: Annotated[list[str] | None, typer.Argument(
            help="Report findings only for these files (references are still checked "
                 "across the whole root), as pre-commit passes them.",
            show_default=False)] = None,
        root: RootOption = None,
        output_format: Annotated[str, typer.Option(
            "--format", "-f", help=f"Output format: {' | '.join(FORMATS)}.")] = "text",
        as_of: AsOfOption = None,
        history: Annotated[bool, typer.Option(
            "--history", help="Also check approval provenance against git history (GOV080).",
        )] = False,
        warn: Annotated[list[str] | None, typer.Option(
            "--warn", help="Report this rule as a warning for this run (repeatable), e.g. "
            "--warn GOV031 in a pre-commit hook.", show_default=False)] = None,
        max_file_bytes: MaxFileBytesOption = MAX_FILE_BYTES,
    ) -> int:
        """Check every record: YAML, schemas, references, approvals, policy (SPEC §2)."""
        from govctl.history.validation import validate as run_validation

        fmt = choice(output_format, FORMATS, "--format")
        import os

        for given in paths or ():
            if not os.path.exists(given):  # pre-commit passes existing files; a typo doesn't
                say(f"govctl: warning: {given}: no such file; nothing reported for it",
                           err=True)
        from govctl.model.findings import rule_codes

        downgraded = rule_codes(warn or (), "--warn")
        result = run_validation(root_of(root), as_of_of(as_of), paths or (), history=history,
                                warn=downgraded, max_file_bytes=max_file_bytes)
        if fmt == "text":
            from govctl.report import text

            print_lines(text.render(result))
        else:
            import importlib

            reporter = importlib.import_module(f"govctl.report.{fmt}")
            write(reporter.render(result))
        return EXIT_FINDINGS if result.errors else EXIT_OK
