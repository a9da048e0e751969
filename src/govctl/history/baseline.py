"""The approved revision of a record, for naming what made an approval stale (GOV031,
GOV032) and pointing at the changed line (SPEC §2 ``related``).

An approval binds digests. The revision whose record still has the bound digest is the one
the approval saw; what differs between it and now is exactly what invalidated the approval
— the prompt file, the model snapshot, a threshold. Candidates, cheapest first: revisions
the caller already holds (a diff's base), HEAD (a working tree before its commit), then
the commit that made the approval's decision (CI, where the working tree is HEAD). Loaded
only when a stale approval needs explaining, and only inside a git repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from govctl.digest.digester import Digester
from govctl.errors import GovctlError
from govctl.history.git import GitHistory
from govctl.history.replay import DIGEST_KINDS
from govctl.model.records import Record
from govctl.model.repository import load_repository
from govctl.rules.compare import Revision

MAX_DECISION_REVISIONS = 3  # commits loaded whole to explain stale approvals, per run
MAX_DECISION_LOOKUPS = 10  # deciding commits looked up (one path-limited log each), per run
# the kinds a revision's bundle and contract digests, and their comparison, read
_COMPARED_KINDS: frozenset[str | tuple[str, ...]] = DIGEST_KINDS | {"ThresholdContract"}


class Baseline:
    def __init__(self, root: Path | None = None, max_file_bytes: int | None = None, *,
                 history: GitHistory | None = None, rev: str = "HEAD",
                 revisions: Iterable[Revision] = (), head: bool = True) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes  # None: the default size limit
        self._history = history
        self._owned = history is None
        self.rev = rev  # the revision the records with the approvals are read at
        self._revisions = list(revisions)
        self._head = head  # try HEAD (the records are a working tree)
        self._head_loaded = False
        self._decided: dict[str, Revision | None] = {}  # commit sha → its records
        self._lookups = 0

    def _git(self) -> GitHistory | None:
        if self._history is None and self.root is not None:
            try:
                self._history = GitHistory(self.root) if self.max_file_bytes is None else \
                    GitHistory(self.root, self.max_file_bytes)
            except (GovctlError, OSError):
                self.root = None  # not a repository after all: stop asking
        return self._history

    def _load(self, sha: str) -> Revision | None:
        history = self._git()
        if history is None:
            return None
        try:
            # only what a digest and its comparison read (the revision's other records are
            # never asked for): about half of a repository's files are parsed
            repo = load_repository(history.tree_source(sha), words=_COMPARED_KINDS)
        except (GovctlError, OSError):
            return None
        return Revision(repo, Digester(repo))

    def _candidates(self) -> Iterator[Revision]:
        yield from self._revisions
        if self._head and not self._head_loaded:
            self._head_loaded = True
            history = self._git()
            head = history.head() if history is not None else None
            # A clean work tree is HEAD: its records are the current ones, whose digests
            # differ from the approved ones (or nothing would be asked). Loading it would
            # only cost a read of every file (CI, where the work tree is a fresh checkout).
            found = self._load(head) if head is not None and self._dirty(history) else None
            if found is not None:
                self._revisions.append(found)
                yield found

    @staticmethod
    def _dirty(history: GitHistory) -> bool:
        try:
            return history.dirty()
        except (GovctlError, OSError):
            return True  # cannot tell: look at HEAD as before

    def find(self, kind: str, record_id: str, approved: str, approval: Record
             ) -> tuple[Record, Revision] | None:
        """The record as it was in a revision where it had the ``approved`` digest."""
        for revision in self._candidates():
            found = _matching(revision, kind, record_id, approved)
            if found is not None:
                return found, revision
        decided = self._deciding(approval)
        found = _matching(decided, kind, record_id, approved) if decided else None
        return (found, decided) if found is not None else None

    def _deciding(self, approval: Record) -> Revision | None:
        """The records at the commit that made the approval's decision (SPEC §3.4): one
        path-limited log per approval file, at most ``MAX_DECISION_LOOKUPS`` of them and
        ``MAX_DECISION_REVISIONS`` commits loaded per run (the rest of many stale approvals
        get the general message)."""
        from govctl.history.provenance import ProvenanceIndex, Widen

        if len(self._decided) >= MAX_DECISION_REVISIONS or \
                self._lookups >= MAX_DECISION_LOOKUPS:
            return None
        history = self._git()
        if history is None:
            return None
        self._lookups += 1
        try:
            index = ProvenanceIndex(history, self.rev, paths=[approval.file])
            commit = index.version_commit(approval)
        except (GovctlError, Widen, OSError, ValueError):
            return None
        if commit is None:
            return None
        if commit.sha not in self._decided:
            self._decided[commit.sha] = self._load(commit.sha)
        return self._decided[commit.sha]

    def close(self) -> None:
        if self._history is not None and self._owned:
            self._history.close()
        self._history = None


def _matching(revision: Revision, kind: str, record_id: str, approved: str) -> Record | None:
    record = revision.repo.get(kind, record_id)
    if record is None or not record.valid:
        return None
    digest = (revision.digester.try_bundle(record) if kind == "Bundle"
              else revision.digester.try_contract(record))
    return record if digest == approved else None


def for_root(root: Path, max_file_bytes: int | None = None) -> Baseline | None:
    """A baseline when ``root`` is inside a git work tree (found without running git)."""
    if any((folder / ".git").exists() for folder in (root, *root.parents)):
        return Baseline(root, max_file_bytes)
    return None
