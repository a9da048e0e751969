"""Structural rules: GOV020 unknown references, GOV021 duplicate ids, GOV022 file
references, GOV023 component cycles, GOV004 record files escaping the root, and the
files that are never read as records (SPEC §1, §1.1, §2).

Every failing fixture asserts the rule, the file, the line and column of the offending
value, the record (``Kind/id``) and what the message says.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from tests.factory import AS_OF

needs_symlinks = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(os, "symlink"),
    reason="symlinks are not available on this platform")


# -- helpers -----------------------------------------------------------------------------


def validate(govctl: Any, factory: Any, *args: object) -> tuple[int, dict[str, Any]]:
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json",
                    *args)
    assert result.code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result.code, result.json()


def of_rule(payload: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in payload["findings"] if f["rule"] == rule]


def position(factory: Any, rel: str, needle: str, token: str) -> tuple[int, int]:
    """(line, column) of ``token`` on the first line of ``rel`` that contains ``needle``."""
    line = factory.line_of(rel, needle)
    text = (factory.root / rel).read_text(encoding="utf-8").splitlines()[line - 1]
    assert token in text, f"{token!r} not on line {line} of {rel}: {text!r}"
    return line, text.index(token) + 1


def only(findings: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(findings) == 1, findings
    return findings[0]


def edit_before_build(factory: Any, rel: str, old: str, new: str) -> None:
    """Change a factory file before it is written, so approvals bind to the result."""
    text = factory.files[rel]
    assert isinstance(text, str) and old in text, f"{old!r} not in {rel}"
    factory.files[rel] = text.replace(old, new, 1)


BUNDLE = """\
apiVersion: govctl/v1
kind: Bundle
metadata: {{id: {id}}}
spec:
  class: agentic
  model: chat-2026-03
  eval_set: claims-eval
  components: [{components}]
