"""`govctl validate` on broken records: loader and schema rules (GOV001-GOV004, GOV010)
reported with the file, line and column of the offending node, once per problem.
"""

from __future__ import annotations

from typing import Any

import pytest

from govctl.model.loader import MAX_FILE_SIZE
from tests.factory import AS_OF

USE_CASE = "use-cases/triage.yaml"
MODEL = "models/chat.yaml"
EVALSET = "evals/claims-eval.yaml"
CONTRACT = "thresholds/triage.yaml"
APPROVAL = "approvals/claims-triage-2026-10-01.yaml"
INCIDENT = "incidents/2026-10-15.yaml"
POLICY = "governance.yaml"


def validate(govctl, factory) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert result.code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    payload = result.json()
    return result.code, payload["findings"], payload


def only_finding(govctl, factory) -> dict[str, Any]:
    """The one finding of the repository (validate exits 1 for it)."""
    code, findings, _ = validate(govctl, factory)
    assert len(findings) == 1, findings
    assert code == 1
    return findings[0]


def assert_at(finding: dict[str, Any], rule: str, file: str, line: int, column: int,
              *fragments: str) -> None:
    assert (finding["rule"], finding["file"], finding["line"], finding["column"]) == (
        rule, file, line, column), finding
    assert finding["severity"] == "error"
    for fragment in fragments:
        assert fragment in finding["message"], finding["message"]


def column_of(factory, rel: str, needle: str, line_needle: str | None = None) -> int:
    """1-based column of the last ``needle`` on the first line holding ``line_needle``."""
    line = (factory.root / rel).read_text(encoding="utf-8").splitlines()[
        factory.line_of(rel, line_needle or needle) - 1]
    return line.rindex(needle) + 1


# -- schema violations (GOV010) at the node --------------------------------------------------


def test_unknown_key_suggests_the_closest(govctl, factory):
    factory.build()
    factory.edit(USE_CASE, "  thresholds: triage-contract\n",
                 "  thresholds: triage-contract\n  threshhold: triage-contract\n")
    finding = only_finding(govctl, factory)
    assert_at(finding, "GOV010", USE_CASE, factory.line_of(USE_CASE, "threshhold"), 3,
              "unknown key 'threshhold'", "did you mean 'thresholds'")
    assert finding["record"] == "UseCase/claims-triage"


def test_unknown_kind_suggests_the_kind(govctl, factory):
    factory.build()
    factory.write("models/extra.yaml",
                  "apiVersion: govctl/v1\nkind: Modle\nmetadata: {id: extra}\n"
                  "spec: {provider: p, name: n, type: vendor-endpoint}\n")
    assert_at(only_finding(govctl, factory), "GOV010", "models/extra.yaml", 2, 7,
              "'Modle'", "did you mean 'Model'")


def test_unsupported_api_version_names_the_supported_one_once(govctl, factory):
    factory.build()
    factory.write("models/extra.yaml",
                  "apiVersion: govctl/v2\nkind: Model\nmetadata: {id: extra}\n"
                  "spec: {provider: p, name: n, type: vendor-endpoint}\n")
    assert_at(only_finding(govctl, factory), "GOV010", "models/extra.yaml", 1, 13,
              "govctl/v2", "govctl/v1")


def test_missing_required_field_points_at_the_parent_key(govctl, factory):
    factory.build()
    factory.edit(USE_CASE, "  intended_use: Suggest the next step for a new home-insurance "
                 "claim.\n", "")
    assert_at(only_finding(govctl, factory), "GOV010", USE_CASE,
              factory.line_of(USE_CASE, "spec:"), 1, "missing required field 'intended_use'")


def test_missing_nested_required_field_points_at_its_parent(govctl, factory):
    factory.build()
    factory.edit(CONTRACT, "on_breach: {action: fallback, runbook: runbooks/triage.md}",
                 "on_breach: {runbook: runbooks/triage.md}")
    _, findings, _ = validate(govctl, factory)
    (finding,) = [f for f in findings if f["rule"] == "GOV010"]
    assert_at(finding, "GOV010", CONTRACT, factory.line_of(CONTRACT, "on_breach"), 3,
              "missing required field 'action'")


