"""`govctl status` and `govctl explain` (SPEC §3, §3.1, §3.3): the JSON shapes, approval
states, GOV085 for an unapproved digest serving, filters, --fail-on gates, the piped text
output, and the three answers of `explain`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import commit_all, init_git
from tests.factory import DOCS_TEAM, DOCS_USE_CASE
from tests.observation_support import (
    AS_OF_TEXT,
    METRICS,
    Row,
    ago,
    assert_usage_error,
    signals,
    states,
    status_json,
    use_case_entry,
    write_observations,
)

APPROVAL_FILE = "approvals/claims-triage-2026-10-01.yaml"
APPROVAL_ID = "claims-triage-2026-10-01"


HEALTHY = {"latency": 1200.0, "accuracy_proxy": 0.95, "drift": 0.05, "abuse": 0.001,
           "fallback": 0.1}


def healthy(use_case: str = "claims-triage", **overrides: float) -> list[Row]:
    """A fresh, in-threshold value for every signal of the factory's contract."""
    values = {**HEALTHY, **overrides}
    return [Row(signal, value, ago(minutes=1), use_case=use_case)
            for signal, value in values.items()]


def approved_digest(root: Path) -> str:
    return yaml.safe_load((root / APPROVAL_FILE).read_text())["spec"]["bundle"]["digest"]


@pytest.fixture
def root(factory: Any) -> Path:
    return factory.build().root


@pytest.fixture
def two(factory: Any) -> Any:
    """The factory's production use case plus an intake one of another team and tier."""
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM
    return factory.build()


# -- status: JSON shape ------------------------------------------------------------------------


def test_status_json_has_exactly_the_shape_of_the_spec(govctl, root, tmp_path):
    path = write_observations(tmp_path, healthy(drift=0.3), "jsonl")
    payload = status_json(govctl, root, "--observations", path)
    assert set(payload) == {"version", "at", "use_cases", "ignored", "findings"}
    assert payload["version"] == 1
    assert payload["at"] == AS_OF_TEXT
    assert payload["findings"] == []
    assert payload["ignored"] == []
    (entry,) = payload["use_cases"]
    assert set(entry) == {"id", "status", "owner", "team", "oncall", "verdict", "approval",
                          "threshold_basis", "signals", "incidents_open"}
    assert {k: entry[k] for k in ("id", "status", "owner", "team", "oncall", "verdict",
                                  "threshold_basis", "incidents_open")} == {
        "id": "claims-triage", "status": "production", "owner": "alice", "team": "claims-ml",
        "oncall": "claims-ml-primary", "verdict": "breach", "threshold_basis": "approved",
        "incidents_open": 0}
    assert entry["approval"] == {"id": APPROVAL_ID, "state": "current", "decision": "approved",
                                 "conditions": []}
    assert [s["signal"] for s in entry["signals"]] == list(METRICS)  # the contract's order
    for s in entry["signals"]:
        assert set(s) == {"signal", "metric", "value", "threshold", "state", "observed_at"}
        assert s["metric"] == METRICS[s["signal"]]
        assert set(s["threshold"]) in ({"min"}, {"max"}, {"min", "max"})
    drift = signals(payload)["drift"]
    assert drift == {"signal": "drift", "metric": "psi", "value": 0.3,
                     "threshold": {"max": 0.2}, "state": "breach",
                     "observed_at": "2026-11-27T11:59:00Z"}


def test_status_without_observations_reports_every_signal_missing(govctl, root):
    payload = status_json(govctl, root)
    assert set(states(payload).values()) == {"missing"}
    assert all(s["value"] is None and s["observed_at"] is None
               for s in signals(payload).values())


def test_as_of_a_date_means_the_end_of_that_utc_day(govctl, root):
    assert status_json(govctl, root, as_of="2026-11-27")["at"].startswith("2026-11-27T23:59:59")


# -- status: approval states ------------------------------------------------------------------


def approval(govctl: Any, root: Path, as_of: str = AS_OF_TEXT) -> dict[str, Any]:
    """The approval's id and state (decision and conditions are tested on their own)."""
    found = use_case_entry(status_json(govctl, root, as_of=as_of))["approval"]
    return {k: found[k] for k in ("id", "state")}


