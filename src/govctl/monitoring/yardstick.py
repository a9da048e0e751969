"""The yardstick (SPEC §3.3): every signal is judged against the threshold contract *as
approved* — the content whose digest the current approval's ``thresholds.digest`` names,
even when that approval is stale or expired — never against a threshold a pull request
raised without re-approval. The working tree's differing values are shown beside it as
``proposed``.

The approved content is the working tree's contract when the digests are equal (no git),
else a version from git history (``history.contracts``). Only without a current approval,
or when that content cannot be found (no git, a digest never committed), is the working
tree's contract the yardstick, and ``basis`` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.records import Record
from govctl.model.repository import Repository

APPROVED, WORKING_TREE = "approved", "working-tree"
JUDGED_FIELDS = ("metric", "query", "window", "min", "max", "severity")


@dataclass(frozen=True)
class Proposed:
    """The working tree's version of a signal where it differs from the approved one: what
    a pull request proposes, which nobody approved."""

    approved: Mapping[str, Any] | None  # None: the signal is not in the approved contract
    working: Mapping[str, Any] | None  # None: the working tree removed the signal

    def json(self) -> dict[str, Any]:
        if self.working is None:
            return {"removed": True}
        out = {k: self.working[k] for k in ("min", "max") if self.working.get(k) is not None}
        if self.approved is not None:  # the yardstick itself moved: say how
            out.update({k: self.working.get(k) for k in ("metric", "query", "window",
                                                          "severity")
                        if self.approved.get(k) != self.working.get(k)})
        return out


@dataclass(frozen=True)
class Yardstick:
    basis: str  # approved | working-tree
    contract_id: str | None  # the judged content's contract id
    digest: str | None  # the judged content's digest
    signals: Mapping[str, Mapping[str, Any]]  # name → the judged signal
    on_breach: Mapping[str, Any] | None
    proposed: Mapping[str, Proposed]  # approved signals the working tree changes
    unapproved: Mapping[str, Mapping[str, Any]]  # signals only the working tree has
    note: str | None = None  # why the working tree is the yardstick though approved
    source: str | None = None  # where the approved content was read: a file, or file@blob


def _valid_signals(contract: Record | None) -> Mapping[str, Mapping[str, Any]]:
    if contract is None or not contract.valid:
        return {}
    signals = contract.spec.get("signals")
    return signals if isinstance(signals, Mapping) else {}


def _differs(approved: Mapping[str, Any], working: Mapping[str, Any]) -> bool:
    return any(approved.get(k) != working.get(k) for k in JUDGED_FIELDS)


def _approved_stick(approved: Record, working: Record | None, digest: str,
                    source: str) -> Yardstick:
    judged = _valid_signals(approved)
    now = _valid_signals(working)
    proposed = {name: Proposed(signal, now.get(name)) for name, signal in judged.items()
                if name not in now or _differs(signal, now[name])}
    unapproved = {name: signal for name, signal in now.items() if name not in judged}
    on_breach = approved.spec.get("on_breach")
    return Yardstick(APPROVED, approved.id, digest, judged,
                     on_breach if isinstance(on_breach, Mapping) else None, proposed,
                     unapproved, None, source)


def _working_stick(digester: Digester, working: Record | None, note: str | None
                   ) -> Yardstick:
    valid = working is not None and working.valid
    on_breach = working.spec.get("on_breach") if valid and working is not None else None
    return Yardstick(WORKING_TREE, working.id if working is not None else None,
                     digester.try_contract(working) if valid and working is not None else None,
                     _valid_signals(working), on_breach if isinstance(on_breach, Mapping)
                     else None, {}, {}, note, working.file if working is not None else None)


def yardsticks(repo: Repository, digester: Digester, use_cases: Iterable[Record],
               current: Mapping[str, Record], root: Path | None) -> dict[str, Yardstick]:
    """Use case id → the contract its signals are judged against. ``current`` is every
    use case's current approval (SPEC §1.4), stale or expired or not; ``root`` is the
    governance root of the working tree (None: look in no history)."""
    out: dict[str, Yardstick] = {}
    pending: dict[str, list[tuple[Record, Record | None]]] = {}  # digest → its use cases
    by_digest: dict[str, Record] | None = None
    for use_case in use_cases:
        working = repo.get("ThresholdContract", use_case.spec.get("thresholds"))
        approval = current.get(use_case.id)
        bound = approval.spec.get("thresholds") if approval is not None else None
        if not isinstance(bound, Mapping) or not isinstance(bound.get("digest"), str):
            out[use_case.id] = _working_stick(digester, working, None)
            continue
        digest = bound["digest"]
        named = repo.get("ThresholdContract", bound.get("id"))
        if named is not None and named.valid and digester.try_contract(named) == digest:
            out[use_case.id] = _approved_stick(named, working, digest, named.file)
            continue
        if by_digest is None:  # an identical contract under another id (rare): digest all
            by_digest = {}
            for contract in repo.of_kind("ThresholdContract"):
                found = digester.try_contract(contract)
                if found is not None:
                    by_digest.setdefault(found, contract)
        same = by_digest.get(digest)
        if same is not None:
            out[use_case.id] = _approved_stick(same, working, digest, same.file)
            continue
        pending.setdefault(digest, []).append((use_case, working))
    if pending:
        found = _from_history(root, repo, current, pending)
        for digest, uses in pending.items():
            for use_case, working in uses:
                hit = found.get(digest)
                if hit is not None:
                    out[use_case.id] = _approved_stick(hit[0], working, digest, hit[1])
                else:
                    out[use_case.id] = _working_stick(digester, working, (
                        f"the approved contract (digest {digest}) is not in the working tree "
                        "or git history: signals are judged against the working tree's, "
                        "which nobody approved"))
    return out


def _from_history(root: Path | None, repo: Repository, current: Mapping[str, Record],
                  pending: Mapping[str, list[tuple[Record, Record | None]]]
                  ) -> dict[str, tuple[Record, str]]:
    if root is None or not any((folder / ".git").exists() for folder in (root, *root.parents)):
        return {}
    from govctl.errors import GovctlError
    from govctl.history.contracts import Wanted, find_approved
    from govctl.history.git import GitHistory

    wanted = []
    for digest, uses in pending.items():
        for use_case, working in uses:
            approval = current[use_case.id]
            contract_id = approval.spec["thresholds"].get("id")
            named = repo.get("ThresholdContract", contract_id)
            paths = tuple(sorted({r.file for r in (named, working) if r is not None}))
            wanted.append(Wanted(digest, str(contract_id), paths))
    try:
        with GitHistory(root) as history:
            found = find_approved(history, wanted)
    except GovctlError:
        return {}
    return {d: (f.record, f"{f.record.file} (git blob {f.blob[:12]})") for d, f in found.items()}
