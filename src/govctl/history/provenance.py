"""Approval provenance (SPEC §3.4): which commit made each approval's decision, and was
it made (and signed) by one of its approvers?

The deciding commit is the last non-merge commit that added the approval or changed its
``decision``, ``bundle``, ``thresholds`` or ``approvers``, following the record by id
across renames and moves between files. One ``git log --no-merges --raw`` serves every
approval; each approval then walks only the commits that touched its own file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govctl.history.git import Commit, FileChange, GitHistory
from govctl.history.replay import parse_records
from govctl.model.findings import RULES, Finding
from govctl.model.records import Record
from govctl.model.repository import RECORD_SUFFIXES, Repository

DECISION_FIELDS = ("decision", "bundle", "thresholds", "approvers")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def decision_of(data: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What the decision is, as comparable text: key order and the order of approvers are
    layout (a formatter may change them), not a new decision."""
    if data is None:
        return None
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        return None
    out = []
    for name in DECISION_FIELDS:
        value = spec.get(name)
        if name == "approvers" and isinstance(value, list):
            out.append(_canonical(sorted(_canonical(entry) for entry in value)))
        else:
            out.append(_canonical(value))
    return tuple(out)


@dataclass(frozen=True)
class Decision:
    approval: str
    commit: Commit | None  # None: the decision exists only in the working tree
    uncommitted: bool


class Widen(Exception):
    """A path-limited index met a record that came from a file outside its paths."""


