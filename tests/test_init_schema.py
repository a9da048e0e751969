"""`govctl init` scaffolds a repository that validates clean; `govctl schema` prints schemas."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from govctl.model.records import KINDS
from tests.conftest import run_subprocess


def test_init_validates_clean_through_the_real_entry_point(tmp_path):
    target = tmp_path / "gov"
    created = run_subprocess("init", target, cwd=tmp_path)
    assert created.code == 0, created.stderr
    assert (target / ".gitattributes").read_text().count("-text") == 4
    result = run_subprocess("validate", "--format", "json", cwd=target)
    assert result.code == 0, result.stdout
    payload = json.loads(result.stdout)
    assert payload["findings"] == []
    kinds = {"Policy", "Person", "Team", "Model", "EvalSet", "Bundle", "ThresholdContract",
             "UseCase"}
    assert payload["records"] >= len(kinds)


def test_init_has_every_required_kind_and_an_intake_use_case(tmp_path, govctl):
    from govctl.model.repository import WorktreeSource, load_repository

    assert govctl("init", tmp_path / "gov").code == 0
    repo = load_repository(WorktreeSource(tmp_path / "gov"))
    for kind in ("Policy", "Person", "Team", "Model", "EvalSet", "Bundle", "ThresholdContract",
                 "UseCase"):
        assert repo.of_kind(kind), kind
    (use_case,) = repo.of_kind("UseCase")
    assert use_case.spec["status"] == "intake"
    (contract,) = repo.of_kind("ThresholdContract")
    assert set(contract.spec["signals"]) == {"latency", "accuracy_proxy", "drift", "abuse",
                                             "fallback"}
    (bundle,) = repo.of_kind("Bundle")
    assert (tmp_path / "gov" / bundle.spec["prompt"]["template"]).is_file()


def test_init_refuses_a_non_empty_folder(tmp_path, govctl):
    target = tmp_path / "gov"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = govctl("init", target)
    assert result.code == 2
    assert "not empty" in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    forced = govctl("init", target, "--force")
    assert forced.code == 0
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "governance.yaml").is_file()


def test_schema_prints_each_kind(govctl, tmp_path):
    for kind in KINDS:
        result = govctl("schema", kind)
        assert result.code == 0
        schema = json.loads(result.stdout)
        Draft202012Validator.check_schema(schema)
        assert schema["properties"]["kind"] == {"const": kind}


def test_schema_without_kind_validates_any_record(govctl):
    result = govctl("schema")
    assert result.code == 0
    schema = json.loads(result.stdout)
    validator = Draft202012Validator(schema)
    good = {"apiVersion": "govctl/v1", "kind": "Person", "metadata": {"id": "bob"},
            "spec": {"name": "Bob", "email": "bob@example.com"}}
    bad = {**good, "spec": {"name": "Bob"}}
    assert validator.is_valid(good)
    assert not validator.is_valid(bad)


def test_schema_unknown_kind_suggests(govctl):
    result = govctl("schema", "Modle")
    assert result.code == 2
    assert "did you mean 'Model'" in result.stderr


def test_rules_doc_lists_every_code():
    from pathlib import Path

    from govctl.model.findings import RULES

    text = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    for code, rule in RULES.items():
        assert f"{code} | {rule.severity} |" in text, code
