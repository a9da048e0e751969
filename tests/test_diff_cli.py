"""`govctl diff` over real temporary git repositories (SPEC §3, §3.1, §3.2): field-level
effects, bundle digest inputs, renames, impacts, gates, formats and revisions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import git
from tests.factory import AS_OF, GUARD_BUNDLE
from tests.history_support import (
    APPROVAL,
    APPROVAL_ID,
    BOB,
    BUNDLE,
    CONTRACT,
    DAVE,
    ERIN,
    EVAL_DATA,
    MODEL,
    POLICY,
    PROMPT,
    USE_CASE,
    assert_one_line_error,
    change_of,
    commit,
    committed,
    diff_json,
    digest,
    field_of,
    head,
    sha256_hex,
)

Edit = tuple[str, str, str]  # (file, old text, new text)

# (case id, edits committed first, working-tree edits, (kind, id, path, old, new, effect))
EFFECT_CASES: list[tuple[str, list[Edit], list[Edit], tuple[Any, ...]]] = [
    # ThresholdContract
    ("max-raised", [], [(CONTRACT, "max: 0.2,", "max: 0.3,")],
     ("ThresholdContract", "triage-contract", "signals.drift.max", 0.2, 0.3, "loosened")),
    ("max-lowered", [], [(CONTRACT, "max: 0.2,", "max: 0.1,")],
     ("ThresholdContract", "triage-contract", "signals.drift.max", 0.2, 0.1, "tightened")),
    ("min-raised", [], [(CONTRACT, "min: 0.9,", "min: 0.95,")],
     ("ThresholdContract", "triage-contract", "signals.accuracy_proxy.min", 0.9, 0.95,
      "tightened")),
    ("min-lowered", [], [(CONTRACT, "min: 0.9,", "min: 0.8,")],
     ("ThresholdContract", "triage-contract", "signals.accuracy_proxy.min", 0.9, 0.8,
      "loosened")),
    ("max-removed-from-band",
     [(CONTRACT, "min: 0.9,", "min: 0.9, max: 0.99,")], [(CONTRACT, " max: 0.99,", "")],
     ("ThresholdContract", "triage-contract", "signals.accuracy_proxy.max", 0.99, None,
      "loosened")),
    ("signal-removed", [],
     [(CONTRACT, "    drift: {metric: psi, max: 0.2, window: 1d, severity: ticket}\n", "")],
     ("ThresholdContract", "triage-contract", "signals.drift",
      {"metric": "psi", "max": 0.2, "window": "1d", "severity": "ticket"}, None, "loosened")),
    ("signal-added", [],
     [(CONTRACT, "  on_breach:", "    toxicity: {metric: tox, max: 0.01, severity: page}\n"
                                 "  on_breach:")],
     ("ThresholdContract", "triage-contract", "signals.toxicity", None,
      {"metric": "tox", "max": 0.01, "severity": "page"}, "tightened")),
    ("window-lengthened", [], [(CONTRACT, "window: 5m", "window: 1h")],
     ("ThresholdContract", "triage-contract", "signals.latency.window", "5m", "1h",
      "loosened")),
    ("window-shortened", [], [(CONTRACT, "max: 0.2, window: 1d", "max: 0.2, window: 6h")],
     ("ThresholdContract", "triage-contract", "signals.drift.window", "1d", "6h",
      "tightened")),
    ("severity-page-to-ticket", [],
     [(CONTRACT, "max: 2500, window: 5m, severity: page", "max: 2500, window: 5m, "
                                                          "severity: ticket")],
     ("ThresholdContract", "triage-contract", "signals.latency.severity", "page", "ticket",
      "loosened")),
    ("severity-ticket-to-page", [],
     [(CONTRACT, "window: 1d, severity: ticket", "window: 1d, severity: page")],
     ("ThresholdContract", "triage-contract", "signals.drift.severity", "ticket", "page",
      "tightened")),
    ("action-to-page-only", [], [(CONTRACT, "action: fallback", "action: page-only")],
     ("ThresholdContract", "triage-contract", "on_breach.action", "fallback", "page-only",
      "loosened")),
    ("action-to-disable", [], [(CONTRACT, "action: fallback", "action: disable")],
     ("ThresholdContract", "triage-contract", "on_breach.action", "fallback", "disable",
      "tightened")),
    # a signal whose name holds a dot is still classified (its path is quoted)
    ("dotted-signal-max-raised",
     [(CONTRACT, "  on_breach:", '    "lat.p99": {metric: p99_ms, max: 1, severity: page}\n'
                                 "  on_breach:")],
     [(CONTRACT, '"lat.p99": {metric: p99_ms, max: 1,', '"lat.p99": {metric: p99_ms, max: 5,')],
     ("ThresholdContract", "triage-contract", 'signals."lat.p99".max', 1, 5, "loosened")),
    ("policy-independence-removed",
     [("governance.yaml", "  separation_of_duties: true\n",
       "  separation_of_duties: true\n  independence: {model-owner: [owner, team]}\n")],
     [("governance.yaml", "independence: {model-owner: [owner, team]}",
       "independence: {model-owner: [owner]}")],
     ("Policy", "acme-policy", "independence.model-owner", ["owner", "team"], ["owner"],
      "loosened")),
    # the yardstick itself moved: a reviewer must look (SPEC §3.2)
    ("metric-renamed-loosened", [], [(CONTRACT, "metric: psi", "metric: psi_v2")],
     ("ThresholdContract", "triage-contract", "signals.drift.metric", "psi", "psi_v2",
      "loosened")),
    ("query-vector-0-loosened", [],
     [(CONTRACT, "drift: {metric: psi,", "drift: {metric: psi, query: vector(0),")],
     ("ThresholdContract", "triage-contract", "signals.drift.query", None, "vector(0)",
      "loosened")),
    # UseCase
    ("tier-high-to-limited", [], [(USE_CASE, "tier: high", "tier: limited")],
     ("UseCase", "claims-triage", "risk.tier", "high", "limited", "loosened")),
    ("tier-high-to-prohibited", [], [(USE_CASE, "tier: high", "tier: prohibited")],
     ("UseCase", "claims-triage", "risk.tier", "high", "prohibited", "tightened")),
    ("exposure-lowered", [], [(USE_CASE, "exposure_usd: 50000", "exposure_usd: 10000")],
     ("UseCase", "claims-triage", "risk.exposure_usd", 50000, 10000, "loosened")),
    ("exposure-raised", [], [(USE_CASE, "exposure_usd: 50000", "exposure_usd: 2000000")],
     ("UseCase", "claims-triage", "risk.exposure_usd", 50000, 2000000, "tightened")),
    ("status-neutral", [], [(USE_CASE, "status: production", "status: approved")],
     ("UseCase", "claims-triage", "status", "production", "approved", "neutral")),
    ("title-neutral", [], [(USE_CASE, "title: Claims triage}", "title: Claims triage v2}")],
     ("UseCase", "claims-triage", "metadata.title", "Claims triage", "Claims triage v2",
      "neutral")),
    # Approval
    ("approver-removed", [], [(APPROVAL, "    - {person: carol, role: model-owner}\n", "")],
     ("Approval", APPROVAL_ID, "approvers",
      [{"person": "bob", "role": "risk-officer"}, {"person": "carol", "role": "model-owner"}],
      [{"person": "bob", "role": "risk-officer"}], "loosened")),
    ("approver-added", [],
     [(APPROVAL, "    - {person: carol, role: model-owner}\n",
       "    - {person: carol, role: model-owner}\n    - {person: alice, role: model-owner}\n")],
     ("Approval", APPROVAL_ID, "approvers",
      [{"person": "bob", "role": "risk-officer"}, {"person": "carol", "role": "model-owner"}],
      [{"person": "bob", "role": "risk-officer"}, {"person": "carol", "role": "model-owner"},
       {"person": "alice", "role": "model-owner"}], "tightened")),
    ("valid-until-extended", [], [(APPROVAL, "valid_until: 2027-03-01",
                                   "valid_until: 2027-09-01")],
     ("Approval", APPROVAL_ID, "valid_until", "2027-03-01", "2027-09-01", "loosened")),
    ("valid-until-shortened", [], [(APPROVAL, "valid_until: 2027-03-01",
                                    "valid_until: 2027-01-01")],
     ("Approval", APPROVAL_ID, "valid_until", "2027-03-01", "2027-01-01", "tightened")),
    ("condition-removed",
     [(APPROVAL, "valid_until: 2027-03-01", "valid_until: 2027-03-01\n"
                                            "  conditions: [human review of payouts, "
                                            "weekly drift report]")],
     [(APPROVAL, "[human review of payouts, weekly drift report]", "[weekly drift report]")],
     ("Approval", APPROVAL_ID, "conditions", ["human review of payouts", "weekly drift report"],
      ["weekly drift report"], "loosened")),
    ("decision-rejected-to-approved",
     [(APPROVAL, "decision: approved", "decision: rejected")],
     [(APPROVAL, "decision: rejected", "decision: approved")],
     ("Approval", APPROVAL_ID, "decision", "rejected", "approved", "loosened")),
    ("decision-rejected-to-conditional",
     [(APPROVAL, "decision: approved", "decision: rejected")],
     [(APPROVAL, "decision: rejected", "decision: conditional")],
     ("Approval", APPROVAL_ID, "decision", "rejected", "conditional", "loosened")),
    ("decision-approved-to-rejected", [],
     [(APPROVAL, "decision: approved", "decision: rejected")],
     ("Approval", APPROVAL_ID, "decision", "approved", "rejected", "tightened")),
    # an approval edited in place: a decision already taken (SPEC §3.2)
    ("approval-date-later", [], [(APPROVAL, "date: 2026-10-01", "date: 2026-12-01")],
     ("Approval", APPROVAL_ID, "date", "2026-10-01", "2026-12-01", "loosened")),
    ("approval-population", [],
     [(APPROVAL, "population: Home-insurance claimants, Nordics",
       "population: All claimants")],
     ("Approval", APPROVAL_ID, "population", "Home-insurance claimants, Nordics",
      "All claimants", "loosened")),
    ("approval-eval-results", [],
     [(APPROVAL, "triage_agreement: 0.94", "triage_agreement: 0.99")],
     ("Approval", APPROVAL_ID, "eval.results.triage_agreement", 0.94, 0.99, "loosened")),
    ("approval-approved-to-conditional", [],
     [(APPROVAL, "decision: approved", "decision: conditional")],
     ("Approval", APPROVAL_ID, "decision", "approved", "conditional", "loosened")),
    # Person and Team: who may approve, who is paged
    ("person-role-added", [],
     [("people.yaml", "email: bob@acme.test, roles: [risk-officer]",
       "email: bob@acme.test, roles: [risk-officer, model-owner]")],
     ("Person", "bob", "roles", ["risk-officer"], ["risk-officer", "model-owner"],
      "loosened")),
    ("person-role-removed", [],
     [("people.yaml", "email: carol@acme.test, roles: [model-owner]",
       "email: carol@acme.test, roles: []")],
     ("Person", "carol", "roles", ["model-owner"], [], "tightened")),
    ("person-key-added", [],
     [("people.yaml", "email: bob@acme.test, roles: [risk-officer]",
       "email: bob@acme.test, roles: [risk-officer], signing_keys: ["
       + "'" + "A" * 40 + "']")],
     ("Person", "bob", "signing_keys", None, ["A" * 40], "loosened")),
    ("team-member-added", [],
     [("teams/claims.yaml", "members: [alice, carol]", "members: [alice, carol, bob]")],
     ("Team", "claims-ml", "members", ["alice", "carol"], ["alice", "carol", "bob"],
      "loosened")),
    ("team-rotation-changed", [],
     [("teams/claims.yaml", "rotation: claims-ml-primary", "rotation: nobody-primary")],
     ("Team", "claims-ml", "oncall.rotation", "claims-ml-primary", "nobody-primary",
      "loosened")),
    # Policy
    ("policy-role-removed", [],
     [(POLICY, "approvals: [{role: risk-officer}, {role: model-owner}]",
       "approvals: [{role: model-owner}]")],
     ("Policy", "acme-policy", "risk_tiers.high.approvals",
      [{"role": "risk-officer"}, {"role": "model-owner"}], [{"role": "model-owner"}],
      "loosened")),
    ("policy-count-lowered",
     [(POLICY, "approvals: [{role: risk-officer}, {role: model-owner}]",
       "approvals: [{role: risk-officer}, {role: model-owner, count: 2}]")],
     [(POLICY, "{role: model-owner, count: 2}", "{role: model-owner, count: 1}")],
     ("Policy", "acme-policy", "risk_tiers.high.approvals",
      [{"role": "risk-officer"}, {"role": "model-owner", "count": 2}],
      [{"role": "risk-officer"}, {"role": "model-owner", "count": 1}], "loosened")),
    ("policy-count-raised", [],
     [(POLICY, "approvals: [{role: risk-officer}, {role: model-owner}]",
       "approvals: [{role: risk-officer}, {role: model-owner, count: 2}]")],
     ("Policy", "acme-policy", "risk_tiers.high.approvals",
      [{"role": "risk-officer"}, {"role": "model-owner"}],
      [{"role": "risk-officer"}, {"role": "model-owner", "count": 2}], "tightened")),
    ("policy-signal-removed", [],
     [(POLICY, "[latency, accuracy_proxy, drift, abuse, fallback]",
       "[latency, accuracy_proxy, drift, abuse]")],
     ("Policy", "acme-policy", "signals.required",
      ["latency", "accuracy_proxy", "drift", "abuse", "fallback"],
      ["latency", "accuracy_proxy", "drift", "abuse"], "loosened")),
    ("policy-signals-default-to-shorter-list",
     [(POLICY, "  signals:\n    required: [latency, accuracy_proxy, drift, abuse, fallback]\n",
       "")],
     [(POLICY, "  risk_tiers:", "  signals: {required: [latency, drift]}\n  risk_tiers:")],
     ("Policy", "acme-policy", "signals.required", None, ["latency", "drift"], "loosened")),
    ("policy-min-usd-raised", [], [(POLICY, "min_usd: 1000000", "min_usd: 5000000")],
     ("Policy", "acme-policy", "exposure_rules",
      [{"min_usd": 1000000, "require": [{"role": "cfo"}]}],
      [{"min_usd": 5000000, "require": [{"role": "cfo"}]}], "loosened")),
    ("policy-min-usd-lowered", [], [(POLICY, "min_usd: 1000000", "min_usd: 250000")],
     ("Policy", "acme-policy", "exposure_rules",
      [{"min_usd": 1000000, "require": [{"role": "cfo"}]}],
      [{"min_usd": 250000, "require": [{"role": "cfo"}]}], "tightened")),
    ("policy-exposure-rule-removed", [],
     [(POLICY, "  exposure_rules:\n    - {min_usd: 1000000, require: [{role: cfo}]}\n",
       "  exposure_rules: []\n")],
     ("Policy", "acme-policy", "exposure_rules",
      [{"min_usd": 1000000, "require": [{"role": "cfo"}]}], [], "loosened")),
    ("policy-allowed-false-to-true", [],
     [(POLICY, "prohibited: {allowed: false", "prohibited: {allowed: true")],
     ("Policy", "acme-policy", "risk_tiers.prohibited.allowed", False, True, "loosened")),
    ("policy-allowed-true-to-false", [],
     [(POLICY, "limited: {allowed: true", "limited: {allowed: false")],
     ("Policy", "acme-policy", "risk_tiers.limited.allowed", True, False, "tightened")),
    ("policy-max-validity-raised", [],
     [(POLICY, "max_validity_days: 180", "max_validity_days: 365")],
     ("Policy", "acme-policy", "risk_tiers.high.max_validity_days", 180, 365, "loosened")),
    ("policy-max-validity-lowered", [],
     [(POLICY, "max_validity_days: 180", "max_validity_days: 90")],
     ("Policy", "acme-policy", "risk_tiers.high.max_validity_days", 180, 90, "tightened")),
    ("policy-eval-age-raised", [],
     [(POLICY, "eval_max_age_days: 180", "eval_max_age_days: 400")],
     ("Policy", "acme-policy", "eval_max_age_days", 180, 400, "loosened")),
    ("policy-notice-lowered", [],
     [(POLICY, "deprecation_notice_days: 90", "deprecation_notice_days: 30")],
     ("Policy", "acme-policy", "deprecation_notice_days", 90, 30, "loosened")),
    ("policy-notice-raised", [],
     [(POLICY, "deprecation_notice_days: 90", "deprecation_notice_days: 120")],
     ("Policy", "acme-policy", "deprecation_notice_days", 90, 120, "tightened")),
    ("policy-sod-off", [],
     [(POLICY, "separation_of_duties: true", "separation_of_duties: false")],
     ("Policy", "acme-policy", "separation_of_duties", True, False, "loosened")),
    ("policy-provenance-signed-to-author",
     [(POLICY, "provenance: author", "provenance: signed")],
     [(POLICY, "provenance: signed", "provenance: author")],
     ("Policy", "acme-policy", "approvals.provenance", "signed", "author", "loosened")),
    ("policy-provenance-author-to-none", [],
     [(POLICY, "provenance: author", "provenance: none")],
     ("Policy", "acme-policy", "approvals.provenance", "author", "none", "loosened")),
    ("policy-provenance-author-to-signed", [],
     [(POLICY, "provenance: author", "provenance: signed")],
     ("Policy", "acme-policy", "approvals.provenance", "author", "signed", "tightened")),
    ("policy-rule-error-to-warning",
     [(POLICY, "approvals: {provenance: author}\n",
       "approvals: {provenance: author}\n  rules: {GOV034: error}\n")],
     [(POLICY, "GOV034: error", "GOV034: warning")],
     ("Policy", "acme-policy", "rules.GOV034", "error", "warning", "loosened")),
    ("policy-rule-default-error-to-off", [],
     [(POLICY, "approvals: {provenance: author}\n",
       "approvals: {provenance: author}\n  rules: {GOV080: 'off'}\n")],
     ("Policy", "acme-policy", "rules.GOV080", None, "off", "loosened")),
    ("policy-rule-default-warning-to-error", [],
     [(POLICY, "approvals: {provenance: author}\n",
       "approvals: {provenance: author}\n  rules: {GOV042: error}\n")],
     ("Policy", "acme-policy", "rules.GOV042", None, "error", "tightened")),
    ("policy-organization-neutral", [],
     [(POLICY, "organization: Acme Insurance", "organization: Acme Insurance AB")],
     ("Policy", "acme-policy", "organization", "Acme Insurance", "Acme Insurance AB",
      "neutral")),
]


def _apply(factory: Any, edits: list[Edit]) -> None:
    for rel, old, new in edits:
        factory.edit(rel, old, new)


@pytest.mark.parametrize(("before", "edits", "expected"),
                         [pytest.param(b, e, x, id=i) for i, b, e, x in EFFECT_CASES])
def test_field_effect(govctl, factory, before, edits, expected):
    committed(factory)
    if before:
        _apply(factory, before)
        commit(factory.root, BOB, "2026-10-02T09:00:00Z", "set up")
    base = head(factory.root)
    _apply(factory, edits)
    payload = diff_json(govctl, factory.root, "HEAD")
    kind, record_id, path, old, new, effect = expected
    assert payload["base"] == base
    assert payload["head"] == "WORKTREE"
    assert len(payload["changes"]) == 1, payload["changes"]
    change = change_of(payload, kind, record_id)
    assert change["change"] == "modified"
    assert change["fields"] == [{"path": path, "old": old, "new": new, "effect": effect}]


def test_metadata_title_of_a_bundle_is_neutral_and_stales_nothing(govctl, factory):
    committed(factory)
    factory.edit(BUNDLE, "title: Claims triage assistant", "title: Claims triage helper")
    payload = diff_json(govctl, factory.root, "HEAD")
    change = change_of(payload, "Bundle", "triage")
    assert change["fields"] == [{"path": "metadata.title", "old": "Claims triage assistant",
                                 "new": "Claims triage helper", "effect": "neutral"}]
    assert payload["impacts"] == []
    assert govctl("diff", "HEAD", "--root", factory.root, "--fail-on", "reapproval",
                  "--as-of", AS_OF).code == 0


# -- bundle digest inputs ------------------------------------------------------------------


def test_prompt_byte_change_is_reapproval_with_old_and_new_hashes(govctl, factory):
    committed(factory)
    old_bytes = (factory.root / PROMPT).read_bytes()
    new_bytes = old_bytes + b"\n"  # one byte: still a reapproval
    factory.write(PROMPT, new_bytes)
    payload = diff_json(govctl, factory.root, "HEAD")
    assert [(c["kind"], c["id"]) for c in payload["changes"]] == [("Bundle", "triage")]
    change = change_of(payload, "Bundle", "triage")
    assert change["change"] == "modified"
    assert change["file"] == BUNDLE
    assert change["fields"] == [{
        "path": "prompt.template.sha256", "old": sha256_hex(old_bytes),
        "new": sha256_hex(new_bytes), "effect": "reapproval",
        # the text that changed: one empty line added at the end
        "text_diff": "--- a/prompts/triage.md\n+++ b/prompts/triage.md\n@@ -1,2 +1,3 @@\n"
                     " You triage claims.\n Claim: {{claim_text}}\n+"}]
    stale = [(f["rule"], f["record"], f["file"]) for f in payload["impacts"]]
    assert stale == [("GOV031", f"Approval/{APPROVAL_ID}", APPROVAL)]


def test_tool_schema_change_is_reapproval(govctl, factory):
    committed(factory)
    old_bytes = (factory.root / "tools/lookup.json").read_bytes()
    factory.write("tools/lookup.json", '{"type": "object", "required": ["policy"]}\n')
    change = change_of(diff_json(govctl, factory.root, "HEAD"), "Bundle", "triage")
    field = field_of(change, "tools[0].schema.sha256")
    assert field["old"] == sha256_hex(old_bytes)
    assert field["effect"] == "reapproval"


def test_model_snapshot_change_is_reapproval_on_the_bundle(govctl, factory):
    committed(factory)
    factory.edit(MODEL, "snapshot: vendor-chat-2026-03-14", "snapshot: vendor-chat-2026-05-02")
    payload = diff_json(govctl, factory.root, "HEAD")
    bundle = change_of(payload, "Bundle", "triage")
    assert bundle["file"] == BUNDLE
    assert bundle["fields"] == [{"path": "model.snapshot", "old": "vendor-chat-2026-03-14",
                                 "new": "vendor-chat-2026-05-02", "effect": "reapproval"}]
    model = change_of(payload, "Model", "chat-2026-03")
    assert field_of(model, "snapshot")["effect"] == "reapproval"
    assert [f["rule"] for f in payload["impacts"]] == ["GOV031"]


def test_model_lifecycle_change_is_not_reapproval(govctl, factory):
    committed(factory)
    factory.edit(MODEL, 'lifecycle: {released: "2026-03-14"}',
                 'lifecycle: {released: "2026-03-14", deprecation: "2027-06-01"}')
    payload = diff_json(govctl, factory.root, "HEAD")
    assert [(c["kind"], c["id"]) for c in payload["changes"]] == [("Model", "chat-2026-03")]
    model = change_of(payload, "Model", "chat-2026-03")
    assert model["fields"] == [{"path": "lifecycle.deprecation", "old": None,
                                "new": "2027-06-01", "effect": "neutral"}]
    assert payload["impacts"] == []


def test_eval_file_change_is_reapproval_of_eval_set(govctl, factory):
    committed(factory)
    old_bytes = (factory.root / EVAL_DATA).read_bytes()
    new_bytes = old_bytes + b'{"claim": "Fire", "expected": "escalate"}\n'
    factory.write(EVAL_DATA, new_bytes)
    payload = diff_json(govctl, factory.root, "HEAD")
    bundle = change_of(payload, "Bundle", "triage")
    assert bundle["fields"] == [{"path": "eval_set", "old": "sha256:" + sha256_hex(old_bytes),
                                 "new": "sha256:" + sha256_hex(new_bytes),
                                 "effect": "reapproval",
                                 "text_diff": "--- a/data/claims-eval.jsonl\n"
                                 "+++ b/data/claims-eval.jsonl\n@@ -1 +1,2 @@\n"
                                 ' {"claim": "Water leak", "expected": "open_case"}\n'
                                 '+{"claim": "Fire", "expected": "escalate"}'}]
    assert [f["rule"] for f in payload["impacts"]] == ["GOV031"]


AGENT_FILES = {
    "bundles/guard.yaml": GUARD_BUNDLE,
    "bundles/agent.yaml": """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: agent}