class ProvenanceIndex:
    """The non-merge history of the root (or, with ``paths``, of those files only: cheap
    for a few approvals; a move from another file raises :class:`Widen`)."""

    def __init__(self, history: GitHistory, rev: str = "HEAD",
                 paths: Sequence[str] | None = None) -> None:
        self.history = history
        self.paths = set(paths) if paths is not None else None
        self.commits = history.log(list(paths or ()), rev=rev, no_merges=True)  # newest first
        # path → [(commit index, change)] in commit order (newest first)
        self.by_path: dict[str, list[tuple[int, FileChange]]] = defaultdict(list)
        for index, commit in enumerate(self.commits):
            for change in commit.changes:
                if change.new_path is not None:
                    self.by_path[change.new_path].append((index, change))
        self._parsed: dict[tuple[str, str], dict[str, Record]] = {}
        head = history.head() if rev == "HEAD" else history.resolve(rev)
        self.head_tree = history.tree(head, paths) if head else {}

    def _records(self, path: str, blob: str | None) -> dict[str, Record]:
        if blob is None:
            return {}
        key = (path, blob)
        if key not in self._parsed:
            # a version cut short by a YAML error says nothing about the decision: it is
            # left out here, and _unreadable tells it apart from an absent approval
            self._parsed[key] = {r.id: r for r in parse_records(path, self.history.blob(blob),
                                                                 salvaged=False)
                                 if r.kind == "Approval"}
        return self._parsed[key]

    def approval_at(self, path: str | None, blob: str | None, approval_id: str
                     ) -> Record | None:
        return self._records(path, blob).get(approval_id) if path else None

    def decision(self, approval: Record) -> Decision:
        """The deciding commit of a working-tree approval."""
        wanted = decision_of(approval.data)
        path = approval.file
        head_entry = self.head_tree.get(path)
        at_head = self.approval_at(path, head_entry[1] if head_entry else None, approval.id)
        if at_head is None:
            # moved to another file and not committed yet: the decision itself may well be
            # committed, in the file that holds it at HEAD
            located = self._locate(approval.id)
            if located is not None:
                path, at_head = located
        if at_head is None or decision_of(at_head.data) != wanted:
            return Decision(approval.id, None, True)
        after = -1
        # While walking back through versions of the file that do not parse (a YAML error
        # committed, fixed later), the decision may have changed anywhere in that stretch:
        # it is attributed to the commit that began it, never to the one that fixed the
        # syntax — otherwise an approver's syntax fix would launder someone else's edit.
        in_unreadable = False
        while True:
            step = next(((i, c) for i, c in self.by_path.get(path, ()) if i > after), None)
            if step is None:
                return Decision(approval.id, None, True)  # history lost (shallow clone?)
            index, change = step
            commit = self.commits[index]
            new = self.approval_at(change.new_path, change.new_blob, approval.id)
            old = self.approval_at(change.old_path, change.old_blob, approval.id)
            if new is None:
                if not in_unreadable:
                    after = index  # this version of the file does not hold it; look older
                    continue
                if old is not None:  # the commit that made the file unreadable
                    if decision_of(old.data) != wanted:
                        return Decision(approval.id, commit, False)
                    in_unreadable = False
                elif not self._unreadable(change.old_path, change.old_blob, approval.id):
                    return Decision(approval.id, commit, False)  # arrived unreadable
                path, after = change.old_path or path, index
                continue
            if old is None:
                moved_from = self._moved_from(commit, approval.id, change)
                if moved_from is not None and decision_of(moved_from[1].data) == \
                        decision_of(new.data):
                    path, after = moved_from[0], index
                    continue
                if self._unreadable(change.old_path, change.old_blob, approval.id):
                    in_unreadable = True
                    path, after = change.old_path or path, index
                    continue
                return Decision(approval.id, commit, False)
            if decision_of(old.data) != decision_of(new.data):
                return Decision(approval.id, commit, False)
            path, after = change.old_path or path, index

    def _locate(self, approval_id: str) -> tuple[str, Record] | None:
        """(path, record) of the approval in the revision's tree, wherever it is."""
        needle = approval_id.encode()
        for path in sorted(self.head_tree):
            mode, blob = self.head_tree[path]
            if not path.endswith(RECORD_SUFFIXES) or not mode.startswith("100") or \
                    any(part.startswith(".") for part in path.split("/")):
                continue
            if needle in self.history.blob(blob):
                record = self.approval_at(path, blob, approval_id)
                if record is not None:
                    return path, record
        return None

    def _unreadable(self, path: str | None, blob: str | None, approval_id: str) -> bool:
        """The file version names the approval but it cannot be read from it (a YAML or
        envelope error): it was there, broken, rather than absent."""
        if path is None or blob is None or approval_id.encode() not in self.history.blob(blob):
            return False
        return self.approval_at(path, blob, approval_id) is None

    def version_commit(self, approval: Record) -> Commit | None:
        """The deciding commit of a version of an approval that is no longer the working
        tree's (rebound in place since, or removed): the last non-merge commit that
        introduced exactly this decision, wherever the record lived then."""
        wanted = decision_of(approval.data)
        needle = approval.id.encode()
        for index, commit in enumerate(self.commits):  # newest first: the last one wins
            for change in commit.changes:
                if change.new_path is None or change.new_blob is None or \
                        not change.new_path.endswith(RECORD_SUFFIXES):
                    continue
                # cheap filter before parsing: the id must appear in the file's bytes
                if needle not in self.history.blob(change.new_blob):
                    continue
                new = self.approval_at(change.new_path, change.new_blob, approval.id)
                if new is None or decision_of(new.data) != wanted:
                    continue
                old = self.approval_at(change.old_path, change.old_blob, approval.id)
                if old is None:
                    moved = self._moved_from(self.commits[index], approval.id, change)
                    old = moved[1] if moved is not None else None
                if old is None or decision_of(old.data) != wanted:
                    return commit
        return None

    def _moved_from(self, commit: Commit, approval_id: str, landing: FileChange
                    ) -> tuple[str, Record] | None:
        """Another file of the same commit that held the record before (a move)."""
        changes = commit.changes
        if self.paths is not None:  # a limited log shows only some files of the commit
            changes = self.history.log(rev=commit.sha, no_merges=True, single=True)[0].changes
        for change in changes:
            if change is landing or change.old_path is None:
                continue
            record = self.approval_at(change.old_path, change.old_blob, approval_id)
            if record is not None:
                if self.paths is not None and change.old_path not in self.paths:
                    raise Widen(change.old_path)
                return change.old_path, record
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
                        approvals: Iterable[Record]) -> Iterator[Finding]:
    """GOV080 for every approval whose deciding commit was not made (or signed) by one of
    its approvers. ``mode`` is the Policy's ``approvals.provenance``."""
    if mode == "none":
        return
    approvals = list(approvals)
    if not approvals:
        return
    index = ProvenanceIndex(history)
    decisions = {a.id: index.decision(a) for a in approvals}
    for decision in decisions.values():
        if decision.commit is not None:  # a shallow clone cannot tell who decided
            history.require_complete(decision.commit,
                                     f"the decision of approval {decision.approval!r}")
    signatures: dict[str, tuple[str, str]] = {}
    if mode == "signed":
        signatures = signers(history,
                             {d.commit.sha for d in decisions.values() if d.commit is not None})
    for approval in approvals:
        decision = decisions[approval.id]
        message = _problem(repo, approval, decision, mode, signatures)
        if message is not None:
            line, col = repo.locator.position(approval.file, approval.doc,
                                              ("spec", "approvers"), at_key=True)
            yield Finding("GOV080", RULES["GOV080"].severity, approval.file, line, col,
                          approval.ref, message)


