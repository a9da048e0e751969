"""The persistent digest index behind `govctl trace`: every digest every bundle had along
the first-parent history of HEAD, when it first appeared, and every approval version bound
to it. Built by one replay of the history, then cached in the user cache (JSON) under the
repository, the governance root and HEAD's sha: a repeated trace reads a small file
instead of replaying thousands of commits. A new HEAD simply builds a new index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from govctl import cache
from govctl.history import Commit, GitHistory
from govctl.records import Record
from govctl.replay import Replay

SECTION = "digests"
FORMAT = 1


def _commit_json(commit: Commit) -> dict[str, Any]:
    # who and when, not what: asdict() would also copy every file change of the commit
    return {f.name: getattr(commit, f.name) for f in fields(Commit) if f.name != "changes"}


def _commit(data: Mapping[str, Any]) -> Commit:
    return Commit(**{**data, "parents": tuple(data["parents"]), "changes": ()})


@dataclass
class DigestIndex:
    head: str
    commits: int = 0
    # digest → bundle id → (position in the replay, commit, the use case serving it then)
    first: dict[str, dict[str, tuple[int, Commit, str | None]]] = field(default_factory=dict)
    # digest → approval id → the latest version of that approval bound to the digest
    approvals: dict[str, dict[str, Record]] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "head": self.head, "commits": self.commits,
            "first": {d: {b: [pos, _commit_json(c), uc] for b, (pos, c, uc) in m.items()}
                      for d, m in self.first.items()},
            "approvals": {d: {a: [r.file, r.doc, r.line, r.data] for a, r in m.items()}
                          for d, m in self.approvals.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DigestIndex:
        if data.get("format") != FORMAT:
            raise ValueError("another index format")
        index = cls(data["head"], data["commits"])
        for digest, bundles in data["first"].items():
            index.first[digest] = {b: (pos, _commit(c), uc) for b, (pos, c, uc)
                                   in bundles.items()}
        for digest, approvals in data["approvals"].items():
            index.approvals[digest] = {a: Record("Approval", a, file, doc, line, rec, True)
                                       for a, (file, doc, line, rec) in approvals.items()}
        return index


def build(history: GitHistory, head: str) -> DigestIndex:
    index = DigestIndex(head)
    replay = Replay(history, head)
    bundle_of: dict[str, str] = {}  # use case → its bundle, kept as use cases change
    serving: dict[str, set[str]] = {}  # bundle → the use cases it serves
    for step in replay.steps():
        index.commits += 1
        for kind, record_id in step.changed:
            if kind == "UseCase":
                serving.get(bundle_of.pop(record_id, ""), set()).discard(record_id)
                use_case = replay.state.get(kind, record_id)
                if use_case is not None and isinstance(use_case.spec.get("bundle"), str):
                    bundle_of[record_id] = use_case.spec["bundle"]
                    serving.setdefault(use_case.spec["bundle"], set()).add(record_id)
        for bundle_id, digest in step.digests.items():
            bundles = index.first.setdefault(digest, {})
            if bundle_id not in bundles:
                users = serving.get(bundle_id)
                bundles[bundle_id] = (index.commits, step.commit,
                                      min(users) if users else None)
        for kind, record_id in step.changed:
            if kind != "Approval":
                continue
            record = replay.state.get(kind, record_id)
            if record is not None and record.valid:
                # the latest version still bound to a digest: its approvers and decision
                # are what was last approved for it
                index.approvals.setdefault(record.spec["bundle"]["digest"], {})[
                    record_id] = record
    return index


def _name(history: GitHistory, head: str) -> str:
    where = f"{history.top}\0{history.prefix}".encode("utf-8", "surrogateescape")
    return f"{hashlib.sha256(where).hexdigest()[:16]}-{head}.json"


def digest_index(history: GitHistory) -> DigestIndex:
    """The index of HEAD's history: from the cache, or built (and cached) now."""
    head = history.head()
    if head is None:
        return DigestIndex("")
    name = _name(history, head)
    raw = cache.read_bytes(SECTION, name)
    if raw:
        try:
            return DigestIndex.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            pass  # a damaged or older entry: rebuild it
    index = build(history, head)
    cache.write_bytes(SECTION, name, json.dumps(index.json(), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"))
    return index
