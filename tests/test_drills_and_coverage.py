"""Tabletop drills and governance coverage (SPEC §1.2 Exercise, `response`, Policy
`exercises`/`coverage`; §2 GOV043; §3.5; §3.6), over real git repositories."""

from __future__ import annotations

import html.parser
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_program
from tests.factory import AS_OF, DOCS_TEAM, DOCS_USE_CASE, RepoFactory
from tests.history_support import BOB, BUNDLE, CAROL, MODEL, USE_CASE, commit, committed

EXERCISE = "exercises/triage-2026-10-20.yaml"
EXERCISE_TEXT = """\
apiVersion: govctl/v1
kind: Exercise
metadata: {id: triage-drill-2026-10-20}
spec:
  use_case: claims-triage
  date: 2026-10-20
  scenario: The triage model routes every water-damage claim to the wrong queue.
  participants: [alice, bob]
  gaps:
    - {step: customer, summary: Nobody owns the claimant letter, owner: alice,
       due: 2026-11-10, status: closed}
"""
NO_DRILLS = "  exercises: {tiers: []}\n"  # what the shared factory's Policy says
RESPONSE = """\
  response:
    offline_authority: [alice, bob]
    customer_comms: alice
    regulator_contact: bob
    logging: {digest_logged: true, retention_days: 400}
"""
RECEIVER = """\
    receiver:
      webhook_configs:
        - url: https://hooks.acme.test/claims-ml/page
"""
STEPS = ["detection", "escalation", "offline", "customer", "rollback", "reconstruction",
         "disclosure"]


@pytest.fixture
def drilled(factory: RepoFactory) -> RepoFactory:
    """The factory under the SPEC's default Policy.exercises (a drill a year for the high
    tier) with the Exercise its production use case needs."""
    policy = str(factory.files["governance.yaml"])
    assert NO_DRILLS in policy
    factory.files["governance.yaml"] = policy.replace(NO_DRILLS, "")
    factory.files[EXERCISE] = EXERCISE_TEXT
    return factory


def wired(factory: RepoFactory) -> RepoFactory:
    """The factory's team with an Alertmanager receiver: its pages reach someone."""
    team = str(factory.files["teams/claims.yaml"])
    factory.files["teams/claims.yaml"] = team.replace(
        "  oncall: {rotation: claims-ml-primary, pager: pagerduty:claims-ml, "
        "escalation: [alice]}\n",
        "  oncall:\n    rotation: claims-ml-primary\n    pager: pagerduty:claims-ml\n"
        "    escalation: [alice]\n" + RECEIVER)
    assert factory.files["teams/claims.yaml"] != team
    return factory


def findings(govctl: Any, root: Path, *args: str) -> list[dict[str, Any]]:
    result = govctl("validate", "--root", root, "--format", "json", "--as-of", AS_OF, *args)
    payload = result.json()
    return [f for f in payload["findings"]]


def gov043(govctl: Any, root: Path) -> list[dict[str, Any]]:
    return [f for f in findings(govctl, root) if f["rule"] == "GOV043"]


def with_response(factory: RepoFactory, text: str = RESPONSE) -> None:
    factory.write(USE_CASE, (factory.root / USE_CASE).read_text() + text)