@pytest.mark.parametrize(("rel", "old", "new", "needle", "fragments"), [
    (USE_CASE, "status: production", "status: prod", "prod",
     ("'prod'", "did you mean 'production'")),
    (MODEL, "metadata: {id: chat-2026-03}", "metadata: {id: Chat_2026}", "Chat_2026",
     ("record id",)),
    (EVALSET, "collected: 2026-09-20", "collected: 2026-13-01", "2026-13-01",
     ("'2026-13-01'", "YYYY-MM-DD")),
    (INCIDENT, "detected: 2026-10-15T08:30:00Z", "detected: 2026-10-15 08:30", "2026-10-15 08:30",
     ("RFC 3339",)),
    (INCIDENT, "severity: sev3", "severity: sev5", "sev5", ("sev1, sev2, sev3, sev4",)),
    (MODEL, "name: vendor-chat", "name: 12", "12", ("expected string", "quote it")),
    (MODEL, "lifecycle: {released: \"2026-03-14\"}",
     "lifecycle: {released: \"2026-03-14\"}\n  contract: {reapproval_on_change: no}", "no",
     ("expected boolean", "'no'")),  # the Norway problem cannot pass silently
])
def test_bad_value_is_reported_at_the_value(govctl, factory, rel, old, new, needle, fragments):
    factory.build()
    factory.edit(rel, old, new)
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    changed = new.splitlines()[-1]
    assert_at(gov010[0], "GOV010", rel, factory.line_of(rel, changed),
              column_of(factory, rel, needle, changed), *fragments)


def test_bad_digest_is_reported_at_the_digest(govctl, factory):
    factory.build()
    text = (factory.root / APPROVAL).read_text(encoding="utf-8")
    start = text.index('digest: "sha256:', text.index("bundle:")) + len('digest: "sha256:')
    (factory.root / APPROVAL).write_text(text[:start] + "XYZ" + text[start + 3:],
                                         encoding="utf-8")
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    line = factory.line_of(APPROVAL, "bundle:")
    assert_at(gov010[0], "GOV010", APPROVAL, line, column_of(factory, APPROVAL, '"sha256:XYZ'),
              "64 lowercase hexadecimal")


def test_signal_without_min_or_max(govctl, factory):
    factory.build()
    factory.edit(CONTRACT, "drift: {metric: psi, max: 0.2, window: 1d, severity: ticket}",
                 "drift: {metric: psi, window: 1d, severity: ticket}")
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    assert_at(gov010[0], "GOV010", CONTRACT, factory.line_of(CONTRACT, "drift:"), 5,
              "`min`, `max` or both")


def test_evalset_with_both_path_and_uri(govctl, factory):
    factory.build()
    factory.edit(EVALSET, "  path: data/claims-eval.jsonl\n",
                 "  path: data/claims-eval.jsonl\n  uri: s3://evals/claims\n")
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    assert_at(gov010[0], "GOV010", EVALSET, factory.line_of(EVALSET, "spec:"), 1,
              "either `path`")


def test_artifact_model_without_artifact(govctl, factory):
    factory.build()
    factory.edit(MODEL, "type: vendor-endpoint", "type: artifact")
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    assert_at(gov010[0], "GOV010", MODEL, factory.line_of(MODEL, "spec:"), 1,
              "missing required field 'artifact'")


def test_unknown_policy_tier_is_reported_at_its_key(govctl, factory):
    factory.build()
    factory.edit(POLICY, "    minimal: {", "    minimall: {")
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    assert_at(gov010[0], "GOV010", POLICY, factory.line_of(POLICY, "minimall"), 5,
              "did you mean 'minimal'")


# -- loader rules through the CLI ----------------------------------------------------------


def test_syntax_error_is_gov001(govctl, factory):
    factory.build()
    factory.edit(INCIDENT, "  severity: sev3\n", "  severity: [sev3\n")
    finding = only_finding(govctl, factory)
    assert finding["rule"] == "GOV001"
    assert finding["file"] == INCIDENT
    assert finding["line"] > factory.line_of(INCIDENT, "[sev3") - 1
    assert "syntax" in finding["message"]


def test_duplicate_key_is_gov002_at_the_second_key(govctl, factory):
    factory.build()
    factory.edit(INCIDENT, "  severity: sev3\n", "  severity: sev3\n  severity: sev1\n")
    assert_at(only_finding(govctl, factory), "GOV002", INCIDENT,
              factory.line_of(INCIDENT, "severity: sev1"), 3,
              "'severity'", f"line {factory.line_of(INCIDENT, 'severity: sev3')}")


def test_unsafe_tag_is_gov003_and_never_runs(govctl, factory, tmp_path):
    marker = tmp_path / "pwned"
    factory.build()
    factory.edit(INCIDENT, "  summary:", f"  root_cause: !!python/object/apply:os.system "
                 f"['touch {marker}']\n  summary:")
    assert_at(only_finding(govctl, factory), "GOV003", INCIDENT,
              factory.line_of(INCIDENT, "root_cause"), 15, "!!python/object/apply:os.system")
    assert not marker.exists()


