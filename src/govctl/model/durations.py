"""Prometheus durations (``30s``, ``5m``, ``1h30m``), the ``window`` of a contract signal."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: Any) -> float | None:
    if not isinstance(duration, str):
        return None
    total = sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(duration))
    return float(total) if total or duration.startswith("0") else None