def drill(govctl: Any, root: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = govctl("drill", "claims-triage", "--root", root, "--format", "json",
                    "--as-of", AS_OF, *args)
    assert result.code == code, (result.code, result.stdout, result.stderr)
    payload = result.json()
    assert [s["step"] for s in payload["steps"]] == STEPS
    assert payload["gaps"] == sum(1 for s in payload["steps"] if not s["ready"])
    return payload


def step(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in payload["steps"] if s["step"] == name)


def facts(entry: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in entry["facts"]}


# == GOV043 ===================================================================================


def test_a_recent_exercise_is_clean(govctl, drilled):
    assert gov043(govctl, drilled.build().root) == []


def test_no_exercise_for_a_high_tier_production_use_case_is_gov043(govctl, drilled):
    del drilled.files[EXERCISE]
    root = drilled.build().root
    (finding,) = gov043(govctl, root)
    assert finding["severity"] == "warning"
    assert finding["file"] == USE_CASE and finding["line"] == 4  # the `spec:` key
    assert "no tabletop Exercise" in finding["message"]
    assert "govctl drill claims-triage" in finding["message"]


def test_an_exercise_older_than_every_days_is_gov043(govctl, drilled):
    root = drilled.build().root
    drilled.edit("governance.yaml", "separation_of_duties:",
                 "exercises: {every_days: 30}\n  separation_of_duties:")
    (finding,) = gov043(govctl, root)  # 2026-10-20 + 30 days = 2026-11-19 < 2026-11-27
    assert "older than 30 days" in finding["message"] and "due 2026-11-19" in finding["message"]
    drilled.edit("governance.yaml", "every_days: 30", "every_days: 38")  # due 2026-11-27
    assert gov043(govctl, root) == []


def test_an_exercise_after_the_as_of_day_does_not_count(govctl, drilled):
    root = drilled.build().root
    drilled.edit(EXERCISE, "date: 2026-10-20", "date: 2026-11-28")
    (finding,) = gov043(govctl, root)
    assert "no tabletop Exercise" in finding["message"]


def test_only_the_listed_tiers_need_a_drill(govctl, drilled):
    del drilled.files[EXERCISE]
    root = drilled.build().root
    drilled.edit("governance.yaml", "separation_of_duties:",
                 "exercises: {tiers: [limited]}\n  separation_of_duties:")
    assert gov043(govctl, root) == []


def test_a_gap_open_past_its_due_date_is_gov043_at_the_gap(govctl, drilled):
    root = drilled.build().root
    drilled.edit(EXERCISE, "status: closed", "status: open")
    (finding,) = gov043(govctl, root)
    assert finding["file"] == EXERCISE and finding["line"] == 11
    assert "customer gap" in finding["message"] and "2026-11-10" in finding["message"]
    drilled.edit(EXERCISE, "due: 2026-11-10", "due: 2026-11-27")  # due today: not yet late
    assert gov043(govctl, root) == []


def test_exercise_references_are_checked(govctl, drilled):
    root = drilled.build().root
    drilled.edit(EXERCISE, "participants: [alice, bob]", "participants: [alice, nobody]")
    drilled.edit(EXERCISE, "use_case: claims-triage", "use_case: claims-triaje")
    missing = [f for f in findings(govctl, root) if f["rule"] == "GOV020"]
    assert {f["line"] for f in missing} == {5, 8}
    assert any("claims-triaje" in f["message"] for f in missing)


# == coverage =================================================================================


def coverage(govctl: Any, root: Path, *args: object, code: int | None = None
             ) -> dict[str, Any]:
    result = govctl("coverage", "--root", root, "--format", "json", "--as-of", AS_OF, *args)
    payload = result.json()
    expected = 1 if payload["share"] < payload["min"] else 0
    assert result.code == (expected if code is None else code), result.stderr
    return payload


def controls(payload: dict[str, Any], use_case: str = "claims-triage") -> dict[str, Any]:
    return next(u for u in payload["use_cases"] if u["id"] == use_case)["controls"]


def test_coverage_counts_each_control_and_the_share(govctl, drilled):
    drilled.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    drilled.files["teams/docs.yaml"] = DOCS_TEAM
    root = drilled.build().root
    payload = coverage(govctl, root, code=1)
    assert set(payload) == {"version", "at", "min", "share", "covered", "in_flight",
                            "use_cases"}
    assert (payload["min"], payload["in_flight"]) == (0.8, 2)
    assert controls(payload) == {
        "classified": True, "approved": True, "contract": True, "oncall": True,
        "fallback": True, "response": False, "exercise": True, "observed": None}
    docs = controls(payload, "doc-summary")
    # intake: no approval expected, no drill expected; no observations given
    assert (docs["approved"], docs["exercise"], docs["observed"]) == (None, None, None)
    with_response(drilled)
    payload = coverage(govctl, root, code=1)
    assert payload["covered"] == 1 and payload["share"] == 0.5
    entry = next(u for u in payload["use_cases"] if u["id"] == "claims-triage")
    assert entry["covered"] is True and entry["tier"] == "high"


def test_the_exit_code_at_the_minimum(govctl, drilled):
    drilled.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    drilled.files["teams/docs.yaml"] = DOCS_TEAM
    root = drilled.build().root
    with_response(drilled)
    drilled.edit("governance.yaml", "separation_of_duties:",
                 "coverage: {min: 0.5}\n  separation_of_duties:")
    assert coverage(govctl, root, code=0)["share"] == 0.5  # at the minimum: met
    drilled.edit("governance.yaml", "coverage: {min: 0.5}", "coverage: {min: 0.51}")
    assert coverage(govctl, root, code=1)["share"] == 0.5


def test_a_stale_approval_or_a_missing_drill_uncovers(govctl, drilled):
    root = drilled.build().root
    with_response(drilled)
    assert coverage(govctl, root, code=0)["share"] == 1.0
    drilled.edit(BUNDLE, "temperature: 0.0", "temperature: 0.7")  # the approval goes stale
    assert controls(coverage(govctl, root, code=1))["approved"] is False
    drilled.edit(BUNDLE, "temperature: 0.7", "temperature: 0.0")
    (drilled.root / EXERCISE).unlink()
    assert controls(coverage(govctl, root, code=1))["exercise"] is False


def test_a_response_naming_nobody_real_is_missing_and_an_error(govctl, drilled):
    root = drilled.build().root
    with_response(drilled, RESPONSE.replace("customer_comms: alice", "customer_comms: ghost"))
    payload = coverage(govctl, root, code=1)
    (entry,) = payload["use_cases"]
    assert entry["controls"]["response"] is False and entry["covered"] is False
    assert "GOV020" in entry["problem"] and "ghost" in entry["problem"]


def test_a_record_with_errors_counts_in_flight_and_uncovered(govctl, drilled):
    root = drilled.build().root
    with_response(drilled)
    drilled.edit(USE_CASE, "status: production", "status: flying")
    payload = coverage(govctl, root, code=1)
    (entry,) = payload["use_cases"]
    assert entry["covered"] is False and "errors" in entry["problem"]
    assert set(entry["controls"].values()) == {False}


def test_retired_use_cases_are_not_in_flight_and_none_is_full_share(govctl, drilled):
    root = drilled.build().root
    drilled.edit(USE_CASE, "status: production", "status: retired")
    payload = coverage(govctl, root, code=0)
    assert (payload["in_flight"], payload["covered"], payload["share"]) == (0, 0, 1.0)


def test_observed_needs_a_fresh_value_of_every_required_signal(govctl, drilled, tmp_path):
    root = drilled.build().root
    with_response(drilled)
    rows = [{"use_case": "claims-triage", "signal": s, "value": 0.0,
             "at": "2026-11-27T11:58:00Z"}  # fresh: latency's window is 5m
            for s in ("latency", "accuracy_proxy", "drift", "abuse", "fallback")]
    rows[1]["value"] = 0.95  # accuracy_proxy has a minimum
    path = tmp_path / "observations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    payload = coverage(govctl, root, "--observations", path, "--as-of", "2026-11-27T12:00:00Z")
    assert controls(payload)["observed"] is True
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:-1]))  # fallback missing
    payload = coverage(govctl, root, "--observations", path, "--as-of", "2026-11-27T12:00:00Z")
    assert controls(payload)["observed"] is False and payload["share"] == 0.0


