"""Digests (SPEC §1.3): equal to an independent implementation's vectors, stable under
cosmetic edits, changed by every input that matters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from govctl.digest.canonical import canonical
from govctl.digest.digester import Digester, DigestError
from govctl.model.repository import WorktreeSource, load_repository

ROOT = Path(__file__).parent
REFERENCE = ROOT / "data" / "digest-vectors"
PUBLISHED = ROOT.parent / "docs" / "test-vectors" / "govctl-v1"


def digests(root: Path) -> dict[str, dict[str, str]]:
    repo = load_repository(WorktreeSource(root))
    digester = Digester(repo)
    return {
        "bundles": {b.id: digester.bundle_digest(b) for b in repo.of_kind("Bundle")},
        "contracts": {c.id: digester.contract_digest(c)
                      for c in repo.of_kind("ThresholdContract")},
        "eval_sets": {e.id: digester.eval_digest(e.id) for e in repo.of_kind("EvalSet")},
    }


def test_reference_vectors_from_an_independent_implementation():
    expected = json.loads((REFERENCE / "expected.json").read_text())
    got = digests(REFERENCE / "repo")
    for section in ("bundles", "contracts", "eval_sets"):
        assert got[section] == expected[section], section


def test_reference_canonical_bytes_of_fraud_score():
    repo = load_repository(WorktreeSource(REFERENCE / "repo"))
    bundle = repo.get("Bundle", "fraud-score")
    text = canonical("Bundle", Digester(repo).bundle_spec(bundle))
    assert text == (REFERENCE / "fraud-score.canonical.json").read_bytes().rstrip(b"\n")
    # the YAML 1.2 facts the vector exercises
    assert b'"threshold":1e-7' in text and b'"weights":[0.25,0.5,1]' in text


def test_reference_repo_keeps_crlf_prompt_bytes():
    # a checkout that rewrote line endings would silently change every digest below
    assert b"\r\n" in (REFERENCE / "repo" / "prompts" / "triage.md").read_bytes()
    assert b"\r\n" in (PUBLISHED / "repo" / "prompts" / "support.md").read_bytes()


def test_published_vectors_match():
    expected = json.loads((PUBLISHED / "expected.json").read_text())
    got = digests(PUBLISHED / "repo")
    for section in ("bundles", "contracts", "eval_sets"):
        assert got[section] == expected[section], section
    repo = load_repository(WorktreeSource(PUBLISHED / "repo"))
    digester = Digester(repo)
    for bundle_id, text in expected["canonical"].items():
        bundle = repo.get("Bundle", bundle_id)
        assert canonical("Bundle", digester.bundle_spec(bundle)).decode() == text


# What each published mutation must change, stated independently of expected.json.
EFFECTS = {
    "prompt-byte": {"bundle:support", "bundle:retention-agent"},
    "tool-schema": {"bundle:support", "bundle:retention-agent"},
    "component-model": {"bundle:guard", "bundle:retention-agent"},
    "model-snapshot": {"bundle:support", "bundle:retention-agent"},
    "eval-set": {"bundle:support", "bundle:guard", "bundle:retention-agent",
                 "eval_set:support-eval"},
    "param": {"bundle:support", "bundle:retention-agent"},
    "runbook": {"contract:support-contract"},
    "threshold": {"contract:support-contract"},
    "title": set(),
    "label": set(),
    "deprecation": set(),
}


@pytest.mark.parametrize("mutation", json.loads((PUBLISHED / "expected.json").read_text())
                         ["mutations"], ids=lambda m: m["name"])
def test_published_mutation(mutation, tmp_path):
    base = json.loads((PUBLISHED / "expected.json").read_text())
    copy = tmp_path / "repo"
    shutil.copytree(PUBLISHED / "repo", copy)
    target = copy / mutation["file"]
    data = target.read_bytes()
    assert mutation["old"].encode() in data
    target.write_bytes(data.replace(mutation["old"].encode(), mutation["new"].encode(), 1))
    got = digests(copy)
    for section in ("bundles", "contracts", "eval_sets"):
        assert got[section] == mutation[section], section
    singular = {"bundles": "bundle", "contracts": "contract", "eval_sets": "eval_set"}
    changed = {f"{singular[s]}:{i}" for s in got for i in got[s] if got[s][i] != base[s][i]}
    assert changed == EFFECTS[mutation["name"]]
    assert sorted(changed) == mutation["changed"]


def _bundle_repo(tmp_path: Path, params: str) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    (root / "governance.yaml").write_text(
        "apiVersion: govctl/v1\nkind: Policy\nmetadata: {id: p}\nspec:\n  risk_tiers: {}\n")
    (root / "r.yaml").write_text(f"""\
apiVersion: govctl/v1
kind: Model
metadata: {{id: m}}
spec: {{provider: p, name: n, type: vendor-endpoint}}
---
apiVersion: govctl/v1
kind: EvalSet
metadata: {{id: e}}
spec: {{population: x, collected: 2026-01-01, uri: "s3://e", digest: "sha256:{'0' * 64}"}}
---
apiVersion: govctl/v1
kind: Bundle
metadata: {{id: b}}
spec:
  class: classical
  model: m
  eval_set: e
  params: {params}