"""


# -- GOV020 ------------------------------------------------------------------------------

# (file, old text, new text, the bad value, needle for its line, kind, record, suggestion)
GOV020_CASES = [
    pytest.param("use-cases/triage.yaml", "owner: alice", "owner: alcie", "alcie",
                 "owner:", "Person", "UseCase/claims-triage", "alice", id="usecase-owner"),
    pytest.param("use-cases/triage.yaml", "team: claims-ml", "team: claims-mll", "claims-mll",
                 "team:", "Team", "UseCase/claims-triage", "claims-ml", id="usecase-team"),
    pytest.param("use-cases/triage.yaml", "bundle: triage\n", "bundle: triagee\n", "triagee",
                 "bundle:", "Bundle", "UseCase/claims-triage", "triage", id="usecase-bundle"),
    pytest.param("use-cases/triage.yaml", "thresholds: triage-contract",
                 "thresholds: triage-contrct", "triage-contrct", "thresholds:",
                 "ThresholdContract", "UseCase/claims-triage", "triage-contract",
                 id="usecase-thresholds"),
    pytest.param("bundles/triage.yaml", "model: chat-2026-03", "model: chat-2026-04",
                 "chat-2026-04", "model:", "Model", "Bundle/triage", "chat-2026-03",
                 id="bundle-model"),
    pytest.param("bundles/triage.yaml", "eval_set: claims-eval", "eval_set: claim-eval",
                 "claim-eval", "eval_set:", "EvalSet", "Bundle/triage", "claims-eval",
                 id="bundle-eval-set"),
    pytest.param("bundles/triage.yaml", "eval_set: claims-eval",
                 "eval_set: claims-eval\n  components: [traige]",
                 "traige", "components:", "Bundle", "Bundle/triage", "triage",
                 id="bundle-component"),
    pytest.param("teams/claims.yaml", "members: [alice, carol]", "members: [alice, carl]",
                 "carl", "members:", "Person", "Team/claims-ml", "carol", id="team-member"),
    pytest.param("teams/claims.yaml", "escalation: [alice]", "escalation: [alicia]",
                 "alicia", "escalation:", "Person", "Team/claims-ml", "alice",
                 id="team-escalation"),
    pytest.param("approvals/claims-triage-2026-10-01.yaml", "use_case: claims-triage",
                 "use_case: claims-triag", "claims-triag", "use_case:", "UseCase",
                 "Approval/claims-triage-2026-10-01", "claims-triage", id="approval-use-case"),
    pytest.param("approvals/claims-triage-2026-10-01.yaml", "bundle: {id: triage,",
                 "bundle: {id: triag,", "triag", "bundle:", "Bundle",
                 "Approval/claims-triage-2026-10-01", "triage", id="approval-bundle-id"),
    pytest.param("approvals/claims-triage-2026-10-01.yaml", "thresholds: {id: triage-contract,",
                 "thresholds: {id: triage-contrakt,", "triage-contrakt", "thresholds:",
                 "ThresholdContract", "Approval/claims-triage-2026-10-01", "triage-contract",
                 id="approval-thresholds-id"),
    pytest.param("approvals/claims-triage-2026-10-01.yaml", "valid_until: 2027-03-01",
                 "valid_until: 2027-03-01\n  supersedes: claims-triage-2026-01-01",
                 "claims-triage-2026-01-01", "supersedes:", "Approval",
                 "Approval/claims-triage-2026-10-01", "claims-triage-2026-10-01",
                 id="approval-supersedes"),
    pytest.param("incidents/2026-10-15.yaml", "use_case: claims-triage",
                 "use_case: claims-triagee", "claims-triagee", "use_case:", "UseCase",
                 "Incident/inc-2026-10-15", "claims-triage", id="incident-use-case"),
]


@pytest.mark.parametrize(
    ("rel", "old", "new", "value", "needle", "kind", "record", "suggestion"), GOV020_CASES)
def test_gov020_unknown_reference_at_the_value(govctl, factory, rel, old, new, value, needle,
                                               kind, record, suggestion):
    factory.build()
    factory.edit(rel, old, new)
    code, payload = validate(govctl, factory)
    line, column = position(factory, rel, needle, value)
    finding = only([f for f in of_rule(payload, "GOV020") if f["file"] == rel])
    assert code == 1
    assert finding["severity"] == "error"
    assert (finding["line"], finding["column"]) == (line, column)
    assert finding["record"] == record
    assert f"{value!r} is not a known {kind}" in finding["message"]
    assert f"did you mean {suggestion!r}?" in finding["message"]
    assert len(of_rule(payload, "GOV020")) == 1  # no cascade into other files


def test_gov020_without_a_close_match_suggests_nothing(govctl, factory):
    factory.build()
    factory.edit("use-cases/triage.yaml", "owner: alice", "owner: zebulon")
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV020"))
    assert code == 1
    assert finding["message"] == "'zebulon' is not a known Person"
    assert (finding["line"], finding["column"]) == position(
        factory, "use-cases/triage.yaml", "owner:", "zebulon")


def test_gov020_every_bad_reference_of_a_record_is_reported(govctl, factory):
    factory.build()
    factory.edit("teams/claims.yaml", "members: [alice, carol]",
                 "members: [ghost-1, alice, ghost-2]")
    _, payload = validate(govctl, factory)
    found = sorted((f["line"], f["column"], f["message"].split()[0])
                   for f in of_rule(payload, "GOV020"))
    assert found == [
        (*position(factory, "teams/claims.yaml", "members:", "ghost-1"), "'ghost-1'"),
        (*position(factory, "teams/claims.yaml", "members:", "ghost-2"), "'ghost-2'"),
    ]


def test_gov020_reference_to_the_wrong_kind_is_unknown(govctl, factory):
    """An id exists only per kind: a Person id does not satisfy a Team reference."""
    factory.build()
    factory.edit("use-cases/triage.yaml", "team: claims-ml", "team: alice")
    _, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV020"))
    assert finding["message"].startswith("'alice' is not a known Team")


def test_gov020_tier_typo(govctl, factory):
    factory.build()
    factory.edit("use-cases/triage.yaml", "tier: high", "tier: hihg")
    code, payload = validate(govctl, factory)
    tier_findings = [f for f in payload["findings"] if "hihg" in f["message"]]
    assert code == 1
    assert tier_findings, payload["findings"]
    finding = next((f for f in tier_findings if f["rule"] == "GOV020"), None)
    if finding is None:  # a schema enum may catch the typo first: still at the value
        finding = only(tier_findings)
        assert finding["rule"] == "GOV010"
    assert (finding["line"], finding["column"]) == position(
        factory, "use-cases/triage.yaml", "risk:", "hihg")
    assert finding["record"] == "UseCase/claims-triage"


def test_gov020_tier_missing_from_policy_risk_tiers(govctl, factory):
    """SPEC §1.2: a use case whose tier is not in the Policy's risk_tiers is GOV020."""
    edit_before_build(factory, "governance.yaml",
                      "    limited: {allowed: true, approvals: [{role: model-owner}], "
                      "max_validity_days: 365}\n", "")
    factory.build()
    factory.edit("use-cases/triage.yaml", "tier: high", "tier: limited")
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV020"))
    assert code == 1
    assert finding["file"] == "use-cases/triage.yaml"
    assert (finding["line"], finding["column"]) == position(
        factory, "use-cases/triage.yaml", "risk:", "limited")
    assert finding["record"] == "UseCase/claims-triage"
    assert "'limited'" in finding["message"]
    assert "risk_tiers" in finding["message"]