def test_approval_current(govctl, root):
    assert approval(govctl, root) == {"id": APPROVAL_ID, "state": "current"}


def test_approval_stale_after_editing_the_prompt(govctl, factory, root):
    factory.edit("prompts/triage.md", "You triage claims.", "You triage claims politely.")
    assert approval(govctl, root) == {"id": APPROVAL_ID, "state": "stale"}


def test_approval_stale_after_editing_the_contract(govctl, factory, root):
    factory.edit("thresholds/triage.yaml", "max: 0.2", "max: 0.25")
    assert approval(govctl, root) == {"id": APPROVAL_ID, "state": "stale"}


def test_approval_expired_after_valid_until(govctl, root):
    assert approval(govctl, root, as_of="2027-03-01")["state"] == "current"  # inclusive
    assert approval(govctl, root, as_of="2027-03-02") == {"id": APPROVAL_ID,
                                                         "state": "expired"}


def test_approval_none_without_an_approval(govctl, factory, root):
    factory.remove(APPROVAL_FILE)
    assert approval(govctl, root) == {"id": None, "state": "none"}


def test_approval_none_when_the_current_decision_is_rejected(govctl, factory, root):
    factory.edit(APPROVAL_FILE, "decision: approved", "decision: rejected")
    assert approval(govctl, root) == {"id": None, "state": "none"}


# -- status: GOV085 ---------------------------------------------------------------------------


def test_gov085_when_an_observation_carries_another_bundle_digest(govctl, factory, root,
                                                                  tmp_path):
    rogue = "sha256:" + "ab" * 32
    rows = [*healthy()[:-1], Row("fallback", 0.1, ago(minutes=1), bundle_digest=rogue)]
    payload = status_json(govctl, root, "--observations",
                          write_observations(tmp_path, rows, "jsonl"))
    (finding,) = payload["findings"]
    assert finding["rule"] == "GOV085"
    assert finding["severity"] == "error"
    assert finding["record"] == "UseCase/claims-triage"
    assert finding["file"] == "use-cases/triage.yaml"
    assert finding["line"] == factory.line_of("use-cases/triage.yaml", "bundle: triage")
    assert rogue in finding["message"] and approved_digest(root) in finding["message"]
    # the signal itself is judged on its value
    assert states(payload)["fallback"] == "ok"
    # and the gate trips although the approval is current
    gated = govctl("status", "--root", root, "--as-of", AS_OF_TEXT, "--observations",
                   tmp_path / "observations.jsonl", "--fail-on", "unapproved")
    assert gated.code == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "openmetrics", "prometheus"])
def test_no_gov085_when_observations_carry_the_approved_digest(govctl, root, tmp_path, fmt):
    digest = approved_digest(root)
    rows = [Row(r.signal, r.value, r.at, bundle_digest=digest) for r in healthy()]
    payload = status_json(govctl, root, "--observations",
                          write_observations(tmp_path, rows, fmt))
    assert payload["findings"] == []
    assert set(states(payload).values()) == {"ok"}


@pytest.mark.parametrize("fmt", ["csv", "openmetrics", "prometheus"])
def test_gov085_from_every_format(govctl, root, tmp_path, fmt):
    rows = [Row("latency", 1000.0, ago(minutes=1), bundle_digest="sha256:" + "cd" * 32)]
    payload = status_json(govctl, root, "--observations",
                          write_observations(tmp_path, rows, fmt))
    assert [f["rule"] for f in payload["findings"]] == ["GOV085"]


# -- status: filters --------------------------------------------------------------------------


def ids(payload: dict[str, Any]) -> list[str]:
    return [u["id"] for u in payload["use_cases"]]


def test_status_lists_every_use_case(govctl, two):
    payload = status_json(govctl, two.root)
    assert ids(payload) == ["claims-triage", "doc-summary"]
    docs = use_case_entry(payload, "doc-summary")
    assert (docs["status"], docs["team"], docs["oncall"]) == ("intake", "docs-ml",
                                                              "docs-ml-primary")
    assert docs["approval"] == {"id": None, "state": "none"}


