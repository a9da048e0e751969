"""Monitoring observations (SPEC §3.3): JSON Lines, CSV, OpenMetrics text, Prometheus text.

Every format yields the same :class:`Observation`; the latest per (use case, signal) at or
before ``--as-of`` wins. A malformed line is a usage error naming the file and line
(exit 2), never a traceback. Prometheus and OpenMetrics text is parsed with
``prometheus_client``'s parsers; a failure is located by re-parsing line by line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from govctl.errors import GovctlError
from govctl.timeutil import parse_timestamp

FORMATS = ("jsonl", "csv", "openmetrics", "prometheus")
COLUMNS = ("use_case", "signal", "metric", "value", "at", "bundle_digest")


@dataclass(frozen=True)
class Observation:
    use_case: str
    signal: str
    metric: str | None
    value: float
    at: datetime  # aware UTC; the file's mtime for samples without a timestamp
    bundle_digest: str | None = None
    source: str = ""  # "file:line", for messages


@dataclass(frozen=True)
class ObservationSet:
    observations: tuple[Observation, ...]
    source: str

    def latest(self, as_of: datetime) -> dict[tuple[str, str], Observation]:
        """(use case, signal) → the latest observation at or before ``as_of``."""
        out: dict[tuple[str, str], Observation] = {}
        for obs in self.observations:
            if obs.at > as_of:
                continue  # SPEC §3.3: observations after --as-of are ignored
            key = (obs.use_case, obs.signal)
            held = out.get(key)
            if held is None or obs.at >= held.at:
                out[key] = obs
        return out


def _error(path: Path, line: int, what: str) -> GovctlError:
    return GovctlError(f"{path}:{line}: {what}")


def detect_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".om", ".openmetrics"):
        return "openmetrics"
    if suffix in (".prom", ".metrics"):
        return "prometheus"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    if first.replace(" ", "").startswith("use_case,") or ",use_case," in first.replace(" ", ""):
        return "csv"
    if any(line.strip() == "# EOF" for line in text.splitlines()[-3:]):
        return "openmetrics"
    return "prometheus"


def load_observations(path: Path, fmt: str | None = None) -> ObservationSet:
    try:
        raw = path.read_bytes()
        stat = path.stat()
    except FileNotFoundError:
        raise GovctlError(f"{path}: observations file not found") from None
    except OSError as exc:
        raise GovctlError(f"{path}: cannot read observations ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise _error(path, line, "not UTF-8 text") from None
    if fmt is not None and fmt not in FORMATS:
        raise GovctlError(f"--observations-format {fmt!r}: one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path, text)
    mtime = datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc)
    parser = {"jsonl": _jsonl, "csv": _csv, "openmetrics": _openmetrics,
              "prometheus": _prometheus}[fmt]
    return ObservationSet(tuple(parser(path, text, mtime)), str(path))


# -- row formats (JSON Lines, CSV) -----------------------------------------------------------


def _row(path: Path, line: int, row: Mapping[str, object], mtime: datetime) -> Observation:
    for key in ("use_case", "signal", "value"):
        if row.get(key) in (None, ""):
            raise _error(path, line, f"missing {key!r} (a row needs use_case, signal, value, "
                         "and at)")
    value = row["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _error(path, line, f"value {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise _error(path, line, f"value {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _error(path, line, f"value {value!r} is not a finite number")
    at_text = row.get("at")
    if at_text in (None, ""):
        at = mtime
    else:
        at = parse_timestamp(str(at_text))
        if at is None:
            raise _error(path, line, f"at {at_text!r} is not an RFC 3339 timestamp "
                         "(e.g. 2026-11-27T09:00:00Z)")
    digest = row.get("bundle_digest") or None
    metric = row.get("metric") or None
    return Observation(str(row["use_case"]), str(row["signal"]),
                       str(metric) if metric is not None else None, number, at,
                       str(digest) if digest is not None else None, f"{path}:{line}")


def _jsonl(path: Path, text: str, mtime: datetime) -> Iterable[Observation]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _error(path, number, f"not a JSON object ({exc.msg})") from None
        if not isinstance(row, dict):
            raise _error(path, number, "not a JSON object")
        yield _row(path, number, row, mtime)


def _csv(path: Path, text: str, mtime: datetime) -> Iterable[Observation]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("use_case", "signal", "value") if c not in header]
    if missing:
        raise _error(path, 1, f"CSV header lacks {', '.join(missing)} (columns: "
                     f"{', '.join(COLUMNS)})")
    reader.fieldnames = header
    try:
        for row in reader:
            if None in row:
                raise _error(path, reader.line_num, "more fields than the header has")
            if not any((v or "").strip() for v in row.values()):
                continue
            yield _row(path, reader.line_num, {k: (v or "").strip() for k, v in row.items()},
                       mtime)
    except csv.Error as exc:
        raise _error(path, reader.line_num, f"malformed CSV ({exc})") from None


# -- exposition formats (OpenMetrics, Prometheus) ---------------------------------------------


def _samples(path: Path, text: str, mtime: datetime, openmetrics: bool
             ) -> Iterable[Observation]:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        if not text.rstrip("\n").endswith("# EOF"):
            raise _error(path, text.count("\n") + 1, "OpenMetrics text must end with '# EOF'")
    else:
        from prometheus_client.parser import text_string_to_metric_families
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as exc:  # the parsers raise ValueError (and worse) without line numbers
        line, what = _locate_sample_error(text, openmetrics, exc)
        raise _error(path, line, what) from None
    lines = _sample_lines(text)
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            where = lines.get(sample.name, 0)
            if "use_case" not in labels or "signal" not in labels:
                raise _error(path, where, f"sample {sample.name} needs use_case and signal "
                             "labels")
            value = float(sample.value)
            if not math.isfinite(value):
                raise _error(path, where, f"sample {sample.name} value is not finite")
            if sample.timestamp is None:
                at = mtime
            else:
                ts = sample.timestamp
                seconds = ts.sec + ts.nsec / 1e9 if hasattr(ts, "sec") else float(ts)
                at = datetime.fromtimestamp(seconds, tz=timezone.utc)
            yield Observation(labels["use_case"], labels["signal"], sample.name, value, at,
                              labels.get("bundle_digest") or None, f"{path}:{where}")


def _sample_lines(text: str) -> dict[str, int]:
    """Metric name → first line it appears on (for messages)."""
    out: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            out.setdefault(name, number)
    return out


def _locate_sample_error(text: str, openmetrics: bool, exc: Exception) -> tuple[int, str]:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        probe = line + ("\n# EOF\n" if openmetrics else "\n")
        try:
            list(text_string_to_metric_families(probe))
        except Exception as line_exc:
            return number, f"malformed sample line: {line_exc}"
    return 1, f"malformed {'OpenMetrics' if openmetrics else 'Prometheus'} text: {exc}"


def _openmetrics(path: Path, text: str, mtime: datetime) -> Iterable[Observation]:
    return _samples(path, text, mtime, openmetrics=True)


def _prometheus(path: Path, text: str, mtime: datetime) -> Iterable[Observation]:
    return _samples(path, text, mtime, openmetrics=False)


def file_mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(os.stat(path).st_mtime, tz=timezone.utc)
