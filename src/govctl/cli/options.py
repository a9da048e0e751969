"""Options shared by every command (SPEC §3 conventions)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from govctl.monitoring.limits import PROMETHEUS_TIMEOUT

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

ObservationsOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--observations", help="Monitoring observations: JSON Lines, CSV, OpenMetrics "
                 "or Prometheus text (a regular file).", show_default=False),
]
ObservationsFormatOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--observations-format", help="jsonl | csv | openmetrics | prometheus "
                 "(default: detected from the content).", show_default=False),
]
MaxObservationsBytesOption = Annotated[
    int, typer.Option("--max-observations-bytes", help="Refuse a larger observations file.",
                      show_default="256 MiB"),
]
# = model.loader.MAX_FILE_SIZE (not imported here: the loader imports yaml, and `--help`
# must stay fast; a test keeps the two equal)
MAX_FILE_BYTES = 5 * 1024 * 1024
MaxFileBytesOption = Annotated[
    int, typer.Option("--max-file-bytes", min=1, help="Size limit for record files (and "
                      "their versions in git): a larger one is GOV004, never read.",
                      show_default="5 MiB (5242880)"),
]
PrometheusOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--prometheus", help="Query a Prometheus server (HTTP API) instead of a file: "
                 "http://host:9090.", show_default=False),
]
PrometheusTimeoutOption = Annotated[
    float, typer.Option("--prometheus-timeout", help="Seconds allowed for each whole Prometheus "
                        "request."),
]


# Imports inside the functions: `govctl --help` must not load the YAML loader or schemas.


def source_of(observations: Path | None, fmt: str | None, max_bytes: int,
              prometheus: str | None = None, timeout: float = PROMETHEUS_TIMEOUT) -> Any:
    """The ``ObservationSource`` the observation options name."""
    from govctl.monitoring.sources import ObservationSource

    return ObservationSource(observations, fmt, max_bytes, prometheus, timeout)


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


def gates(values: list[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``--fail-on`` given any number of times: each value checked, all of them apply."""
    return tuple(choice(v, allowed, "--fail-on") for v in values or ())


OutputOption = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write to FILE (outside the governance root) instead of stdout.",
    show_default=False)]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing FILE.")]