def test_gov020_clean_repository_has_none(govctl, factory):
    factory.build()
    code, payload = validate(govctl, factory)
    assert code == 0
    assert payload["findings"] == []


# -- GOV021 ------------------------------------------------------------------------------


def test_gov021_duplicate_id_in_another_file(govctl, factory):
    factory.build()
    factory.write("teams/dup.yaml", """\
apiVersion: govctl/v1
kind: Team
metadata:
  title: Another claims team
  id: claims-ml
spec:
  members: [bob]
""")
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV021"))
    assert code == 1
    assert finding["file"] == "teams/dup.yaml"
    assert (finding["line"], finding["column"]) == position(
        factory, "teams/dup.yaml", "  id:", "claims-ml")
    assert finding["record"] == "Team/claims-ml"
    assert "'claims-ml'" in finding["message"]
    assert "teams/claims.yaml:1" in finding["message"]  # the first definition, file:line


def test_gov021_duplicate_in_the_same_file_points_at_the_second_document(govctl, factory):
    factory.build()
    people = factory.root / "people.yaml"
    people.write_text(people.read_text() + """\
---
apiVersion: govctl/v1
kind: Person
metadata: {id: bob}
spec: {name: Bob Again, email: bob2@acme.test}
""")
    _, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV021"))
    line = len(people.read_text().splitlines()) - 1  # the metadata line of the last document
    assert finding["file"] == "people.yaml"
    assert (finding["line"], finding["column"]) == (line, len("metadata: {id: ") + 1)
    first = factory.line_of("people.yaml", "{id: bob}")
    assert f"people.yaml:{first - 2}" in finding["message"]  # bob's record starts 2 lines up


def test_gov021_same_id_for_different_kinds_is_fine(govctl, factory):
    factory.build()
    factory.write("people-more.yaml", """\
apiVersion: govctl/v1
kind: Person
metadata: {id: triage}
spec: {name: Tria Ge, email: triage@acme.test}
""")
    _, payload = validate(govctl, factory)
    assert of_rule(payload, "GOV021") == []


# -- GOV022 ------------------------------------------------------------------------------

