"""`govctl digest BUNDLE_ID`."""

from __future__ import annotations

from typing import Annotated

import typer

from govctl.cli.options import RootOption, choice, root_of
from govctl.cli.output import write

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    @app.command("digest")
    def digest(
        bundle_id: Annotated[str, typer.Argument(help="The Bundle's id.", show_default=False)],
        root: RootOption = None,
        output_format: Annotated[str, typer.Option(
            "--format", "-f", help="text (the digest) | json (every input and its digest, and "
            "the canonical JSON that was hashed).")] = "text",
    ) -> int:
        """Print a bundle's digest (SPEC §1.3): what production logs with every inference."""
        from govctl.digest.breakdown import bundle_report

        fmt = choice(output_format, FORMATS, "--format")
        report = bundle_report(root_of(root), bundle_id)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(report))
        else:
            write(report["digest"] + "\n")
        return 0