@pytest.mark.parametrize(("args", "expected"), [
    (["--use-case", "doc-summary"], ["doc-summary"]),
    (["--use-case", "claims-triage", "--use-case", "doc-summary"],
     ["claims-triage", "doc-summary"]),
    (["--team", "claims-ml"], ["claims-triage"]),
    (["--team", "docs-ml"], ["doc-summary"]),
    (["--team", "nobody"], []),
    (["--tier", "high"], ["claims-triage"]),
    (["--tier", "limited", "--tier", "high"], ["claims-triage", "doc-summary"]),
    (["--tier", "minimal"], []),
    (["--team", "claims-ml", "--tier", "limited"], []),
])
def test_status_filters(govctl, two, args, expected):
    assert ids(status_json(govctl, two.root, *args)) == expected


def test_status_filter_on_an_unknown_use_case_is_a_usage_error(govctl, two):
    result = govctl("status", "--root", two.root, "--use-case", "claims-triag")
    assert_usage_error(result, "claims-triag")


# -- status: gates and exit codes -------------------------------------------------------------


def gate(govctl: Any, root: Path, tmp_path: Path, rows: list[Row], fail_on: str) -> int:
    path = write_observations(tmp_path, rows, "jsonl", name=f"gate-{fail_on}")
    result = govctl("status", "--root", root, "--as-of", AS_OF_TEXT, "--observations", path,
                    "--fail-on", fail_on, "--format", "json")
    assert result.stderr == ""
    result.json()  # the report is written whatever the gate says
    return result.code


def test_fail_on_breach(govctl, root, tmp_path):
    assert gate(govctl, root, tmp_path, healthy(), "breach") == 0
    assert gate(govctl, root, tmp_path, healthy(latency=2501), "breach") == 1
    assert gate(govctl, root, tmp_path, healthy(accuracy_proxy=0.89), "breach") == 1
    assert gate(govctl, root, tmp_path, healthy(latency=2500, accuracy_proxy=0.9),
                "breach") == 0
    assert gate(govctl, root, tmp_path, healthy()[:2], "breach") == 0  # missing is no breach


def test_fail_on_missing(govctl, root, tmp_path):
    assert gate(govctl, root, tmp_path, healthy(), "missing") == 0
    assert gate(govctl, root, tmp_path, healthy()[:-1], "missing") == 1
    stale = [*healthy()[:-1], Row("fallback", 0.1, ago(hours=3))]
    assert gate(govctl, root, tmp_path, stale, "missing") == 1
    assert gate(govctl, root, tmp_path, healthy(latency=9999), "missing") == 0


def test_fail_on_unapproved(govctl, factory, two, tmp_path):
    # the intake use case has no approval and needs none
    assert gate(govctl, two.root, tmp_path, healthy(), "unapproved") == 0
    factory.edit("prompts/triage.md", "You triage claims.", "You triage every claim.")
    assert gate(govctl, two.root, tmp_path, healthy(), "unapproved") == 1


def test_fail_on_unapproved_without_any_approval(govctl, factory, root, tmp_path):
    factory.remove(APPROVAL_FILE)
    assert gate(govctl, root, tmp_path, healthy(), "unapproved") == 1


def test_without_fail_on_status_exits_0_even_on_breach(govctl, root, tmp_path):
    path = write_observations(tmp_path, healthy(latency=9999), "jsonl")
    result = govctl("status", "--root", root, "--as-of", AS_OF_TEXT, "--observations", path)
    assert result.code == 0


def test_status_exits_0_over_a_repository_with_validation_findings(govctl, factory, root,
                                                                   tmp_path):
    factory.write("people-extra.yaml", "apiVersion: govctl/v1\nkind: Person\n"
                  "metadata: {id: dave}\nspec: {name: Dave, email: dave@acme.test, "
                  "rolse: [cfo]}\n")
    factory.edit("use-cases/triage.yaml", "  fallback: Claims go to the human triage queue.\n",
                 "")
    validate = govctl("validate", "--root", root, "--as-of", "2026-11-27")
    assert validate.code == 1
    payload = status_json(govctl, root, "--observations",
                          write_observations(tmp_path, healthy(), "jsonl"))
    assert ids(payload) == ["claims-triage"]
    assert set(states(payload).values()) == {"ok"}
    for fail_on in ("breach", "missing", "unapproved"):
        assert gate(govctl, root, tmp_path, healthy(), fail_on) == 0


