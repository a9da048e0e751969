"""Approval provenance (SPEC §3.4): which commit made each approval's decision, and was
it made (and signed) by one of its approvers?

The *deciding commit* is the most recent commit, in topological order from HEAD, that
produced the approval's parsed ``spec`` as it is at HEAD: a non-merge commit whose spec
differs from its parent's, or a merge whose spec differs from every parent's (an approval
edited inside a merge). Comments and layout are not changes (nor is the order of the
approvers); every field of the spec is — a later ``date``, another ``population``, other
``eval.results``, conditions removed. The record is followed by id across renames and
moves between files. One ``git log --topo-order --raw`` serves every approval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from govctl.history.git import Commit, GitHistory
from govctl.history.replay import holds_records, parse_records
from govctl.history.signatures import (
    UNSIGNED,
    Signature,
    people_at,
    signatures,
    signed_by_approver,
)
from govctl.model.findings import RULES, Finding
from govctl.model.loader import is_literal, loads_cleanly, may_hold
from govctl.model.records import Record
from govctl.model.repository import RECORD_SUFFIXES, Repository


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def decision_of(data: Mapping[str, Any] | None) -> str | None:
    """The approval's spec as comparable text: key order and the order of the approvers
    are layout (a formatter may change them), anything else is a change of the decision."""
    if data is None:
        return None
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        return None
    spec = dict(spec)
    if isinstance(spec.get("approvers"), list):
        spec["approvers"] = sorted(_canonical(entry) for entry in spec["approvers"])
    return _canonical(spec)


@dataclass(frozen=True)
class Decision:
    approval: str
    commit: Commit | None  # None: the decision exists only in the working tree
    uncommitted: bool


class Widen(Exception):
    """A path-limited index met a record that came from a file outside its paths."""


_ABSENT, _UNREADABLE = "absent", "unreadable"  # an approval's state in a file version


class ProvenanceIndex:
    """The history of the root in topological order (or, with ``paths``, of those files
    only: cheap for a few approvals; a move from another file raises :class:`Widen`)."""

    def __init__(self, history: GitHistory, rev: str = "HEAD",
                 paths: Sequence[str] | None = None) -> None:
        self.history = history
        self.paths = set(paths) if paths is not None else None
        # newest first; a merge's changes are against its first parent
        self.commits = history.log(list(paths or ()), rev=rev, topo_order=True)
        self._parsed: dict[tuple[str, str], dict[str, Record]] = {}
        self._relevant: dict[str, list[Commit]] = {}  # see focus()
        self._mentions: dict[tuple[str, str], list[Any]] = {}  # (commit, id) → its changes
        self._trees: dict[str, dict[str, tuple[str, str]]] = {}
        head = history.head() if rev == "HEAD" else history.resolve(rev)
        self.head_tree = history.tree(head, paths) if head else {}

    # -- file versions --------------------------------------------------------------------
    def _records(self, path: str, blob: str | None) -> dict[str, Record]:
        """The approvals of one file version that can be read whole."""
        if blob is None:
            return {}
        key = (path, blob)
        if key not in self._parsed:
            # a version cut short by a YAML error (or over the size limit, not read) says
            # nothing about the decision
            raw = self.history.small_blob(blob)
            self._parsed[key] = {} if raw is None else {r.id: r for r in parse_records(
                path, raw, salvaged=False, max_size=self.history.max_file_bytes)
                if r.kind == "Approval"}
        return self._parsed[key]

    def approval_at(self, path: str | None, blob: str | None, approval_id: str
                     ) -> Record | None:
        return self._records(path, blob).get(approval_id) if path else None

    def _state(self, path: str | None, blob: str | None, approval_id: str
               ) -> Record | str:
        """The approval in a file version, or why not: absent, or unreadable (the version
        names it, but a YAML error keeps it from being read)."""
        if path is None or blob is None or not path.endswith(RECORD_SUFFIXES):
            return _ABSENT
        raw = self.history.small_blob(blob)
        if raw is None:
            return _UNREADABLE  # over the size limit (GOV004): not read, whatever it holds
        if not may_hold(raw, (approval_id,)):
            return _ABSENT  # (a version spelling the id with an escape is parsed)
        found = self._records(path, blob).get(approval_id)
        if found is not None:
            return found
        return _UNREADABLE if not loads_cleanly(raw) else _ABSENT

    def _side(self, commit: Commit, approval_id: str, new: bool) -> Record | str:
        """The approval after (``new``) or before a commit, wherever it lives among the
        files the commit changed; absent when no changed file held it."""
        unreadable = False
        for change in self._mentions.get((commit.sha, approval_id), commit.changes):
            path, blob = (change.new_path, change.new_blob) if new else (change.old_path,
                                                                          change.old_blob)
            state = self._state(path, blob, approval_id)
            if isinstance(state, Record):
                return state
            unreadable = unreadable or state == _UNREADABLE
        return _UNREADABLE if unreadable else _ABSENT

    def _parent_has(self, parent: str, approval_id: str, target: str, hint: str | None
                    ) -> bool:
        """Whether the approval is ``target`` in a parent commit (for merges)."""
        if parent not in self._trees:
            self._trees[parent] = self.history.tree(parent)
        tree = self._trees[parent]
        paths = [hint] if hint in tree else []
        paths += [p for p in sorted(tree) if p != hint]
        for path in paths:
            mode, blob = tree[path]
            if not mode.startswith("100"):
                continue
            state = self._state(path, blob, approval_id)
            if isinstance(state, Record):
                return decision_of(state.data) == target
        return False

    def focus(self, approval_ids: Iterable[str]) -> None:
        """Prepare the deciding commits of many approvals in one pass over the history.

        A commit whose changed files mention an approval's id on neither side, and hold no
        version too large to read, leaves that approval as it was: ``deciding`` would skip
        it. One scan of each changed blob for all the ids (one regular expression) keeps,
        per id, only the commits that mention it — so many approvals cost one walk, not one
        walk each (a diff across 1,000 commits of 2,000 use cases gates hundreds).

        As ``loader.may_hold`` says: a blob holding a backslash may spell any id (a
        double-quoted escape), and an id YAML can write otherwise than literally is not
        focused (every commit may decide it)."""
        ids = sorted({i for i in approval_ids if i and is_literal(i)} - set(self._relevant))
        if not ids:
            return
        needles = re.compile(b"|".join(re.escape(i.encode()) for i in
                                       sorted(ids, key=len, reverse=True)))
        wanted = set(ids)
        relevant: dict[str, list[Commit]] = {i: [] for i in ids}
        seen: dict[str, set[str] | None] = {}  # blob → ids it mentions (None: any)
        # (blobs read a batch of commits at a time: one round trip each was most of a
        # first `validate --history`)
        for commit in self.history.prefetched(self.commits):
            mentioned: dict[str, list[Any]] = {}  # id → the changes that mention it
            for change in commit.changes:
                ids: set[str] = set()
                for path, blob in ((change.new_path, change.new_blob),
                                   (change.old_path, change.old_blob)):
                    if path is None or blob is None or not path.endswith(RECORD_SUFFIXES):
                        continue
                    if blob not in seen:
                        raw = self.history.small_blob(blob)
                        seen[blob] = None if raw is None or b"\\" in raw else {
                            m.decode() for m in needles.findall(raw)} & wanted
                    found = seen[blob]
                    ids |= wanted if found is None else found
                for approval_id in ids:
                    mentioned.setdefault(approval_id, []).append(change)
            for approval_id, changes in mentioned.items():
                relevant[approval_id].append(commit)
                # a commit of thousands of files: _side looks at these only
                self._mentions[commit.sha, approval_id] = changes
        self._relevant.update(relevant)

    # -- the deciding commit ------------------------------------------------------------------
    def decision(self, approval: Record) -> Decision:
        """The deciding commit of a working-tree approval."""
        wanted = decision_of(approval.data)
        head_entry = self.head_tree.get(approval.file)
        at_head = self.approval_at(approval.file, head_entry[1] if head_entry else None,
                                   approval.id)
        if at_head is None:
            # moved to another file and not committed yet: the decision itself may well be
            # committed, in the file that holds it at HEAD
            located = self._locate(approval.id)
            if located is not None:
                at_head = located[1]
        if at_head is None or decision_of(at_head.data) != wanted:
            return Decision(approval.id, None, True)
        commit = self.deciding(approval.id, wanted)
        return Decision(approval.id, commit, commit is None)

    def version_commit(self, approval: Record) -> Commit | None:
        """The deciding commit of a version of an approval that is no longer the working
        tree's (re-bound in place since, or removed)."""
        return self.deciding(approval.id, decision_of(approval.data))

    def deciding(self, approval_id: str, target: str | None) -> Commit | None:
        """The most recent commit (topological order) that produced the spec ``target``.

        While walking back through versions that do not parse (a YAML error committed,
        fixed later), the spec may have changed anywhere in that stretch: it is attributed
        to the commit that began it, never to the one that fixed the syntax — otherwise an
        approver's syntax fix would launder someone else's edit.
        """
        if target is None:
            return None
        stretch = False  # inside a stretch of unreadable versions ending in ``target``
        for commit in self._relevant.get(approval_id, self.commits):
            new = self._side(commit, approval_id, new=True)
            if stretch:
                if new != _UNREADABLE:
                    continue  # not the commit that began it (another branch, or untouched)
                old = self._side(commit, approval_id, new=False)
                if isinstance(old, Record):
                    if decision_of(old.data) != target:
                        return commit  # began the stretch, from another decision
                    stretch = False  # began it from the same decision: look older
                    continue
                if old == _ABSENT:
                    old = self._moved(commit, approval_id)
                    if old is None:
                        return commit  # arrived unreadable
                continue
            if not isinstance(new, Record) or decision_of(new.data) != target:
                continue  # this commit did not produce the decision (or did not touch it)
            old = self._side(commit, approval_id, new=False)
            if old == _UNREADABLE:
                stretch = True
                continue
            if old == _ABSENT:
                moved = self._moved(commit, approval_id)
                old = moved if moved is not None else _ABSENT
            if isinstance(old, Record) and decision_of(old.data) == target:
                continue  # unchanged against the first parent (moved, or another record)
            if len(commit.parents) > 1 and any(
                    self._parent_has(parent, approval_id, target, new.file)
                    for parent in commit.parents[1:]):
                continue  # a merge bringing it from another parent: the decision is there
            return commit
        return None

    def versions(self, approval_id: str) -> list[tuple[Commit, Record]]:
        """Every version of the approval's decision, oldest first (by commit date): each
        commit that added it or changed its ``spec`` (SPEC §4: one timeline row per version,
        so an approval re-bound in place shows both bindings), with the record as that
        commit left it. A merge that brought a version from another parent is not a version
        of its own; a version reached through unreadable file versions is attributed, as in
        ``deciding``, to the commit that began that stretch of them."""
        commits = self._relevant.get(approval_id, self.commits)
        out: list[tuple[Commit, Record]] = []
        seen: set[str] = set()
        for index, commit in enumerate(commits):
            new = self._side(commit, approval_id, new=True)
            if not isinstance(new, Record):
                continue
            target = decision_of(new.data)
            old = self._side(commit, approval_id, new=False)
            if old == _ABSENT:
                moved = self._moved(commit, approval_id)
                old = moved if moved is not None else _ABSENT
            if isinstance(old, Record) and decision_of(old.data) == target:
                continue  # moved, or another record of the file changed
            if len(commit.parents) > 1 and any(
                    self._parent_has(parent, approval_id, target, new.file)
                    for parent in commit.parents[1:]):
                continue
            made = commit if old != _UNREADABLE else self._stretch_start(
                commits, index, approval_id, target)
            if made is not None and made.sha not in seen:
                seen.add(made.sha)
                out.append((made, new))
        out.reverse()  # topological order puts a side branch before the merge's first parent
        out.sort(key=lambda version: commit_instant(version[0]))  # (stable: ties keep that order)
        return out

    def _stretch_start(self, commits: Sequence[Commit], index: int, approval_id: str,
                       target: str) -> Commit | None:
        """The commit that began the stretch of unreadable versions ending at
        ``commits[index]`` (older commits follow it in ``commits``), or None when the stretch
        began from the same decision (no new version) or its start is not found."""
        for commit in commits[index + 1:]:
            if self._side(commit, approval_id, new=True) != _UNREADABLE:
                continue  # not part of the stretch (another branch, or untouched)
            old = self._side(commit, approval_id, new=False)
            if old == _UNREADABLE:
                continue  # the stretch goes on further back
            if isinstance(old, Record) and decision_of(old.data) == target:
                return None
            return commit
        return None

    def _moved(self, commit: Commit, approval_id: str) -> Record | None:
        """The approval in the commit's parent when it came from a file outside the changes
        seen (a path-limited log shows only some files of the commit)."""
        if self.paths is None:
            return None
        full = self.history.log(rev=commit.sha, no_merges=False, single=True)
        changes = full[0].changes if full else ()
        for change in changes:
            state = self._state(change.old_path, change.old_blob, approval_id)
            if isinstance(state, Record):
                if change.old_path not in self.paths:
                    raise Widen(change.old_path)
                return state
        return None

    def _locate(self, approval_id: str) -> tuple[str, Record] | None:
        """(path, record) of the approval in the revision's tree, wherever it is."""
        for path in sorted(self.head_tree):
            mode, blob = self.head_tree[path]
            if not holds_records(path, mode):
                continue
            raw = self.history.small_blob(blob)  # (None: over the size limit, not read)
            if raw is not None and may_hold(raw, (approval_id,)):  # (an escape may spell it)
                record = self.approval_at(path, blob, approval_id)
                if record is not None:
                    return path, record
        return None


