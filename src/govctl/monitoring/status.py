"""Approved contracts × observations → signal states, each use case's approval state and
its verdict (SPEC §3.1, §3.3).

A value breaches when strictly above ``max`` or strictly below ``min`` — the same
boundary as GOV036 and the exported alert rules — of the contract *as approved*
(``yardstick``). An observation older than twice the signal's window (relative to
``--as-of``) is ``stale``; none at all is ``missing``. The verdict is one word per use case,
worst first, and never better than the evidence: without observations it is at best
``unobserved``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.dates import utc_date
from govctl.model.durations import seconds
from govctl.model.findings import RULES, Finding, cap
from govctl.model.policy import Policy, read_policy
from govctl.model.records import Record
from govctl.model.repository import Repository, WorktreeSource, load_repository
from govctl.monitoring.observations import Ignored, Reading
from govctl.monitoring.sources import ObservationSource, gather
from govctl.monitoring.yardstick import WORKING_TREE, Proposed, Yardstick, yardsticks
from govctl.rules.decisions import current_approvals, expiry, staleness

DEFAULT_WINDOW = "1h"
VERDICTS = ("unapproved-serving", "no-approval", "expired", "stale", "breach", "missing",
            "unobserved", "conditional", "current")
# what each verdict means, and how bad it is (documents colour by level: bad, warn, cond, ok)
VERDICT_MEANING = {
    "unapproved-serving": "observations carry a bundle digest that the current approval does "
                          "not cover: something unapproved is serving",
    "no-approval": "no approval covers this use case",
    "expired": "the current approval has expired",
    "stale": "what the approval bound has changed since: it does not cover the bundle or "
             "thresholds in the records",
    "breach": "a signal breaches the threshold it was approved under",
    "missing": "a required signal has no fresh value: its performance against the approved "
               "thresholds is not known",
    "unobserved": "no observations given: which bundle serves and how it performs are not "
                  "evidenced",
    "conditional": "approved with conditions, and within the approved thresholds",
    "current": "approved, and within the approved thresholds",
}
VERDICT_LEVEL = {"unapproved-serving": "bad", "no-approval": "bad", "expired": "bad",
                 "stale": "bad", "breach": "bad", "missing": "warn", "unobserved": "warn",
                 "conditional": "cond", "current": "ok"}
GATED = ("approved", "production")  # SPEC §1.4: gates apply to these use cases only


def breaches(value: float, low: float | None, high: float | None) -> bool:
    return (high is not None and value > high) or (low is not None and value < low)


@dataclass(frozen=True)
class SignalStatus:
    signal: str
    metric: str
    min: float | None  # the judged (approved) bounds; None, None for an unapproved signal
    max: float | None
    window: str
    severity: str
    value: float | None
    observed_at: datetime | None
    state: str  # ok | breach | missing | stale
    proposed: Proposed | None = None  # the working tree's differing values (not approved)
    approved: bool = True  # False: the signal exists only in the working tree
    query: str | None = None
    required: bool = False  # one of the Policy's signals.required

    def json(self) -> dict[str, Any]:
        threshold: dict[str, float] = {}
        if self.min is not None:
            threshold["min"] = self.min
        if self.max is not None:
            threshold["max"] = self.max
        out: dict[str, Any] = {"signal": self.signal, "metric": self.metric,
                               "value": _json_number(self.value), "threshold": threshold}
        if self.proposed is not None:
            out["proposed"] = self.proposed.json()
        out["state"] = self.state
        out["observed_at"] = _iso(self.observed_at)
        return out


def _json_number(value: float | None) -> float | None:
    """JSON has no infinity: a Prometheus +Inf is written as the largest double (it still
    reads as far beyond any threshold)."""
    if value is None or math.isfinite(value):
        return value
    return math.copysign(sys.float_info.max, value)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def freshness(window: str) -> timedelta:
    """How long a value counts as fresh: twice the signal's window (SPEC §3.3)."""
    return timedelta(seconds=2 * (seconds(window) or 3600.0))


