"""A cache of parsed record files, keyed by each file's content (and path).

Keyed by a hash of the bytes actually read — not git's index — so unstaged edits always
count. Stored as JSON (never pickle: reading the cache must not be able to execute
anything) in the user cache directory, one file per governance root and one line per file
version, pruned to what the last run used and a cap of older entries. Any unreadable or
inconsistent entry is ignored and recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from govctl.cache import store
from govctl.model.findings import Finding, Related
from govctl.model.records import KINDS, Record

SECTION = "parse"


def file_key(path: str, raw: bytes) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape") + b"\0" + raw).hexdigest()


def _name(root: Path) -> str:
    return hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:24] \
        + ".jsonl"


def _encode(records: Sequence[Record], findings: Sequence[Finding]) -> list[Any]:
    return [[[r.kind, r.id, r.doc, r.line, r.data, r.valid] for r in records],
            [encode_finding(f) for f in findings]]


def encode_finding(f: Finding) -> list[Any]:
    """A finding as stored: seven fields, an eighth for one that stands for findings left
    out (SPEC §3 caps: entries stay small, whatever a file holds), a ninth for its related
    locations."""
    out: list[Any] = [f.rule, f.severity, f.file, f.line, f.column, f.record, f.message]
    if f.left_out or f.related:
        out.append(f.left_out)
    if f.related:
        out.append([[r.file, r.line, r.column, r.message] for r in f.related])
    return out


def decode_finding(f: Any) -> Finding:
    """A finding as stored, or ValueError: a wrong type here would only fail later, in
    sorting or a reporter, far from the cache."""
    if not (isinstance(f, list) and len(f) in (7, 8, 9)):
        raise ValueError("not a finding")
    rule, severity, file, line, column, record, message = f[:7]
    left_out = f[7] if len(f) >= 8 else 0
    related = tuple(_related(r) for r in f[8]) if len(f) == 9 and isinstance(f[8], list) \
        else None
    if not (isinstance(rule, str) and isinstance(severity, str) and isinstance(file, str)
            and _is_int(line) and _is_int(column) and isinstance(message, str)
            and (record is None or isinstance(record, str))
            and _is_int(left_out) and left_out >= (1 if len(f) == 8 else 0)
            and (len(f) < 9 or related)):
        raise ValueError("not a finding")
    return Finding(rule, severity, file, line, column, record, message, left_out,
                   related or ())


def _related(r: Any) -> Related:
    if not (isinstance(r, list) and len(r) == 4 and isinstance(r[0], str) and _is_int(r[1])
            and _is_int(r[2]) and isinstance(r[3], str)):
        raise ValueError("not a related location")
    return Related(*r)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record(path: str, r: Any) -> Record:
    if not (isinstance(r, list) and len(r) == 6):
        raise ValueError("not a record")
    kind, rid, doc, line, data, valid = r
    if not (kind in KINDS and isinstance(rid, str) and _is_int(doc) and _is_int(line)
            and isinstance(data, dict) and isinstance(valid, bool)):
        raise ValueError("not a record")
    return Record(kind, rid, path, doc, line, data, valid)


def _decode(path: str, entry: Any) -> tuple[list[Record], list[Finding]] | None:
    """The entry's records and findings, or None when it is not exactly what _encode
    writes (a damaged or foreign cache is a miss, never a crash or a wrong answer)."""
    try:
        if not (isinstance(entry, list) and len(entry) == 2
                and isinstance(entry[0], list) and isinstance(entry[1], list)):
            return None
        return [_record(path, r) for r in entry[0]], [decode_finding(f) for f in entry[1]]
    except ValueError:
        return None


class ParseCache:
    """One governance root's parses for one command: the entries read from the user cache,
    what this run parsed, and (``remember``) parses of committed versions that are kept in
    memory only — a replay parses HEAD's files before the working tree is read, and the
    working tree's unchanged files are then hits. ``persistent=False``: nothing is read
    from or written to the user cache (caching off, or its folder inside the root).
    ``shared``: one cache for every load of a command (a history's): :meth:`save` waits for
    :meth:`close`, so a diff loading five revisions writes the cache once, not five times.

    Stored entries stay JSON text until looked up (a cache of 25,000 file versions is 16 MB
    as text and 80 MB decoded, and a command reads a fraction of them), and are written
    back as they were read; an entry used this run is held decoded, its record data shared
    with the records made from it (a diff's two trees are mostly the same files)."""

    def __init__(self, root: Path, persistent: bool = True, shared: bool = False) -> None:
        self.root = root
        self.name = _name(root)
        self.persistent = persistent
        self.shared = shared
        self.entries: dict[str, bytes] = {}  # key → the entry's JSON text, as stored
        self.used: dict[str, Any] = {}  # what this run looked up or parsed, decoded
        self.verbatim: set[str] = set()  # used entries decoded from their stored text
        self.memory: dict[str, tuple[list[Record], list[Finding]]] = {}
        self.stored = False  # parsed anew this run (a new file, or a damaged entry)
        raw = store.read_bytes(SECTION, self.name) if persistent else None
        if raw:
            self.entries = _entries(raw, str(root))

    def lookup(self, path: str, raw: bytes | None
               ) -> tuple[list[Record], list[Finding]] | None:
        if raw is None:
            return None
        key = file_key(path, raw)
        held = self.memory.get(key)
        if held is not None:
            if key not in self.used and self.persistent:
                self.used[key] = _encode(*held)  # the working tree has it: keep it
                self.verbatim.discard(key)
                self.stored = True
            return list(held[0]), list(held[1])
        entry = self.used.get(key)
        if entry is None and key in self.entries:
            entry = _loads(self.entries[key])
            self.verbatim.add(key)
        decoded = _decode(path, entry) if entry is not None else None
        if decoded is not None:
            self.used[key] = entry
        else:
            self.verbatim.discard(key)
        return decoded

    def store(self, path: str, raw: bytes | None, records: Sequence[Record],
              findings: Sequence[Finding]) -> None:
        if raw is not None and self.persistent:
            key = file_key(path, raw)
            self.used[key] = _encode(records, findings)
            self.verbatim.discard(key)
            self.stored = True

    def remember(self, path: str, raw: bytes, records: Sequence[Record],
                 findings: Sequence[Finding]) -> str:
        """Keep a parse for this run only (a committed version nobody may ask for again);
        its key, for :meth:`forget`."""
        key = file_key(path, raw)
        self.memory[key] = (list(records), list(findings))
        return key

    def forget(self, key: str) -> None:
        """Drop a remembered parse (a version replaced since: memory stays bounded by one
        tree, not by the whole history)."""
        self.memory.pop(key, None)

    def save(self) -> None:
        """Write the cache now, unless it is ``shared`` (then :meth:`close` does)."""
        if not self.shared:
            self.close()

    def close(self) -> None:
        """Keep what this run used, then older entries up to a cap: a `diff` of an old
        revision must not evict the working tree's entries (nor the cache grow forever)."""
        if not self.persistent:
            return
        if not self.stored and self.used.keys() == self.entries.keys():
            return  # nothing new, nothing gone (a damaged entry replaced counts as new)
        on_disk = self.entries
        keep: dict[str, bytes] = {}
        for key, entry in self.used.items():
            keep[key] = on_disk[key] if key in self.verbatim else _text(entry)
        cap = max(20_000, 3 * len(self.used))
        for key, text in on_disk.items():
            if len(keep) >= cap:
                break
            keep.setdefault(key, text)
        if not self.stored and keep.keys() == on_disk.keys():
            return
        store.write_bytes(SECTION, self.name, _lines(str(self.root), keep))
        # saved: a second save has nothing new
        self.entries, self.verbatim, self.stored = keep, set(self.used), False


# The stored form: a header line ``{"format": 2, "root": ...}``, then one line per file
# version, ``<64 hex digits of its key> TAB <its entry as JSON>`` (JSON text never holds a
# raw line break: json.dumps escapes control characters).
FORMAT = 2


def _text(entry: Any) -> bytes:
    # (a lone surrogate, which a YAML escape can produce, is kept: json.loads of bytes
    # decodes with surrogatepass)
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass")


def _loads(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None  # a torn or foreign entry: a miss


def _entries(raw: bytes, root: str) -> dict[str, bytes]:
    """The stored entries of a cache file, still as text; nothing from a file of another
    format or root (a torn or foreign file: start afresh)."""
    head, _, body = raw.partition(b"\n")
    header = _loads(head)
    if not (isinstance(header, dict) and header.get("format") == FORMAT
            and header.get("root") == root):
        return {}
    entries: dict[str, bytes] = {}
    for line in body.split(b"\n"):
        key, tab, text = line.partition(b"\t")
        if tab and len(key) == 64 and key.isalnum():
            entries[key.decode("ascii")] = text
    return entries


def _lines(root: str, entries: dict[str, bytes]) -> Iterator[bytes]:
    yield _text({"format": FORMAT, "root": root}) + b"\n"
    for key, text in entries.items():
        yield key.encode("ascii") + b"\t" + text + b"\n"


def parse_cache(root: Path, shared: bool = False) -> ParseCache:
    """A new parse cache of ``root``: persistent when the user cache may describe it."""
    return ParseCache(root, store.usable_for(root), shared)