def approver_emails(repo: Repository, approval: Record) -> dict[str, str]:
    """lower-cased email → "Name <email>" of the approval's approvers with Person records."""
    out = {}
    for entry in approval.spec.get("approvers") or ():
        person = repo.get("Person", entry.get("person"))
        if person is not None and person.valid:
            email = person.spec["email"]
            out[email.lower()] = f"{person.spec['name']} <{email}>"
    return out


def provenance_findings(repo: Repository, history: GitHistory, mode: str,
                        approvals: Iterable[Record], rev: str = "HEAD") -> Iterator[Finding]:
    """GOV080 for every approval whose deciding commit was not made (or signed) by one of
    its approvers. ``mode`` is the Policy's ``approvals.provenance``; ``rev`` the commit
    the records are read at (the working tree's are compared with HEAD's)."""
    if mode == "none":
        return
    approvals = list(approvals)
    if not approvals:
        return
    index = ProvenanceIndex(history, rev)
    if len(approvals) > 1:
        index.focus(a.id for a in approvals)
    decisions = {a.id: index.decision(a) for a in approvals}
    for decision in decisions.values():
        if decision.commit is not None:  # a shallow clone cannot tell who decided
            history.require_complete(decision.commit,
                                     f"the decision of approval {decision.approval!r}")
    checked: dict[str, Signature] = {}
    if mode == "signed":
        checked = signatures(history, people_at(history, rev),
                             {d.commit.sha for d in decisions.values() if d.commit is not None})
    for approval in approvals:
        decision = decisions[approval.id]
        message = _problem(repo, approval, decision, mode, checked)
        if message is not None:
            line, col = repo.locator.position(approval.file, approval.doc,
                                              ("spec", "approvers"), at_key=True)
            yield Finding("GOV080", RULES["GOV080"].severity, approval.file, line, col,
                          approval.ref, message)


