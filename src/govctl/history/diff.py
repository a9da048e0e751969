"""Semantic diff of two revisions (SPEC §3.1, §3.2): record changes with field-level
changes and their effects (``rules.changes``), plus the findings the change causes
(impacts).

Built as data; ``report/diff.py`` renders it as text or markdown, and JSON is its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govctl.digest.digester import Digester, DigestInput
from govctl.history.validation import check_with_head
from govctl.model.findings import ERROR, Finding, sort_key
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.rules.changes import REAPPROVAL, FieldChange, field_changes, input_changes


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

    def has(self, effect: str) -> bool:
        return any(effect in c.effects for c in self.changes)

    def trips(self, gate: str) -> bool:
        """``--fail-on``: loosened | reapproval (incl. stale approvals) | any."""
        if gate == "any":
            return bool(self.changes)
        if gate == REAPPROVAL:
            return self.has(REAPPROVAL) or any(
                f.rule in ("GOV031", "GOV032") for f in self.impacts)
        return self.has(gate)

    def json(self) -> dict[str, Any]:
        return {"version": 1, "base": self.base, "head": self.head,
                "changes": [c.json() for c in self.changes],
                "impacts": [f.to_json() for f in self.impacts]}


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
    """Errors in the new revision that the old one did not have (keyed by rule+record)."""
    before = {_finding_key(f) for f in old_findings if f.severity == ERROR}
    seen: set[tuple[str, str]] = set()
    out = []
    for f in sorted(new_findings, key=sort_key):
        key = _finding_key(f)
        if f.severity == ERROR and key not in before and key not in seen:
            seen.add(key)
            out.append(f)
    return out


def diff_repositories(old_repo: Repository, new_repo: Repository, base: str, head: str,
                      as_of: datetime) -> DiffResult:
    old_digester, new_digester = Digester(old_repo), Digester(new_repo)
    _, old_findings = check_with_head(old_repo, as_of, old_digester)
    _, new_findings = check_with_head(new_repo, as_of, new_digester)
    changes = diff_records(old_repo, new_repo, old_digester, new_digester)
    return DiffResult(base, head, tuple(changes), tuple(impacts(old_findings, new_findings)))


def iter_fields(changes: list[RecordChange]) -> Iterator[tuple[RecordChange, FieldChange]]:
    for change in changes:
        for field in change.fields:
            yield change, field
