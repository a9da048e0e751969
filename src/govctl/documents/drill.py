"""`govctl drill USE_CASE`: the sheet for a tabletop exercise of a model failure (SPEC §3.6).

Seven steps — detection, escalation, offline, customer, rollback, reconstruction,
disclosure — each filled from the records, the approved contract (the yardstick, SPEC §3.3)
and git history, or marked as a gap with the record field that would close it. The sheet
never claims what it cannot know: without git history there is no rollback target (a
gap, said so), and a runbook file that is not there is not a runbook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from govctl.errors import GovctlError
from govctl.model.dates import parse_date, parse_timestamp, utc_date
from govctl.model.durations import format_duration, milliseconds
from govctl.model.people import oncall_of, rotation_of, strings
from govctl.model.policy import read_policy
from govctl.model.records import Record, as_mapping, is_url
from govctl.model.repository import Repository, WorktreeSource, load_repository
from govctl.monitoring.export import (
    DEFAULT_WINDOW,
    alert_name,
    bound_text,
    missing_alert_name,
)
from govctl.monitoring.sources import ObservationSource
from govctl.monitoring.status import UseCaseStatus, build_status
from govctl.rules.incidents import REPORTING_DAYS

STEPS = ("detection", "escalation", "offline", "customer", "rollback", "reconstruction",
         "disclosure")
TITLES = {
    "detection": "Detection — what fires, and how soon",
    "escalation": "Escalation — who is paged, then who",
    "offline": "Taking it offline — who may, and how",
    "customer": "Customer communication — who tells them",
    "rollback": "Rollback — the earlier approved bundle",
    "reconstruction": "Reconstruction — what the model actually did",
    "disclosure": "Disclosure — the EU AI Act Art. 73 clocks",
}
# a few scenarios from the mission, by short name (`--scenario pii-leak`)
SCENARIOS = {
    "pii-leak": "Support agent leaks PII: a customer reports that a reply quoted another "
                "customer's personal data.",
    "protected-class": "Fraud model rejects a protected class at twice the baseline rate: "
                       "a complaint shows declines for one group at double the portfolio "
                       "rate since the last model update.",
    "amplification": "Recommendation model amplifies a controversial output: one item is "
                     "recommended to a large share of users within hours and is in the "
                     "press by morning.",
}
HIGH_TIER_RETENTION_DAYS = 183  # six months: the Art. 19 / Art. 26(6) minimum for logs
ROLLBACK_DECISIONS = ("approved", "conditional")


@dataclass(frozen=True)
class Fact:
    name: str
    value: str

    def json(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value}


@dataclass(frozen=True)
class Step:
    step: str
    facts: tuple[Fact, ...]
    gap: str | None = None  # what is missing, None when the step is ready
    closes: str | None = None  # the record field that would close the gap

    @property
    def ready(self) -> bool:
        return self.gap is None

    @property
    def title(self) -> str:
        return TITLES[self.step]

    @property
    def gap_text(self) -> str | None:
        if self.gap is None:
            return None
        return f"{self.gap} (close it: {self.closes})" if self.closes else self.gap

    def json(self) -> dict[str, Any]:
        return {"step": self.step, "ready": self.ready,
                "facts": [f.json() for f in self.facts], "gap": self.gap_text}


@dataclass(frozen=True)
class DrillSheet:
    use_case: str
    title: str | None
    status: str
    tier: str | None
    scenario: str | None
    at: datetime
    detected: datetime | None
    steps: tuple[Step, ...]

    @property
    def gaps(self) -> int:
        return sum(1 for s in self.steps if not s.ready)

    def json(self) -> dict[str, Any]:
        return {"version": 1, "use_case": self.use_case, "scenario": self.scenario,
                "at": _iso(self.at), "steps": [s.json() for s in self.steps],
                "gaps": self.gaps}


def scenario_text(scenario: str | None) -> str | None:
    """A built-in scenario by name, else the text as given (None: no scenario)."""
    if scenario is None or not scenario.strip():
        return None
    return SCENARIOS.get(scenario.strip(), scenario.strip())


def build_drill(root: Path, use_case_id: str, as_of: datetime, scenario: str | None = None,
                detected: datetime | None = None) -> DrillSheet:
    repo = load_repository(WorktreeSource(root))
    policy = read_policy(repo.policy)
    use_case = repo.require("UseCase", use_case_id, valid=True)
    status = build_status(repo, policy, ObservationSource(), as_of, [use_case], root)
    entry = status.use_cases[0]
    spec = use_case.spec
    response = as_mapping(spec.get("response"))
    high = spec["risk"]["tier"] == "high"
    steps = (
        _detection(repo, policy, use_case, entry, as_of, root),
        _escalation(repo, entry.team),
        _offline(repo, response, entry),
        _customer(repo, response),
        _rollback(root, repo, use_case, entry, utc_date(as_of)),
        _reconstruction(root, response, entry, high),
        _disclosure(repo, response, detected, high),
    )
    return DrillSheet(use_case.id, use_case.title, spec["status"], spec["risk"]["tier"],
                      scenario_text(scenario), as_of, detected, steps)


# -- the seven steps ----------------------------------------------------------------------------


def _detection(repo: Repository, policy: Any, use_case: Record, entry: UseCaseStatus,
               as_of: datetime, root: Path) -> Step:
    stick = entry.yardstick
    rotation = rotation_of(entry.team) or "no rotation"
    facts = [Fact("thresholds", f"the {stick.basis} contract"
                  + (f" {stick.contract_id}" if stick.contract_id else ""))]
    pages = []
    for name, signal in stick.signals.items():
        window = signal.get("window", DEFAULT_WINDOW)
        bound = bound_text(signal.get("min"), signal.get("max"))
        severity = signal.get("severity")
        whom = f"pages {rotation}" if severity == "page" else f"opens a ticket for {rotation}"
        facts.append(Fact(alert_name(use_case.id, name),
                          f"{name} ({signal.get('metric')}) {bound} for {window} → {whom} "
                          f"after {window}"))
        silence = format_duration(2 * (milliseconds(window) or 3_600_000))
        facts.append(Fact(missing_alert_name(use_case.id, name),
                          f"{name} reports no data for {silence} → opens a ticket"))
        if severity == "page":
            pages.append(name)
    if not stick.signals:
        return Step("detection", tuple(facts), "no threshold contract: no alert would fire",
                    "UseCase thresholds and a ThresholdContract with signals")
    if not pages:
        return Step("detection", tuple(facts), "no signal of severity page: nothing wakes "
                    "anyone; every alert is a ticket",
                    "ThresholdContract signals.<signal>.severity: page")
    unwired = _unwired(repo, policy, use_case, entry, as_of, root)
    if unwired is not None:
        return Step("detection", tuple(facts), *unwired)
    return Step("detection", tuple(facts))


def _unwired(repo: Repository, policy: Any, use_case: Record, entry: UseCaseStatus,
             as_of: datetime, root: Path) -> tuple[str, str] | None:
    """Why the alerts above would not reach anyone, as the exports would be made today:
    the rules file refused as a whole (GOV045, any use case's), the routes refused
    (GOV044, a Team failing its schema), or this team's alerts routed to no receiver."""
    from govctl.monitoring.alertmanager import UnexportableReceivers, alertmanager_config
    from govctl.monitoring.export import UnexportableContracts, prometheus_rules

    try:
        prometheus_rules(repo, policy, as_of, None, root)
    except UnexportableContracts as refused:
        return (f"the alert rules cannot be exported at all ({len(refused.problems)} "
                "GOV045 problem(s)): no alert fires for any use case until they are fixed",
                "the ThresholdContract fields `govctl validate` names (GOV045)")
    try:
        routes = alertmanager_config(repo)
    except UnexportableReceivers:
        return ("the Alertmanager routes cannot be exported (a Team's receivers fail the "
                "schema or hold a secret inline): no page is delivered",
                "the Team records `govctl validate` names (GOV010, GOV044)")
    wired = {t.team: t for t in routes.teams}.get(str(use_case.spec.get("team")))
    if wired is None:
        return ("the alerts are routed to no team (no Team record with an on-call "
                "rotation): they reach the default receiver, which notifies no one",
                "UseCase team and Team oncall.rotation")
    if wired.page_body is None:
        return (f"the alerts fire but notify no one: Team {wired.team!r} has no "
                "oncall.receiver", "Team oncall.receiver")
    return None


def _escalation(repo: Repository, team: Record | None) -> Step:
    if team is None:
        return Step("escalation", (), "the owning team is not a known Team record",
                    "UseCase team (and the Team record)")
    oncall = oncall_of(team)
    rotation = rotation_of(team)
    chain = strings(oncall.get("escalation"))
    facts = [Fact("team", _team_name(team)),
             Fact("rotation", rotation or "none"),
             Fact("pager", str(oncall.get("pager") or "not named")),
             Fact("alert routing", "Team oncall.receiver is set (govctl export "
                  "alertmanager-routes)" if isinstance(oncall.get("receiver"), Mapping)
                  else "no oncall.receiver: exported routes notify no one")]
    facts += [Fact(f"escalation {i}", _person(repo, p)) for i, p in enumerate(chain, 1)]
    if rotation is None:
        return Step("escalation", tuple(facts), "no on-call rotation: nobody is paged",
                    "Team oncall.rotation")
    if not chain:
        return Step("escalation", tuple(facts), "no escalation chain: when the rotation "
                    "does not answer, nobody is next", "Team oncall.escalation")
    if _unknown(repo, chain):
        return Step("escalation", tuple(facts), "the escalation chain names no Person "
                    f"record for {', '.join(_unknown(repo, chain))}",
                    "Team oncall.escalation (and the Person records)")
    return Step("escalation", tuple(facts))


def _offline(repo: Repository, response: Mapping[str, Any], entry: UseCaseStatus) -> Step:
    authority = strings(response.get("offline_authority"))
    on_breach = entry.yardstick.on_breach or {}
    runbook = on_breach.get("runbook")
    facts = [Fact("may take it offline", ", ".join(_person(repo, p) for p in authority)
                  or "nobody named"),
             Fact("on breach", str(on_breach.get("action") or "not set")),
             Fact("runbook", str(runbook) if runbook else "none")]
    fallback = entry.use_case.spec.get("fallback")
    if isinstance(fallback, str) and fallback.strip():
        facts.append(Fact("fallback", " ".join(fallback.split())))
    if not authority:
        return Step("offline", tuple(facts), "nobody is named who may take it offline",
                    "UseCase response.offline_authority")
    if _unknown(repo, authority):
        return Step("offline", tuple(facts), "who may take it offline names no Person "
                    f"record for {', '.join(_unknown(repo, authority))}",
                    "UseCase response.offline_authority (and the Person records)")
    if not isinstance(runbook, str) or not runbook.strip():
        return Step("offline", tuple(facts), "no runbook says how to take it offline",
                    "ThresholdContract on_breach.runbook")
    if not is_url(runbook):
        # the GOV022 check: inside the root, a regular file, readable
        _, problem = repo.source.referenced_digest(runbook)
        if problem is not None:
            return Step("offline", tuple(facts), f"the runbook file cannot be used: "
                        f"{problem}", "ThresholdContract on_breach.runbook (a file in the "
                        "repository)")
    return Step("offline", tuple(facts))


def _customer(repo: Repository, response: Mapping[str, Any]) -> Step:
    who = response.get("customer_comms")
    if not isinstance(who, str) or not who:
        return Step("customer", (Fact("tells customers", "nobody named"),),
                    "nobody is named to tell customers", "UseCase response.customer_comms")
    facts = (Fact("tells customers", _person(repo, who)),)
    if _unknown(repo, [who]):
        return Step("customer", facts, f"no Person record for {who}",
                    "UseCase response.customer_comms (and the Person record)")
    return Step("customer", facts)


def _rollback(root: Path, repo: Repository, use_case: Record, entry: UseCaseStatus,
              today: Any) -> Step:
    from govctl.documents.rollback import RollbackUnknown, rollback_target

    current = entry.approval.bound_digest
    facts = [Fact("serving (approved) digest", current or "none approved")]
    try:
        target = rollback_target(root, repo, use_case, current, today)
    except RollbackUnknown as unknown:
        return Step("rollback", tuple(facts), str(unknown), unknown.closes)
    if target is None:
        return Step("rollback", tuple(facts), "no approval in the records, in any version "
                    "in git history, was approved or conditional for another bundle digest: "
                    "there is nothing approved to roll back to (approval files deleted "
                    "from the repository are not searched)",
                    "an earlier Approval (approved or conditional) of another bundle")
    facts += [Fact("rollback digest", target.digest),
              Fact("approval", f"{target.approval_id} ({target.decision}, "
                               f"{target.approval_date})"),
              Fact("commit", f"{target.commit} ({target.commit_date}, {target.author})"),
              Fact("bundle", target.bundle_id)]
    facts += [Fact(f"model {model}", state) for model, state in target.models]
    facts += [Fact("check it out", target.checkout), Fact("confirm", f"govctl trace "
                                                                      f"{target.digest}")]
    if target.retired:
        return Step("rollback", tuple(facts), "the rollback target's model is retired: "
                    + "; ".join(target.retired),
                    "approve a rollback bundle on a supported model")
    return Step("rollback", tuple(facts))


def _reconstruction(root: Path, response: Mapping[str, Any], entry: UseCaseStatus,
                    high: bool) -> Step:
    logging = as_mapping(response.get("logging"))
    logged = logging.get("digest_logged") is True
    retention = logging.get("retention_days")
    digest = entry.approval.bound_digest
    facts = [Fact("bundle digest logged with every inference", "yes" if logged else "no"),
             Fact("log retention", f"{retention} days" if isinstance(retention, int)
                  else "not stated")]
    if digest:
        facts.append(Fact("trace the serving digest", f"govctl trace {digest} --root "
                          f"{_shell_path(root)}"))
    if not logged:
        return Step("reconstruction", tuple(facts), "bundle digests are not logged: what "
                    "served a given customer cannot be reconstructed",
                    "UseCase response.logging.digest_logged: true (and log it)")
    if high and (not isinstance(retention, int) or retention < HIGH_TIER_RETENTION_DAYS):
        return Step("reconstruction", tuple(facts), "a high-tier system needs its logs kept "
                    f"at least {HIGH_TIER_RETENTION_DAYS} days",
                    "UseCase response.logging.retention_days")
    return Step("reconstruction", tuple(facts))


def _disclosure(repo: Repository, response: Mapping[str, Any], detected: datetime | None,
                high: bool) -> Step:
    facts = []
    for kind, label in (("other", "serious incident"), ("death", "a death"),
                        ("widespread", "widespread infringement or critical infrastructure")):
        days = REPORTING_DAYS[kind]
        if detected is None:
            facts.append(Fact(f"report {label}", f"within {days} days of becoming aware"))
        else:
            deadline = utc_date(detected) + timedelta(days=days)
            facts.append(Fact(f"report {label}", f"by {deadline.isoformat()} ({days} days "
                              f"from {_iso(detected)})"))
    contact = response.get("regulator_contact")
    facts.append(Fact("regulator contact", _person(repo, contact)
                      if isinstance(contact, str) and contact else "nobody named"))
    if high and not (isinstance(contact, str) and contact):
        return Step("disclosure", tuple(facts), "nobody is named to notify the regulator of "
                    "a high-tier system", "UseCase response.regulator_contact")
    if isinstance(contact, str) and contact and _unknown(repo, [contact]):
        return Step("disclosure", tuple(facts), f"no Person record for {contact}",
                    "UseCase response.regulator_contact (and the Person record)")
    return Step("disclosure", tuple(facts))


# -- helpers -------------------------------------------------------------------------------------


def _person(repo: Repository, person_id: Any) -> str:
    record = repo.get("Person", person_id)
    name = record.spec.get("name") if record is not None else None
    email = record.spec.get("email") if record is not None else None
    if not isinstance(name, str):
        return f"{person_id} (no Person record)"
    return f"{name} ({person_id}" + (f", {email})" if isinstance(email, str) else ")")


def _unknown(repo: Repository, person_ids: Iterable[str]) -> list[str]:
    """The ids that are not a Person record: a name nobody can reach."""
    return [p for p in person_ids if repo.get("Person", p) is None]


def _team_name(team: Record) -> str:
    return f"{team.title} ({team.id})" if team.title else team.id


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _shell_path(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


def parse_detected(text: str | None) -> datetime | None:
    """``--detected``: an RFC 3339 timestamp (or a date, read as its UTC midnight)."""
    if text is None:
        return None
    moment = parse_timestamp(text)
    if moment is None:
        day = parse_date(text)
        if day is not None:
            moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    if moment is None:
        raise GovctlError(f"--detected {text!r}: not a timestamp (use RFC 3339, e.g. "
                          "2026-12-01T03:12:00Z, or a date)")
    return moment


def gap_steps(sheet: DrillSheet) -> Iterable[Step]:
    return (s for s in sheet.steps if not s.ready)


FORMATS = ("md", "html", "json")


def drill_context(sheet: DrillSheet) -> dict[str, Any]:
    """The template context (``drill``, documented in docs/templates.md)."""
    from govctl import __version__

    steps = [{"step": s.step, "title": s.title, "ready": s.ready, "gap": s.gap,
              "closes": s.closes, "facts": [f.json() for f in s.facts]} for s in sheet.steps]
    return {"use_case": sheet.use_case, "title": sheet.title or sheet.use_case,
            "status": sheet.status, "tier": sheet.tier, "scenario": sheet.scenario,
            "at": _iso(sheet.at), "detected": _iso(sheet.detected) if sheet.detected else None,
            "gaps": sheet.gaps, "steps": steps,
            "gap_steps": [s for s in steps if not s["ready"]],
            "govctl_version": __version__}


def render_drill(sheet: DrillSheet, fmt: str, template_dir: Path | None = None) -> str:
    """The sheet as Markdown or HTML (JSON is ``sheet.json()``, rendered by the caller)."""
    from govctl.documents.templating import render

    return render(f"drill.{fmt}.j2", {"drill": drill_context(sheet)}, template_dir)