""")
    return root


@pytest.mark.parametrize(("params", "canonical_params"), [
    ("{a: no, b: on, c: NO, d: Off, e: y}", '{"a":"no","b":"on","c":"NO","d":"Off","e":"y"}'),
    ("{a: true, b: False, c: TRUE}", '{"a":true,"b":false,"c":true}'),
    ("{a: ~, b: null, c: NULL, d: }", '{"a":null,"b":null,"c":null,"d":null}'),
    ("{a: 2026-09-01, b: 2026-09-01T10:00:00Z}", '{"a":"2026-09-01","b":"2026-09-01T10:00:00Z"}'),
    ("{a: 1.0, b: 0.0, c: 1e-7, d: 0x10, e: 0o10, f: 010}",
     '{"a":1,"b":0,"c":1e-7,"d":16,"e":8,"f":10}'),
    ("{a: 9007199254740991, b: -9007199254740991}",
     '{"a":9007199254740991,"b":-9007199254740991}'),
    ('{a: "\\u00e9", b: é}', '{"a":"é","b":"é"}'),
])
def test_core_schema_values_decide_the_canonical_form(tmp_path, params, canonical_params):
    root = _bundle_repo(tmp_path, params)
    repo = load_repository(WorktreeSource(root))
    assert repo.findings == ()
    text = canonical("Bundle", Digester(repo).bundle_spec(repo.get("Bundle", "b"))).decode()
    assert f'"params":{canonical_params}' in text


@pytest.mark.parametrize(("params", "rule"), [
    ("{a: 9007199254740992}", "GOV010"),
    ("{a: -9007199254740992}", "GOV010"),
    ("{a: .inf}", "GOV010"),
    ("{a: -.Inf}", "GOV010"),
    ("{a: .nan}", "GOV010"),
    ("{1: x}", "GOV010"),
    ("{true: x}", "GOV010"),
    ("{<<: {a: 1}}", "GOV010"),
    ("{a: 1, a: 2}", "GOV002"),
    ("{a: !!binary aGk=}", "GOV003"),
])
def test_inputs_without_one_canonical_form_are_rejected(tmp_path, params, rule):
    root = _bundle_repo(tmp_path, params)
    repo = load_repository(WorktreeSource(root))
    assert [f.rule for f in repo.findings] == [rule]
    assert repo.findings[0].file == "r.yaml"
    assert repo.findings[0].line == 18  # the params line
    bundle = repo.get("Bundle", "b")
    assert bundle is not None and not bundle.valid


@pytest.mark.parametrize("ref", ["./prompts/p.md", "prompts/../prompts/p.md", "/abs/p.md",
                                 "prompts//p.md", "prompts\\p.md", "prompts/./p.md"])
def test_non_normalised_file_references_have_no_digest(tmp_path, ref):
    root = _bundle_repo(tmp_path, "{}")
    (root / "prompts").mkdir()
    (root / "prompts" / "p.md").write_text("hello\n")
    bundle_file = root / "r.yaml"
    bundle_file.write_text(bundle_file.read_text() + f"  prompt: {{template: {json.dumps(ref)}}}\n")
    repo = load_repository(WorktreeSource(root))
    with pytest.raises(DigestError):
        Digester(repo).bundle_digest(repo.get("Bundle", "b"))


def test_component_cycle_has_no_digest(tmp_path):
    root = _bundle_repo(tmp_path, "{}")
    bundle_file = root / "r.yaml"
    bundle_file.write_text(bundle_file.read_text() + "  components: [b]\n")
    repo = load_repository(WorktreeSource(root))
    with pytest.raises(DigestError, match="cycle"):
        Digester(repo).bundle_digest(repo.get("Bundle", "b"))


def test_digest_cli_prints_the_vector(govctl):
    expected = json.loads((REFERENCE / "expected.json").read_text())
    result = govctl("digest", "claims-agent", "--root", REFERENCE / "repo")
    assert result.code == 0
    assert result.stdout == expected["bundles"]["claims-agent"] + "\n"


def test_digest_cli_json_lists_every_input(govctl):
    expected = json.loads((REFERENCE / "expected.json").read_text())
    result = govctl("digest", "claims-agent", "--root", REFERENCE / "repo", "--format", "json")
    assert result.code == 0
    payload = result.json()
    assert payload["digest"] == expected["bundles"]["claims-agent"]
    inputs = {i["path"]: i for i in payload["inputs"]}
    assert inputs["components[0]"]["ref"] == "claims-triage"
    assert inputs["components[0]"]["digest"] == expected["bundles"]["claims-triage"]
    assert inputs["components[1]"]["digest"] == expected["bundles"]["fraud-score"]
    assert inputs["eval_set"]["digest"] == expected["eval_sets"]["claims-eval-2026-09"]
    assert inputs["prompt.template"]["ref"] == "prompts/agent.md"
    import hashlib

    assert payload["digest"] == "sha256:" + hashlib.sha256(
        payload["canonical"].encode()).hexdigest()


def test_digest_cli_unknown_bundle_exits_2(govctl):
    result = govctl("digest", "claims-agnet", "--root", REFERENCE / "repo")
    assert result.code == 2
    assert "unknown bundle 'claims-agnet'" in result.stderr
    assert "did you mean 'claims-agent'" in result.stderr
    assert "Traceback" not in result.stderr


# -- the fast canonical JSON equals the rfc8785 reference -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from govctl.digest.canonical import jcs  # noqa: E402

_JSON = st.recursive(
    st.none() | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(_JSON)
def test_fast_canonical_json_equals_rfc8785(value):
    import rfc8785

    assert jcs(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [1.0, -0.0, 0.5, 1e-4, 9.9e-5, 1e-7, 1e15, 1e16, 1.5e20,
                                   2.0**53, 2.0**60, 123456789.125, 2.5e-3, {"é": 1, "a": 2},
                                   {"\U0001f600": 1, "\ue000": 2}, "\x00\x1f\"\\\u2028\x7f"])
def test_fast_canonical_json_edge_values(value):
    import rfc8785

    assert jcs(value) == rfc8785.dumps(value)