def signal_states(stick: Yardstick, use_case_id: str,
                  latest: Mapping[tuple[str, str], Reading], as_of: datetime,
                  required: Iterable[str] = ()) -> list[SignalStatus]:
    """Each judged signal's state against the yardstick, then the signals only the working
    tree has (listed with their proposed values, ``missing``: nothing approved judges them)."""
    required = set(required)
    out = []
    for name, signal in stick.signals.items():
        window = signal.get("window", DEFAULT_WINDOW)
        reading = latest.get((use_case_id, name))
        low, high = signal.get("min"), signal.get("max")
        state, value, at = "missing", None, None
        if reading is not None:
            obs = reading.worst(low, high)
            at = obs.at
            value = None if math.isnan(obs.value) else obs.value
            if at < as_of - freshness(window):
                state = "stale"
            elif value is not None and breaches(value, low, high):
                state = "breach"
            elif not reading.unknown and value is not None:
                state = "ok"  # (a series without a value leaves the signal unknown)
        out.append(SignalStatus(name, signal["metric"], low, high, window, signal["severity"],
                                value, at, state, stick.proposed.get(name), True,
                                signal.get("query"), name in required))
    for name, signal in stick.unapproved.items():
        out.append(SignalStatus(
            name, signal["metric"], None, None, signal.get("window", DEFAULT_WINDOW),
            signal["severity"], None, None, "missing", Proposed(None, signal), False,
            signal.get("query"), name in required))
    return out


@dataclass(frozen=True)
class ApprovalState:
    approval: Record | None
    state: str  # current | stale | expired | none
    reasons: tuple[str, ...]  # why stale / expired
    bound_digest: str | None
    expired: bool = False  # also when it is stale too (the verdict puts expired first)

    @property
    def decision(self) -> str | None:
        return self.approval.spec["decision"] if self.approval is not None else None

    @property
    def conditions(self) -> list[str]:
        if self.approval is None:
            return []
        return [str(c) for c in self.approval.spec.get("conditions") or []]

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.approval.id if self.approval else None,
                               "state": self.state}
        if self.approval is not None:
            out["decision"] = self.decision
            out["conditions"] = self.conditions
        return out


def approval_state(repo: Repository, policy: Policy, digester: Digester, use_case: Record,
                   current: Mapping[str, Record], as_of: datetime) -> ApprovalState:
    approval = current.get(use_case.id)
    if approval is None:
        return ApprovalState(None, "none", (), None)
    stale = staleness(repo, digester, approval, use_case)
    bound = approval.spec["bundle"]["digest"]
    # (an invalid Policy has no tiers, but an approval's own valid_until still ends it)
    expired = expiry(policy, approval, use_case, utc_date(as_of))
    if stale:
        reasons = tuple(s.message for s in stale) + ((expired.message,) if expired else ())
        return ApprovalState(approval, "stale", reasons, bound, expired is not None)
    if expired:
        # the message, not the Expiry: reasons are text (explain prints and serialises them)
        return ApprovalState(approval, "expired", (expired.message,), bound, True)
    return ApprovalState(approval, "current", (), bound)


def verdict(approval: ApprovalState, signals: Iterable[SignalStatus],
            required: Iterable[str], observed: bool, unapproved_serving: bool) -> str:
    """SPEC §3.1: the first that applies, worst first."""
    signals = list(signals)
    if unapproved_serving:
        return "unapproved-serving"
    if approval.approval is None:
        return "no-approval"
    if approval.expired:
        return "expired"
    if approval.state == "stale":
        return "stale"
    if any(s.state == "breach" for s in signals):
        return "breach"
    if not observed:
        return "unobserved"
    if required_unobserved(signals, required) or not any(
            s.approved and s.state == "ok" for s in signals):
        # (with no required signals, still not "current" on no fresh value at all)
        return "missing"
    if approval.decision == "conditional":
        return "conditional"
    return "current"