def test_coverage_text_and_markdown_say_it_in_words(govctl, drilled):
    drilled.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    drilled.files["teams/docs.yaml"] = DOCS_TEAM
    root = drilled.build().root
    text = govctl("coverage", "--root", root, "--as-of", AS_OF)
    assert text.code == 1
    lines = text.stdout.splitlines()
    assert "✓ present · ✗ missing · – not applicable" in lines[0]
    assert any(line.startswith("claims-triage  production / high  NOT covered")
               and "response ✗" in line and "approved ✓" in line for line in lines)
    assert any(line.startswith("doc-summary  intake") and "approved –" in line
               for line in lines)
    assert "claims-triage: response missing — UseCase response.offline_authority" in \
        text.stdout
    assert lines[-1].startswith("0 of 2 in-flight use case(s) fully covered: 0% (0.000), "
                                "BELOW the minimum of 80%")
    markdown = govctl("coverage", "--root", root, "--as-of", AS_OF, "--format", "markdown")
    assert markdown.code == 1
    assert "| `claims-triage` | production | high | ✓ | ✓ | ✓ | ✓ | ✓ | ✗ | ✓ | **no** |" \
        in markdown.stdout
    assert "❌ 0 of 2" in markdown.stdout and "### Missing" in markdown.stdout


# == drill ====================================================================================


