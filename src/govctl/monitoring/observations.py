"""Monitoring observations (SPEC §3.3): JSON Lines, CSV, OpenMetrics text, Prometheus text.

Every format yields the same :class:`Observation`. An observations file may come from an
untrusted pull request, so nothing in it can hide a breach or take the machine down:

* only a regular file is read (never a FIFO, a device, or anything under ``/proc``, ``/sys``
  or ``/dev``, which claim a size of 0 and may hold secrets), at most ``max_bytes`` of it,
  streamed line by line (a line is at most 1 MiB), so memory stays bounded;
* the content decides the format before the file's suffix (a last line ``# EOF`` is
  OpenMetrics, whose timestamps are seconds; Prometheus text counts milliseconds), a CSV's
  delimiter is sniffed from its header, and a timestamp before 2000 or more than a day in
  the future is an error naming the likely unit mix-up instead of a silently stale signal;
* a malformed line is a usage error naming the file and line (exit 2) that quotes at most
  80 escaped characters of the line, and never a line holding a NUL byte.

Prometheus and OpenMetrics text is parsed with ``prometheus_client``'s parsers, fed in
chunks of lines; a failure is located by re-parsing the chunk line by line.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from govctl.errors import GovctlError
from govctl.model.dates import parse_timestamp
from govctl.model.escape import printable
from govctl.monitoring.limits import MAX_DIGESTS_PER_SIGNAL, MAX_LINE_BYTES, MAX_OBSERVATION_BYTES

FORMATS = ("jsonl", "csv", "openmetrics", "prometheus")
REQUIRED_COLUMNS = ("use_case", "signal", "value")
OPTIONAL_COLUMNS = ("metric", "at", "bundle_digest")
MAX_BYTES = MAX_OBSERVATION_BYTES
MAX_LINE = MAX_LINE_BYTES
MAX_IGNORED = 100  # (use case, signal) pairs listed in `ignored`
EXCERPT = 80  # characters of an offending line an error may quote
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)
PSEUDO_FILE_SYSTEMS = ("/proc", "/sys", "/dev")
_CHUNK_BYTES = 1 << 20
# exposition text handed to the parser at once: a chunk ends at a family boundary once it
# holds this much, and is cut inside a family only at the hard bound
_CHUNK_LINES, _CHUNK_TEXT = 4096, 4 << 20
_HARD_LINES, _HARD_TEXT = 65536, 32 << 20
_BREAK = re.compile(rb"\r\n|\r|\n")
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")  # ASCII
# a comment, or a metric name followed by labels or a value: exposition text
_EXPOSITION = re.compile(r"#\s|[A-Za-z_:][A-Za-z0-9_:]*\s*(\{|\s+\S)")


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


@dataclass(frozen=True)
class Reading:
    """A signal's latest instant: the highest and the lowest value observed at it. Rows or
    series sharing one instant are all evidence, so the worst of them counts (SPEC §3.3:
    the highest against a ``max``, the lowest against a ``min``) — never the one that
    happens to come last in a file."""

    highest: Observation
    lowest: Observation
    unknown: bool = False  # a series answered NaN at that instant (Prometheus): no value

    @property
    def at(self) -> datetime:
        return self.highest.at

    def add(self, obs: Observation) -> Reading:
        return Reading(obs if obs.value > self.highest.value else self.highest,
                       obs if obs.value < self.lowest.value else self.lowest, self.unknown)

    def worst(self, low: float | None, high: float | None) -> Observation:
        """The observation that decides the state; for a band, whichever is outside it
        (the highest when none is)."""
        if high is not None and self.highest.value > high:
            return self.highest
        if low is not None and self.lowest.value < low:
            return self.lowest
        return self.highest if high is not None else self.lowest


@dataclass(frozen=True)
class Ignored:
    """Rows no contract signal judges — a misspelt signal or use case, or a metric other
    than the signal's — counted, never dropped silently."""

    use_case: str
    signal: str
    rows: int
    metric: str | None = None  # set when the signal exists but the rows name another metric

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"use_case": self.use_case, "signal": self.signal,
                               "rows": self.rows}
        if self.metric is not None:
            out["metric"] = self.metric
        return out


