"""Prometheus durations (``30s``, ``5m``, ``1h30m``), the ``window`` of a contract signal.

The one parser of a window: `validate` (GOV045), `export prometheus-rules` (the ``for:``
of each alert) and `status` (freshness, twice the window) all read it here, so a window
`validate` accepts is one promtool accepts and one `status` judges by. The grammar is
Prometheus's own: units ``y w d h m s ms``, each at most once, largest first (``1h30m``;
``30m1h`` and ``1h1h`` are not durations). A contract's window must also be longer than
0 and at most 1y (SPEC §2, GOV045).
"""

from __future__ import annotations

import re
from typing import Any

# (unit, milliseconds), largest first: the order Prometheus's ParseDuration requires
UNITS = (("y", 31_536_000_000), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000),
         ("m", 60_000), ("s", 1_000), ("ms", 1))
MAX_WINDOW_MS = 31_536_000_000  # 1y
# [0-9], not \d: \d also matches other scripts' digits, which Prometheus does not read
_GRAMMAR = re.compile("".join(f"(?:([0-9]+){unit})?" for unit, _ in UNITS))
_DIGITS = 15  # 10^15 ms is over 31,000 years: longer numbers need not be converted


def milliseconds(duration: Any) -> int | None:
    """The duration in milliseconds as Prometheus reads it, None when it is not one.
    A duration past ``MAX_WINDOW_MS`` may be clamped to ``MAX_WINDOW_MS + 1``."""
    if not isinstance(duration, str) or not duration:
        return None
    match = _GRAMMAR.fullmatch(duration)
    if match is None:
        return None
    total = 0
    for digits, (_, unit_ms) in zip(match.groups(), UNITS, strict=True):
        if digits is not None:
            number = digits.lstrip("0")
            if len(number) > _DIGITS:
                return MAX_WINDOW_MS + 1
            total += int(number or "0") * unit_ms
    return min(total, MAX_WINDOW_MS + 1)


def window_problem(duration: Any) -> str | None:
    """Why ``duration`` cannot be a signal's window (GOV045), None when it can. A value
    that is not a string is the schema's to report."""
    if not isinstance(duration, str):
        return None
    total = milliseconds(duration)
    if total is None:
        return ("is not a Prometheus duration (units y w d h m s ms, each at most once, "
                "largest first, e.g. 1h30m)")
    if total == 0:
        return "must be longer than 0"
    if total > MAX_WINDOW_MS:
        return "is longer than 1y"
    return None


def seconds(duration: Any) -> float | None:
    """A valid window's length in seconds; None for anything `validate` reports (GOV045)."""
    if window_problem(duration) is not None:
        return None
    total = milliseconds(duration)
    return None if total is None else total / 1000


def format_duration(total_ms: int) -> str:
    """``total_ms`` written as Prometheus writes a duration (``7200000`` → ``2h``,
    ``5400000`` → ``1h30m``): largest unit first, each at most once. ``0`` is ``0s``."""
    if total_ms <= 0:
        return "0s"
    parts = []
    for unit, unit_ms in UNITS:
        count, total_ms = divmod(total_ms, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