GOV022_CASES = [
    pytest.param("prompts/missing.md", "does not exist", id="missing"),
    pytest.param("./prompts/triage.md", "'./'", id="dot-slash"),
    pytest.param("prompts/./triage.md", "'.' segment", id="dot-segment"),
    pytest.param("../outside.md", "'..'", id="dot-dot"),
    pytest.param("prompts/../prompts/triage.md", "'..'", id="inner-dot-dot"),
    pytest.param("/etc/passwd", "absolute", id="absolute"),
    pytest.param("'prompts\\triage.md'", "backslash", id="backslash"),
    pytest.param("prompts//triage.md", "empty segment", id="double-slash"),
    pytest.param("prompts/", "empty segment", id="trailing-slash"),
    pytest.param("prompts", "not a regular file", id="directory"),
]


@pytest.mark.parametrize(("written", "expected"), GOV022_CASES)
def test_gov022_prompt_template(govctl, factory, tmp_path, written, expected):
    (tmp_path / "outside.md").write_text("outside the root\n")
    factory.build()
    factory.edit("bundles/triage.yaml", "template: prompts/triage.md",
                 f"template: {written}")
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV022"))
    assert code == 1
    assert finding["file"] == "bundles/triage.yaml"
    assert (finding["line"], finding["column"]) == position(
        factory, "bundles/triage.yaml", "template:", written)
    assert finding["record"] == "Bundle/triage"
    assert expected in finding["message"]
    as_read = written.strip("'")
    assert f"'{as_read}'" in finding["message"]  # names the path as written, unescaped


def test_gov022_tool_schema_and_eval_path(govctl, factory):
    factory.build()
    factory.edit("bundles/triage.yaml", "schema: tools/lookup.json", "schema: tools/lokup.json")
    factory.edit("evals/claims-eval.yaml", "path: data/claims-eval.jsonl",
                 "path: data/claims.jsonl")
    _, payload = validate(govctl, factory)
    found = {(f["file"], f["line"], f["column"], f["record"]) for f in of_rule(payload, "GOV022")}
    assert found == {
        ("bundles/triage.yaml",
         *position(factory, "bundles/triage.yaml", "schema:", "tools/lokup.json"),
         "Bundle/triage"),
        ("evals/claims-eval.yaml",
         *position(factory, "evals/claims-eval.yaml", "path:", "data/claims.jsonl"),
         "EvalSet/claims-eval"),
    }


def test_gov022_runbook_file_missing(govctl, factory):
    factory.build()
    factory.edit("thresholds/triage.yaml", "runbook: runbooks/triage.md",
                 "runbook: runbooks/triage-v2.md")
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV022"))
    assert code == 1
    assert finding["file"] == "thresholds/triage.yaml"
    assert (finding["line"], finding["column"]) == position(
        factory, "thresholds/triage.yaml", "runbook:", "runbooks/triage-v2.md")
    assert finding["record"] == "ThresholdContract/triage-contract"
    assert "'runbooks/triage-v2.md'" in finding["message"]


@pytest.mark.parametrize(("url", "rules"), [("https://wiki.acme.test/runbooks/triage", []),
                                            # a URL, not a file; but not one an alert can
                                            # link to (SPEC §2, GOV045: http/https only)
                                            ("mailto:claims-ml@acme.test", ["GOV045"])])
def test_gov022_runbook_url_is_not_a_file(govctl, factory, url, rules):
    edit_before_build(factory, "thresholds/triage.yaml", "runbook: runbooks/triage.md",
                      f"runbook: {url!r}")
    factory.build()
    code, payload = validate(govctl, factory)
    assert of_rule(payload, "GOV022") == []
    assert [f["rule"] for f in payload["findings"]] == rules
    assert code == (1 if rules else 0), payload["findings"]


