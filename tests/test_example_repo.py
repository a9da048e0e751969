"""The example repository is the showcase: it validates clean with every rule on, its
approvals are bound to the right digests, and it contains every record kind."""

from __future__ import annotations

from pathlib import Path

from govctl.digest.digester import Digester
from govctl.model.records import KINDS
from govctl.model.repository import WorktreeSource, load_repository
from govctl.rules.decisions import current_approvals

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
