"""Contracts × observations → signal states, and each use case's approval state (SPEC §3.3).

A value breaches when strictly above ``max`` or strictly below ``min`` — the same
boundary as GOV036 and the exported alert rules. An observation older than twice the
signal's window (relative to ``--as-of``) is ``stale``; none at all is ``missing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.durations import seconds
from govctl.model.findings import RULES, Finding
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.monitoring.observations import Observation
from govctl.rules.decisions import current_approvals, expiry, staleness

DEFAULT_WINDOW = "1h"
STATES = ("ok", "breach", "missing", "stale")


def breaches(value: float, low: float | None, high: float | None) -> bool:
    return (high is not None and value > high) or (low is not None and value < low)


@dataclass(frozen=True)
class SignalStatus:
    signal: str
    metric: str
    min: float | None
    max: float | None
    window: str
    severity: str
    value: float | None
    observed_at: datetime | None
    state: str  # ok | breach | missing | stale
    bundle_digest: str | None = None

    def json(self) -> dict[str, Any]:
        threshold: dict[str, float] = {}
        if self.min is not None:
            threshold["min"] = self.min
        if self.max is not None:
            threshold["max"] = self.max
        return {"signal": self.signal, "metric": self.metric, "value": self.value,
                "threshold": threshold, "state": self.state,
                "observed_at": _iso(self.observed_at)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def signal_states(contract: Record | None, use_case_id: str,
                  latest: Mapping[tuple[str, str], Observation], as_of: datetime
                  ) -> list[SignalStatus]:
    if contract is None or not contract.valid:
        return []
    out = []
    for name, signal in contract.spec["signals"].items():
        window = signal.get("window", DEFAULT_WINDOW)
        obs = latest.get((use_case_id, name))
        low, high = signal.get("min"), signal.get("max")
        if obs is None:
            state, value, at, digest = "missing", None, None, None
        else:
            value, at, digest = obs.value, obs.at, obs.bundle_digest
            span = seconds(window) or 3600.0
            if at < as_of - timedelta(seconds=2 * span):
                state = "stale"
            else:
                state = "breach" if breaches(value, low, high) else "ok"
        out.append(SignalStatus(name, signal["metric"], low, high, window,
                                signal["severity"], value, at, state, digest))
    return out


@dataclass(frozen=True)
class ApprovalState:
    approval: Record | None
    state: str  # current | stale | expired | none
    reasons: tuple[str, ...]  # why stale / expired
    bound_digest: str | None


def approval_state(repo: Repository, policy: Policy, digester: Digester, use_case: Record,
                   current: Mapping[str, Record], as_of: datetime) -> ApprovalState:
    from govctl.model.dates import utc_date

    approval = current.get(use_case.id)
    if approval is None:
        return ApprovalState(None, "none", (), None)
    stale = staleness(repo, digester, approval, use_case)
    bound = approval.spec["bundle"]["digest"]
    if stale:
        return ApprovalState(approval, "stale", tuple(s.message for s in stale), bound)
    expired = expiry(policy, approval, use_case, utc_date(as_of)) if policy.valid else None
    if expired:
        # the message, not the Expiry: reasons are text (explain prints and serialises them)
        return ApprovalState(approval, "expired", (expired.message,), bound)
    return ApprovalState(approval, "current", (), bound)


@dataclass(frozen=True)
class UseCaseStatus:
    use_case: Record
    owner: Record | None
    team: Record | None
    approval: ApprovalState
    signals: tuple[SignalStatus, ...]

    @property
    def oncall(self) -> Mapping[str, Any] | None:
        if self.team is None:
            return None
        oncall = self.team.spec.get("oncall")
        return oncall if isinstance(oncall, Mapping) else None

    @property
    def breached(self) -> bool:
        return any(s.state == "breach" for s in self.signals)

    def json(self) -> dict[str, Any]:
        oncall = self.oncall
        return {
            "id": self.use_case.id,
            "status": self.use_case.spec["status"],
            "owner": self.use_case.spec["owner"],
            "team": self.use_case.spec["team"],
            "oncall": oncall.get("rotation") if oncall else None,
            "approval": {"id": self.approval.approval.id if self.approval.approval else None,
                         "state": self.approval.state},
            "signals": [s.json() for s in self.signals],
        }


@dataclass(frozen=True)
class StatusReport:
    at: datetime
    use_cases: tuple[UseCaseStatus, ...]
    findings: tuple[Finding, ...]  # GOV085

    def json(self) -> dict[str, Any]:
        return {"version": 1, "at": _iso(self.at),
                "use_cases": [u.json() for u in self.use_cases],
                "findings": [f.to_json() for f in self.findings]}

    def trips(self, gate: str) -> bool:
        """``--fail-on breach|missing|unapproved``. Like the rules, the gates apply to
        approved/production use cases: intake and retired ones are listed, not gated
        (SPEC §1.4); GOV085 (something unapproved serving) trips `unapproved` anywhere."""
        gated = [u for u in self.use_cases
                 if u.use_case.spec["status"] in ("approved", "production")]
        if gate == "breach":
            return any(u.breached for u in gated)
        if gate == "missing":
            return any(s.state in ("missing", "stale") for u in gated for s in u.signals)
        return bool(self.findings) or any(u.approval.state != "current" for u in gated)


def build_status(repo: Repository, policy: Policy,
                 latest: Mapping[tuple[str, str], Observation], as_of: datetime,
                 use_cases: list[Record]) -> StatusReport:
    from govctl.model.dates import utc_date

    digester = Digester(repo)
    current = current_approvals(repo, utc_date(as_of))
    entries = []
    findings = []
    for use_case in use_cases:
        contract = repo.get("ThresholdContract", use_case.spec["thresholds"])
        signals = signal_states(contract, use_case.id, latest, as_of)
        state = approval_state(repo, policy, digester, use_case, current, as_of)
        entries.append(UseCaseStatus(use_case, repo.get("Person", use_case.spec["owner"]),
                                     repo.get("Team", use_case.spec["team"]), state,
                                     tuple(signals)))
        findings.extend(_unapproved_serving(repo, use_case, signals, state))
    return StatusReport(as_of, tuple(entries), tuple(findings))


def _unapproved_serving(repo: Repository, use_case: Record, signals: list[SignalStatus],
                        state: ApprovalState) -> list[Finding]:
    """GOV085: an observation whose bundle digest is not the approved one."""
    out = []
    seen: set[str] = set()
    for signal in signals:
        digest = signal.bundle_digest
        if digest is None or digest in seen or digest == state.bound_digest:
            continue
        seen.add(digest)
        approved = state.bound_digest or "none"
        line, col = repo.locator.position(use_case.file, use_case.doc, ("spec", "bundle"))
        out.append(Finding(
            "GOV085", RULES["GOV085"].severity, use_case.file, line, col, use_case.ref,
            f"UseCase {use_case.id!r} is serving bundle digest {digest} (signal "
            f"{signal.signal!r} observed {_iso(signal.observed_at)}), but the approved digest "
            f"is {approved}: something unapproved is serving"))
    return out


def gather_latest(repo: Repository, use_cases: list[Record], as_of: datetime,
                  observations: Any = None, observations_format: str | None = None,
                  prometheus_url: str | None = None) -> dict[tuple[str, str], Observation]:
    """The latest observation per (use case, signal), from a file or a Prometheus server."""
    if observations is not None and prometheus_url is not None:
        from govctl.errors import GovctlError

        raise GovctlError("give --observations FILE or --prometheus URL, not both")
    if observations is not None:
        from govctl.monitoring.observations import load_observations

        return load_observations(observations, observations_format).latest(as_of)
    if prometheus_url is not None:
        from govctl.monitoring.prometheus import PrometheusClient, observe

        contracts = {u.id: c for u in use_cases
                     if (c := repo.get("ThresholdContract", u.spec["thresholds"])) is not None}
        return observe(PrometheusClient(prometheus_url), use_cases, contracts, as_of)
    return {}