KEEP, SKIP, IGNORE = "keep", "skip", "ignore"


@dataclass(frozen=True)
class Selection:
    """Which rows count: ``signals`` maps each use case asked about to its judged signals
    and the metric each is measured by (approved, or proposed for a signal only the records
    have); rows of other ``known`` use cases were not asked about (``status --use-case``)
    and are skipped; anything else is ignored and reported."""

    signals: Mapping[str, Mapping[str, str]]  # use case → signal → metric
    known: frozenset[str]

    def classify(self, use_case: str, signal: str, metric: str | None) -> str:
        wanted = self.signals.get(use_case)
        if wanted is None:
            return SKIP if use_case in self.known else IGNORE
        expected = wanted.get(signal)
        if expected is None:
            return IGNORE
        # a row without a metric is the signal's; a sample or row naming another metric
        # (a summary's quantiles, a counter's _created) is not what the contract measures
        return KEEP if metric is None or metric == expected else IGNORE


@dataclass
class Reducer:
    """The latest reading per (use case, signal) at or before ``as_of``, and the bundle
    digests each signal's rows carried with when they last did, built one row at a time
    (a file is never held whole), with the ignored rows counted."""

    as_of: datetime
    selection: Selection | None = None
    latest: dict[tuple[str, str], Reading] = field(default_factory=dict)
    digests: dict[tuple[str, str], dict[str, datetime]] = field(default_factory=dict)
    ignored: dict[tuple[str, str, str | None], int] = field(default_factory=dict)
    ignored_unlisted: int = 0  # rows of pairs beyond the first MAX_IGNORED

    def add(self, obs: Observation) -> None:
        key = (obs.use_case, obs.signal)
        if self.selection is not None:
            verdict = self.selection.classify(obs.use_case, obs.signal, obs.metric)
            if verdict == SKIP:
                return
            if verdict == IGNORE:
                known = self.selection.signals.get(obs.use_case, {}).get(obs.signal)
                self._ignore((*key, obs.metric if known is not None else None))
                return
        if obs.at > self.as_of:
            return  # SPEC §3.3: observations after --as-of are ignored
        if obs.bundle_digest is not None:
            self._digest(key, obs.bundle_digest, obs.at)
        held = self.latest.get(key)
        if held is None or obs.at > held.at:
            self.latest[key] = Reading(obs, obs)
        elif obs.at == held.at:
            self.latest[key] = held.add(obs)

    def _ignore(self, key: tuple[str, str, str | None]) -> None:
        if key in self.ignored:
            self.ignored[key] += 1
        elif len(self.ignored) < MAX_IGNORED:
            self.ignored[key] = 1
        else:
            self.ignored_unlisted += 1

    def _digest(self, key: tuple[str, str], digest: str, at: datetime) -> None:
        seen = self.digests.setdefault(key, {})
        if digest in seen or len(seen) < MAX_DIGESTS_PER_SIGNAL:
            seen[digest] = max(at, seen.get(digest, at))
            return
        oldest = min(seen, key=seen.__getitem__)  # bounded: forget the longest unseen
        if seen[oldest] < at:
            del seen[oldest]
            seen[digest] = at

    def observed(self, source: str) -> Observed:
        ignored = tuple(Ignored(u, s, n, m) for (u, s, m), n in sorted(
            self.ignored.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")))
        return Observed(self.latest, self.digests, ignored, self.ignored_unlisted, source)


@dataclass(frozen=True)
class Observed:
    """What live values say at ``--as-of``: the latest reading of each signal asked about,
    the bundle digests its rows carried (digest → when last seen), and the rows nothing
    judges."""

    latest: Mapping[tuple[str, str], Reading]
    digests: Mapping[tuple[str, str], Mapping[str, datetime]] = field(default_factory=dict)
    ignored: tuple[Ignored, ...] = ()
    ignored_unlisted: int = 0
    source: str = ""


# -- reading a file safely ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Opened:
    fd: int
    size: int
    mtime: datetime


def _refused(path: Path, real: str) -> GovctlError:
    return GovctlError(f"{path}: refusing to read observations from {printable(real)} "
                       "(under /proc, /sys or /dev); give a regular file")


def _pseudo(real: str) -> bool:
    return any(real == top or real.startswith(top + "/") for top in PSEUDO_FILE_SYSTEMS)


def _open(path: Path, max_bytes: int) -> _Opened:
    real = os.path.realpath(path)
    if _pseudo(real):
        raise _refused(path, real)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise GovctlError(f"{path}: observations file not found") from None
    except OSError as exc:
        raise GovctlError(f"{path}: cannot read observations ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        # what was opened, not what the name pointed at a moment before
        opened = os.path.realpath(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") \
            else real
        if _pseudo(opened):
            raise _refused(path, opened)
        if not stat.S_ISREG(info.st_mode):
            what = ("a directory" if stat.S_ISDIR(info.st_mode) else
                    "a named pipe" if stat.S_ISFIFO(info.st_mode) else
                    "a socket" if stat.S_ISSOCK(info.st_mode) else
                    "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "not a regular file")
            raise GovctlError(f"{path}: observations must be a regular file, not {what}")
        if info.st_size > max_bytes:
            raise _too_large(path, max_bytes)
        mtime = datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)
    except BaseException:
        os.close(fd)
        raise
    return _Opened(fd, info.st_size, mtime)


def _too_large(path: Path, max_bytes: int) -> GovctlError:
    return GovctlError(f"{path}: observations file larger than {_size(max_bytes)}; raise "
                       "--max-observations-bytes to read it")


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n} bytes"


def _physical_lines(path: Path, opened: _Opened, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(number, bytes) of each line, ended by LF, CRLF or a lone CR — never by the other
    characters ``str.splitlines`` breaks at (NEL, LS, PS…), which may stand inside a JSON
    string or a CSV field. Reads at most ``max_bytes``, whatever the size claimed."""
    number, total, carry = 0, 0, b""
    while True:
        block = os.read(opened.fd, _CHUNK_BYTES)
        total += len(block)
        if total > max_bytes:
            raise _too_large(path, max_bytes)
        data = carry + block
        # a CR at the end may be the first half of CRLF: keep it for the next block
        end = len(data) - 1 if block and data.endswith(b"\r") else len(data)
        start = 0
        for match in _BREAK.finditer(data, 0, end):
            number += 1
            yield number, data[start:match.start()]
            start = match.end()
        carry = data[start:]
        if not block:
            if carry:  # a last line without a break
                yield number + 1, carry
            return
        if len(carry) > MAX_LINE:
            raise GovctlError(f"{path}:{number + 1}: line longer than {_size(MAX_LINE)}")


def _text_lines(path: Path, raw_lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, str]]:
    for number, raw in raw_lines:
        if len(raw) > MAX_LINE:
            raise GovctlError(f"{path}:{number}: line longer than {_size(MAX_LINE)}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GovctlError(f"{path}:{number}: not UTF-8 text") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield number, text


def _tail(opened: _Opened, size: int = 65536) -> str:
    """The end of the file, for content detection (``# EOF``)."""
    start = max(0, opened.size - size)
    data = os.pread(opened.fd, size, start)
    return data.decode("utf-8", "replace")


def copy_observations(path: Path, target: Path, max_bytes: int = MAX_BYTES) -> None:
    """Copy an observations file with the same guards as reading it (a regular file, not
    under /proc, /sys or /dev, at most ``max_bytes``), streamed; for audit packs, which
    then judge the copy, so the pack's status is computed from exactly the bytes it holds."""
    opened = _open(path, max_bytes)
    total = 0
    try:
        with target.open("xb") as out:
            while block := os.read(opened.fd, _CHUNK_BYTES):
                total += len(block)
                if total > max_bytes:
                    raise _too_large(path, max_bytes)
                out.write(block)
    finally:
        os.close(opened.fd)
    os.utime(target, (opened.mtime.timestamp(), opened.mtime.timestamp()))


# -- messages ------------------------------------------------------------------------------------


def excerpt(text: str) -> str:
    """An offending line for a message: at most EXCERPT characters, escaped; never a line
    holding a NUL (a binary or /proc-like file may carry secrets on it)."""
    if "\0" in text:
        return "(line not shown: it holds a NUL byte)"
    shown = printable(text.strip())
    if len(shown) > EXCERPT:
        shown = shown[:EXCERPT - 1] + "…"
    return f"(line: {shown})"


def shown(value: object) -> str:
    """A value from a row, quoted, clipped and escaped."""
    text = str(value)
    if "\0" in text:
        return "(a value holding a NUL byte)"
    text = printable(text)
    return repr(text if len(text) <= 40 else text[:39] + "…")


def _error(path: Path, line: int, what: str) -> GovctlError:
    # one line, always: what we write may quote the offending text, escaped and clipped
    return GovctlError(f"{path}:{line}: {' '.join(what.split())}")


def _complaint(exc: Exception) -> str:
    """A parser's complaint without the text it quotes (it may quote a whole line)."""
    text = str(exc).split(":", 1)[0].strip()
    return printable(text) if 0 < len(text) <= 60 else "cannot parse"


def _plausible(path: Path, line: int, at: datetime, now: datetime, what: str,
               hint_before: str, hint_after: str) -> None:
    if at < EARLIEST:
        raise _error(path, line, f"{what} is {at:%Y-%m-%d}, before 2000-01-01 — {hint_before}")
    if at > now + FUTURE_SLACK:
        raise _error(path, line, f"{what} is {at:%Y-%m-%d}, more than a day ahead — "
                     f"{hint_after}")


# -- the formats -------------------------------------------------------------------------------


def detect_format(suffix: str, first: str, last: str) -> str:
    """Content first (SPEC §3.3): a last non-empty line ``# EOF`` is OpenMetrics, a JSON
    object JSON Lines, a header naming use_case and signal CSV; then the suffix; then
    Prometheus text."""
    if last.strip() == "# EOF":
        return "openmetrics"
    if first.lstrip().startswith("{"):
        return "jsonl"
    if csv_delimiter(first) is not None:
        return "csv"
    suffix = suffix.lower()
    if _EXPOSITION.match(first.lstrip()):
        # exposition text without '# EOF': Prometheus text, unless the name says it is
        # OpenMetrics (which then lacks its '# EOF': an error, not a guess)
        return "openmetrics" if suffix in (".om", ".openmetrics") else "prometheus"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".om", ".openmetrics"):
        return "openmetrics"
    return "prometheus"


def _cells(line: str, delimiter: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]


def csv_delimiter(header: str) -> str | None:
    """The delimiter (comma, semicolon, tab) that makes ``header`` name use_case and
    signal; None when none does."""
    for delimiter in _DELIMITERS:
        try:
            cells = _cells(header, delimiter)
        except csv.Error:  # e.g. a field past the csv module's limit: no header of ours
            continue
        if {"use_case", "signal"} <= set(cells):
            return delimiter
    return None


def _last_line(tail: str) -> str:
    lines = [line for line in _BREAK.split(tail.encode("utf-8", "replace")) if line.strip()]
    return lines[-1].decode("utf-8", "replace") if lines else ""


def iter_observations(path: Path, fmt: str | None = None, max_bytes: int = MAX_BYTES,
                      now: datetime | None = None) -> Iterator[Observation]:
    """Every observation of the file, in file order, streamed."""
    if fmt is not None and fmt not in FORMATS:
        raise GovctlError(f"--observations-format {fmt!r}: one of {', '.join(FORMATS)}")
    opened = _open(path, max_bytes)
    try:
        now = now or datetime.now(timezone.utc)
        lines = _text_lines(path, _physical_lines(path, opened, max_bytes))
        head: list[tuple[int, str]] = []
        for item in lines:
            head.append(item)
            if item[1].strip():
                break
        first = head[-1][1] if head else ""
        fmt = fmt or detect_format(path.suffix, first, _last_line(_tail(opened)))
        parse = {"jsonl": _jsonl, "csv": _csv, "openmetrics": _openmetrics,
                 "prometheus": _prometheus}[fmt]
        yield from parse(path, itertools.chain(head, lines), opened.mtime, now)
    finally:
        os.close(opened.fd)


def load_observations(path: Path, fmt: str | None = None, max_bytes: int = MAX_BYTES,
                      ) -> ObservationSet:
    """Every observation of the file (for small files and tests; commands use
    :func:`observe_file`, which keeps only what it needs)."""
    return ObservationSet(tuple(iter_observations(path, fmt, max_bytes)), str(path))


def observe_file(path: Path, as_of: datetime, selection: Selection | None = None,
                 fmt: str | None = None, max_bytes: int = MAX_BYTES) -> Observed:
    """The latest reading per (use case, signal) at ``as_of``, and the ignored rows."""
    reducer = Reducer(as_of, selection)
    for obs in iter_observations(path, fmt, max_bytes):
        reducer.add(obs)
    return reducer.observed(str(path))


# -- row formats (JSON Lines, CSV) ---------------------------------------------------------------


def _row(path: Path, line: int, row: Mapping[str, object], mtime: datetime,
         now: datetime) -> Observation:
    for key in REQUIRED_COLUMNS:
        if row.get(key) in (None, ""):
            raise _error(path, line, f"missing {key!r} (a row needs use_case, signal, value, "
                         "and at)")
    value = row["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _error(path, line, f"value {shown(value)} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double
        raise _error(path, line, f"value {shown(value)} is not a finite number") from None
    except ValueError:
        number = None
    if number is not None and not math.isfinite(number):
        raise _error(path, line, f"value {shown(value)} is not a finite number")
    if number is None or (isinstance(value, str) and not _DECIMAL.fullmatch(value.strip())):
        # float() also reads "1_0" or "١٢": a value is a plain decimal number
        hint = " (a decimal comma? write 0.3, not 0,3)" if isinstance(value, str) and \
            re.fullmatch(r"-?[0-9]+,[0-9]+", value.strip()) else ""
        raise _error(path, line, f"value {shown(value)} is not a number{hint}")
    at_text = row.get("at")
    if at_text in (None, ""):
        at = mtime
        _plausible(path, line, at, now, "the file's modification time (the row has no 'at')",
                   "give each row an 'at'", "give each row an 'at'")
    else:
        parsed = parse_timestamp(str(at_text))
        if parsed is None:
            raise _error(path, line, f"at {shown(at_text)} is not an RFC 3339 timestamp "
                         "(e.g. 2026-11-27T09:00:00Z)")
        at = parsed
        _plausible(path, line, at, now, f"at {at_text}", "is the timestamp right?",
                   "a clock or time-zone error?")
    digest = row.get("bundle_digest") or None
    metric = row.get("metric") or None
    return Observation(str(row["use_case"]), str(row["signal"]),
                       str(metric) if metric is not None else None, number, at,
                       str(digest) if digest is not None else None, f"{path}:{line}")


def _jsonl(path: Path, lines: Iterator[tuple[int, str]], mtime: datetime,
           now: datetime) -> Iterator[Observation]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _error(path, number, f"not a JSON object ({exc.msg}) {excerpt(line)}"
                         ) from None
        except RecursionError:
            raise _error(path, number, "not a JSON object (nested too deeply)") from None
        except ValueError:  # an integer of more digits than Python converts
            raise _error(path, number, "a number with too many digits") from None
        if not isinstance(row, dict):
            raise _error(path, number, f"not a JSON object {excerpt(line)}")
        yield _row(path, number, row, mtime, now)


def _csv(path: Path, lines: Iterator[tuple[int, str]], mtime: datetime,
         now: datetime) -> Iterator[Observation]:
    # the csv module joins a quoted field's line breaks itself, so it gets each line with
    # its break back; its line_num then counts the same physical lines as ours
    numbered = iter(lines)
    current = [0]

    def feed() -> Iterator[str]:
        for number, text in numbered:
            current[0] = number
            yield text + "\n"

    source = feed()
    header_line = ""
    for text in source:
        if text.strip():
            header_line = text.rstrip("\n")
            break
    header_at = current[0] or 1
    delimiter = csv_delimiter(header_line) or max(_DELIMITERS, key=header_line.count)
    try:
        header = _cells(header_line, delimiter)
    except csv.Error as exc:
        raise _error(path, header_at, f"malformed CSV header ({_complaint(exc)})") from None
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        # which of the two would count? neither may be chosen silently
        raise _error(path, header_at, f"CSV header names {', '.join(map(printable, twice))} "
                     "more than once")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        found = ", ".join(printable(h) for h in header[:12] if h) or "nothing"
        if len(found) > EXCERPT:
            found = found[:EXCERPT - 1] + "…"
        raise _error(path, header_at,
                     f"CSV header lacks {', '.join(missing)} (the header has: {found}; "
                     f"separated by {_DELIMITER_NAMES[delimiter]}s); expected columns "
                     f"{', '.join(REQUIRED_COLUMNS)}, optionally {', '.join(OPTIONAL_COLUMNS)}")
    reader = csv.reader(source, delimiter=delimiter)
    while True:
        start = current[0] + 1  # a record's messages name its first line (a quoted field
        try:                    # may span several)
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _error(path, start, f"malformed CSV ({_complaint(exc)})") from None
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise _error(path, start, "more fields than the header has")
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
        yield _row(path, start, row, mtime, now)


# -- exposition formats (OpenMetrics, Prometheus) -----------------------------------------------


def _parser(openmetrics: bool) -> Callable[[str], Iterable[Any]]:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    return text_string_to_metric_families


_METADATA = re.compile(r"#\s+(TYPE|HELP|UNIT)\s+(\S+)")


def _name_of(line: str) -> str:
    # a line may start with "{" (OpenMetrics 2 / Prometheus 3 quoted names): no name then
    return (line.split("{", 1)[0].split(None, 1) or [""])[0]


def _openmetrics(path: Path, lines: Iterator[tuple[int, str]], mtime: datetime,
                 now: datetime) -> Iterator[Observation]:
    return _samples(path, lines, mtime, now, openmetrics=True)


def _prometheus(path: Path, lines: Iterator[tuple[int, str]], mtime: datetime,
                now: datetime) -> Iterator[Observation]:
    return _samples(path, lines, mtime, now, openmetrics=False)


def _samples(path: Path, lines: Iterator[tuple[int, str]], mtime: datetime, now: datetime,
             openmetrics: bool) -> Iterator[Observation]:
    """Samples, parsed a chunk of lines at a time. A chunk ends where a metric family does
    (a histogram cut in two would not parse); only a family larger than the hard bound is
    cut, and then the next chunk starts with its metadata lines (``# TYPE``, ``# HELP``,
    ``# UNIT``), so it keeps its type."""
    chunk: list[tuple[int | None, str]] = []
    size = 0
    metadata: list[str] = []
    family = ""
    eof: int | None = None
    last = 0
    for number, text in lines:
        last = number
        stripped = text.strip()
        if eof is not None:
            if stripped:
                raise _error(path, number, f"content after '# EOF' (line {eof})")
            continue
        if openmetrics and stripped == "# EOF":
            eof = number
            continue
        meta = _METADATA.match(stripped)
        if meta:
            key = meta.group(2)
        elif stripped and not stripped.startswith("#"):
            name = _name_of(stripped)
            key = family if family and name.startswith(family) else name
        else:
            key = family  # blank lines and comments belong where they stand
        if key != family:
            if len(chunk) >= _CHUNK_LINES or size >= _CHUNK_TEXT:
                yield from _parse_chunk(path, chunk, mtime, now, openmetrics)
                chunk, size = [], 0
            family, metadata = key, []
        if meta:
            metadata.append(text)
        chunk.append((number, text))
        size += len(text)
        if (len(chunk) >= _HARD_LINES or size >= _HARD_TEXT) and not meta:
            yield from _parse_chunk(path, chunk, mtime, now, openmetrics)
            chunk = [(None, m) for m in metadata]
            size = sum(len(m) for m in metadata)
    if openmetrics and eof is None:
        # name the last line: that is where '# EOF' is missing
        raise _error(path, max(last, 1), "OpenMetrics text must end with '# EOF'")
    yield from _parse_chunk(path, chunk, mtime, now, openmetrics)


def _parse_chunk(path: Path, chunk: list[tuple[int | None, str]], mtime: datetime,
                 now: datetime, openmetrics: bool) -> Iterator[Observation]:
    if not any(number is not None for number, _ in chunk):
        return
    parse = _parser(openmetrics)
    text = "\n".join(line for _, line in chunk) + "\n" + ("# EOF\n" if openmetrics else "")
    try:
        families = list(parse(text))
    except Exception as exc:  # the parsers raise ValueError (and worse) without line numbers
        line, what = _locate_sample_error(chunk, openmetrics, exc)
        raise _error(path, line, what) from None
    samples = [sample for fam in families for sample in fam.samples]
    if openmetrics and len(samples) < _count_samples(chunk):
        # prometheus_client's OpenMetrics parser keeps the first of two samples of one
        # series at one timestamp and drops the other without a word: the dropped one may
        # be the breach. Which value held cannot be told, so the file is refused.
        raise _error(path, _first_dropped(chunk), "a second sample of the same series at "
                     "the same timestamp: which value held cannot be told (one may be a "
                     "breach); give every sample of a series its own timestamp")
    for sample, where in zip(samples, _sample_lines(chunk, [s.name for s in samples]),
                             strict=True):
        labels = sample.labels
        if "use_case" not in labels or "signal" not in labels:
            raise _error(path, where, f"sample {shown(sample.name)} needs use_case and signal "
                         "labels")
        try:
            value = float(sample.value)
        except (OverflowError, ValueError):  # an integer beyond a double
            value = math.inf
        if not math.isfinite(value):
            raise _error(path, where, f"sample {shown(sample.name)} value is not finite")
        yield Observation(labels["use_case"], labels["signal"], sample.name, value,
                          _sample_time(path, where, sample, mtime, now, openmetrics),
                          labels.get("bundle_digest") or None, f"{path}:{where}")


def _sample_time(path: Path, line: int, sample: Any, mtime: datetime, now: datetime,
                 openmetrics: bool) -> datetime:
    name = shown(sample.name)
    if sample.timestamp is None:
        _plausible(path, line, mtime, now, f"sample {name} has no timestamp and the file's "
                   "modification time", "give timestamps", "give timestamps")
        return mtime
    ts = sample.timestamp
    # the Prometheus parser has already divided milliseconds by 1000
    unit, factor = ("s", 1) if openmetrics else ("ms", 1000)
    hint_small = ("seconds? Prometheus text counts milliseconds; OpenMetrics (seconds) ends "
                  "with '# EOF'") if not openmetrics else "is the clock right?"
    hint_large = ("milliseconds? OpenMetrics (ending '# EOF') counts seconds"
                  if openmetrics else "is the clock right?")
    try:
        seconds = ts.sec + ts.nsec / 1e9 if hasattr(ts, "sec") else float(ts)
        raw = f"{seconds * factor:.0f}"
        at = datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        # beyond a double or the years datetime holds, or NaN: the parsers accept any number
        try:
            number = ts.sec + ts.nsec / 1e9 if hasattr(ts, "sec") else float(ts)
        except (OverflowError, ValueError):
            number = math.nan
        raw = f"{number * factor:.0f}" if math.isfinite(number) else str(ts)
        raw = raw if len(raw) <= 20 else raw[:19] + "…"
        hint = f" — {hint_large}" if math.isfinite(number) and number > 0 else ""
        raise _error(path, line, f"sample {name} timestamp {raw} is out of range{hint}"
                     ) from None
    _plausible(path, line, at, now, f"sample {name} timestamp {raw} {unit}", hint_small,
               hint_large)
    return at


def _is_sample(number: int | None, line: str) -> bool:
    return number is not None and bool(line.strip()) and not line.lstrip().startswith("#")


def _count_samples(chunk: list[tuple[int | None, str]]) -> int:
    return sum(1 for number, line in chunk if _is_sample(number, line))


def _first_dropped(chunk: list[tuple[int | None, str]]) -> int:
    """The line of the first sample the OpenMetrics parser dropped: the shortest prefix of
    the chunk that parses to fewer samples than it has sample lines ends there."""
    parse = _parser(True)

    def short(count: int) -> bool:
        part = chunk[:count]
        text = "\n".join(line for _, line in part) + "\n# EOF\n"
        try:
            parsed = sum(len(family.samples) for family in parse(text))
        except Exception:  # (a prefix of text that parsed whole parses; never trust it)
            return False
        return parsed < _count_samples(part)

    return chunk[_shortest_failing_prefix(len(chunk), short) - 1][0] or 1


def _shortest_failing_prefix(length: int, fails: Callable[[int], bool]) -> int:
    """The least ``n`` in 1..``length`` with ``fails(n)``, for a ``fails`` that stays true
    once true and holds at ``length`` (a bisection: a chunk is parsed log₂ n times)."""
    low, high = 0, length  # invariant: fails(high), not fails(low) (0 lines never fail)
    while low + 1 < high:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle
    return high


def _sample_lines(chunk: list[tuple[int | None, str]], names: list[str]) -> list[int]:
    """The line of each parsed sample, for messages.

    Both parsers keep the text's order and read one sample per line, so the n-th sample
    is the n-th sample line; should that ever not hold, each sample is given the first
    line of its metric name instead (a worse message, never a wrong value).
    """
    numbered = [(number, _name_of(line)) for number, line in chunk
                if number is not None and line.strip() and not line.lstrip().startswith("#")]
    if [name for _, name in numbered] == names:
        return [number for number, _ in numbered]
    first: dict[str, int] = {}
    for number, name in numbered:
        first.setdefault(name, number)
    fallback = numbered[0][0] if numbered else 1
    return [first.get(name, fallback) for name in names]


def _locate_sample_error(chunk: list[tuple[int | None, str]], openmetrics: bool,
                         exc: Exception) -> tuple[int, str]:
    """The first line at which the text stops parsing, and the parser's complaint there.

    A line that is malformed on its own is found by parsing it alone; an error that needs
    context (OpenMetrics' interleaved families, timestamps going backwards) by the shortest
    prefix of the chunk that fails.
    """
    parse = _parser(openmetrics)
    tail = "# EOF\n" if openmetrics else ""

    def fails(text: str) -> str | None:
        try:
            list(parse(text + "\n" + tail))
        except Exception as chunk_exc:
            return _complaint(chunk_exc)
        return None

    for number, line in chunk:
        if number is None or not line.strip() or line.lstrip().startswith("#"):
            continue
        complaint = fails(line)
        if complaint is not None:
            return number, f"malformed sample line: {complaint} {excerpt(line)}"
    kind = "OpenMetrics" if openmetrics else "Prometheus"

    def prefix(count: int) -> str:
        return "\n".join(line for _, line in chunk[:count])

    first_line = next((n for n, _ in chunk if n is not None), 1)
    if not chunk or fails(prefix(len(chunk))) is None:
        return first_line, f"malformed {kind} text: {_complaint(exc)}"
    high = _shortest_failing_prefix(len(chunk), lambda n: fails(prefix(n)) is not None)
    number, line = chunk[high - 1]
    complaint = fails(prefix(high)) or _complaint(exc)
    return (number or first_line), f"malformed {kind} text: {complaint} {excerpt(line)}"