def test_an_unknown_gate_is_a_usage_error(govctl, root):
    assert_usage_error(govctl("status", "--root", root, "--fail-on", "everything"),
                       "everything")


# -- status: text -----------------------------------------------------------------------------


def test_piped_text_lists_breaches_first(govctl, two, tmp_path):
    rows = [*healthy(), *healthy("doc-summary", latency=9999)]
    path = write_observations(tmp_path, rows, "jsonl")
    result = govctl("status", "--root", two.root, "--as-of", AS_OF_TEXT, "--observations",
                    path)
    assert result.code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    heads = [line for line in lines if line and not line.startswith(" ")]
    assert heads[1].startswith("doc-summary"), result.stdout  # after the title line
    assert heads[2].startswith("claims-triage"), result.stdout
    breach_lines = [line for line in lines if "BREACH" in line]
    assert len(breach_lines) == 1 and "latency" in breach_lines[0] and "9999" in breach_lines[0]
    assert lines.index(breach_lines[0]) < lines.index(heads[2])
    assert "\x1b[" not in result.stdout  # no colour codes when piped


def test_piped_text_names_gov085(govctl, root, tmp_path):
    rows = [Row("latency", 1000.0, ago(minutes=1), bundle_digest="sha256:" + "ef" * 32)]
    result = govctl("status", "--root", root, "--as-of", AS_OF_TEXT, "--observations",
                    write_observations(tmp_path, rows, "jsonl"))
    assert any("GOV085" in line and "use-cases/triage.yaml" in line
               for line in result.stdout.splitlines()), result.stdout


# -- explain ----------------------------------------------------------------------------------


def explain_json(govctl: Any, root: Path, *args: object) -> dict[str, Any]:
    result = govctl("explain", "claims-triage", "--root", root, "--as-of", AS_OF_TEXT,
                    "--format", "json", *args)
    assert result.code == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def test_explain_text_gives_the_three_answers(govctl, root, tmp_path):
    path = write_observations(tmp_path, healthy(latency=3000), "jsonl")
    result = govctl("explain", "claims-triage", "--root", root, "--as-of", AS_OF_TEXT,
                    "--observations", path)
    assert result.code == 0 and result.stderr == ""
    text = result.stdout
    # 1. who approved it
    assert APPROVAL_ID in text
    assert "Bob Risk (risk-officer)" in text
    assert "Carol Model (model-owner)" in text
    assert "Home-insurance claimants, Nordics" in text
    assert approved_digest(root) in text
    # 2. how it is doing
    latency = next(line for line in text.splitlines() if "latency" in line)
    assert "BREACH" in latency and "3000" in latency
    drift = next(line for line in text.splitlines() if " drift " in line)
    assert "ok" in drift and "0.05" in drift
    # 3. who is on the hook
    assert "Alice Owner" in text
    assert "claims-ml-primary" in text
    assert "pagerduty:claims-ml" in text
    assert "escalation: Alice Owner" in text
    assert "on breach: fallback" in text
    assert "runbooks/triage.md" in text
    assert "Claims go to the human triage queue." in text
    answers = [text.index(h) for h in ("1. ", "2. ", "3. ")]
    assert answers == sorted(answers)


def test_explain_text_without_observations_says_how_to_add_them(govctl, root):
    result = govctl("explain", "claims-triage", "--root", root, "--as-of", AS_OF_TEXT)
    assert result.code == 0
    assert "--observations" in result.stdout
    assert "missing" in result.stdout


