"""`govctl approve`: binds to the current digests, refuses what it must, writes atomically."""

from __future__ import annotations

from pathlib import Path

from govctl.model.loader import load_bytes
from tests.factory import AS_OF

APPROVE = ("approve", "claims-triage", "--approver", "bob:risk-officer",
           "--approver", "carol:model-owner", "--as-of", AS_OF)


def listing(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def load_record(path: Path) -> dict:
    result = load_bytes(path.read_bytes())
    assert result.problems == ()
    return result.documents[0].data


def test_approve_after_a_prompt_change_makes_validate_clean(factory, govctl):
    factory.build()
    factory.edit("prompts/triage.md", "You triage claims.", "You triage home claims.")
    stale = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert stale.code == 1
    assert [f["rule"] for f in stale.json()["findings"]] == ["GOV031"]

    result = govctl(*APPROVE, "--root", factory.root)
    assert result.code == 0, result.stderr
    assert "wrote approvals/claims-triage-2026-11-27.yaml" in result.stdout

    clean = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert clean.code == 0, clean.stdout
    assert clean.json()["findings"] == []


def test_written_approval_is_bound_to_the_current_digests(factory, govctl):
    factory.build()
    factory.edit("thresholds/triage.yaml", "max: 0.2", "max: 0.15")
    bundle_digest = govctl("digest", "triage", "--root", factory.root).stdout.strip()
    assert govctl(*APPROVE, "--eval-result", "triage_agreement=0.93", "--condition",
                  "Review drift weekly", "--root", factory.root).code == 0

    data = load_record(factory.root / "approvals" / "claims-triage-2026-11-27.yaml")
    spec = data["spec"]
    assert data["metadata"]["id"] == "claims-triage-2026-11-27"
    assert spec["use_case"] == "claims-triage"
    assert spec["decision"] == "approved"
    assert spec["bundle"] == {"id": "triage", "digest": bundle_digest}
    assert spec["thresholds"]["id"] == "triage-contract"
    assert spec["thresholds"]["digest"].startswith("sha256:")
    assert spec["eval"]["id"] == "claims-eval"
    assert spec["eval"]["results"] == {"triage_agreement": 0.93}
    assert spec["population"] == "Home-insurance claimants, Nordics"
    assert spec["approvers"] == [{"person": "bob", "role": "risk-officer"},
                                 {"person": "carol", "role": "model-owner"}]
    assert spec["date"] == "2026-11-27"
    assert spec["valid_until"] == "2027-05-26"  # tier high: 180 days
    assert spec["supersedes"] == "claims-triage-2026-10-01"  # the current approval
    assert spec["conditions"] == ["Review drift weekly"]


def test_valid_days_is_capped_by_the_tier(factory, govctl):
    factory.build()
    result = govctl(*APPROVE, "--valid-days", "1000", "--root", factory.root)
    assert result.code == 0
    assert "capped" in result.stdout
    spec = load_record(factory.root / "approvals" / "claims-triage-2026-11-27.yaml")["spec"]
    assert spec["valid_until"] == "2027-05-26"


def test_valid_days_shorter_than_the_tier(factory, govctl):
    factory.build()
    assert govctl(*APPROVE, "--valid-days", "30", "--root", factory.root).code == 0
    spec = load_record(factory.root / "approvals" / "claims-triage-2026-11-27.yaml")["spec"]
    assert spec["valid_until"] == "2026-12-27"


def test_second_approval_on_the_same_day_gets_a_suffix_and_supersedes_the_first(factory,
                                                                                  govctl):
    factory.build()
    assert govctl(*APPROVE, "--root", factory.root).code == 0
    assert govctl(*APPROVE, "--root", factory.root).code == 0
    second = load_record(factory.root / "approvals" / "claims-triage-2026-11-27-2.yaml")
    assert second["metadata"]["id"] == "claims-triage-2026-11-27-2"
    assert second["spec"]["supersedes"] == "claims-triage-2026-11-27"
    clean = govctl("validate", "--root", factory.root, "--as-of", AS_OF)
    assert clean.code == 0, clean.stdout


def test_refuses_when_the_new_approval_lacks_a_role(factory, govctl):
    factory.build()
    before = listing(factory.root)
    result = govctl("approve", "claims-triage", "--approver", "carol:model-owner",
                    "--as-of", AS_OF, "--root", factory.root)
    assert result.code == 1
    assert "GOV034" in result.stderr and "risk-officer needs 1, has 0" in result.stderr
    assert "nothing was written" in result.stderr
    assert listing(factory.root) == before


def test_refuses_the_owner_as_approver(factory, govctl):
    factory.build()
    factory.edit("people.yaml", "roles: [model-owner]}\n---",
                 "roles: [model-owner, risk-officer]}\n---")
    before = listing(factory.root)
    result = govctl("approve", "claims-triage", "--approver", "alice:risk-officer",
                    "--approver", "carol:model-owner", "--as-of", AS_OF, "--root", factory.root)
    assert result.code == 1
    assert "GOV035" in result.stderr and "Alice Owner (alice)" in result.stderr
    assert listing(factory.root) == before


def test_refuses_unknown_person_and_unheld_role(factory, govctl):
    factory.build()
    before = listing(factory.root)
    result = govctl("approve", "claims-triage", "--approver", "zed:risk-officer",
                    "--approver", "carol:risk-officer", "--as-of", AS_OF, "--root", factory.root)
    assert result.code == 1
    assert "approver 'zed' is not a known Person" in result.stderr
    assert "Carol Model (carol) does not hold role 'risk-officer'" in result.stderr
    assert listing(factory.root) == before


def test_refuses_eval_results_that_breach_the_contract(factory, govctl):
    factory.build()
    before = listing(factory.root)
    result = govctl(*APPROVE, "--eval-result", "triage_agreement=0.85", "--root", factory.root)
    assert result.code == 1
    assert "GOV036" in result.stderr and "min 0.9" in result.stderr
    assert listing(factory.root) == before


def test_refuses_when_the_dependency_closure_has_errors(factory, govctl):
    factory.build()
    factory.edit("bundles/triage.yaml", "model: chat-2026-03", "model: chat-2026-04")
    before = listing(factory.root)
    result = govctl(*APPROVE, "--root", factory.root)
    assert result.code == 1
    assert "bundles/triage.yaml:6:10: GOV020" in result.stderr
    assert listing(factory.root) == before


def test_errors_elsewhere_do_not_block(factory, govctl):
    factory.build()
    factory.write("bundles/other.yaml",
                  "apiVersion: govctl/v1\nkind: Bundle\nmetadata: {id: other}\n"
                  "spec: {class: generative, model: missing-model, eval_set: claims-eval}\n")
    factory.edit("prompts/triage.md", "You triage claims.", "You triage all claims.")
    result = govctl(*APPROVE, "--root", factory.root)
    assert result.code == 0, result.stderr
    after = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert [f["rule"] for f in after.json()["findings"]] == ["GOV020"]


def test_dry_run_prints_and_writes_nothing(factory, govctl):
    factory.build()
    before = listing(factory.root)
    result = govctl(*APPROVE, "--dry-run", "--root", factory.root)
    assert result.code == 0
    assert "kind: Approval" in result.stdout and "id: claims-triage-2026-11-27" in result.stdout
    assert listing(factory.root) == before


def test_usage_errors_exit_2(factory, govctl):
    factory.build()
    cases = [
        (("approve", "no-such-case", "--approver", "bob:risk-officer"), "unknown use case"),
        (("approve", "claims-triage", "--approver", "bob"), "expected PERSON_ID:ROLE"),
        (("approve", "claims-triage", "--approver", "bob:risk-officer", "--eval-result", "x=abc"),
         "expected METRIC=NUMBER"),
        (("approve", "claims-triage", "--approver", "bob:risk-officer", "--supersedes", "nope"),
         "no such Approval"),
        (("approve", "claims-triage", "--approver", "bob:risk-officer", "--decision", "maybe"),
         "--decision"),
        (("approve", "claims-triage"), "--approver"),
    ]
    before = listing(factory.root)
    for args, message in cases:
        result = govctl(*args, "--root", factory.root, "--as-of", AS_OF)
        assert result.code == 2, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert listing(factory.root) == before


def test_no_temporary_files_are_left_behind(factory, govctl):
    factory.build()
    assert govctl(*APPROVE, "--root", factory.root).code == 0
    assert sorted(p.name for p in (factory.root / "approvals").iterdir()) == [
        "claims-triage-2026-10-01.yaml", "claims-triage-2026-11-27.yaml"]


def test_a_rejection_leaves_the_use_case_without_approval(factory, govctl):
    factory.build()
    assert govctl(*APPROVE, "--decision", "rejected", "--root", factory.root).code == 0
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert [f["rule"] for f in result.json()["findings"]] == ["GOV030"]
