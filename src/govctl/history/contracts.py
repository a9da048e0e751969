"""The threshold contract as approved, found in git by its digest (SPEC §3.3).

An approval binds a contract digest. When the working tree's contract no longer has that
digest (a threshold was raised in a pull request, not yet re-approved), the signals must
still be judged against what was approved: the content is searched among every version
of the contract reachable from HEAD — the contract's own file first, then every record
file under the root — and taken from the version whose digest is the approved one.

Only called for contracts whose working-tree digest differs (usually none), so `status`
stays free of git in the common case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from govctl.digest.digester import contract_digest
from govctl.errors import GovctlError
from govctl.history.git import GitHistory
from govctl.history.replay import parse_records, runbook_file
from govctl.model.loader import may_hold
from govctl.model.records import Record
from govctl.model.repository import RECORD_SUFFIXES, Repository

KIND = "ThresholdContract"


@dataclass(frozen=True)
class Wanted:
    digest: str  # the approved contract digest
    contract_id: str  # the id the approval names
    paths: tuple[str, ...]  # files to search first (where the contract lives now)


@dataclass(frozen=True)
class Found:
    record: Record  # the contract as committed (file and document of that version)
    blob: str  # the git blob it was read from


def _blobs(history: GitHistory, paths: Sequence[str]) -> dict[str, set[str]]:
    """path → every blob it had in a commit reachable from HEAD (merged branches too)."""
    out: dict[str, set[str]] = {}
    for commit in history.log(paths):
        for change in commit.changes:
            for path, blob in ((change.old_path, change.old_blob),
                               (change.new_path, change.new_blob)):
                if path is not None and blob is not None:
                    out.setdefault(path, set()).add(blob)
    return out


def _candidates(history: GitHistory, blobs: Mapping[str, set[str]], ids: set[str]
                ) -> list[tuple[Record, str]]:
    """Every valid ThresholdContract with one of ``ids`` in the given record blobs."""
    wanted = [(path, blob) for path, found in sorted(blobs.items())
              if path.endswith(RECORD_SUFFIXES) for blob in sorted(found)]
    history.prefetch(blob for _, blob in wanted)
    out = []
    for path, blob in wanted:
        raw = history.small_blob(blob)  # None: over the size limit, not read (GOV004)
        if raw is None or not may_hold(raw, (KIND,)):  # (an escape may spell it)
            continue
        for record in parse_records(path, raw, salvaged=False, check_schema=frozenset({KIND}),
                                    max_size=history.max_file_bytes):
            if record.kind == KIND and record.valid and record.id in ids:
                out.append((record, blob))
    return out


def _match(history: GitHistory, candidates: Iterable[tuple[Record, str]],
           digests: set[str]) -> dict[str, Found]:
    """Digest → the candidate whose contract digest it is. A runbook file is hashed in
    every version it had (the contract and its runbook may change in different commits)."""
    candidates = list(candidates)
    runbooks = sorted({p for record, _ in candidates if (p := runbook_file(record.spec))})
    versions = _blobs(history, runbooks) if runbooks else {}
    history.prefetch(blob for found in versions.values() for blob in found)
    hashes = {path: sorted(history.sha256(b) for b in found)  # (large files: streamed)
              for path, found in versions.items()}
    out: dict[str, Found] = {}
    for record, blob in candidates:
        runbook = runbook_file(record.spec)
        for sha in hashes.get(runbook, [""]) if runbook else [""]:
            digest = contract_digest(record.spec, lambda _path, sha=sha: sha)
            if digest in digests and digest not in out:
                out[digest] = Found(record, blob)
    return out


def find_approved(history: GitHistory, wanted: Iterable[Wanted]) -> dict[str, Found]:
    """Digest → the committed contract content with that digest, for every ``wanted``
    digest that git history holds; a digest never committed is absent from the answer."""
    wanted = list(wanted)
    if not wanted or history.head() is None:
        return {}
    ids = {w.contract_id for w in wanted}
    digests = {w.digest for w in wanted}
    try:
        hinted = sorted({p for w in wanted for p in w.paths})
        found = _match(history, _candidates(history, _blobs(history, hinted), ids), digests) \
            if hinted else {}
        if digests - set(found):  # moved between files since: every record file
            everywhere = _blobs(history, ())
            found.update({d: f for d, f in _match(history, _candidates(
                history, everywhere, ids), digests - set(found)).items()})
    except GovctlError:
        return {}  # an unreadable history knows no approved content: working tree basis
    return found


class ApprovedContracts:
    """``approved(approval)``: the contract content an approval binds, from git history,
    for the rules (GOV036) when the records changed since. Opens git only when asked."""

    def __init__(self, root: Path, repo: Repository) -> None:
        self.root = root
        self.repo = repo  # where the contracts live now: their files are searched first
        self._history: GitHistory | None = None
        self._found: dict[str, Found | None] = {}

    def __call__(self, approval: Record) -> Record | None:
        bound = approval.spec.get("thresholds")
        if not isinstance(bound, Mapping) or not isinstance(bound.get("digest"), str):
            return None
        digest = bound["digest"]
        if digest not in self._found:
            try:
                if self._history is None:
                    self._history = GitHistory(self.root, self.repo.source.max_size)
                named = self.repo.get(KIND, bound.get("id"))
                hints = (named.file,) if named is not None else ()
                self._found[digest] = find_approved(self._history, [Wanted(
                    digest, str(bound.get("id")), hints)]).get(digest)
            except GovctlError:
                self._found[digest] = None
        found = self._found[digest]
        return found.record if found is not None else None

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None
