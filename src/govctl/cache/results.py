"""The whole-answer cache of `govctl validate`: when no record file, no referenced file and
not the as-of day changed since the last run, the findings are the same — reuse them.

The key hashes every record file's path and bytes (the bytes read now, not git's index),
the root and the as-of UTC date; the entry stores, beside the findings, the hash (or the
problem) of every file the records reference, and is used only if all of them still
match. JSON, in the user cache; anything odd is a miss.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from govctl.cache import store
from govctl.cache.parses import decode_finding, encode_finding
from govctl.model.findings import Finding
from govctl.model.repository import Source, SourceFile

SECTION = "results"


def key(root: Path, files: Iterable[SourceFile], day: date) -> str:
    digest = hashlib.sha256()
    digest.update(f"{root}\0{day.isoformat()}\0".encode("utf-8", "surrogateescape"))
    for f in files:
        digest.update(f.path.encode("utf-8", "surrogateescape") + b"\0")
        if f.raw is not None:
            digest.update(hashlib.sha256(f.raw).digest())
        else:
            digest.update(b"!" + (f.problem.message if f.problem else "").encode())
    return digest.hexdigest()


def referenced_state(source: Source, refs: Iterable[str]) -> dict[str, str]:
    state = {}
    for ref in sorted(refs):
        sha, problem = source.referenced_digest(ref)
        state[ref] = sha if sha is not None else f"!{problem}"
    return state


def load(name: str, source: Source) -> Mapping[str, Any] | None:
    raw = store.read_bytes(SECTION, name)
    if not raw:
        return None
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):  # torn, not UTF-8, or absurdly nested
        return None
    # exactly what store() writes, or a miss: a wrong type would otherwise surface as a
    # crash in sorting or as a wrong "records" count in the report
    if not isinstance(entry, dict):
        return None
    refs, findings = entry.get("referenced"), entry.get("findings")
    records, files = entry.get("records"), entry.get("files")
    if not (isinstance(refs, dict) and all(isinstance(v, str) for v in refs.values())
            and isinstance(findings, list) and _is_count(records)
            and isinstance(files, list) and all(isinstance(f, str) for f in files)):
        return None
    try:
        decoded = [decode_finding(f) for f in findings]
    except ValueError:
        return None
    if referenced_state(source, refs) != refs:
        return None  # a prompt, tool schema or eval file changed since
    return {**entry, "findings": decoded}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def save(name: str, source: Source, refs: Iterable[str], findings: Iterable[Finding],
          records: int, files: Iterable[str]) -> None:
    entry = {
        "referenced": referenced_state(source, refs),
        "findings": [encode_finding(f) for f in findings],
        "records": records,
        "files": list(files),
    }
    store.write_bytes(SECTION, name, json.dumps(entry, ensure_ascii=False).encode(
        "utf-8", "surrogatepass"))
