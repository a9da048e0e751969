"""The persistent digest index behind `govctl trace`: every digest every bundle had along
the first-parent history of HEAD, when it first appeared, and every approval version bound
to it. Built by one replay of the history, then cached in the user cache (JSON) under the
repository, the governance root and HEAD's sha: a repeated trace reads a small file
instead of replaying thousands of commits. A new HEAD simply builds a new index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from govctl.cache import store
from govctl.history.git import Commit, GitHistory
from govctl.history.replay import Replay
from govctl.model.loader import MAX_FILE_SIZE
from govctl.model.records import Record

SECTION = "digests"
FORMAT = 1
INDEXED_KINDS = frozenset({"UseCase", "Approval"})  # read beside the digests' own


def _commit_json(commit: Commit) -> dict[str, Any]:
    # who and when, not what: asdict() would also copy every file change of the commit
    return {f.name: getattr(commit, f.name) for f in fields(Commit) if f.name != "changes"}


_COMMIT_TEXT = tuple(f.name for f in fields(Commit)
                     if f.name not in ("parents", "signature", "changes"))


def _commit(data: Any) -> Commit:
    """A commit as _commit_json wrote it, or ValueError (a damaged entry is rebuilt)."""
    if not (isinstance(data, dict) and all(isinstance(data.get(k), str) for k in _COMMIT_TEXT)
            and isinstance(data.get("parents"), list)
            and all(isinstance(p, str) for p in data["parents"])
            and (data.get("signature") is None or isinstance(data["signature"], str))
            and set(data) == {*_COMMIT_TEXT, "parents", "signature"}):
        raise ValueError("not a commit")
    return Commit(**{**data, "parents": tuple(data["parents"]), "changes": ()})


def _approval(approval_id: Any, entry: Any) -> Record:
    if not (isinstance(approval_id, str) and isinstance(entry, list) and len(entry) == 4):
        raise ValueError("not an approval")
    file, doc, line, data = entry
    if not (isinstance(file, str) and _is_int(doc) and _is_int(line)
            and _readable_approval(approval_id, data)):
        raise ValueError("not an approval")
    return Record("Approval", approval_id, file, doc, line, data, True)


def _readable_approval(approval_id: str, data: Any) -> bool:
    """What trace reads of an indexed approval without checking it (the index only holds
    valid ones). Not the whole schema: that costs ~50 µs an approval, on every trace."""
    if not (isinstance(data, dict) and data.get("kind") == "Approval"):
        return False
    meta, spec = data.get("metadata"), data.get("spec")
    if not (isinstance(meta, dict) and meta.get("id") == approval_id
            and isinstance(spec, dict)):
        return False
    bundle, approvers = spec.get("bundle"), spec.get("approvers")
    return (all(isinstance(spec.get(k), str) for k in ("use_case", "decision", "date"))
            and isinstance(bundle, dict) and isinstance(bundle.get("digest"), str)
            and isinstance(approvers, list)
            and all(isinstance(a, dict) and isinstance(a.get("person"), str)
                    and isinstance(a.get("role"), str) for a in approvers))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class DigestIndex:
    head: str
    commits: int = 0
    # digest → bundle id → (position in the replay, commit, the use case serving it then)
    first: dict[str, dict[str, tuple[int, Commit, str | None]]] = field(default_factory=dict)
    # digest → approval id → the latest version of that approval bound to the digest
    approvals: dict[str, dict[str, Record]] = field(default_factory=dict)

    def json_pieces(self) -> Iterator[bytes]:
        """The index as JSON (what :meth:`from_json` reads), encoded a digest at a time:
        never held whole (50,000 commits index to tens of MB)."""
        return store.json_pieces(
            {"format": FORMAT, "head": self.head, "commits": self.commits},
            {"first": ((d, self._first(m)) for d, m in self.first.items()),
             "approvals": ((d, self._approvals(m)) for d, m in self.approvals.items())})

    @staticmethod
    def _first(bundles: dict[str, tuple[int, Commit, str | None]]) -> dict[str, Any]:
        return {b: [pos, _commit_json(c), uc] for b, (pos, c, uc) in bundles.items()}

    @staticmethod
    def _approvals(bound: dict[str, Record]) -> dict[str, Any]:
        return {a: [r.file, r.doc, r.line, r.data] for a, r in bound.items()}

    @classmethod
    def from_json(cls, data: Any) -> DigestIndex:
        """The index as json() wrote it; ValueError for anything else (then rebuilt)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("another index format")
        head, commits = data.get("head"), data.get("commits")
        first, approvals = data.get("first"), data.get("approvals")
        if not (isinstance(head, str) and _is_int(commits) and isinstance(first, dict)
                and isinstance(approvals, dict)):
            raise ValueError("not a digest index")
        index = cls(head, commits)
        for digest, bundles in first.items():
            if not isinstance(bundles, dict):
                raise ValueError("not a digest index")
            found: dict[str, tuple[int, Commit, str | None]] = {}
            for bundle_id, entry in bundles.items():
                if not (isinstance(entry, list) and len(entry) == 3 and _is_int(entry[0])
                        and (entry[2] is None or isinstance(entry[2], str))):
                    raise ValueError("not a digest index")
                found[bundle_id] = (entry[0], _commit(entry[1]), entry[2])
            index.first[digest] = found
        for digest, bound in approvals.items():
            if not isinstance(bound, dict):
                raise ValueError("not a digest index")
            index.approvals[digest] = {a: _approval(a, entry) for a, entry in bound.items()}
        return index


def build(history: GitHistory, head: str) -> DigestIndex:
    index = DigestIndex(head)
    replay = Replay(history, head, kinds=INDEXED_KINDS)
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
    # HEAD's sha names its whole history, except in a shallow clone: the same HEAD after
    # `git fetch --unshallow` has older commits, and an index built while the history was
    # cut off would name the cut-off commit as where a digest first appeared
    cut = ",".join(sorted(history.shallow_boundaries()))
    # another size limit (--max-file-bytes) reads other files: another index
    limit = "" if history.max_file_bytes == MAX_FILE_SIZE else f"\0{history.max_file_bytes}"
    where = f"{history.top}\0{history.prefix}\0{cut}{limit}".encode("utf-8",
                                                                     "surrogateescape")
    return f"{hashlib.sha256(where).hexdigest()[:16]}-{head}.json"


def digest_index(history: GitHistory) -> DigestIndex:
    """The index of HEAD's history: from the cache, or built (and cached) now."""
    head = history.head()
    if head is None:
        return DigestIndex("")
    name = _name(history, head)
    raw = store.read_bytes(SECTION, name)
    if raw:
        try:
            return DigestIndex.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError, RecursionError):
            pass  # a damaged or older entry: rebuild it
    index = build(history, head)
    store.write_bytes(SECTION, name, index.json_pieces())
    return index
