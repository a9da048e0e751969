"""Semantic diff of two revisions (SPEC §3.1, §3.2): record changes with field-level
changes and their effects (``rules.changes``), plus the findings the change causes
(impacts).

Built as data; ``report/diff.py`` renders it as text or markdown, and JSON is its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govctl.digest.digester import Digester, DigestInput
from govctl.errors import GovctlError
from govctl.history.git import GitHistory
from govctl.history.provenance import provenance_findings
from govctl.history.validation import check_with_head
from govctl.model.dates import utc_date
from govctl.model.findings import ERROR, Finding, cap, sort_key
from govctl.model.graph import use_case_closure
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.rules.changes import REAPPROVAL, FieldChange, field_changes, input_changes
from govctl.rules.decisions import current_approvals
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

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "change": self.change,
                               "file": self.file}
        if self.old_file is not None:
            out["old_file"] = self.old_file
        out["fields"] = [f.json() for f in self.fields]
        return out


@dataclass(frozen=True)
class DiffResult:
    base: str
    head: str  # a sha or "WORKTREE"
    changes: tuple[RecordChange, ...]
    impacts: tuple[Finding, ...]
    # use cases the change touches that are left at HEAD without a good approval (current,
    # neither stale nor expired, GOV034-GOV038 satisfied, committed as GOV080 requires)
    unapproved: tuple[str, ...] = ()

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
                "changes": [c.json() for c in self.changes],
                "impacts": [f.to_json() for f in self.impacts],
                "stale_approvals": self.stale_approvals,
                "unapproved": list(self.unapproved)}

    @property
    def stale_approvals(self) -> list[str]:
        """Each approval the change makes stale, once (GOV031 and GOV032 may both hit it)."""
        return sorted({f.record.split("/", 1)[1] for f in self.impacts
                       if f.rule in ("GOV031", "GOV032") and f.record})


def _safe_inputs(digester: Digester, bundle: Record) -> tuple[DigestInput, ...] | None:
    from govctl.digest.digester import DigestError

    try:
        return digester.bundle_inputs(bundle)
    except DigestError:
        return None


# -- the diff -----------------------------------------------------------------------------


def _records(repo: Repository) -> dict[tuple[str, str], Record]:
    return {(r.kind, r.id): r for kinds in repo.index.values() for r in kinds.values()}


def diff_records(old_repo: Repository, new_repo: Repository,
                 old_digester: Digester | None = None, new_digester: Digester | None = None,
                 ) -> list[RecordChange]:
    old, new = _records(old_repo), _records(new_repo)
    old_digester = old_digester or Digester(old_repo)
    new_digester = new_digester or Digester(new_repo)
    changes: list[RecordChange] = []
    for key in sorted(set(old) | set(new)):
        kind, record_id = key
        a, b = old.get(key), new.get(key)
        if a is None and b is not None:
            changes.append(RecordChange(kind, record_id, "added", b.file, None, ()))
            continue
        if b is None and a is not None:
            changes.append(RecordChange(kind, record_id, "removed", a.file, None, ()))
            continue
        assert a is not None and b is not None
        fields = field_changes(kind, a.data, b.data)
        if kind == "Bundle" and a.valid and b.valid and \
                old_digester.try_bundle(a) != new_digester.try_bundle(b):
            # only a changed digest can have changed inputs (digests are memoised)
            ia, ib = _safe_inputs(old_digester, a), _safe_inputs(new_digester, b)
            if ia is not None and ib is not None:
                explained = {f.path for f in fields}
                fields += [f for f in input_changes(ia, ib, old_digester, new_digester)
                           if f.path not in explained]
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
    policy, new_findings = check_with_head(new_repo, as_of, new_digester)
    changes = diff_records(old_repo, new_repo, old_digester, new_digester)
    unapproved = _unapproved(old_repo, new_repo, changes, new_findings, policy, as_of,
                             history, "HEAD" if head == WORKTREE else head)
    return DiffResult(base, head, tuple(changes), tuple(impacts(old_findings, new_findings)),
                      unapproved)


WORKTREE = "WORKTREE"
# what a good approval must not have: none, stale, expired, roles, duties, independence
_UNAPPROVED_RULES = frozenset({"GOV030", "GOV031", "GOV032", "GOV033", "GOV034", "GOV035",
                               "GOV037", "GOV038", "GOV080"})


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


def _unapproved(old_repo: Repository, new_repo: Repository,
                changes: Iterable[RecordChange], findings: list[Finding], policy: Policy,
                as_of: datetime, history: GitHistory | None, rev: str) -> tuple[str, ...]:
    changes = list(changes)
    touched = [new_repo.get("UseCase", u) for u in touched_use_cases(old_repo, new_repo,
                                                                     changes)]
    gated = [u for u in touched if u is not None and u.spec["status"] in GATED_STATUSES]
    if not gated:
        return ()
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
        if approval is None or use_case.ref in bad_refs or approval.ref in bad_refs:
            out.append(use_case.id)
    return tuple(out)


def iter_fields(changes: list[RecordChange]) -> Iterator[tuple[RecordChange, FieldChange]]:
    for change in changes:
        for field in change.fields:
            yield change, field