@dataclass(frozen=True)
class UseCaseStatus:
    use_case: Record
    owner: Record | None
    team: Record | None
    approval: ApprovalState
    signals: tuple[SignalStatus, ...]
    verdict: str
    yardstick: Yardstick
    incidents_open: int = 0
    # an observation carries the approved bundle digest, and none another: only then may
    # anything say that the approved bundle is what serves
    serving_approved: bool = False
    required: tuple[str, ...] = ()  # the Policy's signals.required
    digests_seen: frozenset[str] = frozenset()  # bundle digests fresh observations carry
    problem: str | None = None  # the UseCase record itself has errors: nothing is known

    @property
    def oncall(self) -> Mapping[str, Any] | None:
        if self.team is None:
            return None
        oncall = self.team.spec.get("oncall")
        return oncall if isinstance(oncall, Mapping) else None

    @property
    def breached(self) -> bool:
        return any(s.state == "breach" for s in self.signals)

    @property
    def required_absent(self) -> list[str]:
        """Required signals the approved contract does not have: nothing can observe them."""
        if self.problem is not None:
            return []
        judged = {s.signal for s in self.signals if s.approved}
        return [name for name in self.required if name not in judged]

    @property
    def gated(self) -> bool:
        # a record with errors may be in production for all anyone knows: every gate trips
        return self.problem is not None or self.use_case.spec.get("status") in GATED

    def json(self) -> dict[str, Any]:
        oncall = self.oncall
        out = {
            "id": self.use_case.id,
            "status": self.use_case.spec.get("status"),
            "owner": self.use_case.spec.get("owner"),
            "team": self.use_case.spec.get("team"),
            "oncall": oncall.get("rotation") if oncall else None,
            "verdict": self.verdict,
            "approval": self.approval.json(),
            "threshold_basis": self.yardstick.basis,
            "signals": [s.json() for s in self.signals],
            "incidents_open": self.incidents_open,
        }
        if self.yardstick.note:
            out["threshold_note"] = self.yardstick.note
        if self.problem:
            out["problem"] = self.problem
        if self.required_absent:
            out["required_absent"] = self.required_absent
        return out


@dataclass(frozen=True)
class StatusReport:
    at: datetime
    use_cases: tuple[UseCaseStatus, ...]
    findings: tuple[Finding, ...]  # GOV085
    observed: bool = False  # observations or Prometheus were given
    ignored: tuple[Ignored, ...] = ()
    ignored_unlisted: int = 0  # rows of (use case, signal) pairs beyond those listed

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": 1, "at": _iso(self.at),
                               "use_cases": [u.json() for u in self.use_cases],
                               "ignored": [i.json() for i in self.ignored],
                               "findings": [f.to_json() for f in self.findings]}
        if self.ignored_unlisted:
            out["ignored_rows_not_listed"] = self.ignored_unlisted
        return out

    def trips(self, gate: str) -> bool:
        """``--fail-on breach|missing|unapproved``. Like the rules, the gates apply to
        approved/production use cases: intake and retired ones are listed, not gated
        (SPEC §1.4)."""
        gated = [u for u in self.use_cases if u.gated]
        if any(u.problem is not None for u in gated):
            return True  # cannot know: never the better answer
        if gate == "breach":
            return any(u.breached for u in gated)
        if gate == "missing":
            # a required signal without a fresh value; always so without observations
            return any(not self.observed or required_unobserved(u.signals, u.required)
                       for u in gated)
        return any(u.approval.state != "current" or u.verdict == "unapproved-serving"
                   for u in gated)


def required_unobserved(signals: Iterable[SignalStatus], required: Iterable[str]) -> bool:
    """A required signal has no fresh value judged against an approved threshold: it is
    missing or stale, or the approved contract does not have it at all."""
    judged = {s.signal: s for s in signals if s.approved}
    return any(name not in judged or judged[name].state in ("missing", "stale")
               for name in required)


@dataclass(frozen=True)
class StatusRequest:
    """Which use cases (``--use-case``, ``--team``, ``--tier``; empty: all) and where their
    live values come from."""

    use_cases: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    source: ObservationSource = field(default_factory=ObservationSource)


def status_of(root: Path, as_of: datetime, request: StatusRequest) -> StatusReport:
    """`govctl status`: the Policy is read for its defaults, but the rules are `validate`'s
    job (a repository with findings still has a status)."""
    repo = load_repository(WorktreeSource(root))
    policy = read_policy(repo.policy)
    # records with errors are listed too (as unknown), never left out of the answer
    chosen = sorted(repo.of_kind("UseCase", valid_only=False), key=lambda r: r.id)
    for wanted in request.use_cases:
        repo.require("UseCase", wanted)  # exit 2 naming the closest id
    if request.use_cases:
        chosen = [r for r in chosen if r.id in request.use_cases]
    if request.teams:
        chosen = [r for r in chosen if not r.valid or r.spec["team"] in request.teams]
    if request.tiers:
        chosen = [r for r in chosen if not r.valid or r.spec["risk"]["tier"] in request.tiers]
    return build_status(repo, policy, request.source, as_of, chosen, root)


