"""Semantic diff of two revisions (SPEC §3.1, §3.2): record changes with field-level
changes and their effects (``rules.changes``), plus the findings the change causes
(impacts).

Built as data; ``report/diff.py`` renders it as text or markdown, and JSON is its own.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govctl.digest.digester import Digester
from govctl.errors import GovctlError
from govctl.history.baseline import Baseline
from govctl.history.git import GitHistory
from govctl.history.provenance import provenance_findings
from govctl.history.validation import check_with_head
from govctl.model.dates import utc_date
from govctl.model.findings import ERROR, Finding, cap, sort_key
from govctl.model.graph import use_case_closure
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.model.textdiff import TextDiff
from govctl.rules.changes import LOOSENED, REAPPROVAL, FieldChange
from govctl.rules.compare import Comparison, Revision
from govctl.rules.decisions import current_approvals, required_roles
from govctl.rules.registry import GATED_STATUSES


@dataclass(frozen=True)
class RecordChange:
    kind: str
    id: str
    change: str  # added | removed | modified | renamed
    file: str
    old_file: str | None
    fields: tuple[FieldChange, ...]

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.id}"

    @property
    def effects(self) -> set[str]:
        return {f.effect for f in self.fields}

    def json(self, hint: Callable[[TextDiff], str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "change": self.change,
                               "file": self.file}
        if self.old_file is not None:
            out["old_file"] = self.old_file
        out["fields"] = [f.json(hint) for f in self.fields]
        return out


@dataclass(frozen=True)
class Reapproval:
    """A use case the change leaves needing a decision: whom the Policy asks (its tier and
    exposure) and which of its approvals the change made stale."""

    use_case: str
    roles: tuple[tuple[str, int], ...]  # (role, how many), as the Policy requires now
    stale: tuple[str, ...]  # approval ids

    def json(self) -> dict[str, Any]:
        return {"use_case": self.use_case, "roles": dict(self.roles),
                "stale_approvals": list(self.stale)}


@dataclass(frozen=True)
class Reapproved:
    """A use case whose good current approval at the head was added or changed in the
    range: the re-approval a loosening needs, made in the same pull request."""

    use_case: str
    approval: str
    approvers: tuple[str, ...]  # "Name (role)"

    def json(self) -> dict[str, Any]:
        return {"use_case": self.use_case, "approval": self.approval,
                "approvers": list(self.approvers)}


@dataclass(frozen=True)
class DiffResult:
    base: str
    head: str  # a sha or "WORKTREE"
    changes: tuple[RecordChange, ...]
    impacts: tuple[Finding, ...]
    # use cases the change touches that are left at HEAD without a good approval (current,
    # neither stale nor expired, GOV034-GOV038 satisfied, committed as GOV080 requires)
    unapproved: tuple[str, ...] = ()
    reapproval: tuple[Reapproval, ...] = ()  # who must decide again, per use case
    reapproved: tuple[Reapproved, ...] = ()  # decided again in the range
    git_prefix: str = ""  # the governance root inside its git repository ("" or "a/b/")

    def has(self, effect: str) -> bool:
        return any(effect in c.effects for c in self.changes)

    def trips(self, gate: str) -> bool:
        """``--fail-on``: loosened | reapproval (incl. stale approvals) | unapproved (a
        touched use case without a good approval at HEAD: the gate that lets a loosening
        through once it is re-approved in the same range) | any."""
        if gate == "any":
            return bool(self.changes)
        if gate == "unapproved":
            return bool(self.unapproved)
        if gate == REAPPROVAL:
            return self.has(REAPPROVAL) or any(
                f.rule in ("GOV031", "GOV032") for f in self.impacts)
        return self.has(gate)

    def json(self) -> dict[str, Any]:
        return {"version": 1, "base": self.base, "head": self.head,
                "changes": [c.json(self.git_diff) for c in self.changes],
                "impacts": [f.to_json() for f in self.impacts],
                "stale_approvals": self.stale_approvals,
                "unapproved": list(self.unapproved),
                "reapproval": [r.json() for r in self.reapproval],
                "reapproved": [r.json() for r in self.reapproved]}

    def git_diff(self, diff: TextDiff) -> str:
        """The command that shows a capped text diff whole (run at the repository's top)."""
        paths = [self.git_prefix + p for p in dict.fromkeys((diff.old_path, diff.new_path))
                 if p]
        revs = self.base if self.head == WORKTREE else f"{self.base} {self.head}"
        return f"`git diff {revs} -- {' '.join(shlex.quote(p) for p in paths)}`"

    @property
    def loosened(self) -> int:
        """Controls loosened: field changes, not records (a contract may loosen two)."""
        return sum(1 for c in self.changes for f in c.fields if f.effect == LOOSENED)

    @property
    def stale_approvals(self) -> list[str]:
        """Each approval the change makes stale, once (GOV031 and GOV032 may both hit it)."""
        return sorted({f.record.split("/", 1)[1] for f in self.impacts
                       if f.rule in ("GOV031", "GOV032") and f.record})


# -- the diff -----------------------------------------------------------------------------


def _records(repo: Repository) -> dict[tuple[str, str], Record]:
    return {(r.kind, r.id): r for kinds in repo.index.values() for r in kinds.values()}


def diff_records(old_repo: Repository, new_repo: Repository,
                 old_digester: Digester | None = None, new_digester: Digester | None = None,
                 ) -> list[RecordChange]:
    compare = Comparison(Revision(old_repo, old_digester or Digester(old_repo)),
                         Revision(new_repo, new_digester or Digester(new_repo)))
    before, after = _records(old_repo), _records(new_repo)
    changes: list[RecordChange] = []
    for key in sorted(set(before) | set(after)):
        kind, record_id = key
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            changes.append(RecordChange(kind, record_id, "added", b.file, None, ()))
            continue
        if b is None and a is not None:
            changes.append(RecordChange(kind, record_id, "removed", a.file, None, ()))
            continue
        assert a is not None and b is not None
        fields = compare.changes(a, b)
        if a.file != b.file:
            changes.append(RecordChange(kind, record_id, "renamed", b.file, a.file,
                                        tuple(fields)))
        elif fields:
            changes.append(RecordChange(kind, record_id, "modified", b.file, None,
                                        tuple(fields)))
    return changes


def _finding_key(f: Finding) -> tuple[str, str]:
    return (f.rule, f.record or f"{f.file}:{f.message}")


def impacts(old_findings: list[Finding], new_findings: list[Finding]) -> list[Finding]:
    """Errors in the new revision that the old one did not have (keyed by rule+record), at
    most 100 per rule and file, then one saying how many were left out (SPEC §3)."""
    before = {_finding_key(f) for f in old_findings if f.severity == ERROR}
    seen: set[tuple[str, str]] = set()
    out = []
    for f in sorted(new_findings, key=sort_key):
        key = _finding_key(f)
        if f.severity == ERROR and key not in before and key not in seen:
            seen.add(key)
            out.append(f)
    return cap(out)


def diff_repositories(old_repo: Repository, new_repo: Repository, base: str, head: str,
                      as_of: datetime, history: GitHistory | None = None) -> DiffResult:
    old_digester, new_digester = Digester(old_repo), Digester(new_repo)
    _, old_findings = check_with_head(old_repo, as_of, old_digester)
    rev = "HEAD" if head == WORKTREE else head
    # a stale approval is explained against the base first (the usual pull request: the
    # base had what was approved), then HEAD, then the commit that made the decision
    baseline = Baseline(history=history, rev=rev, head=head == WORKTREE,
                        revisions=[Revision(old_repo, old_digester)])
    try:
        policy, new_findings = check_with_head(new_repo, as_of, new_digester, baseline)
    finally:
        baseline.close()
    changes = diff_records(old_repo, new_repo, old_digester, new_digester)
    gate = _gate(old_repo, new_repo, changes, new_findings, policy, as_of, history, rev,
                 new_digester)
    found = impacts(old_findings, new_findings)
    return DiffResult(base, head, tuple(changes), tuple(found), gate.unapproved,
                      _reapproval(new_repo, policy, found, gate.unapproved),
                      _reapproved(new_repo, as_of, gate, changes),
                      history.to_git("") if history is not None else "")


WORKTREE = "WORKTREE"
# what a good approval must not have: none, stale, expired, GOV034-GOV038 (roles, duties,
# eval results against its own contract, known approvers, independence), provenance
_UNAPPROVED_RULES = frozenset({"GOV030", "GOV031", "GOV032", "GOV033", "GOV034", "GOV035",
                               "GOV036", "GOV037", "GOV038", "GOV080"})


def touched_use_cases(old_repo: Repository, new_repo: Repository,
                      changes: Iterable[RecordChange]) -> list[str]:
    """Use cases whose records, dependencies or approvals the change touches (a Policy
    change touches them all), by their closure at either end of the range."""
    changes = list(changes)
    changed = {c.ref for c in changes}
    policy_changed = any(c.kind == "Policy" for c in changes)
    approvals: dict[object, set[str]] = {}  # use case id → refs of its approvals
    for repo in (old_repo, new_repo):
        for approval in repo.of_kind("Approval"):
            key = approval.spec.get("use_case")
            if isinstance(key, str):
                approvals.setdefault(key, set()).add(approval.ref)
    out = []
    for use_case in new_repo.of_kind("UseCase"):
        if policy_changed:
            out.append(use_case.id)
            continue
        refs = {r.ref for r in use_case_closure(new_repo, use_case)}
        before = old_repo.get("UseCase", use_case.id)
        if before is not None:
            refs |= {r.ref for r in use_case_closure(old_repo, before)}
        refs |= approvals.get(use_case.id, set())
        if refs & changed:
            out.append(use_case.id)
    return sorted(out)


@dataclass(frozen=True)
class Gate:
    """`--fail-on unapproved`: the use cases in approved/production the change touches,
    and those of them left without a good approval at the head of the range."""

    gated: tuple[str, ...]
    unapproved: tuple[str, ...]


def _gate(old_repo: Repository, new_repo: Repository, changes: Iterable[RecordChange],
          findings: list[Finding], policy: Policy, as_of: datetime,
          history: GitHistory | None, rev: str, digester: Digester) -> Gate:
    changes = list(changes)
    touched = [new_repo.get("UseCase", u) for u in touched_use_cases(old_repo, new_repo,
                                                                     changes)]
    gated = [u for u in touched if u is not None and u.spec["status"] in GATED_STATUSES]
    if not gated:
        return Gate((), ())
    current = current_approvals(new_repo, utc_date(as_of))
    bad_refs = {f.record for f in findings if f.severity == ERROR
                and f.rule in _UNAPPROVED_RULES}
    if history is not None and policy.provenance != "none":
        approvals = [current[u.id] for u in gated if u.id in current]
        with contextlib.suppress(GovctlError):  # a history that cannot tell: no approval
            bad_refs |= {f.record for f in provenance_findings(
                new_repo, history, policy.provenance, approvals, rev)}
    out = []
    for use_case in gated:
        approval = current.get(use_case.id)
        if approval is None or use_case.ref in bad_refs or approval.ref in bad_refs \
                or not _digestible(new_repo, digester, use_case):
            out.append(use_case.id)
    return Gate(tuple(u.id for u in gated), tuple(out))


def _digestible(repo: Repository, digester: Digester, use_case: Record) -> bool:
    """Whether the bundle and contract the use case runs have digests at all: one that
    cannot be computed (a prompt deleted, a schema error, a component cycle) cannot be
    shown to be the approved one, so no approval covers it (GOV031/GOV032 stay silent
    there; the gate must not)."""
    bundle = repo.get("Bundle", use_case.spec["bundle"])
    contract = repo.get("ThresholdContract", use_case.spec["thresholds"])
    return bundle is not None and bundle.valid and digester.try_bundle(bundle) is not None \
        and contract is not None and contract.valid \
        and digester.try_contract(contract) is not None


def _reapproval(repo: Repository, policy: Policy, found: Iterable[Finding],
                unapproved: tuple[str, ...]) -> tuple[Reapproval, ...]:
    """Every use case with an approval the change made stale, or left without a good one:
    the roles its Policy tier and exposure require (the people the author must ask)."""
    stale: dict[str, set[str]] = {}
    for f in found:
        if f.rule in ("GOV031", "GOV032") and f.record:
            approval = repo.get("Approval", f.record.split("/", 1)[1])
            use_case = approval.spec.get("use_case") if approval is not None else None
            if isinstance(use_case, str):
                stale.setdefault(use_case, set()).add(approval.id)
    out = []
    for use_case_id in sorted(set(stale) | set(unapproved)):
        use_case = repo.get("UseCase", use_case_id)
        roles: dict[str, int] = {}
        if use_case is not None and use_case.valid and policy.valid:
            roles = required_roles(policy, use_case)
        out.append(Reapproval(use_case_id, tuple(sorted(roles.items())),
                              tuple(sorted(stale.get(use_case_id, ())))))
    return tuple(out)


def _reapproved(new_repo: Repository, as_of: datetime, gate: Gate,
                changes: list[RecordChange]) -> tuple[Reapproved, ...]:
    """Use cases the gate passed whose current approval was added in the range, or had its
    decision (``spec``) changed: only those the gate checked whole (approved/production:
    current, not stale or expired, GOV034-GOV038, provenance, digests that can be told),
    so nothing is called re-approved that the gate did not hold to all of it."""
    decided = {c.id for c in changes if c.kind == "Approval" and (
        c.change == "added" or any(not f.path.startswith("metadata.") for f in c.fields))}
    current = current_approvals(new_repo, utc_date(as_of))
    out = []
    for use_case_id in gate.gated:
        approval = current.get(use_case_id)
        if approval is None or approval.id not in decided or use_case_id in gate.unapproved:
            continue
        who = []
        for entry in approval.spec["approvers"]:
            person = new_repo.get("Person", entry["person"])
            name = person.spec["name"] if person is not None and person.valid else \
                entry["person"]
            who.append(f"{name} ({entry['role']})")
        out.append(Reapproved(use_case_id, approval.id, tuple(who)))
    return tuple(out)


def iter_fields(changes: list[RecordChange]) -> Iterator[tuple[RecordChange, FieldChange]]:
    for change in changes:
        for field in change.fields:
            yield change, field
