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
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from govctl.errors import GovctlError
from govctl.model.dates import parse_timestamp

FORMATS = ("jsonl", "csv", "openmetrics", "prometheus")
COLUMNS = ("use_case", "signal", "metric", "value", "at", "bundle_digest")
_LINE_BREAK = re.compile("\r\n|\r|\n")


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


def _lines(text: str) -> list[str]:
    """Physical lines, ended by LF, CRLF or a lone CR — never by the other characters
    ``str.splitlines`` also breaks at (NEL, LS, PS, VT, FF, FS…), which may stand unescaped
    inside a JSON string or a CSV field and would cut a valid row in two."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the break ending the last line does not start another one
    return lines


def _error(path: Path, line: int, what: str) -> GovctlError:
    # one line, always: a parser's complaint may quote the offending text with its newline
    return GovctlError(f"{path}:{line}: {' '.join(what.split())}")


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
    first = next((line.strip() for line in _lines(text) if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    # a CSV header names use_case and signal in any order (a sample line never has commas
    # outside its braces, and its label names are followed by '=')
    header = {cell.strip().strip('"') for cell in first.split(",")}
    if {"use_case", "signal"} <= header:
        return "csv"
    if any(line.strip() == "# EOF" for line in _lines(text)[-3:]):
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
    for number, line in enumerate(_lines(text), 1):
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
    # newline="": the csv module splits rows itself (CRLF, lone CR, line breaks inside
    # quoted fields); a StringIO translating or splitting lines first makes a file with
    # lone-CR line endings raise csv.Error ("new-line character seen in unquoted field").
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [(h or "").strip() for h in reader.fieldnames or []]
        missing = [c for c in ("use_case", "signal", "value") if c not in header]
        if missing:
            raise _error(path, 1, f"CSV header lacks {', '.join(missing)} (columns: "
                         f"{', '.join(COLUMNS)})")
        reader.fieldnames = header
        for row in reader:
            if None in row:
                raise _error(path, reader.line_num, "more fields than the header has")
            if not any((v or "").strip() for v in row.values()):
                continue
            yield _row(path, reader.line_num, {k: (v or "").strip() for k, v in row.items()},
                       mtime)
    except csv.Error as exc:
        raise _error(path, max(reader.line_num, 1), f"malformed CSV ({exc})") from None


# -- exposition formats (OpenMetrics, Prometheus) ---------------------------------------------


def _parser(openmetrics: bool) -> Callable[[str], Iterable[Any]]:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    return text_string_to_metric_families


def _samples(path: Path, text: str, mtime: datetime, openmetrics: bool
             ) -> Iterable[Observation]:
    parse = _parser(openmetrics)
    # The parsers split lines at LF only: a CRLF file then fails on "Invalid timestamp
    # '1\r'", and in a lone-CR file everything after the first sample is silently dropped.
    # Lines end where an editor ends them (and where _lines counts them).
    text = _LINE_BREAK.sub("\n", text)
    if openmetrics and not text.rstrip("\n").endswith("# EOF"):
        # name the last line: that is where '# EOF' is missing
        raise _error(path, max(len(_lines(text)), 1),
                     "OpenMetrics text must end with '# EOF'")
    try:
        families = list(parse(text))
    except Exception as exc:  # the parsers raise ValueError (and worse) without line numbers
        line, what = _locate_sample_error(text, openmetrics, exc)
        raise _error(path, line, what) from None
    samples = [sample for family in families for sample in family.samples]
    for sample, where in zip(samples, _sample_lines(text, [s.name for s in samples]),
                             strict=True):
        labels = sample.labels
        if "use_case" not in labels or "signal" not in labels:
            raise _error(path, where, f"sample {sample.name} needs use_case and signal "
                         "labels")
        try:
            value = float(sample.value)
        except (OverflowError, ValueError):  # an integer beyond a double
            value = math.inf
        if not math.isfinite(value):
            raise _error(path, where, f"sample {sample.name} value is not finite")
        if sample.timestamp is None:
            at = mtime
        else:
            ts = sample.timestamp
            try:
                seconds = ts.sec + ts.nsec / 1e9 if hasattr(ts, "sec") else float(ts)
                at = datetime.fromtimestamp(seconds, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                # beyond a double or the years datetime holds (1e20), or NaN: the parsers
                # accept any number here
                shown = str(ts) if len(str(ts)) <= 40 else str(ts)[:37] + "..."
                raise _error(path, where, f"sample {sample.name} timestamp {shown} is out of "
                             "range") from None
        yield Observation(labels["use_case"], labels["signal"], sample.name, value, at,
                          labels.get("bundle_digest") or None, f"{path}:{where}")


def _sample_lines(text: str, names: list[str]) -> list[int]:
    """The line of each parsed sample, for messages.

    Both parsers keep the file's order and read one sample per line, so the n-th sample
    is the n-th sample line; should that ever not hold, each sample is given the first
    line of its metric name instead (a worse message, never a wrong value).
    """
    # a line the parser accepted may still start with "{" (OpenMetrics 2 / Prometheus 3
    # quoted metric names, {"name",...}): such a line has no name before its labels
    numbered = [(number, (line.split("{", 1)[0].split(None, 1) or [""])[0])
                for number, line in enumerate(_lines(text), 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if [name for _, name in numbered] == names:
        return [number for number, _ in numbered]
    first: dict[str, int] = {}
    for number, name in numbered:
        first.setdefault(name, number)
    return [first.get(name, 1) for name in names]


def _locate_sample_error(text: str, openmetrics: bool, exc: Exception) -> tuple[int, str]:
    """The first line at which the text stops parsing, and the parser's complaint there.

    A line that is malformed on its own is found by parsing it alone; an error that needs
    context (OpenMetrics' interleaved families, timestamps going backwards) by the shortest
    prefix of the file that fails.
    """
    parse = _parser(openmetrics)
    tail = "# EOF\n" if openmetrics else ""
    lines = _lines(text)

    def fails(chunk: str) -> str | None:
        try:
            list(parse(chunk + "\n" + tail))
        except Exception as chunk_exc:
            return str(chunk_exc)
        return None

    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        complaint = fails(line)
        if complaint is not None:
            return number, f"malformed sample line: {complaint}"
    kind = "OpenMetrics" if openmetrics else "Prometheus"
    content = [i for i, line in enumerate(lines) if line.strip() != "# EOF"]

    def prefix(count: int) -> str:
        return "\n".join(lines[i] for i in content[:count])

    low, high = 0, len(content)  # invariant: prefix(low) parses, prefix(high) fails
    if not high or fails(prefix(high)) is None:
        return 1, f"malformed {kind} text: {exc}"
    while low + 1 < high:
        middle = (low + high) // 2
        if fails(prefix(middle)) is None:
            low = middle
        else:
            high = middle
    return content[high - 1] + 1, f"malformed {kind} text: {fails(prefix(high)) or exc}"


def _openmetrics(path: Path, text: str, mtime: datetime) -> Iterable[Observation]:
    return _samples(path, text, mtime, openmetrics=True)


def _prometheus(path: Path, text: str, mtime: datetime) -> Iterable[Observation]:
    return _samples(path, text, mtime, openmetrics=False)


def file_mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(os.stat(path).st_mtime, tz=timezone.utc)
