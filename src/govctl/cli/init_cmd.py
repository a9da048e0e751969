"""`govctl init DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govctl.cli.output import say


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Annotated[Path, typer.Argument(help="Folder to create the repository in.",
                                                  show_default=False)],
        force: Annotated[bool, typer.Option(
            "--force", help="Write into a non-empty folder, replacing files of the same name.",
        )] = False,
    ) -> int:
        """Scaffold a minimal governance repository that validates clean."""
        from govctl.model.dates import now, utc_date
        from govctl.model.scaffold import scaffold

        written = scaffold(directory, utc_date(now()).isoformat(), force=force)
        say(f"created a governance repository in {directory} ({len(written)} files); "
                   f"next: govctl validate --root {directory}")
        return 0
