"""Approval rules GOV030-GOV037 and the choice of the current approval (SPEC §1.4), plus
`Policy.rules` severity overrides.

Each rule has a failing case (code, file, line, record and message asserted) and a
passing case: the fixed or boundary variant yields no such finding. Every run passes
``--as-of`` so date rules are reproducible.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from govctl.model.repository import WorktreeSource, load_repository
from govctl.rules.decisions import current_approval, fill_slots
from tests.factory import AS_OF
from tests.rules_support import (
    APPROVAL,
    APPROVAL_ID,
    APPROVAL_REF,
    BUNDLE,
    CONTRACT,
    EVAL,
    MODEL,
    POLICY,
    USE_CASE,
    add_people,
    approval_yaml,
    assert_finding,
    edit_before_build,
    of_rule,
    only,
    rules,
    set_approvers,
    validate,
)


def current_id(factory: Any, as_of: str = AS_OF, use_case: str = "claims-triage") -> str | None:
    repo = load_repository(WorktreeSource(factory.root))
    approval = current_approval(repo, use_case, date.fromisoformat(as_of))
    return approval.id if approval is not None else None


# -- SPEC §1.4: which approval is current ------------------------------------------------

# Each case: extra approvals (file stem → keyword arguments of approval_yaml), as-of, and
# the id expected to be current (None: the use case has no current approval).
BASE = APPROVAL_ID
CURRENT_CASES = {
    "latest-date-wins": ({"b-later": {"date": "2026-10-15"}}, AS_OF, "b-later"),
    "older-date-loses-even-with-greater-id": ({"zz-older": {"date": "2026-09-01"}}, AS_OF,
                                              BASE),
    "tie-on-date-greatest-id": ({"claims-triage-2026-10-01-2": {},
                                 "a-same-day": {}}, AS_OF, "claims-triage-2026-10-01-2"),
    "latest-rejected-means-none": ({"b-rejected": {"date": "2026-10-15",
                                                   "decision": "rejected"}}, AS_OF, None),
    "conditional-counts": ({"b-conditional": {"date": "2026-10-15",
                                              "decision": "conditional"}}, AS_OF,
                           "b-conditional"),
    "older-rejected-does-not-matter": ({"a-rejected": {"date": "2026-09-01",
                                                       "decision": "rejected"}}, AS_OF, BASE),
    "superseded-newer-date-does-not-count": (
        {"c-newest": {"date": "2026-11-01"},
         "b-fix": {"date": "2026-10-05", "supersedes": "c-newest"}}, AS_OF, "b-fix"),
    "superseded-by-rejection-means-none": (
        {"b-rejected": {"date": "2026-09-01", "decision": "rejected", "supersedes": BASE}},
        AS_OF, None),
    "dated-after-as-of-is-ignored": ({"b-future": {"date": "2026-12-01"}}, AS_OF, BASE),
    "dated-on-as-of-counts": ({"b-today": {"date": AS_OF}}, AS_OF, "b-today"),
    "later-as-of-sees-it": ({"b-future": {"date": "2026-12-01"}}, "2026-12-01", "b-future"),
    "supersedes-of-a-future-approval-is-ignored": (
        {"b-future": {"date": "2026-12-01", "supersedes": BASE}}, AS_OF, BASE),
    "self-supersede-does-not-retire-itself": ({"b-self": {"date": "2026-10-15",
                                                         "supersedes": "b-self"}}, AS_OF,
                                              "b-self"),
    "other-use-case-ignored": ({"b-other": {"date": "2026-11-01", "use_case": "other-uc"}},
                               AS_OF, BASE),
}


@pytest.mark.parametrize("extra, as_of, expected", list(CURRENT_CASES.values()),
                         ids=list(CURRENT_CASES))
def test_current_approval_choice(factory, extra, as_of, expected):
    for stem, kwargs in extra.items():
        factory.files[f"approvals/{stem}.yaml"] = approval_yaml(stem, **kwargs)
    factory.build()
    assert current_id(factory, as_of) == expected


def test_newest_stale_approval_stays_current(factory, govctl):
    """Staleness never changes the choice: the older valid approval does not take over."""
    factory.files["approvals/b-newer.yaml"] = approval_yaml("b-newer", date="2026-10-15")
    factory.build()
    path = factory.root / "approvals/b-newer.yaml"
    text = path.read_text()
    bound = text.split('bundle: {id: triage, digest: "')[1].split('"')[0]
    path.write_text(text.replace(bound, "sha256:" + "0" * 64))
    assert current_id(factory) == "b-newer"
    code, payload = validate(govctl, factory)
    assert code == 1
    finding = only(payload["findings"])
    assert_finding(finding, rule="GOV031", file="approvals/b-newer.yaml",
                   line=factory.line_of("approvals/b-newer.yaml", "bundle: {id: triage"),
                   record="Approval/b-newer", message="stale approval: Bundle 'triage'")


def test_newest_expired_approval_stays_current(factory, govctl):
    factory.files["approvals/b-newer.yaml"] = approval_yaml(
        "b-newer", date="2026-10-15", valid_until="2026-11-01")
    factory.build()
    assert current_id(factory) == "b-newer"
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV033", file="approvals/b-newer.yaml",
                   line=factory.line_of("approvals/b-newer.yaml", "valid_until"),
                   record="Approval/b-newer", message="valid_until 2026-11-01 has passed")


def test_rules_check_only_the_current_approval(factory, govctl):
    """A superseded approval with an unknown approver and a breached eval result is
    history, not a finding; the new one superseding it is clean."""
    factory.files["approvals/a-old.yaml"] = approval_yaml(
        "a-old", date="2026-09-01", approvers=(("zed", "risk-officer"),),
        results="{triage_agreement: 0.5}")
    factory.files["approvals/b-new.yaml"] = approval_yaml(
        "b-new", date="2026-09-15", supersedes="a-old")
    factory.build()
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


@pytest.mark.parametrize("status, expected", [
    ("production", ["GOV031", "GOV032", "GOV033", "GOV034", "GOV036", "GOV037", "GOV061"]),
    ("approved", ["GOV031", "GOV032", "GOV033", "GOV034", "GOV036", "GOV037", "GOV061"]),
    ("intake", ["GOV031", "GOV032", "GOV033", "GOV034", "GOV036", "GOV037", "GOV061"]),
    ("retired", []),
])
def test_approval_rules_skip_only_retired_use_cases(factory, govctl, status, expected):
    """SPEC §1.4 restricts only GOV030, GOV040-GOV042 and GOV060 to approved/production: an
    approval recorded for an intake use case is checked; a retired system is not gated."""
    factory.build()
    factory.edit("prompts/triage.md", "triage", "sort")
    factory.edit(CONTRACT, "max: 2500", "max: 2600")
    factory.edit(EVAL, "population: Home-insurance", "population: Motor-insurance")
    set_approvers(factory, ("bob", "risk-officer"), ("zed", "model-owner"))
    factory.edit(APPROVAL, "results: {triage_agreement: 0.94}", "results: {triage_agreement: 0.5}")
    factory.edit(USE_CASE, "status: production", f"status: {status}")
    code, payload = validate(govctl, factory, "2027-03-02")
    assert sorted(set(rules(payload))) == expected
    assert code == (1 if expected else 0)


# -- GOV030: no current approval ---------------------------------------------------------


@pytest.mark.parametrize("status", ["approved", "production"])
def test_gov030_gated_use_case_without_approval(factory, govctl, status):
    factory.build()
    factory.remove(APPROVAL)
    factory.edit(USE_CASE, "status: production", f"status: {status}")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV030", file=USE_CASE,
                   line=factory.line_of(USE_CASE, "status:"), record="UseCase/claims-triage",
                   message=f"is '{status}' without a current approval (no valid Approval "
                           "dated on or before 2026-11-27 names it)")


@pytest.mark.parametrize("status", ["intake", "retired"])
def test_gov030_not_for_intake_or_retired(factory, govctl, status):
    factory.build()
    factory.remove(APPROVAL)
    factory.edit(USE_CASE, "status: production", f"status: {status}")
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


def test_gov030_when_the_latest_approval_is_rejected(factory, govctl):
    factory.files["approvals/b-rejected.yaml"] = approval_yaml(
        "b-rejected", date="2026-11-01", decision="rejected")
    factory.build()
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV030", file=USE_CASE,
                   line=factory.line_of(USE_CASE, "status:"), record="UseCase/claims-triage",
                   message="without a current approval (its latest decision, Approval "
                           "'b-rejected' of 2026-11-01, is rejected)")
    # Before the rejection was made, the earlier approval was current.
    assert validate(govctl, factory, "2026-10-31")[1]["findings"] == []


def test_gov030_when_the_only_approval_is_after_as_of(factory, govctl):
    factory.build()
    code, payload = validate(govctl, factory, "2026-09-30")
    assert code == 1
    assert only(payload["findings"])["rule"] == "GOV030"
    assert validate(govctl, factory, "2026-10-01")[1]["findings"] == []


# -- GOV031: stale bundle digest ---------------------------------------------------------

# (file, old, new) edits made after the approval was bound, each changing a digest input.
BUNDLE_CHANGES = {
    "prompt-byte": ("prompts/triage.md", "You triage claims.", "You triage claims!"),
    "prompt-trailing-newline": ("prompts/triage.md", "{{claim_text}}\n", "{{claim_text}}\n\n"),
    "tool-schema": ("tools/lookup.json", '"object"', '"object", "required": ["id"]'),
    "tool-version": (BUNDLE, 'version: "1.0.0"', 'version: "1.0.1"'),
    "model-snapshot": (MODEL, "snapshot: vendor-chat-2026-03-14",
                       "snapshot: vendor-chat-2026-06-01"),
    "model-name": (MODEL, "name: vendor-chat", "name: vendor-chat-pro"),
    "param": (BUNDLE, "temperature: 0.0", "temperature: 0.2"),
    "param-added": (BUNDLE, "max_tokens: 512", "max_tokens: 512, top_p: 0.9"),
    "retrieval": (BUNDLE, "top_k: 8", "top_k: 12"),
    "prompt-variables": (BUNDLE, "variables: [claim_text]", "variables: [claim_text, lang]"),
}


@pytest.mark.parametrize("rel, old, new", list(BUNDLE_CHANGES.values()),
                         ids=list(BUNDLE_CHANGES))
def test_gov031_bundle_input_changed(factory, govctl, rel, old, new):
    factory.build()
    factory.edit(rel, old, new)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV031", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "bundle: {id: triage"), record=APPROVAL_REF,
                   message="stale approval: Bundle 'triage' digest is now sha256:")


def test_gov031_eval_set_changed_names_the_eval_set(factory, govctl):
    factory.build()
    factory.write("data/claims-eval.jsonl", '{"claim": "Fire", "expected": "open_case"}\n')
    code, payload = validate(govctl, factory)
    assert code == 1
    finding = only(payload["findings"])
    assert_finding(finding, rule="GOV031", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "bundle: {id: triage"), record=APPROVAL_REF,
                   message="eval set 'claims-eval' changed")


def test_gov031_eval_set_swapped_for_another(factory, govctl):
    factory.files["evals/other.yaml"] = (
        "apiVersion: govctl/v1\nkind: EvalSet\nmetadata: {id: other-eval}\nspec:\n"
        "  population: Home-insurance claimants, Nordics\n  collected: 2026-09-20\n"
        "  uri: s3://evals/other.jsonl\n  digest: \"sha256:" + "a" * 64 + "\"\n")
    factory.build()
    factory.edit(BUNDLE, "eval_set: claims-eval", "eval_set: other-eval")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert rules(payload) == ["GOV031"]
    assert "stale approval: Bundle 'triage'" in payload["findings"][0]["message"]


# A cosmetic edit, or a change to a part of a record the digests leave out, keeps the
# approval current.
COSMETIC_CHANGES = {
    "bundle-title": (BUNDLE, "title: Claims triage assistant", "title: Triage v1"),
    "bundle-labels": (BUNDLE, "metadata: {id: triage,",
                      "metadata: {labels: {area: claims}, id: triage,"),
    "model-deprecation-added": (MODEL, 'lifecycle: {released: "2026-03-14"}',
                                'lifecycle: {released: "2026-03-14", deprecation: "2028-01-01"}'),
    "model-contract-added": (MODEL, "type: vendor-endpoint",
                             "type: vendor-endpoint\n  contract: {notice_days: 30}"),
    "model-training-added": (MODEL, "type: vendor-endpoint",
                             "type: vendor-endpoint\n  training: {summary: web text}"),
    "eval-record-metadata": (EVAL, "metadata: {id: claims-eval}",
                             "metadata: {id: claims-eval, title: Claims eval}"),
    "eval-collected-date": (EVAL, "collected: 2026-09-20", "collected: 2026-09-25"),
    "contract-title": (CONTRACT, "metadata: {id: triage-contract}",
                       "metadata: {id: triage-contract, title: Triage SLOs}"),
    "use-case-text": (USE_CASE, "Suggest the next step", "Propose the next step"),
    "yaml-formatting": (BUNDLE, "params: {temperature: 0.0, max_tokens: 512}",
                        "params:\n    max_tokens: 512\n    temperature: 0.0"),
}


@pytest.mark.parametrize("rel, old, new", list(COSMETIC_CHANGES.values()),
                         ids=list(COSMETIC_CHANGES))
def test_gov031_gov032_not_for_cosmetic_changes(factory, govctl, rel, old, new):
    factory.build()
    factory.edit(rel, old, new)
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


COMPONENTS = {
    "models/guard.yaml": """\