@needs_symlinks
def test_gov022_prompt_symlink_escaping_the_root(govctl, factory, tmp_path):
    factory.build()
    outside = tmp_path / "outside-prompt.md"
    outside.write_text("SECRET-PROMPT-OUTSIDE\n")
    os.symlink(outside, factory.root / "prompts" / "linked.md")
    factory.edit("bundles/triage.yaml", "template: prompts/triage.md",
                 "template: prompts/linked.md")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    finding = only(of_rule(result.json(), "GOV022"))
    assert result.code == 1
    assert (finding["line"], finding["column"]) == position(
        factory, "bundles/triage.yaml", "template:", "prompts/linked.md")
    assert "outside the governance root" in finding["message"]
    assert "SECRET-PROMPT-OUTSIDE" not in result.stdout + result.stderr


@needs_symlinks
def test_gov022_prompt_symlink_inside_the_root_is_fine(govctl, factory):
    factory.build()
    os.symlink("triage.md", factory.root / "prompts" / "current.md")
    factory.edit("bundles/triage.yaml", "template: prompts/triage.md",
                 "template: prompts/current.md")
    _, payload = validate(govctl, factory)
    assert of_rule(payload, "GOV022") == []


# -- GOV023 ------------------------------------------------------------------------------


def _components_position(factory: Any, payload_finding: dict[str, Any]) -> tuple[int, int]:
    rel = payload_finding["file"]
    record_id = payload_finding["record"].split("/", 1)[1]
    lines = (factory.root / rel).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if f"{{id: {record_id}}}" in line)
    offset = next(i for i, line in enumerate(lines[start:]) if "components:" in line)
    line = lines[start + offset]
    return start + offset + 1, line.index("[") + 2


def test_gov023_two_cycle_reported_once(govctl, factory):
    factory.build()
    factory.write("bundles/ring.yaml", BUNDLE.format(id="ring-a", components="ring-b")
                  + "---\n" + BUNDLE.format(id="ring-b", components="ring-a"))
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV023"))
    assert code == 1
    assert finding["file"] == "bundles/ring.yaml"
    assert finding["record"] in ("Bundle/ring-a", "Bundle/ring-b")
    assert (finding["line"], finding["column"]) == _components_position(factory, finding)
    message = finding["message"]
    assert "ring-a" in message and "ring-b" in message
    assert message.count("→") == 2  # e.g. ring-a → ring-b → ring-a


def test_gov023_self_cycle(govctl, factory):
    factory.build()
    factory.write("bundles/ouroboros.yaml", BUNDLE.format(id="ouroboros",
                                                          components="ouroboros"))
    code, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV023"))
    assert code == 1
    assert finding["file"] == "bundles/ouroboros.yaml"
    assert finding["record"] == "Bundle/ouroboros"
    assert (finding["line"], finding["column"]) == position(
        factory, "bundles/ouroboros.yaml", "components:", "ouroboros")
    assert "ouroboros → ouroboros" in finding["message"]


def test_gov023_component_listed_twice_is_still_one_cycle(govctl, factory):
    factory.build()
    factory.write("bundles/ring.yaml", BUNDLE.format(id="ring-a", components="ring-b")
                  + "---\n" + BUNDLE.format(id="ring-b", components="ring-a, ring-a"))
    _, payload = validate(govctl, factory)
    finding = only(of_rule(payload, "GOV023"))
    assert finding["message"] == "component cycle: ring-a → ring-b → ring-a"


def test_gov023_three_cycle_and_a_separate_two_cycle(govctl, factory):
    factory.build()
    factory.write("bundles/three.yaml", "---\n".join([
        BUNDLE.format(id="c-one", components="c-two"),
        BUNDLE.format(id="c-two", components="c-three"),
        BUNDLE.format(id="c-three", components="c-one"),
        BUNDLE.format(id="d-one", components="d-two"),
        BUNDLE.format(id="d-two", components="d-one"),
    ]))
    _, payload = validate(govctl, factory)
    cycles = of_rule(payload, "GOV023")
    assert len(cycles) == 2, cycles
    three = only([f for f in cycles if "c-one" in f["message"]])
    assert all(name in three["message"] for name in ("c-one", "c-two", "c-three"))
    two = only([f for f in cycles if "d-one" in f["message"]])
    assert "c-" not in two["message"]