def test_every_step_has_a_gap_case_and_names_what_closes_it(govctl, factory):
    committed(wired(factory))
    root = factory.root
    payload = drill(govctl, root)
    ready = {s["step"]: s["ready"] for s in payload["steps"]}
    assert ready == {"detection": True, "escalation": True, "offline": False,
                     "customer": False, "rollback": False, "reconstruction": False,
                     "disclosure": False}
    assert "response.offline_authority" in step(payload, "offline")["gap"]
    assert "response.customer_comms" in step(payload, "customer")["gap"]
    assert "nothing approved to roll back to" in step(payload, "rollback")["gap"]
    assert "response.logging.digest_logged" in step(payload, "reconstruction")["gap"]
    assert "response.regulator_contact" in step(payload, "disclosure")["gap"]
    with_response(factory)
    payload = drill(govctl, root)
    assert [s["step"] for s in payload["steps"] if not s["ready"]] == ["rollback"]
    # detection: the alerts by name, how soon they page, and the missing-data tickets
    detection = facts(step(payload, "detection"))
    assert detection["GovctlClaimsTriageLatencyBreach"] == (
        "latency (p95_latency_ms) above 2500 for 5m → pages claims-ml-primary after 5m")
    assert detection["GovctlClaimsTriageDriftMissing"] == \
        "drift reports no data for 2d → opens a ticket"
    escalation = facts(step(payload, "escalation"))
    assert escalation["rotation"] == "claims-ml-primary"
    # named, but nobody by that name: not ready
    factory.edit(USE_CASE, "customer_comms: alice", "customer_comms: alicia")
    factory.edit(USE_CASE, "offline_authority: [alice, bob]", "offline_authority: [alice, bop]")
    payload = drill(govctl, root)
    assert "no Person record for alicia" in step(payload, "customer")["gap"]
    assert "bop" in step(payload, "offline")["gap"]
    factory.edit(USE_CASE, "customer_comms: alicia", "customer_comms: alice")
    factory.edit(USE_CASE, "offline_authority: [alice, bop]", "offline_authority: [alice, bob]")
    payload = drill(govctl, root)
    assert escalation["escalation 1"] == "Alice Owner (alice, alice@acme.test)"
    offline = facts(step(payload, "offline"))
    assert offline["may take it offline"].startswith("Alice Owner (alice")
    assert (offline["on breach"], offline["runbook"]) == ("fallback", "runbooks/triage.md")
    assert facts(step(payload, "reconstruction"))["trace the serving digest"].startswith(
        "govctl trace sha256:")


def test_detection_without_a_page_signal_and_escalation_without_a_chain(govctl, factory):
    # approved that way: the drill reads the approved contract, as status does
    contract = str(factory.files["thresholds/triage.yaml"])
    factory.files["thresholds/triage.yaml"] = contract.replace("severity: page",
                                                               "severity: ticket")
    factory.files["teams/claims.yaml"] = str(factory.files["teams/claims.yaml"]).replace(
        "escalation: [alice]", "escalation: []")
    committed(factory)
    payload = drill(govctl, factory.root)
    assert "no signal of severity page" in step(payload, "detection")["gap"]
    assert "oncall.escalation" in step(payload, "escalation")["gap"]


def test_alerts_that_reach_nobody_are_a_detection_gap(govctl, factory):
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM
    committed(factory)  # the factory's team has no receiver
    root = factory.root
    detection = step(drill(govctl, root), "detection")
    assert "notify no one" in detection["gap"] and "oncall.receiver" in detection["gap"]
    committed(wired(factory))
    assert step(drill(govctl, root), "detection")["ready"] is True
    # another use case's contract (the working tree's: doc-summary is not approved) makes
    # the rules file unexportable as a whole: no alert fires for anyone
    factory.edit("thresholds/triage.yaml", "window: 5m", "window: 1h1h")
    detection = step(drill(govctl, root), "detection")
    assert "cannot be exported at all" in detection["gap"] and "GOV045" in detection["gap"]


def test_the_runbook_must_exist_and_retention_must_suit_a_high_tier(govctl, factory):
    committed(factory)
    root = factory.root
    with_response(factory, RESPONSE.replace("retention_days: 400", "retention_days: 90"))
    (root / "runbooks/triage.md").unlink()
    payload = drill(govctl, root)
    assert "runbooks/triage.md" in step(payload, "offline")["gap"]
    factory.write("runbooks/triage.md", "# back\n")
    factory.edit("thresholds/triage.yaml", "runbook: runbooks/triage.md",
                 "runbook: ../../outside.md")
    (root.parent.parent / "outside.md").write_text("# not ours\n")
    payload = drill(govctl, root)  # the approved contract still names the file: ready
    assert step(payload, "offline")["ready"] is True
    assert "at least 183 days" in step(payload, "reconstruction")["gap"]


