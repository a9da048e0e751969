"""A cache of parsed record files, keyed by each file's content (and path).

Keyed by a hash of the bytes actually read — not git's index — so unstaged edits always
count. Stored as JSON (never pickle: reading the cache must not be able to execute
anything) in the user cache directory, one document per governance root, pruned to the
files that still exist. Any unreadable or inconsistent entry is ignored and recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from govctl import cache
from govctl.findings import Finding
from govctl.records import Record

SECTION = "parse"


def file_key(path: str, raw: bytes) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape") + b"\0" + raw).hexdigest()


def _name(root: Path) -> str:
    return hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:24] + ".json"


def _encode(records: Sequence[Record], findings: Sequence[Finding]) -> list[Any]:
    return [[[r.kind, r.id, r.doc, r.line, r.data, r.valid] for r in records],
            [[f.rule, f.severity, f.file, f.line, f.column, f.record, f.message]
             for f in findings]]


def _decode(path: str, entry: Any) -> tuple[list[Record], list[Finding]] | None:
    try:
        records = [Record(kind, rid, path, doc, line, data, bool(valid))
                   for kind, rid, doc, line, data, valid in entry[0]]
        findings = [Finding(*f) for f in entry[1]]
    except (TypeError, ValueError):
        return None
    return records, findings


class ParseCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = _name(root)
        self.entries: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        raw = cache.read_bytes(SECTION, self.name)
        if raw:
            try:
                loaded = json.loads(raw)
                if isinstance(loaded, dict) and loaded.get("root") == str(root):
                    self.entries = loaded.get("files") or {}
            except ValueError:
                self.entries = {}  # a torn or foreign file: start afresh

    def lookup(self, path: str, raw: bytes | None
               ) -> tuple[list[Record], list[Finding]] | None:
        if raw is None:
            return None
        key = file_key(path, raw)
        entry = self.entries.get(key)
        decoded = _decode(path, entry) if entry is not None else None
        if decoded is not None:
            self.used[key] = entry
        return decoded

    def store(self, path: str, raw: bytes | None, records: Sequence[Record],
              findings: Sequence[Finding]) -> None:
        if raw is not None:
            self.used[file_key(path, raw)] = _encode(records, findings)

    def save(self) -> None:
        """Keep what this run used, then older entries up to a cap: a `diff` of an old
        revision must not evict the working tree's entries (nor the cache grow forever)."""
        if self.used.keys() == self.entries.keys():
            return  # nothing new, nothing gone
        keep = dict(self.used)
        cap = max(20_000, 3 * len(self.used))
        for key, entry in self.entries.items():
            if len(keep) >= cap:
                break
            keep.setdefault(key, entry)
        if keep.keys() == self.entries.keys():
            return
        document = {"root": str(self.root), "files": keep}
        cache.write_bytes(SECTION, self.name,
                          json.dumps(document, ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8", "surrogatepass"))