def test_non_utf8_is_gov004_at_the_bad_byte(govctl, factory):
    factory.build()
    factory.write(INCIDENT, (factory.root / INCIDENT).read_bytes().replace(
        b"summary: p95", b"summary: caf\xe9 p95"))
    finding = only_finding(govctl, factory)
    assert_at(finding, "GOV004", INCIDENT, _line_of_bytes(factory, INCIDENT, b"summary"), 15,
              "UTF-8")
    assert finding["record"] is None


def _line_of_bytes(factory, rel: str, needle: bytes) -> int:
    for number, line in enumerate((factory.root / rel).read_bytes().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_file_over_5_mib_is_gov004(govctl, factory):
    factory.build()
    big = b"# padding\n" * (MAX_FILE_SIZE // 10 + 1)
    factory.write("notes/big.yaml", big)
    assert len(big) > MAX_FILE_SIZE
    assert_at(only_finding(govctl, factory), "GOV004", "notes/big.yaml", 1, 1, "limit")


def test_merge_key_is_gov010_and_not_merged(govctl, factory):
    factory.build()
    factory.edit(INCIDENT, "  severity: sev3\n  status: resolved\n",
                 "  <<: {severity: sev3, status: resolved}\n")
    assert_at(only_finding(govctl, factory), "GOV010", INCIDENT,
              factory.line_of(INCIDENT, "<<"), 3, "merge keys")


def test_non_string_key_is_gov010(govctl, factory):
    factory.build()
    factory.edit(INCIDENT, "  summary:", "  2026: x\n  summary:")
    assert_at(only_finding(govctl, factory), "GOV010", INCIDENT,
              factory.line_of(INCIDENT, "2026: x"), 3, "'2026'", "not a string")


@pytest.mark.parametrize(("value", "fragment"), [
    ("9007199254740993", "2^53"),
    (".nan", "finite"),
    ("-.inf", "finite"),
])
def test_unrepresentable_numbers_are_gov010(govctl, factory, value, fragment):
    factory.build()
    factory.edit(INCIDENT, "  summary:", f"  root_cause: {value}\n  summary:")
    assert_at(only_finding(govctl, factory), "GOV010", INCIDENT,
              factory.line_of(INCIDENT, "root_cause"), 15, fragment)


def test_20000_deep_nesting_is_gov003_without_a_crash(govctl, factory):
    factory.build()
    factory.write("notes/deep.yaml", "a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert_at(only_finding(govctl, factory), "GOV003", "notes/deep.yaml", 1, 103, "100 levels")


def test_aliases_that_nest_deeply_are_gov003_without_a_crash(govctl, factory):
    # shallow text, but each alias adds 95 levels: a RecursionError in the schema
    # validator if the loader let it through
    lines = ["apiVersion: govctl/v1", "kind: Incident", "metadata: {id: deep}", "x:",
             "  l0: &l0 " + "[" * 95 + "1" + "]" * 95]
    lines += [f"  l{i}: &l{i} " + "[" * 95 + f"*l{i - 1}" + "]" * 95 for i in range(1, 13)]
    lines.append("spec: {use_case: *l12}")
    factory.build()
    factory.write("incidents/deep.yaml", "\n".join(lines) + "\n")
    finding = only_finding(govctl, factory)
    assert (finding["rule"], finding["file"], finding["line"]) == (
        "GOV003", "incidents/deep.yaml", 6)


def test_billion_laughs_is_gov003(govctl, factory):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    factory.build()
    factory.write("notes/lol.yaml", "\n".join(lines) + "\n")
    # a, b and c expand to 1,220 nodes; each *c adds 1,111: the 8th crosses 10,000
    eighth = len("d: &d [") + len("*c, ") * 7 + 1
    assert_at(only_finding(govctl, factory), "GOV003", "notes/lol.yaml", 4, eighth, "alias")


# -- encodings, line endings, documents ----------------------------------------------------


def test_bom_and_crlf_records_validate_clean(govctl, factory):
    factory.build()
    for rel in (USE_CASE, "people.yaml", POLICY):
        text = (factory.root / rel).read_text(encoding="utf-8")
        (factory.root / rel).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    code, findings, payload = validate(govctl, factory)
    assert (code, findings, payload["records"]) == (0, [], 12)


def test_crlf_and_bom_file_reports_true_positions(govctl, factory):
    factory.build()
    text = (factory.root / USE_CASE).read_text(encoding="utf-8")
    text = text.replace("status: production", "status: prod")
    (factory.root / USE_CASE).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert_at(gov010[0], "GOV010", USE_CASE, 7, 11, "'prod'")


def test_empty_documents_are_ignored(govctl, factory):
    factory.build()
    text = (factory.root / "people.yaml").read_text(encoding="utf-8")
    factory.write("people.yaml", "# people\n---\n---\n# nothing\n---\n" + text + "---\n...\n")
    code, findings, payload = validate(govctl, factory)
    assert (code, findings, payload["records"]) == (0, [], 12)


def test_problem_in_a_later_document_is_reported_in_that_document(govctl, factory):
    factory.build()
    factory.edit("people.yaml", "bob@acme.test, roles: [risk-officer]",
                 "bob@acme.test, role: [risk-officer]")
    _, findings, _ = validate(govctl, factory)
    gov010 = [f for f in findings if f["rule"] == "GOV010"]
    assert len(gov010) == 1, findings
    assert_at(gov010[0], "GOV010", "people.yaml", factory.line_of("people.yaml", "role: ["),
              column_of(factory, "people.yaml", "role: ["), "did you mean 'roles'")
    assert gov010[0]["record"] == "Person/bob"


def test_text_output_carries_file_line_and_column(govctl, factory):
    factory.build()
    factory.edit(INCIDENT, "  severity: sev3\n", "  severity: sev3\n  severity: sev1\n")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "text")
    assert result.code == 1
    line = factory.line_of(INCIDENT, "severity: sev1")
    assert f"{INCIDENT}:{line}:3: GOV002" in result.stdout


# -- a problem is reported once ------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "rule"), [
    ("  severity: sev3\n", "  severity: sev3\n  severity: sev1\n", "GOV002"),
    ("  status: resolved\n", "  <<: {status: resolved}\n", "GOV010"),  # no "missing status"
    ("  status: resolved\n", "  status: !Status resolved\n", "GOV003"),  # no "not one of"
    ("  status: resolved\n", "  status: [resolved\n", "GOV001"),
    ("  detected: 2026-10-15T08:30:00Z\n", "  detected: !!timestamp 2026-10-15T08:30:00Z\n",
     "GOV003"),
    ("  severity: sev3\n", "  severity: !!int sev3\n", "GOV010"),
    ("  severity: sev3\n", "  severity: .inf\n", "GOV010"),
    ("metadata: {id: inc-2026-10-15}", "metadata: {id: inc-2026-10-15, 1: x}", "GOV010"),
])
def test_loader_problem_is_not_cascaded_into_schema_findings(govctl, factory, old, new, rule):
    factory.build()
    factory.edit(INCIDENT, old, new)
    finding = only_finding(govctl, factory)
    assert (finding["rule"], finding["file"]) == (rule, INCIDENT)