def test_the_rollback_target_is_found_in_history(govctl, factory):
    sha1 = committed(factory)
    root = factory.root
    with_response(factory)
    old_digest = yaml.safe_load((root / "approvals/claims-triage-2026-10-01.yaml")
                                .read_text())["spec"]["bundle"]["digest"]
    # a new bundle version, re-approved in place by its approvers
    factory.edit(BUNDLE, "temperature: 0.0", "temperature: 0.1")
    result = govctl("approve", "claims-triage", "--root", root, "--approver",
                    "bob:risk-officer", "--approver", "carol:model-owner",
                    "--as-of", "2026-11-20")
    assert result.code == 0, result.stderr
    commit(root, CAROL, "2026-11-20T10:00:00Z", "re-approve triage at temperature 0.1")
    payload = drill(govctl, root)
    rollback = step(payload, "rollback")
    assert rollback["ready"] is True, rollback
    shown = facts(rollback)
    assert shown["rollback digest"] == old_digest
    assert shown["commit"].startswith(sha1)  # the commit that made that decision, in full
    assert shown["approval"] == "claims-triage-2026-10-01 (approved, 2026-10-01)"
    assert shown["model chat-2026-03"] == "supported"
    assert shown["check it out"].startswith(f"git -C {root} checkout {sha1} -- ")
    assert "bundles/triage.yaml" in shown["check it out"]
    assert "prompts/triage.md" in shown["check it out"]
    assert shown["confirm"] == f"govctl trace {old_digest}"
    assert shown["serving (approved) digest"] != old_digest
    # the target's model is retired since: not a way back
    factory.edit(MODEL, 'lifecycle: {released: "2026-03-14"}',
                 'lifecycle: {released: "2026-03-14", retirement: "2026-11-25"}')
    rollback = step(drill(govctl, root), "rollback")
    assert rollback["ready"] is False
    assert "model chat-2026-03 retired on 2026-11-25" in rollback["gap"]
    assert facts(rollback)["model chat-2026-03"] == "retired on 2026-11-25"
    # an approval revoked since (its decision now rejected) vouches for none of its versions
    factory.edit(MODEL, ', retirement: "2026-11-25"', "")
    factory.edit("approvals/claims-triage-2026-10-01.yaml", "decision: approved",
                 "decision: rejected")
    commit(root, BOB, "2026-11-22T10:00:00Z", "revoke the first approval")
    rollback = step(drill(govctl, root), "rollback")
    assert rollback["ready"] is False and "nothing approved to roll back to" in rollback["gap"]


def test_without_git_the_rollback_target_is_unknown_never_none(govctl, factory):
    root = factory.build().root  # not a git repository
    rollback = step(drill(govctl, root), "rollback")
    assert rollback["ready"] is False and "no git history" in rollback["gap"]


def test_detected_starts_the_art_73_clocks(govctl, factory):
    committed(factory)
    payload = drill(govctl, factory.root, "--detected", "2026-12-01T03:12:00Z")
    clocks = facts(step(payload, "disclosure"))
    assert clocks["report serious incident"].startswith("by 2026-12-16 (15 days")
    assert clocks["report a death"].startswith("by 2026-12-11 (10 days")
    assert clocks["report widespread infringement or critical infrastructure"].startswith(
        "by 2026-12-03 (2 days")
    bad = govctl("drill", "claims-triage", "--root", factory.root, "--detected", "yesterday")
    assert bad.code == 2 and "--detected" in bad.stderr and bad.stdout == ""


def test_scenarios_built_in_or_written(govctl, factory):
    committed(factory)
    assert drill(govctl, factory.root, "--scenario", "pii-leak")["scenario"].startswith(
        "Support agent leaks PII")
    own = "The triage model sends every flood claim to fraud review."
    assert drill(govctl, factory.root, "--scenario", own)["scenario"] == own
    assert drill(govctl, factory.root)["scenario"] is None


def test_fail_on_gap_is_the_only_way_to_exit_1(govctl, factory):
    committed(factory)
    drill(govctl, factory.root)  # gaps, exit 0: gaps are the point of a drill
    drill(govctl, factory.root, "--fail-on", "gap", code=1)


def test_markdown_lists_the_gaps_first_with_what_closes_them(govctl, factory):
    committed(wired(factory))
    result = govctl("drill", "claims-triage", "--root", factory.root, "--as-of", AS_OF,
                    "--scenario", "pii-leak")
    assert result.code == 0
    text = result.stdout
    assert text.index("## Gaps (5 of 7 steps)") < text.index("## 1. Detection")
    gaps = text[text.index("## Gaps"):text.index("## 1.")]
    assert gaps.count("\n- **") == 5 and gaps.count("Close it:") == 5
    assert "UseCase response\\.customer\\_comms" in gaps


