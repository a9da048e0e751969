"""Options shared by every command (SPEC §3 conventions)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

RootOption = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--root", help="Governance root (default: nearest folder upward with "
                 "governance.yaml).", show_default=False),
]
AsOfOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--as-of", help="Evaluate time-dependent rules at this date (end of that "
                 "UTC day) or RFC 3339 timestamp. Default: now.", show_default=False),
]


# Imports inside the functions: `govctl --help` must not load the YAML loader or schemas.


def root_of(root: Path | None) -> Path:
    from govctl.model.repository import find_root

    return find_root(Path.cwd(), root)


def as_of_of(text: str | None) -> datetime:
    from govctl.model.dates import parse_as_of

    return parse_as_of(text)


def choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}",
                                 param_hint=option)
    return value