def test_broken_model_still_exists_for_references(govctl, factory):
    # a duplicate key breaks the Model record; the Bundle naming it must not add GOV020
    factory.build()
    factory.edit(MODEL, "  name: vendor-chat\n", "  name: vendor-chat\n  name: vendor-chat\n")
    assert only_finding(govctl, factory)["rule"] == "GOV002"


def test_syntax_error_late_in_a_record_keeps_it_for_references(govctl, factory):
    factory.build()
    factory.edit(MODEL, "  lifecycle: {released: \"2026-03-14\"}\n",
                 "  lifecycle: {released: \"2026-03-14\"\n")
    _, findings, _ = validate(govctl, factory)
    assert "GOV020" not in {f["rule"] for f in findings}, findings
    assert [f["rule"] for f in findings if f["file"] == MODEL] == ["GOV001"]


@pytest.mark.parametrize(("old", "new", "rule"), [
    ("kind: Incident", "kind: !!binary Incident", "GOV003"),
    ("apiVersion: govctl/v1", "apiVersion: .inf", "GOV010"),
    ("kind: Incident", "kind: !Kind Incident", "GOV003"),
])
def test_broken_envelope_value_is_reported_once(govctl, factory, old, new, rule):
    factory.build()
    factory.edit(INCIDENT, old, new)
    finding = only_finding(govctl, factory)
    assert (finding["rule"], finding["file"]) == (rule, INCIDENT)


def test_syntax_error_in_a_contract_is_reported_once(govctl, factory):
    factory.build()
    factory.edit(CONTRACT, "  on_breach: {action: fallback, runbook: runbooks/triage.md}\n",
                 "  on_breach: {action: fallback, runbook: runbooks/triage.md\n")
    assert only_finding(govctl, factory)["rule"] == "GOV001"