apiVersion: govctl/v1
kind: Model
metadata: {id: guard-model}
spec:
  provider: examplevendor
  name: guard-mini
  type: vendor-endpoint
  snapshot: guard-mini-2026-01
  lifecycle: {released: "2026-01-10"}
""",
    "bundles/guard.yaml": """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: input-guard}
spec:
  class: classical
  model: guard-model
  params: {threshold: 0.5}
  eval_set: claims-eval
""",
}


def with_component(factory: Any) -> None:
    """Make ``triage`` an agentic bundle composing the ``input-guard`` bundle."""
    factory.files.update(COMPONENTS)
    edit_before_build(factory, BUNDLE, "class: generative", "class: agentic")
    edit_before_build(factory, BUNDLE, "  eval_set: claims-eval",
                      "  components: [input-guard]\n  eval_set: claims-eval")


@pytest.mark.parametrize("rel, old, new", [
    ("models/guard.yaml", "snapshot: guard-mini-2026-01", "snapshot: guard-mini-2026-06"),
    ("bundles/guard.yaml", "threshold: 0.5", "threshold: 0.4"),
], ids=["component-model-snapshot", "component-param"])
def test_gov031_through_a_component_bundle(factory, govctl, rel, old, new):
    with_component(factory)
    factory.build()
    assert validate(govctl, factory)[1]["findings"] == []
    factory.edit(rel, old, new)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV031", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "bundle: {id: triage"), record=APPROVAL_REF,
                   message="stale approval: Bundle 'triage'")


def test_component_model_deprecation_notice_is_not_stale(factory, govctl):
    with_component(factory)
    factory.build()
    factory.edit("models/guard.yaml", 'lifecycle: {released: "2026-01-10"}',
                 'lifecycle: {released: "2026-01-10", retirement: "2028-06-01"}')
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


def test_gov031_approval_names_another_bundle(factory, govctl):
    """Even a byte-identical copy under another id is not what was approved."""
    factory.files["bundles/triage-v2.yaml"] = factory.files[BUNDLE].replace(
        "metadata: {id: triage,", "metadata: {id: triage-v2,")
    factory.build()
    factory.edit(USE_CASE, "bundle: triage", "bundle: triage-v2")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV031", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "bundle: {id: triage"), record=APPROVAL_REF,
                   message="it approved Bundle 'triage', but UseCase 'claims-triage' now runs "
                           "Bundle 'triage-v2'")


# -- GOV032: stale threshold contract ----------------------------------------------------

CONTRACT_CHANGES = {
    "threshold-raised": (CONTRACT, "max: 2500", "max: 3000"),
    "min-lowered": (CONTRACT, "min: 0.9", "min: 0.8"),
    "severity": (CONTRACT, "max: 0.2, window: 1d, severity: ticket",
                 "max: 0.2, window: 1d, severity: page"),
    "action": (CONTRACT, "action: fallback", "action: page-only"),
    "runbook-file-content": ("runbooks/triage.md", "human queue", "manual queue"),
    "signal-added": (CONTRACT, "  on_breach:",
                     "    toxicity: {metric: tox_rate, max: 0.01, severity: page}\n  on_breach:"),
}


@pytest.mark.parametrize("rel, old, new", list(CONTRACT_CHANGES.values()),
                         ids=list(CONTRACT_CHANGES))
def test_gov032_contract_changed(factory, govctl, rel, old, new):
    factory.build()
    factory.edit(rel, old, new)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV032", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "thresholds: {id: triage-contract"),
                   record=APPROVAL_REF,
                   message="ThresholdContract 'triage-contract' changed since approval")


def test_gov032_runbook_url_is_digested_as_written(factory, govctl):
    """SPEC §1.3: a URL runbook is not a file; the contract is digested with the URL as
    written, so a changed URL changes the digest."""
    edit_before_build(factory, CONTRACT, "runbook: runbooks/triage.md",
                      "runbook: https://wiki.acme.test/triage")
    factory.build()
    assert validate(govctl, factory)[1]["findings"] == []
    factory.edit(CONTRACT, "https://wiki.acme.test/triage", "https://wiki.acme.test/triage-v2")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV032", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "thresholds: {id: triage-contract"),
                   record=APPROVAL_REF, message="changed since approval")


def test_gov032_runbook_file_rename_changes_the_digest(factory, govctl):
    factory.build()
    factory.write("runbooks/triage-v2.md", "# Triage runbook\nSwitch to the human queue.\n")
    factory.edit(CONTRACT, "runbook: runbooks/triage.md", "runbook: runbooks/triage-v2.md")
    code, payload = validate(govctl, factory)
    assert (code, rules(payload)) == (1, ["GOV032"])


def test_gov032_approval_names_another_contract(factory, govctl):
    factory.files["thresholds/triage-v2.yaml"] = factory.files[CONTRACT].replace(
        "metadata: {id: triage-contract}", "metadata: {id: triage-contract-v2}")
    factory.build()
    factory.edit(USE_CASE, "thresholds: triage-contract", "thresholds: triage-contract-v2")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV032", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "thresholds: {id: triage-contract"),
                   record=APPROVAL_REF,
                   message="it approved ThresholdContract 'triage-contract', but UseCase "
                           "'claims-triage' now uses 'triage-contract-v2'")


def test_gov031_and_gov032_together(factory, govctl):
    factory.build()
    factory.edit("prompts/triage.md", "triage", "sort")
    factory.edit(CONTRACT, "max: 2500", "max: 2600")
    code, payload = validate(govctl, factory)
    assert (code, rules(payload)) == (1, ["GOV031", "GOV032"])
    assert {f["record"] for f in payload["findings"]} == {APPROVAL_REF}


# -- GOV033: expiry ----------------------------------------------------------------------


def test_gov033_valid_until_is_inclusive(factory, govctl):
    factory.build()  # valid_until 2027-03-01; tier high allows 180 days (to 2027-03-30)
    assert of_rule(validate(govctl, factory, "2027-03-01")[1], "GOV033") == []
    code, payload = validate(govctl, factory, "2027-03-02")
    assert code == 1
    assert_finding(only(of_rule(payload, "GOV033")), rule="GOV033", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "valid_until:"), record=APPROVAL_REF,
                   message="valid_until 2027-03-01 has passed")


def test_gov033_as_of_timestamp_uses_the_utc_date(factory, govctl):
    factory.build()
    assert of_rule(validate(govctl, factory, "2027-03-01T23:59:59Z")[1], "GOV033") == []
    assert of_rule(validate(govctl, factory, "2027-03-01T23:30:00-01:00")[1], "GOV033")


def test_gov033_tier_max_validity(factory, govctl):
    factory.build()
    factory.edit(APPROVAL, "  valid_until: 2027-03-01\n", "")
    # 2026-10-01 + 180 days = 2027-03-30: the last valid day.
    assert of_rule(validate(govctl, factory, "2027-03-30")[1], "GOV033") == []
    code, payload = validate(govctl, factory, "2027-03-31")
    assert code == 1
    assert_finding(only(of_rule(payload, "GOV033")), rule="GOV033", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "date: 2026-10-01"), record=APPROVAL_REF,
                   message="tier 'high' allows 180 days (until 2027-03-30)")


def test_gov033_tier_max_validity_beats_a_later_valid_until(factory, govctl):
    factory.build()
    factory.edit(APPROVAL, "valid_until: 2027-03-01", "valid_until: 2027-12-31")
    code, payload = validate(govctl, factory, "2027-03-31")
    assert code == 1
    assert "tier 'high' allows 180 days" in only(of_rule(payload, "GOV033"))["message"]


def test_gov033_follows_the_tier_of_the_use_case(factory, govctl):
    factory.build()
    factory.edit(APPROVAL, "  valid_until: 2027-03-01\n", "")
    factory.edit(USE_CASE, "tier: high", "tier: limited")  # 365 days
    assert of_rule(validate(govctl, factory, "2027-03-31")[1], "GOV033") == []


def test_gov033_valid_until_checked_even_when_the_policy_is_invalid(factory, govctl):
    """valid_until needs no policy: a schema error in the Policy must not hide it."""
    factory.build()
    factory.edit(POLICY, "organization: Acme Insurance", "organization: Acme Insurance\n"
                 "  organisation: typo")
    code, payload = validate(govctl, factory, "2027-03-02")
    assert code == 1 and "GOV010" in rules(payload)
    assert_finding(only(of_rule(payload, "GOV033")), rule="GOV033", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "valid_until:"), record=APPROVAL_REF,
                   message="valid_until 2027-03-01 has passed")


# -- GOV034: required roles --------------------------------------------------------------


def gov034(factory: Any, payload: dict[str, Any], message: str) -> None:
    assert_finding(only(of_rule(payload, "GOV034")), rule="GOV034", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "approvers:"), record=APPROVAL_REF,
                   message=message)


def test_gov034_missing_role(factory, govctl):
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"))
    code, payload = validate(govctl, factory)
    assert code == 1
    gov034(factory, payload, "model-owner needs 1, has 0")
    assert rules(payload) == ["GOV034"]


def test_gov034_exposure_rule_adds_cfo_at_or_above_min_usd(factory, govctl):
    factory.build()
    factory.edit(USE_CASE, "exposure_usd: 50000", "exposure_usd: 999999")
    assert validate(govctl, factory)[1]["findings"] == []
    factory.edit(USE_CASE, "exposure_usd: 999999", "exposure_usd: 1000000")
    code, payload = validate(govctl, factory)
    assert code == 1
    gov034(factory, payload, "cfo needs 1, has 0")
    assert "exposure 1,000,000 USD" in payload["findings"][0]["message"]
    # A CFO approving fixes it.
    add_people(factory, ("dave", "Dave Finance", ["cfo"]))
    set_approvers(factory, ("bob", "risk-officer"), ("carol", "model-owner"), ("dave", "cfo"))
    assert validate(govctl, factory)[1]["findings"] == []


def with_policy_counts(factory: Any, tier_count: int, exposure_count: int | None) -> None:
    edit_before_build(factory, POLICY, "approvals: [{role: risk-officer}, {role: model-owner}]",
                      "approvals: [{role: risk-officer}, "
                      f"{{role: model-owner, count: {tier_count}}}]")
    if exposure_count is not None:
        edit_before_build(factory, POLICY, "require: [{role: cfo}]",
                          f"require: [{{role: model-owner, count: {exposure_count}}}]")
        edit_before_build(factory, USE_CASE, "exposure_usd: 50000", "exposure_usd: 2000000")
    add_people(factory, ("dave", "Dave Models", ["model-owner"]),
               ("erin", "Erin Models", ["model-owner"]))


# (tier count, exposure rule count, model-owner approvers, expected shortfall or None)
COUNT_CASES = {
    "count-2-one-person": (2, None, ["carol"], "model-owner needs 2, has 1"),
    "count-2-two-people": (2, None, ["carol", "dave"], None),
    "count-2-same-person-twice": (2, None, ["carol", "carol"], "model-owner needs 2, has 1"),
    "exposure-larger-wins": (1, 2, ["carol"], "model-owner needs 2, has 1"),
    "exposure-larger-satisfied": (1, 2, ["carol", "dave"], None),
    "tier-larger-wins": (3, 1, ["carol", "dave"], "model-owner needs 3, has 2"),
    "counts-do-not-add-up": (2, 2, ["carol", "dave"], None),
    "tier-3-satisfied": (3, 1, ["carol", "dave", "erin"], None),
}


@pytest.mark.parametrize("tier_count, exposure_count, owners, short",
                         list(COUNT_CASES.values()), ids=list(COUNT_CASES))
def test_gov034_counts(factory, govctl, tier_count, exposure_count, owners, short):
    with_policy_counts(factory, tier_count, exposure_count)
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"), *((p, "model-owner") for p in owners))
    code, payload = validate(govctl, factory)
    if short is None:
        assert (code, payload["findings"]) == (0, [])
    else:
        assert code == 1
        gov034(factory, payload, short)
        assert rules(payload) == ["GOV034"]


def test_gov034_one_person_under_two_roles_fills_one_slot(factory, govctl):
    add_people(factory, ("dave", "Dave Both", ["risk-officer", "model-owner"]))
    factory.build()
    set_approvers(factory, ("dave", "risk-officer"), ("dave", "model-owner"))
    code, payload = validate(govctl, factory)
    assert code == 1
    gov034(factory, payload, "needs 1, has 0")
    assert rules(payload) == ["GOV034"]


def test_gov034_two_role_person_is_placed_where_needed(factory, govctl):
    """Listed first as model-owner, dave still fills the risk-officer slot once carol
    takes model-owner (a maximum matching, not first come first served)."""
    add_people(factory, ("dave", "Dave Both", ["risk-officer", "model-owner"]))
    factory.build()
    set_approvers(factory, ("dave", "model-owner"), ("dave", "risk-officer"),
                  ("carol", "model-owner"))
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


def test_fill_slots_is_a_maximum_matching():
    required = {"a": 1, "b": 1, "c": 2}
    approvers = [("p1", "a"), ("p1", "b"), ("p2", "a"), ("p3", "c"), ("p3", "b"),
                 ("p4", "c")]
    assert fill_slots(required, approvers) == {"a": 1, "b": 1, "c": 2}
    assert fill_slots({"a": 1, "b": 1}, [("p", "a"), ("p", "b")]) in (
        {"a": 1, "b": 0}, {"a": 0, "b": 1})
    assert fill_slots({"a": 2}, [("p", "a"), ("p", "a")]) == {"a": 1}
    assert fill_slots({"a": 1}, [("p", "z")]) == {"a": 0}


# -- GOV035: separation of duties --------------------------------------------------------


def test_gov035_owner_as_approver_does_not_count(factory, govctl):
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"), ("alice", "model-owner"))
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(of_rule(payload, "GOV035")), rule="GOV035", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "person: alice"), record=APPROVAL_REF,
                   message="separation of duties: Alice Owner (alice) owns UseCase "
                           "'claims-triage'")
    gov034(factory, payload, "model-owner needs 1, has 0")
    assert rules(payload) == ["GOV034", "GOV035"]


def test_gov035_owner_alongside_enough_others_still_flagged(factory, govctl):
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"), ("carol", "model-owner"),
                  ("alice", "model-owner"))
    code, payload = validate(govctl, factory)
    assert (code, rules(payload)) == (1, ["GOV035"])


def test_gov035_separation_of_duties_is_on_by_default(factory, govctl):
    factory.build()
    factory.edit(POLICY, "  separation_of_duties: true\n", "")
    set_approvers(factory, ("bob", "risk-officer"), ("alice", "model-owner"))
    code, payload = validate(govctl, factory)
    assert (code, rules(payload)) == (1, ["GOV034", "GOV035"])


def test_gov035_off_when_separation_of_duties_is_false(factory, govctl):
    factory.build()
    factory.edit(POLICY, "separation_of_duties: true", "separation_of_duties: false")
    set_approvers(factory, ("bob", "risk-officer"), ("alice", "model-owner"))
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


# -- GOV036: eval results breach the contract -------------------------------------------


@pytest.mark.parametrize("results, metric, bound", [
    ("{triage_agreement: 0.85}", "triage_agreement", "min 0.9"),
    ("{triage_agreement: 0.94, p95_latency_ms: 2500.5}", "p95_latency_ms", "max 2500"),
], ids=["below-min", "above-max"])
def test_gov036_eval_result_breaches(factory, govctl, results, metric, bound):
    factory.build()
    factory.edit(APPROVAL, "results: {triage_agreement: 0.94}", f"results: {results}")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV036", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "results:"), record=APPROVAL_REF,
                   message=f"eval result {metric} = ")
    message = payload["findings"][0]["message"]
    assert f"requires {bound}" in message and "'triage-contract'" in message


@pytest.mark.parametrize("results", [
    "{triage_agreement: 0.9, p95_latency_ms: 2500}",  # exactly at the bounds
    "{triage_agreement: 1.0, p95_latency_ms: 0}",
    "{unrelated_metric: 1000000}",  # a metric no signal watches
    "{}",
], ids=["at-bounds", "well-inside", "unknown-metric", "empty"])
def test_gov036_no_breach(factory, govctl, results):
    factory.build()
    factory.edit(APPROVAL, "results: {triage_agreement: 0.94}", f"results: {results}")
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


# -- GOV037: unknown approver / role not held -------------------------------------------


def test_gov037_unknown_person(factory, govctl):
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"), ("carol", "model-owner"),
                  ("zed", "model-owner"))
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(payload["findings"]), rule="GOV037", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "person: zed"), record=APPROVAL_REF,
                   message="approver 'zed' is not a known Person")


def test_gov037_role_not_held_and_it_does_not_count(factory, govctl):
    factory.build()
    set_approvers(factory, ("bob", "model-owner"), ("carol", "model-owner"))
    code, payload = validate(govctl, factory)
    assert code == 1
    assert_finding(only(of_rule(payload, "GOV037")), rule="GOV037", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "person: bob"), record=APPROVAL_REF,
                   message="Bob Risk (bob) does not hold role 'model-owner' "
                           "(holds: risk-officer)")
    gov034(factory, payload, "risk-officer needs 1, has 0")


def test_gov037_fixed_by_granting_the_role(factory, govctl):
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"), ("carol", "risk-officer"))
    assert rules(validate(govctl, factory)[1]) == ["GOV034", "GOV037"]
    factory.edit("people.yaml", "email: carol@acme.test, roles: [model-owner]",
                 "email: carol@acme.test, roles: [model-owner, risk-officer]")
    code, payload = validate(govctl, factory)
    assert (code, rules(payload)) == (1, ["GOV034"])  # carol holds both, but fills only one slot


# -- Policy.rules severity overrides -----------------------------------------------------


def test_override_off_removes_the_finding(factory, govctl):
    edit_before_build(factory, POLICY, "approvals: {provenance: author}",
                      "approvals: {provenance: author}\n  rules: {GOV031: 'off'}")
    factory.build()
    factory.edit("prompts/triage.md", "triage", "sort")
    code, payload = validate(govctl, factory)
    assert (code, payload["findings"]) == (0, [])


def test_override_error_to_warning_passes_the_gate(factory, govctl):
    edit_before_build(factory, POLICY, "approvals: {provenance: author}",
                      "approvals: {provenance: author}\n  rules: {GOV034: warning}")
    factory.build()
    set_approvers(factory, ("bob", "risk-officer"))
    code, payload = validate(govctl, factory)
    assert code == 0
    finding = only(payload["findings"])
    assert (finding["rule"], finding["severity"]) == ("GOV034", "warning")
    assert payload["summary"] == {"errors": 0, "warnings": 1}


def test_override_warning_to_error_fails_the_gate(factory, govctl):
    factory.build()
    factory.edit(USE_CASE, "  fallback: Claims go to the human triage queue.\n", "")
    code, payload = validate(govctl, factory)
    assert code == 0
    assert only(payload["findings"])["severity"] == "warning"
    factory.edit(POLICY, "approvals: {provenance: author}",
                 "approvals: {provenance: author}\n  rules: {GOV042: error}")
    code, payload = validate(govctl, factory)
    assert code == 1
    finding = only(payload["findings"])
    assert (finding["rule"], finding["severity"]) == ("GOV042", "error")


# -- malformed records: findings, never a crash ------------------------------------------


def test_invalid_person_does_not_count_and_does_not_crash(factory, govctl):
    factory.build()
    factory.edit("people.yaml", "spec: {name: Bob Risk, email: bob@acme.test, "
                 "roles: [risk-officer]}", "spec: {email: bob@acme.test, roles: [risk-officer]}")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert rules(payload) == ["GOV010", "GOV034", "GOV037"]
    gov034(factory, payload, "risk-officer needs 1, has 0")
    assert_finding(only(of_rule(payload, "GOV037")), rule="GOV037", file=APPROVAL,
                   line=factory.line_of(APPROVAL, "person: bob"), record=APPROVAL_REF,
                   message="approver 'bob' has a Person record that fails its schema "
                           "(GOV010 in people.yaml)")


@pytest.mark.parametrize("rel, old, new, expected", [
    (CONTRACT, "on_breach: {action: fallback, runbook: runbooks/triage.md}",
     "on_breach: fallback", ["GOV010"]),
    (BUNDLE, "model: chat-2026-03", "model: [chat-2026-03]", ["GOV010"]),
], ids=["contract-on-breach-not-a-map", "bundle-model-not-an-id"])
def test_malformed_bound_records_are_schema_errors_only(factory, govctl, rel, old, new,
                                                        expected):
    """An invalid contract or bundle has no digest to compare until GOV010 is fixed."""
    factory.build()
    factory.edit(rel, old, new)
    code, payload = validate(govctl, factory)
    assert code == 1
    assert sorted(set(rules(payload))) == expected
