"""`govctl trace DIGEST`: from a digest logged in production back to the bundle, the use
case, the first commit with that digest, and every approval ever bound to it.

Digests are searched along HEAD's first-parent line (what was merged); when a digest
arrived in a merge, the first commit named is the one on the merged branch that
introduced it (the same non-merge commits `history` and provenance name)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.digest.digester import Digester
from govctl.errors import EXIT_FINDINGS, GovctlError
from govctl.history.digest_index import INDEXED_KINDS, digest_index
from govctl.history.git import Commit, GitHistory
from govctl.history.provenance import ProvenanceIndex, Widen, decision_of
from govctl.history.replay import DIGEST_KINDS, Replay
from govctl.history.signatures import people_at, signatures, signed_by_approver
from govctl.model.loader import MAX_FILE_SIZE
from govctl.model.records import Record
from govctl.model.repository import WorktreeSource, load_repository

# what trace reads of the working tree: digests, the index's kinds, approvers' names
TRACED_KINDS = DIGEST_KINDS | INDEXED_KINDS | {"Person"}
_DIGEST = re.compile(r"(sha256:)?([0-9a-fA-F]{64})\Z")


def normalise_digest(text: str) -> str:
    match = _DIGEST.match(text.strip())
    if not match:
        raise GovctlError(f"{text!r} is not a digest: expected sha256:<64 hex digits>")
    return "sha256:" + match.group(2).lower()


@dataclass(frozen=True)
class Match:
    bundle: str
    use_case: str | None


@dataclass(frozen=True)
class TracedApproval:
    id: str
    decision: str
    use_case: str
    approvers: tuple[dict[str, str], ...]  # person, role, name
    commit: Commit | None  # the commit that introduced its decision (None: uncommitted)
    signature: str | None  # git's %G? of that commit
    signed: bool = False  # a good signature by a key of one of its approvers (SPEC §3.4)


@dataclass(frozen=True)
class TraceResult:
    digest: str
    matches: tuple[Match, ...]
    current: bool  # a bundle in the working tree has this digest now
    first_commit: Commit | None
    approvals: tuple[TracedApproval, ...]
    commits_searched: int

    def json(self) -> dict[str, Any]:
        first = self.matches[0]
        return {
            "version": 1,
            "digest": self.digest,
            "bundle": first.bundle,
            "use_case": first.use_case,
            "matches": [{"bundle": m.bundle, "use_case": m.use_case} for m in self.matches],
            "current": self.current,
            "first_commit": ({"sha": self.first_commit.sha, "author": self.first_commit.author,
                              "date": self.first_commit.date}
                             if self.first_commit else None),
            "approvals": [
                {"id": a.id, "decision": a.decision, "use_case": a.use_case,
                 "approvers": list(a.approvers),
                 "commit": ({"sha": a.commit.sha, "author": a.commit.author,
                             "email": a.commit.email, "date": a.commit.date,
                             "signed": a.signed} if a.commit else None)}
                for a in self.approvals
            ],
        }


def trace(root: Path, digest_text: str, max_file_bytes: int = MAX_FILE_SIZE) -> TraceResult:
    """``max_file_bytes``: record files and blobs larger than this are not read."""
    digest = normalise_digest(digest_text)
    with GitHistory(root, max_file_bytes) as history:
        index = digest_index(history)  # cached per HEAD: a repeated trace is cheap
        # after the index: a replay has parsed HEAD's files, most of them unchanged here
        # only what trace reads (exact for those kinds: load_repository's words)
        worktree = load_repository(WorktreeSource(root, max_file_bytes),
                                   parses=history.parses, words=TRACED_KINDS)
        commits = index.commits
        # bundle id → first commit with the digest, and its position in the replay: the
        # first-parent order is the order in which digests landed (dates can be skewed)
        found = index.first.get(digest, {})
        first: dict[str, Commit] = {b: c for b, (_, c, _) in found.items()}
        position: dict[str, int] = {b: pos for b, (pos, _, _) in found.items()}
        use_cases: dict[str, str | None] = {b: uc for b, (_, _, uc) in found.items()}
        # every approval bound to the digest, in its latest version so bound
        approvals: dict[str, Record] = dict(index.approvals.get(digest, {}))

        digester = Digester(worktree)
        # "current": does a working-tree bundle have the digest now? The bundles that ever
        # had it are the candidates; only an unknown digest needs every bundle digested.
        candidates = [b for b in (worktree.get("Bundle", i) for i in first) if b] or \
            worktree.of_kind("Bundle")
        now = [b.id for b in candidates if digester.try_bundle(b) == digest]
        for bundle_id in now:
            if bundle_id not in use_cases or use_cases[bundle_id] is None:
                use_cases[bundle_id] = _serving(worktree.of_kind("UseCase"), bundle_id)
        for approval in worktree.of_kind("Approval"):
            if approval.spec["bundle"]["digest"] == digest:
                approvals[approval.id] = approval  # the working tree's version wins
        if not first and not now:
            raise GovctlError(
                f"{digest} is not the digest of any bundle in the working tree or in the "
                f"first-parent history of HEAD ({commits} commits searched)",
                exit_code=EXIT_FINDINGS)

        traced = _traced_approvals(history, worktree, approvals)
        order = sorted(set(first) | set(now), key=lambda b: (b not in first,
                                                              position.get(b, 0), b))
        earliest = first.get(order[0])
        if earliest is not None and len(earliest.parents) > 1:
            earliest = _introduced_by(history, earliest, order[0], digest)
        if earliest is not None:
            history.require_complete(earliest, f"the first commit with {digest}")
        for approval in traced:
            if approval.commit is not None:
                history.require_complete(approval.commit, f"approval {approval.id!r}")

    matches = tuple(Match(b, use_cases.get(b)) for b in order)
    return TraceResult(digest, matches, bool(now), earliest, traced, commits)


def _introduced_by(history: GitHistory, merge: Commit, bundle_id: str, digest: str
                   ) -> Commit:
    """The commit on a merged branch that gave ``bundle_id`` the digest.

    The first-parent replay sees a merged change land in the merge commit, whose author
    merged it; "first committed" is the branch commit (by the person who changed the
    prompt, say) — the same non-merge commits `history` and provenance name. Nested merges
    are followed down; when the branch cannot be replayed, the merge commit stays.
    """
    commit = merge
    for _depth in range(16):
        if len(commit.parents) < 2:
            break
        side = commit.parents[1]
        chain = history.log(rev=f"{commit.parents[0]}..{side}", first_parent=True,
                            reverse=True, raw=False)
        if not chain or not chain[0].parents:
            break
        start = chain[0].parents[0]  # where the branch's first-parent line left the main
        replay = Replay(history, f"{start}..{side}", start=start, kinds=frozenset())
        if replay.digests.get(bundle_id) == digest:
            break  # it had the digest already at the fork: the merge is the answer
        found = next((step.commit for step in replay.steps()
                      if step.digests.get(bundle_id) == digest), None)
        if found is None:
            break
        commit = found
    return commit


def _serving(use_cases: list[Record], bundle_id: str) -> str | None:
    for use_case in sorted(use_cases, key=lambda r: r.id):
        if use_case.spec.get("bundle") == bundle_id:
            return use_case.id
    return None


def _traced_approvals(history: GitHistory, worktree: Any,
                      approvals: dict[str, Record]) -> tuple[TracedApproval, ...]:
    if not approvals:
        return ()
    def deciding(index: ProvenanceIndex) -> dict[str, Commit | None]:
        commits: dict[str, Commit | None] = {}
        for approval_id, record in approvals.items():
            in_tree = worktree.get("Approval", approval_id)
            if in_tree is not None and in_tree.valid and \
                    decision_of(in_tree.data) == decision_of(record.data):
                commits[approval_id] = index.decision(in_tree).commit
            else:
                # removed since, or rebound in place to another digest: the working tree's
                # deciding commit would be the one that replaced this decision
                commits[approval_id] = index.version_commit(record)
        return commits

    # Only the files holding these approvals: a short log even over a long history. A
    # record that moved in from another file needs the whole root's history after all.
    files = {r.file for r in approvals.values()}
    files |= {a.file for a in (worktree.get("Approval", i) for i in approvals) if a}
    try:
        commits = deciding(ProvenanceIndex(history, paths=sorted(files)))
    except Widen:
        commits = deciding(ProvenanceIndex(history))
    out = []
    checked = signatures(history, people_at(history),
                         {c.sha for c in commits.values() if c is not None})
    for approval_id, record in sorted(approvals.items(),
                                      key=lambda kv: (kv[1].spec["date"], kv[0])):
        approvers = []
        for entry in record.spec["approvers"]:
            person = worktree.get("Person", entry["person"])
            name = person.spec.get("name") if person is not None else None
            approvers.append({"person": entry["person"], "role": entry["role"],
                              **({"name": name} if name else {})})
        commit = commits[approval_id]
        signature = checked.get(commit.sha) if commit else None
        out.append(TracedApproval(approval_id, record.spec["decision"],
                                  record.spec["use_case"], tuple(approvers), commit,
                                  signature.state if signature else None,
                                  signed_by_approver(signature, record)))
    return tuple(out)