def _problem(repo: Repository, approval: Record, decision: Decision, mode: str,
             checked: Mapping[str, Signature]) -> str | None:
    if decision.commit is None:
        return (f"approval {approval.id!r} is not committed, or its spec differs from HEAD's "
                "in the working tree: commit it as one of its approvers")
    commit = decision.commit
    emails = approver_emails(repo, approval)
    who = f"{commit.author} <{commit.email}>"
    if commit.email.lower() not in emails:
        listed = ", ".join(emails.values()) or "none with a Person record"
        return (f"the decision of approval {approval.id!r} was committed in {commit.short} by "
                f"{who} on {commit.date[:10]}, who is not one of its approvers ({listed})")
    if mode == "signed":
        signature = checked.get(commit.sha, UNSIGNED)
        if signature.state == "N":
            return (f"the decision of approval {approval.id!r} was committed in {commit.short} "
                    f"by {who} without a good signature (unsigned: %G? = N); sign it (git "
                    "commit -S) with a key in an approver's signing_keys")
        if not signed_by_approver(signature, approval):
            # the author email is free text, and so is the name on a key: only a key listed
            # in an approver's Person record says who made the commit
            holder = (f"Person {signature.person!r}'s key" if signature.person
                      else "a key in no approver's signing_keys")
            return (f"the decision of approval {approval.id!r} was committed in {commit.short} "
                    f"as {who}, but signed by {holder} ({signature.shown}): it must carry a good "
                    "signature by a key in the signing_keys of one of its approvers, as the "
                    "Person records read at HEAD")
    return None


def commit_instant(commit: Commit) -> datetime:
    """When a commit was made (committer date: a rebase keeps the author's) as an instant:
    the ISO texts carry different offsets."""
    try:
        moment = datetime.fromisoformat(commit.committer_date)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