def build_status(repo: Repository, policy: Policy, source: ObservationSource, as_of: datetime,
                 use_cases: list[Record], root: Path | None = None) -> StatusReport:
    """Every use case's status, judged against its yardstick; ``root`` lets the yardstick
    look in git for approved contract content."""
    digester = Digester(repo)
    current = current_approvals(repo, utc_date(as_of))
    valid = [u for u in use_cases if u.valid]
    sticks = yardsticks(repo, digester, valid, current, root)
    observed = gather(source, repo, use_cases, sticks, as_of)
    latest = observed.latest if observed is not None else {}
    digests_of: dict[str, list[tuple[str, Mapping[str, datetime]]]] = {}
    for (use_case_id, signal), seen in (observed.digests if observed is not None
                                        else {}).items():
        digests_of.setdefault(use_case_id, []).append((signal, seen))
    open_incidents: dict[str, int] = {}
    for incident in repo.of_kind("Incident"):
        if incident.spec["status"] != "resolved":
            key = incident.spec["use_case"]
            open_incidents[key] = open_incidents.get(key, 0) + 1
    entries = []
    findings = []
    for use_case in use_cases:
        if not use_case.valid:
            entries.append(_unknown(repo, use_case))
            continue
        stick = sticks[use_case.id]
        signals = signal_states(stick, use_case.id, latest, as_of, policy.required_signals)
        state = approval_state(repo, policy, digester, use_case, current, as_of)
        fresh = _fresh_digests(stick, digests_of.get(use_case.id, ()), as_of)
        serving = _unapproved_serving(repo, use_case, fresh, state)
        findings.extend(serving)
        entries.append(UseCaseStatus(
            use_case, repo.get("Person", use_case.spec["owner"]),
            repo.get("Team", use_case.spec["team"]), state, tuple(signals),
            verdict(state, signals, policy.required_signals, observed is not None,
                    bool(serving)),
            stick, open_incidents.get(use_case.id, 0),
            state.bound_digest is not None and set(fresh) == {state.bound_digest},
            tuple(policy.required_signals), frozenset(fresh)))
    # SPEC §3: at most 100 per rule and file, then one saying how many were left out
    return StatusReport(as_of, tuple(entries), tuple(cap(findings)), observed is not None,
                        observed.ignored if observed is not None else (),
                        observed.ignored_unlisted if observed is not None else 0)


def _unknown(repo: Repository, use_case: Record) -> UseCaseStatus:
    """A UseCase whose record has errors: listed, judged against nothing, every gate
    trips on it (`govctl validate` names the errors)."""
    owner, team = use_case.spec.get("owner"), use_case.spec.get("team")
    return UseCaseStatus(
        use_case, repo.get("Person", owner) if isinstance(owner, str) else None,
        repo.get("Team", team) if isinstance(team, str) else None,
        ApprovalState(None, "none", (), None), (), "no-approval",
        Yardstick(WORKING_TREE, None, None, {}, None, {}, {}, None, None),
        problem="the UseCase record has errors: nothing about it can be judged "
                "(run govctl validate)")


def _fresh_digests(stick: Yardstick, seen: Iterable[tuple[str, Mapping[str, datetime]]],
                   as_of: datetime) -> dict[str, tuple[str, datetime]]:
    """Bundle digest → (signal, when) for every digest a signal's rows carried within that
    signal's freshness window: what serves now, not what served before a re-approval."""
    out: dict[str, tuple[str, datetime]] = {}
    for signal, digests in sorted(seen):
        spec = stick.signals.get(signal) or stick.unapproved.get(signal) or {}
        cutoff = as_of - freshness(spec.get("window", DEFAULT_WINDOW))
        for digest, at in digests.items():
            if at >= cutoff and (digest not in out or at > out[digest][1]):
                out[digest] = (signal, at)
    return out


def _unapproved_serving(repo: Repository, use_case: Record,
                        fresh: Mapping[str, tuple[str, datetime]],
                        state: ApprovalState) -> list[Finding]:
    """GOV085: a fresh observation carries a bundle digest that is not the approved one."""
    out = []
    for digest, (signal, at) in sorted(fresh.items()):
        if digest == state.bound_digest:
            continue
        approved = state.bound_digest or "none"
        line, col = repo.locator.position(use_case.file, use_case.doc, ("spec", "bundle"))
        out.append(Finding(
            "GOV085", RULES["GOV085"].severity, use_case.file, line, col, use_case.ref,
            f"UseCase {use_case.id!r} is serving bundle digest {digest} (signal "
            f"{signal!r} observed {_iso(at)}), but the approved digest is {approved}: "
            "something unapproved is serving"))
    return out
