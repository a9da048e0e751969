"""Governance coverage of in-flight use cases (SPEC §3.5, `govctl coverage`).

Each in-flight use case (``intake``, ``approved``, ``production``) gets every control as
present (True), missing (False) or not applicable (None); it is covered when none that
applies is missing. A UseCase whose record has errors is in flight and uncovered: what
cannot be read is never counted as governed. The approval and the contract are judged
as `status` judges them (the approved yardstick, SPEC §3.3), so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl.model.dates import utc_date
from govctl.model.findings import ERROR
from govctl.model.people import rotation_of
from govctl.model.policy import Policy, read_policy
from govctl.model.records import Record, as_mapping
from govctl.model.repository import Repository, WorktreeSource, load_repository
from govctl.monitoring.sources import ObservationSource
from govctl.monitoring.status import UseCaseStatus, build_status, required_unobserved
from govctl.rules.exercises import exercise_due, exercises_of, needs_exercise, overdue_gaps
from govctl.rules.runner import check_repository

IN_FLIGHT = ("intake", "approved", "production")
CONTROLS = ("classified", "approved", "contract", "oncall", "fallback", "response",
            "exercise", "observed")
# what is missing when a control is, and the record field that closes it
CONTROL_MEANING = {
    "classified": "risk tier defined in the Policy and exposure_usd set (UseCase risk)",
    "approved": "a current approval, neither stale nor expired (govctl approve)",
    "contract": "every Policy signals.required signal in the approved ThresholdContract",
    "oncall": "the owning Team names an oncall.rotation",
    "fallback": "UseCase fallback: what happens when it is switched off",
    "response": "UseCase response.offline_authority and response.customer_comms",
    "exercise": "a tabletop Exercise within Policy exercises.every_days, no gap overdue",
    "observed": "a fresh value of every required signal (--observations / --prometheus)",
}


@dataclass(frozen=True)
class UseCaseCoverage:
    id: str
    status: str | None
    tier: str | None
    controls: Mapping[str, bool | None]
    problem: str | None = None  # the record has errors: uncovered, whatever it says

    @property
    def covered(self) -> bool:
        return self.problem is None and all(v is not False for v in self.controls.values())

    @property
    def missing(self) -> list[str]:
        return [name for name, present in self.controls.items() if present is False]

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "tier": self.tier,
                               "covered": self.covered, "controls": dict(self.controls)}
        if self.problem:
            out["problem"] = self.problem
        return out


@dataclass(frozen=True)
class CoverageReport:
    at: datetime
    min: float
    use_cases: tuple[UseCaseCoverage, ...]
    observed: bool  # observations or Prometheus were given (the `observed` control)

    @property
    def in_flight(self) -> int:
        return len(self.use_cases)

    @property
    def covered(self) -> int:
        return sum(1 for u in self.use_cases if u.covered)

    @property
    def share(self) -> float:
        return self.covered / self.in_flight if self.use_cases else 1.0

    @property
    def below_minimum(self) -> bool:
        return self.share < self.min

    def json(self) -> dict[str, Any]:
        return {"version": 1, "at": self.at.isoformat().replace("+00:00", "Z"),
                "min": self.min, "share": self.share, "covered": self.covered,
                "in_flight": self.in_flight, "use_cases": [u.json() for u in self.use_cases]}


def coverage_of(root: Path, as_of: datetime, source: ObservationSource) -> CoverageReport:
    repo = load_repository(WorktreeSource(root))
    policy = read_policy(repo.policy)
    records = sorted(repo.of_kind("UseCase", valid_only=False), key=lambda r: r.id)
    # a record with errors may be in flight for all anyone knows: it counts, uncovered
    flying = [u for u in records if not u.valid or u.spec.get("status") in IN_FLIGHT]
    valid = [u for u in flying if u.valid]
    report = build_status(repo, policy, source, as_of, valid, root)
    # a record with errors is uncovered whatever it says (a GOV020 person who does not
    # exist, a production use case with no approval): the rules are validate's, run here
    _, findings = check_repository(repo, as_of)
    errors: dict[str, str] = {}
    for finding in findings:
        if finding.severity == ERROR and finding.record is not None:
            errors.setdefault(finding.record, f"{finding.rule}: {finding.message}")
    statuses = {entry.use_case.id: entry for entry in report.use_cases}
    entries = []
    for use_case in flying:
        if not use_case.valid:
            entries.append(UseCaseCoverage(
                use_case.id, _text(use_case.spec.get("status")),
                _text(as_mapping(use_case.spec.get("risk")).get("tier")),
                {name: False for name in CONTROLS},
                "the UseCase record has errors (run govctl validate)"))
            continue
        entry = _controls(repo, policy, use_case, statuses[use_case.id], as_of,
                          report.observed)
        if use_case.ref in errors:
            entry = replace(entry, problem="the UseCase record has errors (run govctl "
                                           f"validate): {errors[use_case.ref]}")
        entries.append(entry)
    return CoverageReport(as_of, policy.coverage_min, tuple(entries), report.observed)


def _controls(repo: Repository, policy: Policy, use_case: Record, status: UseCaseStatus,
              as_of: datetime, observed: bool) -> UseCaseCoverage:
    spec = use_case.spec
    risk = as_mapping(spec.get("risk"))
    approval = status.approval
    response = as_mapping(spec.get("response"))
    today = utc_date(as_of)
    exercise: bool | None = None
    if needs_exercise(use_case, policy):
        exercise = exercise_due(repo, policy, use_case, today) is None and not any(
            True for _, held in exercises_of(repo, use_case.id, today)
            for _ in overdue_gaps(held, today))
    controls: dict[str, bool | None] = {
        "classified": risk.get("tier") in policy.tiers and risk.get("exposure_usd") is not None,
        "approved": None if spec.get("status") == "intake" else (
            approval.state == "current" and approval.decision in ("approved", "conditional")),
        "contract": repo.get("ThresholdContract", spec.get("thresholds")) is not None
        and not status.required_absent,
        "oncall": rotation_of(repo.get("Team", spec.get("team"))) is not None,
        "fallback": isinstance(spec.get("fallback"), str) and bool(spec["fallback"].strip()),
        "response": _people(repo, response.get("offline_authority"))
        and _people(repo, [response.get("customer_comms")]),
        "exercise": exercise,
        "observed": (not required_unobserved(status.signals, status.required)
                     if observed else None),
    }
    return UseCaseCoverage(use_case.id, spec.get("status"), risk.get("tier"), controls)


def _people(repo: Repository, ids: Any) -> bool:
    """At least one id, and every one a Person record: a name nobody can reach is none."""
    return isinstance(ids, list) and bool(ids) and all(
        isinstance(i, str) and repo.get("Person", i) is not None for i in ids)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