def test_gov023_diamond_is_not_a_cycle(govctl, factory):
    factory.build()
    factory.write("bundles/diamond.yaml", "---\n".join([
        BUNDLE.format(id="top", components="left, right"),
        BUNDLE.format(id="left", components="base"),
        BUNDLE.format(id="right", components="base"),
        BUNDLE.format(id="base", components=""),
    ]))
    _, payload = validate(govctl, factory)
    assert of_rule(payload, "GOV023") == []


def test_gov023_unknown_component_is_gov020_not_a_crash(govctl, factory):
    factory.build()
    factory.write("bundles/dangling.yaml", BUNDLE.format(id="dangling", components="nowhere"))
    _, payload = validate(govctl, factory)
    assert of_rule(payload, "GOV023") == []
    assert only(of_rule(payload, "GOV020"))["message"].startswith("'nowhere' is not a known")


# -- GOV004: record files that escape the root ---------------------------------------------


@needs_symlinks
def test_gov004_record_symlink_outside_the_root_is_never_read(govctl, factory, tmp_path):
    factory.build()
    secret = tmp_path / "secret-people.yaml"
    secret.write_text("""\
apiVersion: govctl/v1
kind: Person
metadata: {id: mallory}
spec: {name: TOP-SECRET-MALLORY, email: mallory@evil.test, roles: [cfo, 1]}
""")
    os.symlink(secret, factory.root / "people-extra.yaml")
    for fmt in ("json", "text", "github", "sarif", "junit"):
        result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", fmt)
        assert result.code == 1, (fmt, result.stdout, result.stderr)
        assert "TOP-SECRET-MALLORY" not in result.stdout + result.stderr, fmt
        assert "mallory" not in result.stdout + result.stderr, fmt
        assert "people-extra.yaml" in result.stdout, fmt
    payload = govctl("validate", "--root", factory.root, "--as-of", AS_OF,
                     "--format", "json").json()
    finding = only(payload["findings"])
    assert finding["rule"] == "GOV004"
    assert finding["file"] == "people-extra.yaml"
    assert (finding["line"], finding["column"]) == (1, 1)
    assert finding["record"] is None
    assert "outside the governance root" in finding["message"]
    assert payload["records"] == 12


@needs_symlinks
def test_gov004_broken_record_symlink(govctl, factory):
    factory.build()
    os.symlink("nowhere.yaml", factory.root / "ghost.yaml")
    code, payload = validate(govctl, factory)
    finding = only(payload["findings"])
    assert code == 1
    assert (finding["rule"], finding["file"]) == ("GOV004", "ghost.yaml")
    assert "symlink" in finding["message"]


@needs_symlinks
def test_gov004_symlinked_policy_outside_the_root_is_not_read(govctl, factory, tmp_path):
    factory.build()
    outside = tmp_path / "policy-outside.yaml"
    outside.write_text((factory.root / "governance.yaml").read_text()
                       .replace("Acme Insurance", "SECRET-ORG-NAME")
                       + '  exclude: ["**"]\n')
    (factory.root / "governance.yaml").unlink()
    os.symlink(outside, factory.root / "governance.yaml")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert result.code == 1
    assert "SECRET-ORG-NAME" not in result.stdout + result.stderr
    findings = result.json()["findings"]
    gov004 = only([f for f in findings if f["rule"] == "GOV004"])
    assert gov004["file"] == "governance.yaml"
    # the outside file's exclude globs were not applied: the other records were still read
    assert result.json()["records"] == 11


# -- files that are not records ----------------------------------------------------------------


def test_dot_files_and_dot_folders_are_not_records(govctl, factory):
    factory.build()
    factory.write(".pre-commit-config.yaml", "repos:\n  - repo: local\n    hooks: []\n")
    factory.write(".github/workflows/x.yml", "on: push\njobs: {build: {runs-on: ubuntu}}\n")
    factory.write("teams/.draft.yaml", "kind: Team\nthis is: [not valid\n")
    code, payload = validate(govctl, factory)
    assert code == 0
    assert payload["findings"] == []
    assert payload["records"] == 12


