"""`govctl explain USE_CASE`: the three answers on one screen (SPEC §3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.dates import utc_date
from govctl.model.findings import Finding
from govctl.model.people import person, team
from govctl.model.policy import read_policy
from govctl.model.repository import WorktreeSource, load_repository
from govctl.monitoring.status import (
    ApprovalState,
    SignalStatus,
    approval_state,
    build_status,
    gather_latest,
)
from govctl.rules.decisions import current_approvals


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
    on_breach: dict[str, Any] | None
    contract_id: str | None
    findings: tuple[Finding, ...]  # GOV085

    def json(self) -> dict[str, Any]:
        approval = self.approval.approval
        oncall = (self.team or {}).get("oncall")
        return {
            "version": 1,
            "use_case": self.use_case["id"],
            "title": self.use_case["title"],
            "status": self.use_case["status"],
            "approval": None if approval is None else {
                "id": approval.id, "decision": approval.spec["decision"],
                "date": approval.spec["date"], "valid_until": approval.spec.get("valid_until"),
                "population": approval.spec["population"], "approvers": self.approvers,
                "bundle_digest": approval.spec["bundle"]["digest"],
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
            "signals": [s.json() for s in self.signals],
            "findings": [f.to_json() for f in self.findings],
        }


def explain(root: Path, use_case_id: str, as_of: datetime, observations: Path | None = None,
            observations_format: str | None = None, prometheus: str | None = None
            ) -> Explanation:
    repo = load_repository(WorktreeSource(root))
    policy = read_policy(repo.policy)
    use_case = repo.require("UseCase", use_case_id, valid=True)
    latest = gather_latest(repo, [use_case], as_of, observations, observations_format,
                           prometheus)
    report = build_status(repo, policy, latest, as_of, [use_case])
    entry = report.use_cases[0]
    state = approval_state(repo, policy, Digester(repo), use_case,
                           current_approvals(repo, utc_date(as_of)), as_of)
    approvers = []
    commit = None
    if state.approval is not None:
        approvers = [{**person(repo, a["person"]), "role": a["role"]}
                     for a in state.approval.spec["approvers"]]
        commit = _commit_of(root, state.approval)
    contract = repo.get("ThresholdContract", use_case.spec["thresholds"])
    spec = use_case.spec
    return Explanation(
        use_case={"id": use_case.id, "title": use_case.title or use_case.id,
                  "status": spec["status"], "fallback": spec.get("fallback"),
                  "tier": spec["risk"]["tier"]},
        owner=person(repo, spec["owner"]),
        team=team(repo, spec["team"]),
        approval=state, approvers=approvers, commit=commit,
        signals=entry.signals, observed=observations is not None or prometheus is not None,
        on_breach=dict(contract.spec["on_breach"]) if contract is not None and contract.valid
        else None,
        contract_id=contract.id if contract is not None else None,
        findings=report.findings,
    )


def _commit_of(root: Path, approval: Any) -> dict[str, Any] | None:
    """The commit that made the approval's decision, when the root is in git."""
    if not any((folder / ".git").exists() for folder in (root, *root.parents)):
        return None
    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex

    with GitHistory(root) as history:
        if history.head() is None:
            return None
        decision = ProvenanceIndex(history).decision(approval)
        if decision.commit is None:
            return None
        c = decision.commit
        signature = history.signatures({c.sha}).get(c.sha)
        return {"sha": c.sha, "author": c.author, "email": c.email, "date": c.date,
                "signed": signature == "G"}
