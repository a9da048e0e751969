"""Observations for the monitoring tests (SPEC §3.3): one set of rows written out in each
of the four formats, and helpers to read `govctl status --format json`."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

USE_CASE = "claims-triage"
AS_OF = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
AS_OF_TEXT = "2026-11-27T12:00:00Z"

# the factory's contract (tests/factory.py: thresholds/triage.yaml)
METRICS = {"latency": "p95_latency_ms", "accuracy_proxy": "triage_agreement", "drift": "psi",
           "abuse": "injection_rate", "fallback": "human_handoff_rate"}
FORMATS = ("jsonl", "csv", "openmetrics", "prometheus")
EXTENSIONS = {"jsonl": ".jsonl", "csv": ".csv", "openmetrics": ".om", "prometheus": ".prom"}


@dataclass(frozen=True)
class Row:
    signal: str
    value: float
    at: datetime | None  # None: no timestamp (the file's mtime counts)
    use_case: str = USE_CASE
    metric: str | None = None  # default: the factory contract's metric for the signal
    bundle_digest: str | None = None

    @property
    def metric_name(self) -> str:
        return self.metric or METRICS[self.signal]


def ago(**delta: float) -> datetime:
    """An instant before the tests' as-of (``ago(minutes=2)``)."""
    return AS_OF - timedelta(**delta)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def render(rows: Iterable[Row], fmt: str) -> str:
    """The rows in one of the four formats, in the given order where the format allows it
    (OpenMetrics wants each metric family in one block, timestamps ascending)."""
    rows = list(rows)
    if fmt == "jsonl":
        out = []
        for r in rows:
            row: dict[str, Any] = {"use_case": r.use_case, "signal": r.signal,
                                   "metric": r.metric_name, "value": r.value}
            if r.at is not None:
                row["at"] = rfc3339(r.at)
            if r.bundle_digest is not None:
                row["bundle_digest"] = r.bundle_digest
            out.append(json.dumps(row))
        return "\n".join(out) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["use_case", "signal", "metric", "value", "at", "bundle_digest"])
        for r in rows:
            writer.writerow([r.use_case, r.signal, r.metric_name, repr(r.value),
                             rfc3339(r.at) if r.at else "", r.bundle_digest or ""])
        return buffer.getvalue()
    if fmt == "prometheus":
        return "".join(_sample(r, None if r.at is None else str(round(r.at.timestamp() * 1000)))
                       for r in rows)
    if fmt == "openmetrics":
        families: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            families[r.metric_name].append(r)
        out_lines = []
        for name, members in families.items():
            out_lines.append(f"# TYPE {name} gauge\n")
            members.sort(key=lambda r: r.at.timestamp() if r.at else 0.0)
            out_lines += [_sample(r, None if r.at is None else _seconds(r.at)) for r in members]
        return "".join(out_lines) + "# EOF\n"
    raise AssertionError(fmt)


def _seconds(moment: datetime) -> str:
    stamp = moment.timestamp()
    return str(int(stamp)) if stamp == int(stamp) else f"{stamp:.3f}"


def _sample(r: Row, stamp: str | None) -> str:
    labels = f'use_case="{r.use_case}",signal="{r.signal}"'
    if r.bundle_digest:
        labels += f',bundle_digest="{r.bundle_digest}"'
    return f"{r.metric_name}{{{labels}}} {r.value!r}" + (f" {stamp}" if stamp else "") + "\n"


def write_observations(folder: Path, rows: Iterable[Row], fmt: str, name: str = "observations",
                       extension: str | None = None) -> Path:
    path = folder / (name + (EXTENSIONS[fmt] if extension is None else extension))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(rows, fmt), encoding="utf-8")
    return path


def status_json(govctl: Any, root: Path, *args: object, as_of: str = AS_OF_TEXT,
                code: int = 0) -> dict[str, Any]:
    result = govctl("status", "--root", root, "--format", "json", "--as-of", as_of, *args)
    assert result.code == code, (result.code, result.stdout, result.stderr)
    assert result.stderr == ""
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def use_case_entry(payload: dict[str, Any], use_case: str = USE_CASE) -> dict[str, Any]:
    (entry,) = [u for u in payload["use_cases"] if u["id"] == use_case]
    return entry


def signals(payload: dict[str, Any], use_case: str = USE_CASE) -> dict[str, dict[str, Any]]:
    return {s["signal"]: s for s in use_case_entry(payload, use_case)["signals"]}


def states(payload: dict[str, Any], use_case: str = USE_CASE) -> dict[str, str]:
    return {name: s["state"] for name, s in signals(payload, use_case).items()}


def assert_usage_error(result: Any, *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one ``govctl: error: …`` line, no traceback."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("govctl: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
