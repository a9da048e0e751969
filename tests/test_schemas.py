"""The JSON Schemas (``schemas/``) and record validation (SPEC §1.1, §1.2).

Baseline records come from the factory repository (read with govctl's own loader, so
unquoted dates are strings as the core schema says); each case breaks one field and
asserts the node the issue points at and what the message says.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from govctl.model import loader, schemas
from govctl.model.records import KINDS, SUPPORTED_API_VERSIONS
from tests.factory import BASE_FILES

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
DIGEST = "sha256:" + "ab" * 32
ID_PATTERN = "^[a-z0-9][a-z0-9._-]{0,127}$"  # SPEC §1.1


def _baselines() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for rel, content in BASE_FILES.items():
        if not rel.endswith(".yaml"):
            continue
        text = re.sub(r"@digest:\w+/[a-z0-9._-]+@", DIGEST, content)
        result = loader.load_text(text)
        assert result.problems == (), (rel, result.problems)
        for doc in result.documents:
            found.setdefault(doc.data["kind"], doc.data)
    # (the factory holds no Exercise: its Policy asks for none)
    found["Exercise"] = {
        "apiVersion": "govctl/v1", "kind": "Exercise", "metadata": {"id": "drill-1"},
        "spec": {"use_case": "claims-triage", "date": "2026-10-20",
                 "scenario": "The model fails.", "participants": ["alice"],
                 "gaps": [{"step": "rollback", "summary": "No earlier bundle",
                           "owner": "alice", "due": "2026-12-01", "status": "open"}]}}
    return found


BASELINES = _baselines()


def record(kind: str) -> dict[str, Any]:
    return copy.deepcopy(BASELINES[kind])


def issues_of(kind: str, data: Any) -> list[tuple[tuple[str | int, ...], bool, str]]:
    return [(i.path, i.at_key, i.message) for i in schemas.validate(kind, data)]


# -- editing helpers: each returns a function that breaks a baseline record ------------------


def setting(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def edit(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


def removing(*path: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return edit


def both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for e in edits:
            e(data)

    return edit


# -- the schema files ----------------------------------------------------------------------


def test_there_is_one_schema_per_kind():
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(KINDS)


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_schema_file_is_a_valid_2020_12_schema(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith(f"/{path.stem}.json")
    assert document["properties"]["kind"] == {"const": path.stem}
    assert document["properties"]["apiVersion"] == {"const": SUPPORTED_API_VERSIONS[0]}


@pytest.mark.parametrize("kind", KINDS)
def test_schema_rejects_unknown_keys_at_every_record_level(kind):
    document = schemas.schema(kind)
    assert document["additionalProperties"] is False
    assert document["required"] == ["apiVersion", "kind", "metadata", "spec"]
    metadata = document["properties"]["metadata"]
    assert metadata["additionalProperties"] is False
    assert metadata["required"] == ["id"]
    assert document["properties"]["spec"]["additionalProperties"] is False


@pytest.mark.parametrize("kind", KINDS)
def test_record_id_pattern_is_the_spec_pattern(kind):
    document = schemas.schema(kind)
    assert document["$defs"]["id"]["pattern"] == ID_PATTERN


def test_schema_ids_are_unique():
    ids = [schemas.schema(kind)["$id"] for kind in KINDS]
    assert len(set(ids)) == len(KINDS)


def test_packaged_schema_matches_the_file():
    for kind in KINDS:
        on_disk = json.loads((SCHEMA_DIR / f"{kind}.json").read_text(encoding="utf-8"))
        assert schemas.schema(kind) == on_disk


def test_combined_schema_is_valid_and_dispatches_on_kind():
    combined = schemas.combined_schema()
    Draft202012Validator.check_schema(combined)
    validator = Draft202012Validator(combined)
    for kind in KINDS:
        assert list(validator.iter_errors(record(kind))) == [], kind
    broken = record("UseCase")
    broken["spec"]["threshhold"] = 3
    assert list(validator.iter_errors(broken))
    assert list(validator.iter_errors({**record("Model"), "kind": "Modle"}))


# -- every kind passes ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_factory_record_of_every_kind_is_valid(kind):
    assert issues_of(kind, record(kind)) == []


PASSING: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("Policy", lambda d: d.update(spec={"risk_tiers": {}})),  # only risk_tiers is required
    ("Policy", setting("spec", "rules", {"GOV042": "off", "GOV060": "error",
                                         "GOV050": "warning"})),
    ("Policy", setting("spec", "exclude", ["drafts/**", "*.tmpl.yaml"])),
    ("Policy", setting("spec", "approvals", {"provenance": "signed"})),
    ("Policy", setting("spec", "risk_tiers", "high", "approvals",
                       [{"role": "risk-officer", "count": 2}])),
    ("Person", removing("spec", "roles")),
    ("Team", removing("spec", "oncall")),  # optional for the schema (GOV041 is a rule)
    ("Team", setting("spec", "oncall", {"rotation": "r"})),
    ("UseCase", setting("spec", "status", "intake")),
    ("UseCase", setting("spec", "risk", {"tier": "minimal"})),
    ("UseCase", setting("spec", "risk", "annex_iii", "5(b)")),
    ("UseCase", setting("spec", "risk", "tier", "not-a-policy-tier")),  # GOV020, not GOV010
    ("UseCase", removing("spec", "fallback")),
    ("Bundle", lambda d: d.update(spec={"class": "classical", "model": "m", "eval_set": "e",
                                        "features": {"window_days": 30}})),
    ("Bundle", setting("spec", "components", ["guard", "router.v2"])),
    ("Bundle", setting("spec", "tools", 0, "version", 2)),
    ("Model", both(setting("spec", "type", "artifact"),
                   setting("spec", "artifact", {"uri": "s3://models/x", "digest": DIGEST}))),
    ("Model", setting("spec", "lifecycle", {"released": "2026-01-01", "deprecation": "2026-06-01",
                                            "retirement": "2026-12-31"})),
    ("Model", setting("spec", "contract", {"notice_days": 90, "reapproval_on_change": True})),
    ("Model", setting("spec", "training", {"summary": "web text", "datasets": ["a", {"n": 1}],
                                           "cutoff": "2025-12"})),
    ("EvalSet", both(removing("spec", "path"), setting("spec", "uri", "s3://evals/x"),
                     setting("spec", "digest", DIGEST))),
    ("EvalSet", setting("spec", "size", 1200)),
    ("ThresholdContract", setting("spec", "signals", "latency", "min", 10)),  # a band
    ("ThresholdContract", setting("spec", "signals", "latency", "query",
                                  'histogram_quantile(0.95, rate(x[5m]))')),
    ("ThresholdContract", removing("spec", "signals", "latency", "window")),
    ("ThresholdContract", setting("spec", "on_breach", {"action": "page-only",
                                                        "runbook": "https://wiki/x"})),
    ("Approval", setting("spec", "decision", "rejected")),
    ("Approval", removing("spec", "eval")),
    ("Approval", removing("spec", "valid_until")),
    ("Approval", setting("spec", "conditions", ["weekly review"])),
    ("Approval", setting("spec", "supersedes", "claims-triage-2026-04-01")),
    ("Incident", setting("spec", "detected", "2026-10-15T08:30:00+02:00")),
    ("Incident", setting("spec", "detected", "2026-10-15T08:30:00.123Z")),
    ("Incident", both(setting("spec", "serious", True), setting("spec", "serious_kind", "death"),
                      setting("spec", "reported_to_authority", "2026-10-20"))),
    ("Incident", setting("spec", "actions", [{"at": "2026-10-15T09:00:00Z",
                                              "action": "rolled back", "by": "alice"}])),
    ("Incident", setting("spec", "bundle_digest", DIGEST)),
    ("Exercise", setting("spec", "gaps", [])),
    ("Exercise", setting("spec", "gaps", [{"step": "disclosure", "summary": "x",
                                           "status": "closed"}])),
    ("UseCase", setting("spec", "response", {"offline_authority": ["alice"],
                                             "customer_comms": "alice",
                                             "logging": {"digest_logged": True,
                                                         "retention_days": 183}})),
    ("Policy", setting("spec", "exercises", {"every_days": 90, "tiers": ["high", "limited"]})),
    ("Policy", setting("spec", "coverage", {"min": 1})),
    ("Model", setting("metadata", "labels", {"team": "ml", "tier": "gold"})),
    ("Model", setting("metadata", "title", "Chat model")),
    ("Model", setting("metadata", "id", "a" * 128)),
    ("Model", setting("metadata", "id", "0.model_v-2")),
]


@pytest.mark.parametrize(("kind", "edit"), PASSING,
                         ids=[f"{k}-{i}" for i, (k, _) in enumerate(PASSING)])
def test_valid_variants_pass(kind, edit):
    data = record(kind)
    edit(data)
    assert issues_of(kind, data) == []


# -- every kind fails -----------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]

# (kind, edit, path of the node the issue is about, at its key?, message fragments)
FAILING: list[tuple[str, Edit, tuple[Any, ...], bool, tuple[str, ...]]] = [
    # Policy
    ("Policy", removing("spec", "risk_tiers"), ("spec",), True,
     ("missing required field 'risk_tiers'",)),
    ("Policy", setting("spec", "risk_tiers", "minimall", {"allowed": True}),
     ("spec", "risk_tiers", "minimall"), True, ("'minimall'", "did you mean 'minimal'")),
    ("Policy", setting("spec", "risk_tiers", "critical", {"allowed": True}),
     ("spec", "risk_tiers", "critical"), True, ("prohibited, high, limited, minimal",)),
    ("Policy", setting("spec", "risk_tiers", "high", "allowed", "yes"),
     ("spec", "risk_tiers", "high", "allowed"), False, ("expected boolean", "'yes'")),
    ("Policy", setting("spec", "risk_tiers", "high", "max_validity_days", -1),
     ("spec", "risk_tiers", "high", "max_validity_days"), False, ("minimum",)),
    ("Policy", setting("spec", "rules", {"GOV999": "off"}), ("spec", "rules", "GOV999"), True,
     ("'GOV999'",)),
    ("Policy", setting("spec", "rules", {"GOV042": "warn"}), ("spec", "rules", "GOV042"), False,
     ("did you mean 'warning'",)),
    ("Policy", setting("spec", "approvals", "provenance", "signd"),
     ("spec", "approvals", "provenance"), False, ("did you mean 'signed'",)),
    ("Policy", removing("spec", "exposure_rules", 0, "require"), ("spec", "exposure_rules", 0),
     True, ("missing required field 'require'",)),
    ("Policy", setting("spec", "exposure_rules", 0, "require", [{"role": "cfo", "count": 0}]),
     ("spec", "exposure_rules", 0, "require", 0, "count"), False, ("minimum",)),
    ("Policy", setting("spec", "signals", "required", ["drift", "drift"]),
     ("spec", "signals", "required"), False, ("non-unique",)),
    ("Policy", setting("spec", "separation_of_duties", "no"), ("spec", "separation_of_duties"),
     False, ("expected boolean", "'no'")),
    ("Policy", setting("spec", "organisation", "Acme"), ("spec", "organisation"), True,
     ("unknown key 'organisation'", "did you mean 'organization'")),
    # Person
    ("Person", removing("spec", "email"), ("spec",), True, ("missing required field 'email'",)),
    ("Person", setting("spec", "email", "alice"), ("spec", "email"), False,
     ("'alice'", "email address")),
    ("Person", setting("spec", "role", ["x"]), ("spec", "role"), True,
     ("did you mean 'roles'",)),
    ("Person", setting("spec", "roles", ["a", "a"]), ("spec", "roles"), False, ("non-unique",)),
    # Team
    ("Team", removing("spec", "members"), ("spec",), True, ("missing required field 'members'",)),
    ("Team", setting("spec", "oncall", {"pager": "x"}), ("spec", "oncall"), True,
     ("missing required field 'rotation'",)),
    ("Team", setting("spec", "members", ["Alice"]), ("spec", "members", 0), False,
     ("'Alice'", "record id")),
    ("Team", setting("spec", "oncall", "escalation", "alice"),
     ("spec", "oncall", "escalation"), False, ("expected array",)),
    # UseCase
    ("UseCase", setting("spec", "threshhold", 3), ("spec", "threshhold"), True,
     ("unknown key 'threshhold'", "did you mean 'thresholds'")),
    ("UseCase", setting("spec", "status", "prod"), ("spec", "status"), False,
     ("'prod'", "did you mean 'production'")),
    ("UseCase", setting("spec", "status", "Production"), ("spec", "status"), False,
     ("did you mean 'production'",)),
    ("UseCase", removing("spec", "owner"), ("spec",), True, ("missing required field 'owner'",)),
    ("UseCase", removing("spec", "risk", "tier"), ("spec", "risk"), True,
     ("missing required field 'tier'",)),
    ("UseCase", setting("spec", "risk", "exposure_usd", -5), ("spec", "risk", "exposure_usd"),
     False, ("minimum",)),
    ("UseCase", setting("spec", "population", ""), ("spec", "population"), False,
     ("non-empty",)),
    ("UseCase", setting("spec", "out_of_scope", "payouts"), ("spec", "out_of_scope"), False,
     ("expected array",)),
    # Bundle
    ("Bundle", setting("spec", "class", "generatve"), ("spec", "class"), False,
     ("did you mean 'generative'",)),
    ("Bundle", removing("spec", "eval_set"), ("spec",), True,
     ("missing required field 'eval_set'",)),
    ("Bundle", setting("spec", "prompt", {"variables": ["x"]}), ("spec", "prompt"), True,
     ("missing required field 'template'",)),
    ("Bundle", removing("spec", "tools", 0, "version"), ("spec", "tools", 0), True,
     ("missing required field 'version'",)),
    ("Bundle", setting("spec", "retrieval", "top_k", 0), ("spec", "retrieval", "top_k"), False,
     ("minimum",)),
    ("Bundle", setting("spec", "components", ["Guard Model"]), ("spec", "components", 0), False,
     ("'Guard Model'",)),
    ("Bundle", setting("spec", "model", 12), ("spec", "model"), False,
     ("expected string, got integer", "quote it")),
    # Model
    ("Model", setting("spec", "type", "artifact"), ("spec",), True,
     ("missing required field 'artifact'",)),
    ("Model", setting("spec", "type", "endpoint"), ("spec", "type"), False,
     ("vendor-endpoint, artifact",)),
    ("Model", setting("spec", "artifact", {"uri": "s3://x", "digest": "sha256:ABC"}),
     ("spec", "artifact", "digest"), False, ("64 lowercase hexadecimal",)),
    ("Model", setting("spec", "lifecycle", "deprecation", "2026-02-30"),
     ("spec", "lifecycle", "deprecation"), False, ("not a valid date",)),
    ("Model", setting("spec", "contract", {"notice_days": -1}),
     ("spec", "contract", "notice_days"), False, ("minimum",)),
    ("Model", setting("spec", "contract", {"reapproval_on_change": "no"}),
     ("spec", "contract", "reapproval_on_change"), False, ("expected boolean", "'no'")),
    # EvalSet
    ("EvalSet", setting("spec", "uri", "s3://evals/x"), ("spec",), True,
     ("either `path`", "`uri` and `digest`")),
    ("EvalSet", removing("spec", "path"), ("spec",), True, ("either `path`",)),
    ("EvalSet", both(removing("spec", "path"), setting("spec", "uri", "s3://evals/x")), ("spec",),
     True, ("either `path`",)),
    ("EvalSet", setting("spec", "collected", "2026-13-01"), ("spec", "collected"), False,
     ("'2026-13-01'", "not a valid date (YYYY-MM-DD)")),
    ("EvalSet", setting("spec", "collected", "2026-9-20"), ("spec", "collected"), False,
     ("not a valid date",)),
    ("EvalSet", setting("spec", "size", 1.5), ("spec", "size"), False, ("expected integer",)),
    # ThresholdContract
    ("ThresholdContract", removing("spec", "signals", "drift", "max"),
     ("spec", "signals", "drift"), True, ("`min`, `max` or both",)),
    ("ThresholdContract", setting("spec", "signals", "drift", "severity", "pager"),
     ("spec", "signals", "drift", "severity"), False, ("did you mean 'page'",)),
    ("ThresholdContract", setting("spec", "signals", "latency", "window", "5 minutes"),
     ("spec", "signals", "latency", "window"), False, ("Prometheus duration",)),
    ("ThresholdContract", setting("spec", "on_breach", "action", "alert"),
     ("spec", "on_breach", "action"), False, ("fallback, rollback, disable, page-only",)),
    ("ThresholdContract", setting("spec", "signals", {}), ("spec", "signals"), False, ()),
    ("ThresholdContract", setting("spec", "signals", "", {"metric": "m", "max": 1,
                                                          "severity": "page"}),
     ("spec", "signals", ""), True, ("''",)),
    ("ThresholdContract", setting("spec", "signals", "latency", "max", "2500"),
     ("spec", "signals", "latency", "max"), False, ("expected number, got string",)),
    ("ThresholdContract", setting("spec", "signals", "latency", "max", True),
     ("spec", "signals", "latency", "max"), False, ("expected number, got boolean",)),
    # Approval
    ("Approval", setting("spec", "decision", "approve"), ("spec", "decision"), False,
     ("did you mean 'approved'",)),
    ("Approval", setting("spec", "bundle", "digest", "sha256:" + "AB" * 32),
     ("spec", "bundle", "digest"), False, ("64 lowercase hexadecimal",)),
    ("Approval", setting("spec", "thresholds", "digest", "md5:abc"),
     ("spec", "thresholds", "digest"), False, ("sha256:",)),
    ("Approval", setting("spec", "date", "2026-13-01"), ("spec", "date"), False,
     ("not a valid date",)),
    ("Approval", setting("spec", "valid_until", "01/03/2027"), ("spec", "valid_until"), False,
     ("not a valid date",)),
    ("Approval", setting("spec", "approvers", []), ("spec", "approvers"), False, ("empty",)),
    ("Approval", setting("spec", "approvers", 0, "persn", "bob"),
     ("spec", "approvers", 0, "persn"), True, ("did you mean 'person'",)),
    ("Approval", removing("spec", "eval", "digest"), ("spec", "eval"), True,
     ("missing required field 'digest'",)),
    ("Approval", setting("spec", "eval", "results", "triage_agreement", "high"),
     ("spec", "eval", "results", "triage_agreement"), False, ("expected number",)),
    # Incident
    ("Incident", setting("spec", "detected", "2026-10-15 08:30"), ("spec", "detected"), False,
     ("'2026-10-15 08:30'", "RFC 3339")),
    ("Incident", setting("spec", "detected", "2026-10-15T08:30:00"), ("spec", "detected"), False,
     ("RFC 3339",)),  # no UTC offset
    ("Incident", setting("spec", "detected", "2026-10-15"), ("spec", "detected"), False,
     ("RFC 3339",)),
    ("Incident", setting("spec", "detected", "2026-10-32T08:30:00Z"), ("spec", "detected"),
     False, ("RFC 3339",)),
    ("Incident", setting("spec", "severity", "sev5"), ("spec", "severity"), False,
     ("sev1, sev2, sev3, sev4",)),
    ("Incident", setting("spec", "status", "closed"), ("spec", "status"), False,
     ("open, mitigated, resolved",)),
    ("Incident", setting("spec", "serious", "yes"), ("spec", "serious"), False,
     ("expected boolean",)),
    ("Incident", setting("spec", "serious_kind", "deaths"), ("spec", "serious_kind"), False,
     ("did you mean 'death'",)),
    ("Incident", setting("spec", "actions", [{"at": "yesterday", "action": "x"}]),
     ("spec", "actions", 0, "at"), False, ("RFC 3339",)),
    ("Incident", setting("spec", "bundle_digest", "sha256:123"), ("spec", "bundle_digest"),
     False, ("64 lowercase hexadecimal",)),
    ("Exercise", setting("spec", "gaps", [{"step": "rolback", "summary": "x",
                                           "status": "open"}]),
     ("spec", "gaps", 0, "step"), False, ("rolback",)),
    ("Exercise", setting("spec", "participants", []), ("spec", "participants"), False, ()),
    ("Exercise", setting("spec", "date", "2026-13-01"), ("spec", "date"), False, ()),
    ("Policy", setting("spec", "coverage", {"min": 1.5}), ("spec", "coverage", "min"), False,
     ()),
    ("Policy", setting("spec", "exercises", {"tiers": ["hihg"]}),
     ("spec", "exercises", "tiers", 0), False, ()),
    # metadata and the top level, on any kind
    ("Model", setting("metadata", "id", "Chat_2026"), ("metadata", "id"), False,
     ("'Chat_2026'", "record id")),
    ("Model", setting("metadata", "id", "a" * 129), ("metadata", "id"), False, ("record id",)),
    ("Model", setting("metadata", "id", "-model"), ("metadata", "id"), False, ("record id",)),
    ("Model", setting("metadata", "labels", {"team": 1}), ("metadata", "labels", "team"), False,
     ("expected string",)),
    ("Model", setting("metadata", "titel", "x"), ("metadata", "titel"), True,
     ("did you mean 'title'",)),
    ("Model", removing("metadata", "id"), ("metadata",), True, ("missing required field 'id'",)),
    ("Model", setting("spce", {}), ("spce",), True, ("did you mean 'spec'",)),
    ("Person", removing("spec"), (), True, ("missing required field 'spec'",)),
]


@pytest.mark.parametrize(("kind", "edit", "path", "at_key", "fragments"), FAILING,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(FAILING)])
def test_invalid_variants_fail_at_the_node(kind, edit, path, at_key, fragments):
    data = record(kind)
    edit(data)
    found = issues_of(kind, data)
    assert found, "expected a schema issue"
    matching = [f for f in found if f[0] == path and f[1] == at_key]
    assert matching, found
    message = matching[0][2]
    for fragment in fragments:
        assert fragment in message, message


def test_every_kind_has_a_passing_and_a_failing_case():
    assert {k for k, _ in PASSING} == set(KINDS)
    assert {c[0] for c in FAILING} == set(KINDS)


def test_one_issue_per_problem():
    data = record("UseCase")
    data["spec"]["threshhold"] = 3
    data["spec"]["status"] = "prod"
    assert [i[0] for i in issues_of("UseCase", data)] == [("spec", "status"),
                                                          ("spec", "threshhold")]


def test_bad_date_is_reported_once_not_per_keyword():
    # "2026-9-20" fails both the pattern and the date format of the same node
    data = record("EvalSet")
    data["spec"]["collected"] = "2026-9-20"
    assert len(issues_of("EvalSet", data)) == 1


def test_several_unknown_keys_each_get_an_issue():
    data = record("Team")
    data["spec"]["membres"] = []
    data["spec"]["colour"] = "red"
    found = issues_of("Team", data)
    assert {i[0] for i in found} == {("spec", "membres"), ("spec", "colour")}
    assert all(i[1] for i in found)


def test_unknown_key_without_close_match_lists_known_keys():
    data = record("Person")
    data["spec"]["zzzz"] = 1
    ((_, _, message),) = issues_of("Person", data)
    assert "known: name, email, roles" in message


def test_validate_leaves_the_envelope_to_envelope_issues():
    # apiVersion/kind problems are reported by envelope_issues; validate must not repeat them
    data = record("Model")
    data["apiVersion"] = "govctl/v2"
    assert issues_of("Model", data) == []
    del data["apiVersion"]
    assert issues_of("Model", data) == []


# -- the envelope ---------------------------------------------------------------------------


@pytest.mark.parametrize("data", [None, "text", 12, ["a", "b"]])
def test_envelope_must_be_a_mapping(data):
    kind, issues = schemas.envelope_issues(data)
    assert kind is None
    assert [(i.path, i.at_key) for i in issues] == [((), False)]
    assert "mapping" in issues[0].message


def test_envelope_unsupported_api_version_names_the_supported_one():
    kind, issues = schemas.envelope_issues({**record("Model"), "apiVersion": "govctl/v2"})
    assert kind == "Model"
    ((issue),) = issues
    assert issue.path == ("apiVersion",)
    assert "'govctl/v2'" in issue.message
    assert "govctl/v1" in issue.message


def test_envelope_missing_api_version():
    data = record("Model")
    del data["apiVersion"]
    kind, issues = schemas.envelope_issues(data)
    assert kind == "Model"
    assert ["apiVersion" in i.message and "govctl/v1" in i.message for i in issues] == [True]


@pytest.mark.parametrize(("given", "suggested"), [
    ("Modle", "Model"), ("model", "Model"), ("usecase", "UseCase"), ("Usecase", "UseCase"),
    ("Aproval", "Approval"), ("EvalSets", "EvalSet"), ("Thresholdcontract", "ThresholdContract"),
])
def test_envelope_unknown_kind_suggests(given, suggested):
    kind, issues = schemas.envelope_issues({**record("Model"), "kind": given})
    assert kind is None
    ((issue),) = issues
    assert issue.path == ("kind",)
    assert f"did you mean {suggested!r}" in issue.message


def test_envelope_unknown_kind_without_match_lists_kinds():
    _, (issue,) = schemas.envelope_issues({**record("Model"), "kind": "Widget"})
    assert all(k in issue.message for k in KINDS)


def test_envelope_missing_kind():
    data = record("Model")
    del data["kind"]
    kind, issues = schemas.envelope_issues(data)
    assert kind is None
    assert ["missing kind" in i.message for i in issues] == [True]


@pytest.mark.parametrize("kind_value", [["Model"], {"a": 1}, 12, True])
def test_envelope_kind_of_the_wrong_type(kind_value):
    kind, issues = schemas.envelope_issues({**record("Model"), "kind": kind_value})
    assert kind is None
    assert len(issues) == 1


# -- suggestions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "choices", "expected"), [
    ("threshhold", ["owner", "thresholds", "team"], "thresholds"),
    ("prod", ["intake", "approved", "production", "retired"], "production"),
    ("Production", ["intake", "approved", "production", "retired"], "production"),
    ("Modle", KINDS, "Model"),
    ("signd", ["none", "author", "signed"], "signed"),
    ("warn", ["error", "warning", "off"], "warning"),
])
def test_suggest(word, choices, expected):
    assert schemas.suggest(word, choices) == f" (did you mean {expected!r}?)"


@pytest.mark.parametrize(("word", "choices"), [
    ("xyzzy", ["owner", "team"]),
    ("", ["owner"]),
    ("owner", []),
    ("p", ["production", "prohibited"]),  # too short to be an abbreviation
])
def test_suggest_nothing(word, choices):
    assert schemas.suggest(word, choices) == ""


def test_suggest_ignores_non_string_choices_and_accepts_mappings():
    assert schemas.suggest("alise", {"alice": 1, 2: 3}) == " (did you mean 'alice'?)"


def test_a_policy_may_set_the_severity_of_every_rule() -> None:
    # a rule added to findings.RULES but not to the schema would make `rules: {GOVnnn: off}`
    # itself an error
    from govctl.model.findings import RULES

    allowed = schemas.schema("Policy")["properties"]["spec"]["properties"]["rules"][
        "propertyNames"]["enum"]
    assert sorted(RULES) == sorted(allowed)