class Outline(html.parser.HTMLParser):
    """Section ids in document order, and each step's readiness."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.ready: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("id"):
            self.sections.append(str(values["id"]))
            if values.get("data-ready"):
                self.ready[str(values["id"])] = str(values["data-ready"])


def test_html_sheet_has_gaps_first_and_every_step(govctl, factory, tmp_path):
    committed(wired(factory))
    out = tmp_path / "drill.html"
    result = govctl("drill", "claims-triage", "--root", factory.root, "--as-of", AS_OF,
                    "--format", "html", "-o", out)
    assert result.code == 0 and f"wrote {out}" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.split("</style>")[0]
    outline = Outline()
    outline.feed(page)
    assert outline.sections == ["gaps", *(f"step-{s}" for s in STEPS)]
    assert outline.ready["step-detection"] == "true"
    assert outline.ready["step-rollback"] == "false"
    inside = govctl("drill", "claims-triage", "--root", factory.root, "--format", "html",
                    "-o", factory.root / "drill.html")
    assert inside.code == 2 and not (factory.root / "drill.html").exists()


@pytest.mark.external("chromium")
def test_the_example_drill_sheet_in_a_real_browser(govctl, tmp_path):
    from tests.test_browser import chromium

    require_program("chromium")
    example = Path(__file__).parent.parent / "examples" / "governance-repo"
    out = tmp_path / "drill.html"
    assert govctl("drill", "card-fraud-scoring", "--root", example, "--format", "html",
                  "--scenario", "protected-class", "--detected", "2026-12-01T03:12:00Z",
                  "-o", out).code == 0
    dom = chromium(tmp_path, out, "--dump-dom")
    assert "Tabletop drill: Real-time card fraud scoring" in dom
    assert dom.index('id="gaps"') < dom.index('id="step-detection"')
    shot = tmp_path / "drill.png"
    chromium(tmp_path, out, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000


def test_an_unknown_use_case_is_a_usage_error(govctl, factory):
    root = factory.build().root
    result = govctl("drill", "claims-triaje", "--root", root)
    assert result.code == 2 and "claims-triage" in result.stderr  # the closest id


def test_init_starts_at_full_coverage(govctl, tmp_path):
    target = tmp_path / "new"
    assert govctl("init", target).code == 0
    payload = coverage(govctl, target, code=0)
    assert payload["share"] == 1.0 and payload["in_flight"] == 1
    assert controls(payload, "support-assistant")["response"] is True
    policy = yaml.safe_load((target / "governance.yaml").read_text())["spec"]
    assert policy["exercises"] == {"every_days": 365, "tiers": ["high"]}
    assert policy["coverage"] == {"min": 0.8}


def test_the_example_shows_its_exercise_on_the_card_and_in_the_pack(govctl, tmp_path):
    example = Path(__file__).parent.parent / "examples" / "governance-repo"
    card = govctl("card", "card-fraud-scoring", "--root", example, "--as-of", AS_OF)
    assert card.code == 0
    section = card.stdout[card.stdout.index("## Tabletop exercises"):]
    assert "`card-fraud-scoring-2026-10-28` on 2026\\-10\\-28" in section
    assert "Open gap (reconstruction)" in section and "Joris van Dijk" in section
    assert "Only the owner could take" not in section  # closed: not an open gap


def test_the_pack_lists_exercises_and_their_gaps(govctl, drilled, tmp_path):
    committed(drilled)
    drilled.edit(EXERCISE, "status: closed", "status: open")
    commit(drilled.root, BOB, "2026-11-21T10:00:00Z", "the letter gap reopened")
    pack = tmp_path / "pack"
    result = govctl("audit-pack", "claims-triage", "--root", drilled.root, "-o", pack,
                    "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    readme = (pack / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Tabletop exercises"):]
    assert "`triage-drill-2026-10-20` on 2026\\-10\\-20" in section
    assert "customer gap, **open**" in section and "**OVERDUE**" in section
    assert "OVERDUE" in (pack / "index.html").read_text(encoding="utf-8")
    # the record itself is evidence, and answers the drill points of the mapping
    assert any(p.name == "triage-2026-10-20.yaml" for p in (pack / "evidence").rglob("*"))
    mapping = (pack / "mapping.md").read_text(encoding="utf-8")
    assert "no tabletop exercise in this pack" not in mapping