spec:
  class: agentic
  model: chat-2026-03
  prompt: {template: prompts/triage.md}
  components: [triage, guard]
  eval_set: claims-eval
""",
}


def test_component_change_is_reapproval_of_the_parent_agent(govctl, factory):
    factory.files.update(AGENT_FILES)
    committed(factory)
    old_guard = digest(govctl, factory.root, "guard")
    old_agent = digest(govctl, factory.root, "agent")
    factory.edit("bundles/guard.yaml", "threshold: 0.5", "threshold: 0.7")
    new_guard = digest(govctl, factory.root, "guard")
    assert new_guard != old_guard
    payload = diff_json(govctl, factory.root, "HEAD")
    guard = change_of(payload, "Bundle", "guard")
    assert guard["fields"] == [{"path": "params.threshold", "old": 0.5, "new": 0.7,
                                "effect": "reapproval"}]
    agent = change_of(payload, "Bundle", "agent")
    assert agent["file"] == "bundles/agent.yaml"
    # the component by name, with what changed inside it
    assert agent["fields"] == [{"path": "components[1]", "old": old_guard, "new": new_guard,
                                "effect": "reapproval", "component": "guard",
                                "changes": [{"path": "params.threshold", "old": 0.5,
                                             "new": 0.7, "effect": "reapproval"}]}]
    assert digest(govctl, factory.root, "agent") != old_agent
    # the triage bundle (component 0) did not change and is not listed
    assert {(c["kind"], c["id"]) for c in payload["changes"]} == {("Bundle", "guard"),
                                                                  ("Bundle", "agent")}


# -- records added, removed, renamed ---------------------------------------------------------


def test_moved_record_is_renamed_not_removed_and_added(govctl, factory):
    committed(factory)
    git(factory.root, "mv", USE_CASE, "use-cases/claims-triage.yaml")
    payload = diff_json(govctl, factory.root, "HEAD")
    assert payload["changes"] == [{"kind": "UseCase", "id": "claims-triage",
                                   "change": "renamed", "file": "use-cases/claims-triage.yaml",
                                   "old_file": USE_CASE, "fields": []}]
    assert payload["impacts"] == []


def test_moved_and_edited_record_is_renamed_with_its_fields(govctl, factory):
    committed(factory)
    text = (factory.root / CONTRACT).read_text().replace("max: 0.2,", "max: 0.25,")
    (factory.root / CONTRACT).unlink()
    factory.write("contracts/claims/triage.yaml", text)
    payload = diff_json(govctl, factory.root, "HEAD")
    change = change_of(payload, "ThresholdContract", "triage-contract")
    assert change["change"] == "renamed"
    assert change["file"] == "contracts/claims/triage.yaml"
    assert change["old_file"] == CONTRACT
    assert change["fields"] == [{"path": "signals.drift.max", "old": 0.2, "new": 0.25,
                                 "effect": "loosened"}]


def test_record_moved_into_a_multi_record_file_is_renamed(govctl, factory):
    committed(factory)
    incident = (factory.root / "incidents/2026-10-15.yaml").read_text()
    factory.remove("incidents/2026-10-15.yaml")
    factory.write("incidents/2026.yaml", incident + "---\n" + incident.replace(
        "inc-2026-10-15", "inc-2026-11-02").replace("2026-10-15T08:30:00Z",
                                                    "2026-11-02T08:30:00Z"))
    payload = diff_json(govctl, factory.root, "HEAD")
    moved = change_of(payload, "Incident", "inc-2026-10-15")
    assert (moved["change"], moved["file"], moved["old_file"]) == (
        "renamed", "incidents/2026.yaml", "incidents/2026-10-15.yaml")
    added = change_of(payload, "Incident", "inc-2026-11-02")
    assert (added["change"], added["file"], added["fields"]) == (
        "added", "incidents/2026.yaml", [])
    assert "old_file" not in added


def test_added_and_removed_records(govctl, factory):
    committed(factory)
    factory.write("people/dave.yaml", "apiVersion: govctl/v1\nkind: Person\n"
                  "metadata: {id: dave}\nspec: {name: Dave Dev, email: dave@acme.test}\n")
    factory.remove("incidents/2026-10-15.yaml")
    payload = diff_json(govctl, factory.root, "HEAD")
    assert payload["changes"] == [
        {"kind": "Incident", "id": "inc-2026-10-15", "change": "removed",
         "file": "incidents/2026-10-15.yaml", "fields": []},
        {"kind": "Person", "id": "dave", "change": "added", "file": "people/dave.yaml",
         "fields": []},
    ]


def test_removing_the_approval_lists_the_new_error_as_an_impact(govctl, factory):
    committed(factory)
    factory.remove(APPROVAL)
    payload = diff_json(govctl, factory.root, "HEAD")
    assert change_of(payload, "Approval", APPROVAL_ID)["change"] == "removed"
    assert [(f["rule"], f["record"]) for f in payload["impacts"]] == [
        ("GOV030", "UseCase/claims-triage")]


# -- impacts and gates -------------------------------------------------------------------------


def test_impacts_name_each_stale_approval_once_by_rule(govctl, factory):
    committed(factory)
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.1,")  # tightened, still GOV032
    factory.edit(PROMPT, "You triage", "You triage carefully")
    payload = diff_json(govctl, factory.root, "HEAD")
    impacts = [(f["rule"], f["record"], f["file"], f["severity"]) for f in payload["impacts"]]
    assert impacts == [("GOV031", f"Approval/{APPROVAL_ID}", APPROVAL, "error"),
                       ("GOV032", f"Approval/{APPROVAL_ID}", APPROVAL, "error")]
    gov031 = payload["impacts"][0]
    assert gov031["line"] == factory.line_of(APPROVAL, "bundle:")
    assert set(gov031) == {"rule", "severity", "file", "line", "column", "record", "message",
                           "related"}
    # where the change is: the prompt's changed line (SPEC §2 related)
    assert [(r["file"], r["line"]) for r in gov031["related"]] == [(PROMPT, 1)]
    assert "prompt.template.sha256" in gov031["related"][0]["message"]


def test_an_approval_stale_before_the_change_is_not_an_impact(govctl, factory):
    committed(factory)
    factory.edit(PROMPT, "You triage", "You triage carefully")
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "prompt")
    factory.edit(PROMPT, "carefully", "very carefully")
    payload = diff_json(govctl, factory.root, "HEAD")
    assert change_of(payload, "Bundle", "triage")["fields"][0]["effect"] == "reapproval"
    assert payload["impacts"] == []


def _gate(govctl: Any, root: Any, gate: str) -> int:
    result = govctl("diff", "HEAD", "--root", root, "--fail-on", gate, "--as-of", AS_OF)
    assert result.stderr == ""
    return result.code


@pytest.mark.parametrize(("edit", "codes"), [
    pytest.param((CONTRACT, "max: 0.2,", "max: 0.3,"),
                 {"loosened": 1, "reapproval": 1, "any": 1, None: 0}, id="loosened-contract"),
    pytest.param((USE_CASE, "exposure_usd: 50000", "exposure_usd: 100"),
                 {"loosened": 1, "reapproval": 0, "any": 1, None: 0}, id="loosened-use-case"),
    pytest.param((USE_CASE, "exposure_usd: 50000", "exposure_usd: 60000"),
                 {"loosened": 0, "reapproval": 0, "any": 1, None: 0}, id="tightened"),
    pytest.param((PROMPT, "You triage", "You sort"),
                 {"loosened": 0, "reapproval": 1, "any": 1, None: 0}, id="reapproval"),
    pytest.param((USE_CASE, "title: Claims triage}", "title: Triage}"),
                 {"loosened": 0, "reapproval": 0, "any": 1, None: 0}, id="neutral"),
    pytest.param(None, {"loosened": 0, "reapproval": 0, "any": 0, None: 0}, id="no-change"),
])
def test_fail_on_gates(govctl, factory, edit, codes):
    committed(factory)
    if edit is not None:
        factory.edit(*edit)
    for gate, code in codes.items():
        if gate is None:
            result = govctl("diff", "HEAD", "--root", factory.root, "--as-of", AS_OF)
            assert result.code == code, result.stderr
        else:
            assert _gate(govctl, factory.root, gate) == code, gate


def test_fail_on_reapproval_trips_on_a_stale_approval_impact_alone(govctl, factory):
    """The use case switches to a copy of its bundle: no bundle's digest inputs change, but
    the approval names another bundle now (GOV031)."""
    committed(factory)
    copy = (factory.root / BUNDLE).read_text().replace("id: triage,", "id: triage-v2,")
    factory.write("bundles/triage-v2.yaml", copy)
    factory.edit(USE_CASE, "bundle: triage", "bundle: triage-v2")
    payload = diff_json(govctl, factory.root, "HEAD")
    effects = {f["effect"] for c in payload["changes"] for f in c["fields"]}
    assert "reapproval" not in effects and "loosened" not in effects
    assert [(f["rule"], f["record"]) for f in payload["impacts"]] == [
        ("GOV031", f"Approval/{APPROVAL_ID}")]
    assert _gate(govctl, factory.root, "reapproval") == 1
    assert _gate(govctl, factory.root, "loosened") == 0


def test_fail_on_rejects_an_unknown_gate(govctl, factory):
    committed(factory)
    result = govctl("diff", "HEAD", "--root", factory.root, "--fail-on", "tightened")
    assert_one_line_error(result, "--fail-on")


# -- formats ---------------------------------------------------------------------------------


def test_json_shape_is_exactly_spec(govctl, factory):
    base = committed(factory)
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    result = govctl("diff", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    # SPEC §3.1's keys in its order, then govctl's own (README: unapproved, reapproval...)
    assert list(payload) == ["version", "base", "head", "changes", "impacts",
                             "stale_approvals", "unapproved", "reapproval", "reapproved"]
    assert payload["stale_approvals"] == ["claims-triage-2026-10-01"]
    assert payload["unapproved"] == ["claims-triage"]
    assert payload["version"] == 1
    assert payload["base"] == base and len(base) == 40
    assert payload["head"] == "WORKTREE"
    (change,) = payload["changes"]
    assert list(change) == ["kind", "id", "change", "file", "fields"]
    (field,) = change["fields"]
    assert list(field) == ["path", "old", "new", "effect"]
    (impact,) = payload["impacts"]
    assert impact["rule"] == "GOV032"


def test_markdown_summary_then_attention_table_first(govctl, factory):
    committed(factory)
    factory.edit(USE_CASE, "title: Claims triage}", "title: Claims triage (Nordics)}")
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    factory.edit(PROMPT, "You triage", "You sort")
    result = govctl("diff", "HEAD", "--root", factory.root, "--format", "markdown",
                    "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    text = result.stdout
    lines = text.splitlines()
    # the verdict first: what loosened, what went stale, whom the Policy asks
    assert lines[0] == ("### ❌ govctl: 1 control loosened · 1 approval made stale · "
                        "re\\-approval needed from\\: model\\-owner\\, risk\\-officer"), lines[0]
    assert lines[2].endswith("3 records changed\\, 1 needs re\\-approval\\, 2 new errors")
    needed = text.index("| `claims-triage` | `model-owner`, `risk-officer` | "
                        "`claims-triage-2026-10-01` |")
    command = text.index("govctl approve claims-triage --approver PERSON:model-owner "
                         "--approver PERSON:risk-officer")
    attention = text.index("| `ThresholdContract/triage-contract` | "
                           "`signals.drift.max` | 0.2 | 0.3 |")
    reapproval = text.index("| `Bundle/triage` | `prompt.template.sha256` |")
    prompt = text.index("-You triage claims.\n+You sort claims.\n")
    other = text.index("Other changes")
    neutral = text.index("| neutral | `UseCase/claims-triage` | `metadata.title` |")
    assert needed < command < attention < reapproval < prompt < other < neutral
    assert "`GOV031`" in text and "`GOV032`" in text


def test_markdown_escapes_pipes_in_values(govctl, factory):
    committed(factory)
    factory.edit(USE_CASE, "title: Claims triage}", "title: 'Claims | triage'}")
    text = govctl("diff", "HEAD", "--root", factory.root, "--format", "markdown",
                  "--as-of", AS_OF).stdout
    assert "Claims \\| triage" in text


def test_text_output_lists_loosened_before_neutral(govctl, factory):
    committed(factory)
    factory.edit(USE_CASE, "title: Claims triage}", "title: Triage}")
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    result = govctl("diff", "HEAD", "--root", factory.root, "--as-of", AS_OF)
    assert result.code == 0
    out = result.stdout
    assert out.splitlines()[0].startswith("govctl diff ")
    assert "signals.drift.max: 0.2 → 0.3  loosened" in out
    assert out.index("ThresholdContract/triage-contract") < out.index("UseCase/claims-triage")
    assert "GOV032" in out


# -- revisions ------------------------------------------------------------------------------


def test_explicit_base_and_head_commits(govctl, factory):
    first = committed(factory)
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    second = commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "loosen drift")
    factory.edit(USE_CASE, "tier: high", "tier: limited")  # uncommitted: not in BASE..HEAD
    payload = diff_json(govctl, factory.root, first, second)
    assert (payload["base"], payload["head"]) == (first, second)
    assert [(c["kind"], c["id"]) for c in payload["changes"]] == [
        ("ThresholdContract", "triage-contract")]
    # symbolic revisions resolve to full shas
    payload = diff_json(govctl, factory.root, "HEAD~1", "HEAD")
    assert (payload["base"], payload["head"]) == (first, second)
    # reversed: the same field is tightened
    payload = diff_json(govctl, factory.root, second, first)
    field = field_of(change_of(payload, "ThresholdContract", "triage-contract"),
                     "signals.drift.max")
    assert (field["old"], field["new"], field["effect"]) == (0.3, 0.2, "tightened")


def test_default_base_is_the_merge_base_with_main(govctl, factory):
    fork = committed(factory)
    git(factory.root, "checkout", "-q", "-b", "feature")
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "feature work")
    git(factory.root, "checkout", "-q", "main")
    factory.edit(POLICY, "organization: Acme Insurance", "organization: Acme Insurance AB")
    commit(factory.root, ERIN, "2026-10-03T09:00:00Z", "main moves on")
    git(factory.root, "checkout", "-q", "feature")
    factory.edit(USE_CASE, "status: production", "status: approved")  # working tree
    payload = diff_json(govctl, factory.root, cwd=factory.root)
    assert payload["base"] == fork
    assert payload["head"] == "WORKTREE"
    # the feature's commit and working tree are in; main's later commit is not
    assert [(c["kind"], c["id"]) for c in payload["changes"]] == [
        ("ThresholdContract", "triage-contract"), ("UseCase", "claims-triage")]


def test_default_base_on_main_is_head(govctl, factory):
    base = committed(factory)
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    payload = diff_json(govctl, factory.root)
    assert payload["base"] == base
    assert [c["id"] for c in payload["changes"]] == ["triage-contract"]


@pytest.mark.parametrize("rev", ["no-such-branch", "HEAD~5", "-p", "0123456789abcdef"])
def test_bad_revision_exits_2_with_one_line(govctl, factory, rev):
    committed(factory)
    result = govctl("diff", rev, "--root", factory.root, "--as-of", AS_OF)
    assert_one_line_error(result, rev)


def test_bad_head_revision_exits_2(govctl, factory):
    committed(factory)
    result = govctl("diff", "HEAD", "nope", "--root", factory.root)
    assert_one_line_error(result, "nope")


def test_repository_without_commits_exits_2(govctl, factory):
    factory.build()
    git(factory.root, "init", "-q", "-b", "main")
    result = govctl("diff", "--root", factory.root)
    assert_one_line_error(result, "no commits")