def test_explain_json(govctl, root, tmp_path):
    payload = explain_json(govctl, root, "--observations",
                           write_observations(tmp_path, healthy(drift=0.5), "jsonl"))
    assert {"version", "use_case", "approval", "owner", "team", "oncall", "on_breach",
            "fallback", "signals"} <= set(payload)
    assert payload["version"] == 1
    assert payload["use_case"] == "claims-triage"
    a = payload["approval"]
    assert {"id", "decision", "date", "valid_until", "population", "approvers",
            "bundle_digest", "current"} <= set(a)
    assert (a["id"], a["decision"], a["date"], a["valid_until"]) == (
        APPROVAL_ID, "approved", "2026-10-01", "2027-03-01")
    assert a["population"] == "Home-insurance claimants, Nordics"
    assert a["bundle_digest"] == approved_digest(root)
    assert a["current"] is True
    assert [(p["id"], p["name"], p["role"]) for p in a["approvers"]] == [
        ("bob", "Bob Risk", "risk-officer"), ("carol", "Carol Model", "model-owner")]
    assert "commit" not in a  # not in a git repository
    assert payload["owner"] == "alice"
    assert payload["team"] == "claims-ml"
    assert payload["oncall"]["rotation"] == "claims-ml-primary"
    assert payload["on_breach"] == {"action": "fallback", "runbook": "runbooks/triage.md"}
    assert payload["fallback"] == "Claims go to the human triage queue."
    # signals exactly as in status
    status = status_json(govctl, root, "--observations", tmp_path / "observations.jsonl")
    assert payload["signals"] == use_case_entry(status)["signals"]
    assert {s["signal"]: s["state"] for s in payload["signals"]}["drift"] == "breach"


def test_explain_json_approval_not_current_when_stale_or_expired(govctl, factory, root):
    expired = govctl("explain", "claims-triage", "--root", root, "--as-of", "2027-03-02",
                     "--format", "json")
    assert expired.code == 0
    assert expired.json()["approval"]["current"] is False
    factory.edit("prompts/triage.md", "You triage claims.", "You triage claims fast.")
    stale = explain_json(govctl, root)["approval"]
    assert stale["id"] == APPROVAL_ID and stale["current"] is False


def test_explain_json_without_an_approval(govctl, factory, root):
    factory.remove(APPROVAL_FILE)
    approval = explain_json(govctl, root)["approval"]
    assert (approval["id"], approval["current"], approval["state"]) == (None, False, "none")


def test_explain_json_names_the_commit_of_the_approval(govctl, root):
    init_git(root)
    sha = commit_all(root, "approve claims-triage", author="Bob Risk", email="bob@acme.test",
                     date="2026-10-01T10:00:00Z")
    commit = explain_json(govctl, root)["approval"]["commit"]
    assert commit["sha"] == sha
    assert commit["author"] == "Bob Risk"
    assert commit["email"] == "bob@acme.test"
    assert commit["date"].startswith("2026-10-01")
    assert commit["signed"] is False


def test_explain_json_has_no_commit_while_the_approval_is_uncommitted(govctl, factory, root):
    init_git(root)
    (root / APPROVAL_FILE).rename(root / "approval.tmp")
    commit_all(root, "records without the approval")
    (root / "approval.tmp").rename(root / APPROVAL_FILE)
    assert "commit" not in explain_json(govctl, root)["approval"]


def test_explain_an_unknown_use_case_is_a_usage_error(govctl, root):
    result = govctl("explain", "claims-triag", "--root", root)
    assert_usage_error(result, "claims-triag")


def test_explain_text_says_why_an_approval_expired(govctl, root):
    result = govctl("explain", "claims-triage", "--root", root, "--as-of", "2027-03-02")
    assert result.code == 0, result.stderr
    assert "EXPIRED" in result.stdout
    assert "valid_until 2027-03-01 has passed" in result.stdout
    assert "Expiry(" not in result.stdout


def test_explain_text_says_why_an_approval_is_stale(govctl, factory, root):
    factory.edit("prompts/triage.md", "You triage claims.", "You triage claims at once.")
    result = govctl("explain", "claims-triage", "--root", root, "--as-of", AS_OF_TEXT)
    assert result.code == 0, result.stderr
    assert "STALE" in result.stdout
    assert "stale approval: Bundle 'triage' digest is now" in result.stdout


def test_a_use_case_whose_contract_is_invalid_is_listed_without_signals(govctl, factory, root):
    factory.edit("thresholds/triage.yaml", "severity: ticket", "severity: tickt")
    payload = status_json(govctl, root)
    assert use_case_entry(payload)["signals"] == []
    text = govctl("status", "--root", root, "--as-of", AS_OF_TEXT)
    assert text.code == 0
    assert "no contract" in text.stdout