def test_yaml_prompt_template_referenced_by_a_bundle_is_not_a_record(govctl, factory):
    edit_before_build(factory, "bundles/triage.yaml", "template: prompts/triage.md",
                      "template: prompts/triage.yaml")
    factory.files["prompts/triage.yaml"] = ("system: You triage claims.\nuser: '{{claim_text}}'\n"
                                            "broken: [yaml\n")
    factory.files["tools/lookup-schema.yml"] = "type: object\nkind: NotARecord\n"
    edit_before_build(factory, "bundles/triage.yaml", "schema: tools/lookup.json",
                      "schema: tools/lookup-schema.yml")
    factory.build()
    code, payload = validate(govctl, factory)
    assert code == 0, payload["findings"]
    assert payload["findings"] == []
    assert payload["records"] == 12


def test_policy_exclude_globs(govctl, factory):
    edit_before_build(factory, "governance.yaml", "  approvals: {provenance: author}\n",
                      '  approvals: {provenance: author}\n'
                      '  exclude: ["vendor/", "**/*.draft.yaml"]\n')
    factory.build()
    factory.write("vendor/chart/values.yaml", "replicaCount: 1\n")
    factory.write("use-cases/next.draft.yaml", "apiVersion: govctl/v1\nkind: UseCase\n")
    factory.write("use-cases/kept.yaml", "apiVersion: govctl/v1\nkind: UseCase\n")
    code, payload = validate(govctl, factory)
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"use-cases/kept.yaml"}


def test_referenced_files_of_unusual_kinds_are_digested_not_parsed(govctl, factory):
    """A referenced .yaml file that is broken YAML raises nothing: it is data."""
    edit_before_build(factory, "evals/claims-eval.yaml", "path: data/claims-eval.jsonl",
                      "path: data/claims-eval.yaml")
    factory.files["data/claims-eval.yaml"] = "- {claim: [unclosed\n"
    factory.build()
    code, payload = validate(govctl, factory)
    assert code == 0, payload["findings"]


def test_policy_file_is_never_excluded(govctl, factory):
    """The Policy holds the globs: "*.yaml" must not hide governance.yaml itself."""
    factory.build()
    factory.edit("governance.yaml", "  approvals: {provenance: author}\n",
                 '  approvals: {provenance: author}\n  exclude: ["*.yaml"]\n')
    code, payload = validate(govctl, factory)
    assert code == 0, payload["findings"]
    assert payload["records"] == 1  # only the Policy: every other file is excluded


def test_policy_exclude_negation_re_includes_a_file(govctl, factory):
    edit_before_build(factory, "governance.yaml", "  approvals: {provenance: author}\n",
                      '  approvals: {provenance: author}\n'
                      '  exclude: ["drafts/*", "!drafts/ready.yaml"]\n')
    factory.build()
    factory.write("drafts/wip.yaml", "kind: [broken\n")
    factory.write("drafts/ready.yaml", "apiVersion: govctl/v1\n")
    _, payload = validate(govctl, factory)
    assert {f["file"] for f in payload["findings"]} == {"drafts/ready.yaml"}


def test_columns_count_code_points_not_bytes(govctl, factory):
    """SARIF declares columnKind unicodeCodePoints: 'ü☃😀' before the value are 3 columns."""
    factory.build()
    factory.edit("use-cases/triage.yaml", "risk: {tier: high, category: insurance",
                 'risk: {category: "ü☃😀", tier: hihg')
    _, payload = validate(govctl, factory)
    [finding] = [f for f in payload["findings"] if "hihg" in f["message"]]
    assert (finding["line"], finding["column"]) == position(
        factory, "use-cases/triage.yaml", "risk:", "hihg")
