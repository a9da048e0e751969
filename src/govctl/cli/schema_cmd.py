"""`govctl schema [KIND]`."""

from __future__ import annotations

from typing import Annotated

import typer

from govctl.cli.output import write


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema(
        kind: Annotated[str | None, typer.Argument(
            help="A record kind (UseCase, Bundle, …); without it, one schema for any record.",
            show_default=False)] = None,
    ) -> int:
        """Print the JSON Schema (2020-12) of a record kind."""
        from govctl.errors import GovctlError
        from govctl.model import schemas
        from govctl.model.records import KINDS
        from govctl.report.json import dumps

        if kind is None:
            write(dumps(schemas.combined_schema()))
            return 0
        if kind not in KINDS:
            hint = schemas.suggest(kind, KINDS) or f" (one of {', '.join(KINDS)})"
            raise GovctlError(f"unknown kind {kind!r}{hint}")
        write(dumps(schemas.schema(kind)))
        return 0
