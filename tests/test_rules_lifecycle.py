"""Operational, lifecycle, risk and incident rules: GOV040-GOV042, GOV050, GOV051,
GOV060, GOV061, GOV070 and GOV090 (SPEC §1.4, §2).

Each rule has a failing case (code, file, line, record and message asserted) and a
passing case: the fixed or boundary variant yields no such finding. Every run passes
``--as-of`` (the factory's is 2026-11-27) so date rules are reproducible.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factory import AS_OF
from tests.rules_support import (
    APPROVAL,
    APPROVAL_REF,
    BUNDLE,
    CONTRACT,
    EVAL,
    MODEL,
    POLICY,
    TEAM,
    USE_CASE,
    assert_finding,
    edit_before_build,
    of_rule,
    only,
    rules,
    validate,
)

SECOND_USE_CASE = "use-cases/second.yaml"


def add_second_use_case(factory: Any, status: str = "approved") -> None:
    """Another use case sharing team, bundle and contract (it has no approval)."""
    factory.write(SECOND_USE_CASE, (factory.root / USE_CASE).read_text().replace(
        "metadata: {id: claims-triage, title: Claims triage}", "metadata: {id: claims-second}")
        .replace("status: production", f"status: {status}"))


def set_status(factory: Any, status: str) -> None:
    factory.edit(USE_CASE, "status: production", f"status: {status}")


# -- GOV040: required signals ------------------------------------------------------------

ABUSE_SIGNAL = "    abuse: {metric: injection_rate, max: 0.01, window: 1h, severity: page}\n"
REQUIRED = "required: [latency, accuracy_proxy, drift, abuse, fallback]"


def test_gov040_contract_misses_a_required_signal(factory, govctl):
    edit_before_build(factory, CONTRACT, ABUSE_SIGNAL, "")
    factory.build()
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV040", file=CONTRACT,
                   line=factory.line_of(CONTRACT, "signals:"),
                   record="ThresholdContract/triage-contract",
                   message="misses required signal(s): abuse")


def test_gov040_custom_required_signals(factory, govctl):
    factory.build()
    factory.edit(POLICY, "required: [latency, accuracy_proxy, drift, abuse, fallback]",
                 "required: [latency, toxicity, drift, grounding]")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV040", file=CONTRACT,
                   line=factory.line_of(CONTRACT, "signals:"),
                   record="ThresholdContract/triage-contract",
                   message="misses required signal(s): toxicity, grounding")


def test_gov040_custom_required_signals_satisfied(factory, govctl):
    edit_before_build(factory, CONTRACT, ABUSE_SIGNAL, "")
    edit_before_build(factory, POLICY, REQUIRED, "required: [latency, drift]")
    factory.build()
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


def test_gov040_default_required_signals_when_the_policy_names_none(factory, govctl):
    edit_before_build(factory, POLICY, f"  signals:\n    {REQUIRED}\n", "")
    edit_before_build(factory, CONTRACT,
                      "    fallback: {metric: human_handoff_rate, max: 0.3, window: 1h, "
                      "severity: ticket}\n", "")
    factory.build()
    code, payload = validate(govctl, factory)
    assert code == 1
    assert "misses required signal(s): fallback" in only(of_rule(payload, "GOV040"))["message"]


@pytest.mark.parametrize("status, expected", [
    ("production", ["GOV040"]), ("approved", ["GOV040"]), ("intake", []), ("retired", []),
])
def test_gov040_gated_statuses_only(factory, govctl, status, expected):
    factory.build()
    factory.edit(POLICY, "drift, abuse, fallback]", "drift, abuse, fallback, toxicity]")
    set_status(factory, status)
    assert rules(validate(govctl, factory)[1]) == expected


def test_gov040_reported_once_per_contract(factory, govctl):
    factory.build()
    factory.edit(POLICY, "drift, abuse, fallback]", "drift, abuse, fallback, toxicity]")
    add_second_use_case(factory)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert len(of_rule(payload, "GOV040")) == 1


# -- GOV041: on-call rotation ------------------------------------------------------------

NO_ONCALL = ("  oncall: {rotation: claims-ml-primary, pager: pagerduty:claims-ml, "
             "escalation: [alice]}\n")


def test_gov041_team_without_oncall(factory, govctl):
    factory.build()
    factory.edit(TEAM, NO_ONCALL, "")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV041", file=TEAM,
                   line=factory.line_of(TEAM, "spec:"), record="Team/claims-ml",
                   message="Team 'claims-ml' owns production UseCase 'claims-triage' but has "
                           "no on-call rotation")


@pytest.mark.parametrize("status, expected", [
    ("production", ["GOV041"]), ("approved", ["GOV041"]), ("intake", []), ("retired", []),
])
def test_gov041_gated_statuses_only(factory, govctl, status, expected):
    factory.build()
    factory.edit(TEAM, NO_ONCALL, "")
    set_status(factory, status)
    assert rules(validate(govctl, factory)[1]) == expected


def test_gov041_reported_once_per_team(factory, govctl):
    factory.build()
    factory.edit(TEAM, NO_ONCALL, "")
    add_second_use_case(factory)
    assert len(of_rule(validate(govctl, factory)[1], "GOV041")) == 1


# -- GOV042: fallback --------------------------------------------------------------------

NO_FALLBACK = ("  fallback: Claims go to the human triage queue.\n", "")


def test_gov042_no_fallback_is_a_warning(factory, govctl):
    factory.build()
    factory.edit(USE_CASE, *NO_FALLBACK)
    code, payload = validate(govctl, factory)
    assert code == 0  # a warning alone does not fail the gate
    assert_finding(only(payload["findings"]), rule="GOV042", severity="warning", file=USE_CASE,
                   line=factory.line_of(USE_CASE, "spec:"), record="UseCase/claims-triage",
                   message="UseCase 'claims-triage' declares no fallback")
    assert payload["summary"] == {"errors": 0, "warnings": 1}


@pytest.mark.parametrize("status, expected", [
    ("approved", ["GOV042"]), ("intake", []), ("retired", []),
])
def test_gov042_gated_statuses_only(factory, govctl, status, expected):
    factory.build()
    factory.edit(USE_CASE, *NO_FALLBACK)
    set_status(factory, status)
    assert rules(validate(govctl, factory)[1]) == expected


# -- GOV050 / GOV051: model lifecycle ----------------------------------------------------


def set_lifecycle(factory: Any, rel: str = MODEL, released: str = "2026-03-14",
                  **events: str) -> None:
    """Give the model block-style lifecycle dates (they are not part of any digest)."""
    block = f'  lifecycle:\n    released: "{released}"\n' + "".join(
        f'    {event}: "{day}"\n' for event, day in events.items())
    factory.edit(rel, f'  lifecycle: {{released: "{released}"}}\n', block)


# (lifecycle event, date, model contract notice_days or None) → GOV050 expected?
NOTICE_CASES = {
    "policy-window-edge": ("deprecation", "2027-02-25", None, True),  # 90 days ahead
    "policy-window-outside": ("deprecation", "2027-02-26", None, False),  # 91 days
    "contract-window-edge": ("deprecation", "2026-12-27", 30, True),
    "contract-window-outside": ("deprecation", "2026-12-28", 30, False),
    "contract-longer-than-policy": ("deprecation", "2027-03-27", 120, True),
    "contract-zero-days": ("deprecation", "2026-11-28", 0, False),
    "contract-zero-days-on-the-day": ("deprecation", AS_OF, 0, True),
    "already-deprecated": ("deprecation", "2026-06-01", None, True),
    "retirement-tomorrow": ("retirement", "2026-11-28", None, True),
    "retirement-outside": ("retirement", "2027-03-01", None, False),
}


@pytest.mark.parametrize("event, day, notice, expected", list(NOTICE_CASES.values()),
                         ids=list(NOTICE_CASES))
def test_gov050_notice_window(factory, govctl, event, day, notice, expected):
    factory.build()
    set_lifecycle(factory, **{event: day})
    if notice is not None:
        factory.edit(MODEL, "type: vendor-endpoint",
                     f"type: vendor-endpoint\n  contract: {{notice_days: {notice}}}")
    code, payload = validate(govctl, factory)
    if not expected:
        assert (code, payload["findings"]) == (0, [])
        return
    assert code == 0  # a warning
    window = notice if notice is not None else 90
    assert_finding(only(payload["findings"]), rule="GOV050", severity="warning", file=MODEL,
                   line=factory.line_of(MODEL, f"{event}:"), record="Model/chat-2026-03",
                   message=f"Model 'chat-2026-03' {event} on {day} (")
    message = payload["findings"][0]["message"]
    assert f"notice window {window} days" in message
    assert "UseCase 'claims-triage' via Bundle 'triage'" in message


def test_gov050_policy_deprecation_notice_days(factory, govctl):
    factory.build()
    set_lifecycle(factory, deprecation="2027-01-26")  # 60 days ahead
    factory.edit(POLICY, "deprecation_notice_days: 90", "deprecation_notice_days: 30")
    assert validate(govctl, factory)[1]["findings"] == []
    factory.edit(POLICY, "deprecation_notice_days: 30", "deprecation_notice_days: 60")
    assert rules(validate(govctl, factory)[1]) == ["GOV050"]


def test_gov050_reports_each_event(factory, govctl):
    factory.build()
    set_lifecycle(factory, deprecation="2026-12-01", retirement="2027-01-15")
    code, payload = validate(govctl, factory)
    assert code == 0
    found = of_rule(payload, "GOV050")
    assert [f["line"] for f in found] == [factory.line_of(MODEL, "deprecation:"),
                                          factory.line_of(MODEL, "retirement:")]


@pytest.mark.parametrize("status, expected", [
    ("intake", ["GOV050"]), ("approved", ["GOV050"]), ("retired", []),
])
def test_gov050_every_status_but_retired(factory, govctl, status, expected):
    factory.build()
    set_lifecycle(factory, deprecation="2026-12-15")
    set_status(factory, status)
    assert rules(validate(govctl, factory)[1]) == expected


def test_gov050_not_for_an_unused_model(factory, govctl):
    factory.build()
    factory.write("models/unused.yaml", factory.files[MODEL].replace(
        "metadata: {id: chat-2026-03}", "metadata: {id: unused-model}").replace(
        'lifecycle: {released: "2026-03-14"}',
        'lifecycle: {released: "2026-03-14", retirement: "2026-11-01"}'))
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


def test_gov051_retired_model_in_production(factory, govctl):
    factory.build()
    set_lifecycle(factory, retirement=AS_OF)  # retired today
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV051", file=MODEL,
                   line=factory.line_of(MODEL, "retirement:"), record="Model/chat-2026-03",
                   message="Model 'chat-2026-03' was retired on 2026-11-27 and still serves "
                           "production: UseCase 'claims-triage' via Bundle 'triage'")
    # The day before, it is only a notice.
    assert rules(validate(govctl, factory, "2026-11-26")[1]) == ["GOV050"]


@pytest.mark.parametrize("status, expected", [
    ("approved", ["GOV050"]), ("intake", ["GOV050"]), ("retired", []),
])
def test_gov051_production_only(factory, govctl, status, expected):
    factory.build()
    set_lifecycle(factory, retirement="2026-10-01")
    set_status(factory, status)
    assert rules(validate(govctl, factory)[1]) == expected


def test_gov051_model_used_only_by_a_component(factory, govctl):
    factory.files["models/guard.yaml"] = (
        "apiVersion: govctl/v1\nkind: Model\nmetadata: {id: guard-model}\nspec:\n"
        "  provider: examplevendor\n  name: guard-mini\n  type: vendor-endpoint\n"
        '  lifecycle: {released: "2026-01-10"}\n')
    factory.files["bundles/guard.yaml"] = (
        "apiVersion: govctl/v1\nkind: Bundle\nmetadata: {id: input-guard}\nspec:\n"
        "  class: classical\n  model: guard-model\n  eval_set: claims-eval\n")
    edit_before_build(factory, BUNDLE, "class: generative", "class: agentic")
    edit_before_build(factory, BUNDLE, "  eval_set: claims-eval",
                      "  components: [input-guard]\n  eval_set: claims-eval")
    factory.build()
    assert validate(govctl, factory)[1]["findings"] == []
    set_lifecycle(factory, "models/guard.yaml", released="2026-01-10", retirement="2026-11-20")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV051", file="models/guard.yaml",
                   line=factory.line_of("models/guard.yaml", "retirement:"),
                   record="Model/guard-model",
                   message="UseCase 'claims-triage' via component Bundle 'input-guard' of "
                           "'triage'")


# -- GOV060: eval age --------------------------------------------------------------------


def test_gov060_eval_older_than_max_age(factory, govctl):
    factory.build()
    factory.edit(EVAL, "collected: 2026-09-20", "collected: 2026-05-30")  # 181 days
    code, payload = validate(govctl, factory)
    assert code == 0
    assert_finding(only(payload["findings"]), rule="GOV060", severity="warning", file=EVAL,
                   line=factory.line_of(EVAL, "collected:"), record="EvalSet/claims-eval",
                   message="EvalSet 'claims-eval' was collected 181 days ago (2026-05-30), "
                           "older than eval_max_age_days 180")


def test_gov060_exactly_max_age_is_fine(factory, govctl):
    factory.build()
    factory.edit(EVAL, "collected: 2026-09-20", "collected: 2026-05-31")  # 180 days
    assert validate(govctl, factory)[1]["findings"] == []


def test_gov060_policy_max_age(factory, govctl):
    factory.build()  # collected 2026-09-20: 68 days before as-of
    factory.edit(POLICY, "eval_max_age_days: 180", "eval_max_age_days: 68")
    assert validate(govctl, factory)[1]["findings"] == []
    factory.edit(POLICY, "eval_max_age_days: 68", "eval_max_age_days: 67")
    assert rules(validate(govctl, factory)[1]) == ["GOV060"]


@pytest.mark.parametrize("status, expected", [
    ("approved", ["GOV060"]), ("intake", []), ("retired", []),
])
def test_gov060_gated_statuses_only(factory, govctl, status, expected):
    factory.build()
    factory.edit(EVAL, "collected: 2026-09-20", "collected: 2026-01-01")
    set_status(factory, status)
    assert rules(validate(govctl, factory)[1]) == expected


# -- GOV061: eval population -------------------------------------------------------------


def test_gov061_eval_population_differs(factory, govctl):
    factory.build()
    factory.edit(EVAL, "population: Home-insurance claimants, Nordics",
                 "population: Motor-insurance claimants, Nordics")
    code, payload = validate(govctl, factory)
    assert code == 0
    assert_finding(only(payload["findings"]), rule="GOV061", severity="warning", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "population:"), record=APPROVAL_REF,
                   message="approval covers population 'Home-insurance claimants, Nordics' "
                           "but EvalSet 'claims-eval' sampled 'Motor-insurance claimants, "
                           "Nordics'")


def test_gov061_case_and_spacing_are_not_a_difference(factory, govctl):
    factory.build()
    factory.edit(EVAL, "population: Home-insurance claimants, Nordics",
                 "population: home-insurance  claimants, NORDICS")
    assert validate(govctl, factory)[1]["findings"] == []


# -- GOV070: tier not allowed ------------------------------------------------------------


@pytest.mark.parametrize("status", ["production", "intake"])
def test_gov070_prohibited_tier(factory, govctl, status):
    factory.build()
    factory.edit(USE_CASE, "tier: high", "tier: prohibited")
    set_status(factory, status)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(of_rule(payload, "GOV070")), rule="GOV070", file=USE_CASE,
                   line=factory.line_of(USE_CASE, "risk:"), record="UseCase/claims-triage",
                   message="UseCase 'claims-triage' is in risk tier 'prohibited', which the "
                           "policy does not allow")


def test_gov070_not_for_retired_or_allowed(factory, govctl):
    factory.build()
    factory.edit(USE_CASE, "tier: high", "tier: prohibited")
    set_status(factory, "retired")
    assert of_rule(validate(govctl, factory)[1], "GOV070") == []
    set_status_back = ("status: retired", "status: production")
    factory.edit(USE_CASE, *set_status_back)
    factory.edit(POLICY, "prohibited: {allowed: false, approvals: [], max_validity_days: 0}",
                 "prohibited: {allowed: true, approvals: [], max_validity_days: 365}")
    assert validate(govctl, factory)[1]["findings"] == []


# -- GOV090: serious incidents reported in time -----------------------------------------

INCIDENT = "incidents/serious.yaml"


def write_incident(factory: Any, *, detected: str = "2026-11-01T08:00:00Z",
                   serious: bool | None = True, kind: str | None = None,
                   reported: str | None = None) -> None:
    lines = ["apiVersion: govctl/v1", "kind: Incident", "metadata: {id: inc-serious}", "spec:",
             "  use_case: claims-triage", f"  detected: {detected}", "  severity: sev1",
             "  status: open", "  summary: Wrong advice led to harm."]
    if serious is not None:
        lines.append(f"  serious: {str(serious).lower()}")
    if kind is not None:
        lines.append(f"  serious_kind: {kind}")
    if reported is not None:
        lines.append(f"  reported_to_authority: {reported}")
    factory.write(INCIDENT, "\n".join(lines) + "\n")


# serious_kind → (days allowed, deadline for an incident detected 2026-11-01)
DEADLINES = {
    "death": (10, "2026-11-11", "2026-11-12"),
    "widespread": (2, "2026-11-03", "2026-11-04"),
    "other": (15, "2026-11-16", "2026-11-17"),
    None: (15, "2026-11-16", "2026-11-17"),
}


@pytest.mark.parametrize("kind", list(DEADLINES), ids=[str(k) for k in DEADLINES])
def test_gov090_report_on_the_deadline_is_in_time(factory, govctl, kind):
    factory.build()
    write_incident(factory, kind=kind, reported=DEADLINES[kind][1])
    assert validate(govctl, factory)[1]["findings"] == []


@pytest.mark.parametrize("kind", list(DEADLINES), ids=[str(k) for k in DEADLINES])
def test_gov090_report_the_day_after_is_late(factory, govctl, kind):
    days, deadline, day_after = DEADLINES[kind]
    factory.build()
    write_incident(factory, kind=kind, reported=day_after)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV090", file=INCIDENT,
                   line=factory.line_of(INCIDENT, "reported_to_authority:"),
                   record="Incident/inc-serious",
                   message=f"was reported on {day_after}, after the deadline {deadline} "
                           f"({days} days for '{kind or 'other'}'")


@pytest.mark.parametrize("kind", list(DEADLINES), ids=[str(k) for k in DEADLINES])
def test_gov090_unreported_after_the_deadline(factory, govctl, kind):
    days, deadline, day_after = DEADLINES[kind]
    factory.build()
    write_incident(factory, kind=kind)
    assert validate(govctl, factory, deadline)[1]["findings"] == []  # still in time
    code, payload = validate(govctl, factory, day_after)
    assert code == 1
    assert_finding(only(of_rule(payload, "GOV090")), rule="GOV090", file=INCIDENT,
                   line=factory.line_of(INCIDENT, "serious:"), record="Incident/inc-serious",
                   message=f"has not been reported to an authority; the deadline {deadline} "
                           f"({days} days for '{kind or 'other'}') has passed")


@pytest.mark.parametrize("serious", [False, None], ids=["serious-false", "serious-absent"])
def test_gov090_ignores_incidents_that_are_not_serious(factory, govctl, serious):
    factory.build()
    write_incident(factory, serious=serious, kind="death" if serious is False else None)
    assert validate(govctl, factory)[1]["findings"] == []


def test_gov090_ignores_incidents_detected_after_as_of(factory, govctl):
    factory.build()
    write_incident(factory, detected="2026-11-28T00:30:00Z", kind="widespread",
                   reported="2026-12-15")
    assert validate(govctl, factory)[1]["findings"] == []
    assert rules(validate(govctl, factory, "2026-12-15")[1]) == ["GOV090"]


def test_gov090_deadline_counts_from_the_utc_date_of_detection(factory, govctl):
    """23:30 at UTC-2 on Nov 1 is Nov 2 in UTC: the 2-day deadline is Nov 4."""
    factory.build()
    write_incident(factory, detected="2026-11-01T23:30:00-02:00", kind="widespread",
                   reported="2026-11-04")
    assert validate(govctl, factory)[1]["findings"] == []
    write_incident(factory, detected="2026-11-01T21:30:00-02:00", kind="widespread",
                   reported="2026-11-04")
    assert rules(validate(govctl, factory)[1]) == ["GOV090"]


def test_gov090_a_report_after_as_of_had_not_happened_yet(factory, govctl):
    """As of a day before the (late) report, the incident was simply unreported."""
    factory.build()
    write_incident(factory, kind="widespread", reported="2026-11-06")  # deadline 11-03
    assert validate(govctl, factory, "2026-11-02")[1]["findings"] == []
    code, payload = validate(govctl, factory, "2026-11-04")
    assert code == 1
    assert "has not been reported" in only(payload["findings"])["message"]
    code, payload = validate(govctl, factory, "2026-11-06")
    assert code == 1
    assert "was reported on 2026-11-06" in only(payload["findings"])["message"]
