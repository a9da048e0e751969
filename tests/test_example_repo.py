"""The example repository is the showcase: it validates clean with every rule on, its
approvals are bound to the right digests, and it contains every record kind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from govctl.digest.digester import Digester
from govctl.model.records import KINDS
from govctl.model.repository import WorktreeSource, load_repository
from govctl.rules.decisions import current_approvals
from tests.conftest import require_program
from tests.promtool_support import minutes, unit_tests

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "governance-repo"
AS_OF = "2026-11-27"


def test_example_validates_clean(govctl):
    result = govctl("validate", "--root", EXAMPLE, "--as-of", AS_OF, "--format", "json")
    assert result.code == 0, result.stdout
    assert result.json()["findings"] == []


def test_example_has_every_kind_and_the_three_classes():
    repo = load_repository(WorktreeSource(EXAMPLE))
    for kind in KINDS:
        assert repo.of_kind(kind), kind
    classes = {b.spec["class"] for b in repo.of_kind("Bundle")}
    assert classes == {"classical", "generative", "agentic"}
    assert any(b.spec.get("components") for b in repo.of_kind("Bundle"))
    assert any(i.spec.get("serious") for i in repo.of_kind("Incident"))


def test_every_production_use_case_is_approved_at_the_current_digests():
    repo = load_repository(WorktreeSource(EXAMPLE))
    digester = Digester(repo)
    current = current_approvals(repo)
    production = [u for u in repo.of_kind("UseCase") if u.spec["status"] == "production"]
    assert len(production) >= 3
    for use_case in production:
        approval = current[use_case.id]
        bundle = repo.get("Bundle", use_case.spec["bundle"])
        contract = repo.get("ThresholdContract", use_case.spec["thresholds"])
        assert approval.spec["bundle"]["digest"] == digester.bundle_digest(bundle)
        assert approval.spec["thresholds"]["digest"] == digester.contract_digest(contract)


@pytest.mark.external("promtool")
def test_example_rules_fire_on_breach_and_on_missing_data(govctl, tmp_path):
    """`promtool check rules` and `promtool test rules` on the example's own export: every
    breach alert of a signal with the default query, and every missing-data alert, fires
    when it should and stays silent when healthy (five-minute steps: windows reach 1w)."""
    promtool = require_program("promtool")
    out = tmp_path / "rules.yml"
    assert govctl("export", "prometheus-rules", "--root", EXAMPLE, "--as-of", AS_OF,
                  "-o", out).code == 0
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = yaml.safe_load(out.read_text())
    repo = load_repository(WorktreeSource(EXAMPLE))
    files, tested, fired = [], 0, 0
    for group in rules["groups"]:
        use_case = group["name"].removeprefix("govctl-")
        # each use case's group in a file of its own, each signal in a test file of its own
        # with steps a fifth of its window: promtool evaluates every rule at every step
        rules_file = tmp_path / f"rules-{use_case}.yml"
        rules_file.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
        contract = repo.get("ThresholdContract", repo.get("UseCase", use_case).spec["thresholds"])
        labels = {k: group["rules"][0]["labels"][k]
                  for k in ("team", "rotation", "approval", "bundle_digest")}
        for name, signal in contract.spec["signals"].items():
            step = max(1, minutes(signal["window"]) // 5)
            # (a custom histogram-quantile query gets only its missing-data case: its
            # breach alert would need buckets as input series)
            document = unit_tests(rules_file, rules, {name: dict(signal)}, labels, use_case,
                                  step=step)
            fired += sum(1 for t in document["tests"] for c in t["alert_rule_test"]
                         if c["exp_alerts"])
            files.append(tmp_path / f"test-{use_case}-{name}.yml")
            files[-1].write_text(yaml.safe_dump(document, sort_keys=False))
            tested += 1
    assert tested >= 15
    assert fired >= 2 * tested - 1  # a breach (but one histogram) and missing data each
    result = subprocess.run([promtool, "test", "rules", *(f.name for f in files)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "SUCCESS" in result.stdout + result.stderr
