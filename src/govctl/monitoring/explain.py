"""`govctl explain USE_CASE`: the three answers on one screen (SPEC §3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl.model.findings import Finding
from govctl.model.people import person, team
from govctl.model.policy import read_policy
from govctl.model.repository import WorktreeSource, load_repository
from govctl.monitoring.observations import Ignored
from govctl.monitoring.sources import ObservationSource
from govctl.monitoring.status import ApprovalState, SignalStatus, build_status


@dataclass(frozen=True)
class Explanation:
    use_case: dict[str, Any]
    owner: dict[str, Any]
    team: dict[str, Any] | None
    approval: ApprovalState
    approvers: list[dict[str, Any]]
    commit: dict[str, Any] | None
    signals: tuple[SignalStatus, ...]
    observed: bool  # observations or Prometheus were given
    on_breach: dict[str, Any] | None  # the approved contract's (the yardstick's)
    contract_id: str | None
    findings: tuple[Finding, ...]  # GOV085
    verdict: str = "unobserved"
    threshold_basis: str = "working-tree"
    threshold_note: str | None = None
    threshold_source: str | None = None  # where the judged contract content was read
    incidents: tuple[dict[str, Any], ...] = ()  # not resolved
    ignored: tuple[Ignored, ...] = ()
    serving_approved: bool = False
    digests_seen: frozenset[str] = frozenset()
    required_absent: tuple[str, ...] = ()  # required signals the approved contract lacks

    def json(self) -> dict[str, Any]:
        approval = self.approval.approval
        oncall = (self.team or {}).get("oncall")
        out = {
            "version": 1,
            "use_case": self.use_case["id"],
            "title": self.use_case["title"],
            "status": self.use_case["status"],
            "verdict": self.verdict,
            "approval": _NO_APPROVAL if approval is None else {
                "id": approval.id, "decision": approval.spec["decision"],
                "date": approval.spec["date"], "valid_until": approval.spec.get("valid_until"),
                "population": approval.spec["population"], "approvers": self.approvers,
                "bundle_digest": approval.spec["bundle"]["digest"],
                "conditions": self.approval.conditions,
                "current": self.approval.state == "current", "state": self.approval.state,
                "reasons": list(self.approval.reasons),
                **({"commit": self.commit} if self.commit else {}),
            },
            "owner": self.owner["id"],
            "owner_detail": self.owner,
            "team": self.team["id"] if self.team else None,
            "oncall": None if not oncall else {
                "rotation": oncall["rotation"], "pager": oncall["pager"],
                "escalation": [p["id"] for p in oncall["escalation"]]},
            "on_breach": self.on_breach,
            "fallback": self.use_case["fallback"],
            "thresholds": self.contract_id,
            "threshold_basis": self.threshold_basis,
            "signals": [s.json() for s in self.signals],
            "incidents": list(self.incidents),
            "ignored": [i.json() for i in self.ignored],
            "findings": [f.to_json() for f in self.findings],
        }
        if self.threshold_note:
            out["threshold_note"] = self.threshold_note
        if self.required_absent:
            out["required_absent"] = list(self.required_absent)
        return out


# SPEC §3.1 gives the approval as an object: without one, the same keys say so
_NO_APPROVAL: dict[str, Any] = {
    "id": None, "decision": None, "date": None, "valid_until": None, "population": None,
    "approvers": [], "bundle_digest": None, "conditions": [], "current": False,
    "state": "none", "reasons": []}


def explain(root: Path, use_case_id: str, as_of: datetime,
            source: ObservationSource | None = None) -> Explanation:
    repo = load_repository(WorktreeSource(root))
    policy = read_policy(repo.policy)
    use_case = repo.require("UseCase", use_case_id, valid=True)
    report = build_status(repo, policy, source or ObservationSource(), as_of, [use_case], root)
    entry = report.use_cases[0]
    state = entry.approval
    approvers = []
    commit = None
    if state.approval is not None:
        approvers = [{**person(repo, a["person"]), "role": a["role"]}
                     for a in state.approval.spec["approvers"]]
        commit = _commit_of(root, state.approval)
    spec = use_case.spec
    incidents = tuple(
        {"id": i.id, "severity": i.spec["severity"], "status": i.spec["status"],
         "detected": i.spec["detected"], "summary": i.spec.get("summary")}
        for i in sorted(repo.of_kind("Incident"), key=lambda r: (r.spec["detected"], r.id),
                        reverse=True)
        if i.spec["use_case"] == use_case.id and i.spec["status"] != "resolved")
    stick = entry.yardstick
    return Explanation(
        use_case={"id": use_case.id, "title": use_case.title or use_case.id,
                  "status": spec["status"], "fallback": spec.get("fallback"),
                  "tier": spec["risk"]["tier"]},
        owner=person(repo, spec["owner"]),
        team=team(repo, spec["team"]),
        approval=state, approvers=approvers, commit=commit,
        signals=entry.signals, observed=report.observed,
        on_breach=dict(stick.on_breach) if stick.on_breach is not None else None,
        contract_id=stick.contract_id,
        findings=report.findings,
        verdict=entry.verdict,
        threshold_basis=stick.basis,
        threshold_note=stick.note,
        threshold_source=stick.source,
        incidents=incidents,
        ignored=report.ignored,
        serving_approved=entry.serving_approved,
        digests_seen=entry.digests_seen,
        required_absent=tuple(entry.required_absent),
    )


def _commit_of(root: Path, approval: Any) -> dict[str, Any] | None:
    """The commit that made the approval's decision, when the root is in git."""
    if not any((folder / ".git").exists() for folder in (root, *root.parents)):
        return None
    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex
    from govctl.history.signatures import people_at, signatures, signed_by_approver

    with GitHistory(root) as history:
        if history.head() is None:
            return None
        decision = ProvenanceIndex(history).decision(approval)
        if decision.commit is None:
            return None
        c = decision.commit
        signature = signatures(history, people_at(history), {c.sha}).get(c.sha)
        return {"sha": c.sha, "author": c.author, "email": c.email, "date": c.date,
                "signed": signed_by_approver(signature, approval)}