def signers(history: GitHistory, shas: set[str]) -> dict[str, tuple[str, str]]:
    """sha → (git's signature state %G?, the signer %GS) of each commit, in one process.

    The signer matters as much as the state: %G? is "G" for a good signature by *any* key
    the allowed-signers file (or keyring) trusts, whoever the commit names as its author.
    (GitHistory.signatures reports only the state, hence this query of its own.)
    """
    if not shas:
        return {}
    out = history._run("log", "--no-walk=unsorted", "--format=%H%x1f%G?%x1f%GS",
                       *sorted(shas), "--")
    found: dict[str, tuple[str, str]] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        sha, _, rest = line.partition("\x1f")
        state, _, signer = rest.partition("\x1f")
        if sha:
            found[sha] = (state.strip() or "N", signer.strip())
    return found


def signer_emails(signer: str) -> set[str]:
    """The emails a signer string names, lower-cased: an SSH principal list from the
    allowed-signers file ("bob@acme.test" or "a@x,b@y") or a GPG user id ("Bob <bob@x>")."""
    emails = set()
    for part in signer.split(","):
        part = part.strip()
        if "<" in part and part.endswith(">"):
            part = part[part.rindex("<") + 1:-1]
        if part:
            emails.add(part.lower())
    return emails


def _problem(repo: Repository, approval: Record, decision: Decision, mode: str,
             signatures: Mapping[str, tuple[str, str]]) -> str | None:
    if decision.commit is None:
        return (f"approval {approval.id!r} is not committed, or its decision changed in the "
                "working tree: commit it as one of its approvers")
    commit = decision.commit
    emails = approver_emails(repo, approval)
    who = f"{commit.author} <{commit.email}>"
    if commit.email.lower() not in emails:
        listed = ", ".join(emails.values()) or "none with a Person record"
        return (f"the decision of approval {approval.id!r} was committed in {commit.short} by "
                f"{who} on {commit.date[:10]}, who is not one of its approvers ({listed})")
    if mode == "signed":
        state, signer = signatures.get(commit.sha, ("N", ""))
        if state != "G":
            return (f"the decision of approval {approval.id!r} was committed in {commit.short} "
                    f"by {who} without a good signature (git %G? = {state}); sign it "
                    "(git commit -S)")
        if not signer_emails(signer) & set(emails):
            # the author email is free text: only the key says who made the commit. A good
            # signature by someone else's trusted key proves nothing about the approvers.
            listed = ", ".join(emails.values())
            return (f"the decision of approval {approval.id!r} was committed in {commit.short} "
                    f"as {who}, but signed by {signer or 'an unnamed key'}, who is not one of "
                    f"its approvers ({listed}): the signing key must be an approver's")
    return None
