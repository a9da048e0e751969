"""Every output format of `govctl validate`: text, json (SPEC §3.1), github, sarif, junit.

Paths are root-relative in text and json, and relative to the git repository's top in
github and sarif (SPEC §2), so annotations land on the right file in a monorepo.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from govctl.model.findings import RULES, Finding
from tests.conftest import DATA, commit_all, init_git, run_subprocess
from tests.factory import AS_OF, RepoFactory

ANSI = re.compile(r"\x1b\[")
FORMATS = ("text", "json", "github", "sarif", "junit")


def run(govctl: Any, root: Path, fmt: str, *args: object, cwd: Path | None = None) -> Any:
    result = govctl("validate", "--root", root, "--as-of", AS_OF, "--format", fmt, *args,
                    cwd=cwd)
    assert result.code in (0, 1), result.stderr
    assert result.stderr == "", result.stderr
    return result


def break_two(factory: RepoFactory) -> None:
    """Two GOV020 errors in the use case, one in the team."""
    factory.edit("use-cases/triage.yaml", "owner: alice", "owner: alcie")
    factory.edit("use-cases/triage.yaml", "team: claims-ml", "team: claims-mll")
    factory.edit("teams/claims.yaml", "members: [alice, carol]", "members: [alice, carl]")


def lower_to_warning(factory: RepoFactory, rule: str) -> None:
    factory.edit("governance.yaml", "  approvals: {provenance: author}\n",
                 f"  approvals: {{provenance: author}}\n  rules: {{{rule}: warning}}\n")


@pytest.fixture
def broken(factory: RepoFactory) -> RepoFactory:
    factory.build()
    break_two(factory)
    return factory


@pytest.fixture
def monorepo(tmp_path: Path) -> RepoFactory:
    """A git repository whose governance root is ``platform/governance/``."""
    top = tmp_path / "mono"
    nested = RepoFactory(top / "platform" / "governance").build()
    (top / "README.md").write_text("a monorepo\n")
    init_git(top)
    commit_all(top, "initial")
    break_two(nested)
    return nested


# -- json -------------------------------------------------------------------------------------


def test_json_shape_is_exactly_spec_3_1(govctl, broken):
    result = run(govctl, broken.root, "json")
    payload = json.loads(result.stdout)  # exactly one document: trailing output would fail
    assert list(payload) == ["version", "root", "records", "findings", "summary"]
    assert payload["version"] == 1
    assert payload["root"] == str(broken.root.resolve())
    assert payload["records"] == 12
    assert payload["summary"] == {"errors": 3, "warnings": 0}
    assert len(payload["findings"]) == 3
    for finding in payload["findings"]:
        assert list(finding) == ["rule", "severity", "file", "line", "column", "record",
                                 "message"]
        assert finding["rule"] in RULES
        assert finding["severity"] in ("error", "warning")
        assert isinstance(finding["line"], int) and finding["line"] >= 1
        assert isinstance(finding["column"], int) and finding["column"] >= 1
        assert isinstance(finding["message"], str) and finding["message"]
    owner_line = broken.line_of("use-cases/triage.yaml", "owner:")
    assert payload["findings"][1] == {
        "rule": "GOV020", "severity": "error", "file": "use-cases/triage.yaml",
        "line": owner_line, "column": 10, "record": "UseCase/claims-triage",
        "message": "'alcie' is not a known Person (did you mean 'alice'?)",
    }


def test_json_findings_are_sorted_by_file_line_column(govctl, broken):
    findings = run(govctl, broken.root, "json").json()["findings"]
    keys = [(f["file"], f["line"], f["column"]) for f in findings]
    assert keys == sorted(keys)
    assert [f["file"] for f in findings] == ["teams/claims.yaml", "use-cases/triage.yaml",
                                             "use-cases/triage.yaml"]


def test_json_clean(govctl, factory):
    factory.build()
    result = run(govctl, factory.root, "json")
    assert result.code == 0
    assert result.json() == {"version": 1, "root": str(factory.root.resolve()), "records": 12,
                             "findings": [], "summary": {"errors": 0, "warnings": 0}}


def test_json_file_level_finding_has_a_null_record(govctl, factory):
    factory.build()
    factory.write("broken.yaml", "a: [unclosed\n")
    [finding] = run(govctl, factory.root, "json").json()["findings"]
    assert finding["record"] is None
    assert finding["rule"] == "GOV001"


def test_json_counts_warnings(govctl, broken):
    lower_to_warning(broken, "GOV020")
    result = run(govctl, broken.root, "json")
    assert result.code == 0
    assert result.json()["summary"] == {"errors": 0, "warnings": 3}
    assert {f["severity"] for f in result.json()["findings"]} == {"warning"}


def test_json_stdout_is_only_the_payload_in_a_real_process(broken):
    result = run_subprocess("validate", "--as-of", AS_OF, "--format", "json",
                            cwd=broken.root / "teams")
    assert result.code == 1
    assert result.stderr == ""
    decoder = json.JSONDecoder()
    payload, end = decoder.raw_decode(result.stdout)
    assert result.stdout[end:] == "\n"  # nothing after the one document
    assert payload["summary"]["errors"] == 3


def test_json_usage_error_keeps_stdout_empty(tmp_path):
    result = run_subprocess("validate", "--format", "json", cwd=tmp_path)
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("govctl: error: ")


def test_json_paths_are_root_relative_in_a_monorepo(govctl, monorepo):
    findings = run(govctl, monorepo.root, "json").json()["findings"]
    assert {f["file"] for f in findings} == {"teams/claims.yaml", "use-cases/triage.yaml"}


# -- sarif ------------------------------------------------------------------------------------


def sarif_validator() -> Any:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    cls = jsonschema.validators.validator_for(schema)  # the draft its $schema names
    cls.check_schema(schema)
    return cls(schema)


def assert_valid_sarif(document: dict[str, Any]) -> None:
    errors = sorted(sarif_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_sarif_validates_against_the_official_schema(govctl, broken):
    lower_to_warning(broken, "GOV021")
    broken.write("teams/dup.yaml", (broken.root / "teams/claims.yaml").read_text())
    document = run(govctl, broken.root, "sarif").json()
    assert_valid_sarif(document)
    assert document["version"] == "2.1.0"
    assert len(document["runs"]) == 1


def test_sarif_clean_run_is_valid_and_empty(govctl, factory):
    factory.build()
    document = run(govctl, factory.root, "sarif").json()
    assert_valid_sarif(document)
    assert document["runs"][0]["results"] == []
    # no link to a home this project does not control (issue 15): the schema is the only URL
    driver = document["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver
    assert not any("helpUri" in rule for rule in driver["rules"])
    assert re.findall(r"https?://[^\s\"]+", json.dumps(document)) == [document["$schema"]]


def test_sarif_rules_cover_every_code_with_default_levels(govctl, factory):
    factory.build()
    rules = run(govctl, factory.root, "sarif").json()["runs"][0]["tool"]["driver"]["rules"]
    assert sorted(r["id"] for r in rules) == sorted(RULES)
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        level = rule["defaultConfiguration"]["level"]
        assert level == RULES[rule["id"]].severity  # "error" / "warning"
        assert rule["shortDescription"]["text"] == RULES[rule["id"]].summary
    assert {r["id"]: r["defaultConfiguration"]["level"] for r in rules}["GOV042"] == "warning"


def test_sarif_results_match_the_json_findings(govctl, broken):
    lower_to_warning(broken, "GOV020")
    broken.write("broken.yaml", "a: [unclosed\n")
    findings = run(govctl, broken.root, "json").json()["findings"]
    run_ = run(govctl, broken.root, "sarif").json()["runs"][0]
    rules, results = run_["tool"]["driver"]["rules"], run_["results"]
    assert len(results) == len(findings) == 4
    for result, finding in zip(results, findings, strict=True):
        assert result["ruleId"] == finding["rule"]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == finding["severity"]  # the effective level, after overrides
        assert result["message"]["text"] == finding["message"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == finding["file"]
        assert physical["region"]["startLine"] == finding["line"]
        assert physical["region"]["startColumn"] == finding["column"]
        logical = location.get("logicalLocations")
        if finding["record"] is None:
            assert logical is None
        else:
            assert logical[0]["name"] == finding["record"]
    assert {r["level"] for r in results} == {"warning", "error"}


def test_sarif_uri_is_percent_encoded(govctl, factory):
    factory.build()
    factory.write("odd dir/50% #1.yaml", "a: [unclosed\n")
    document = run(govctl, factory.root, "sarif").json()
    assert_valid_sarif(document)
    [result] = document["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "odd%20dir/50%25%20%231.yaml"


def test_sarif_and_github_paths_are_prefixed_in_a_monorepo(govctl, monorepo):
    document = run(govctl, monorepo.root, "sarif").json()
    assert_valid_sarif(document)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in document["runs"][0]["results"]}
    assert uris == {"platform/governance/teams/claims.yaml",
                    "platform/governance/use-cases/triage.yaml"}
    github = run(govctl, monorepo.root, "github").stdout
    annotations = [line for line in github.splitlines() if line.startswith("::")]
    assert len(annotations) == 3
    assert all(a.startswith("::error file=platform/governance/") for a in annotations)
    text = run(govctl, monorepo.root, "text").stdout
    assert text.startswith("teams/claims.yaml:")  # text stays root-relative


# -- github -----------------------------------------------------------------------------------

ANNOTATION = re.compile(r"^::(?P<level>error|warning) file=(?P<file>[^,]*),line=(?P<line>\d+),"
                        r"col=(?P<col>\d+),title=(?P<title>GOV\d{3})::(?P<data>.*)$")


def test_github_one_annotation_per_finding_then_the_text_report(govctl, broken):
    lower_to_warning(broken, "GOV021")
    broken.write("teams/dup.yaml", (broken.root / "teams/claims.yaml").read_text())
    findings = run(govctl, broken.root, "json").json()["findings"]
    output = run(govctl, broken.root, "github").stdout.splitlines()
    annotations, report = output[:len(findings)], output[len(findings):]
    for line, finding in zip(annotations, findings, strict=True):
        match = ANNOTATION.match(line)
        assert match, line
        assert match["level"] == finding["severity"]
        assert match["file"] == finding["file"]
        assert (int(match["line"]), int(match["col"])) == (finding["line"], finding["column"])
        assert match["title"] == finding["rule"]
        assert match["data"].endswith(finding["message"])
    assert {ANNOTATION.match(line)["level"] for line in annotations} == {"error", "warning"}
    text = run(govctl, broken.root, "text").stdout.splitlines()
    assert report == text  # the full text report follows (GitHub shows only 10 annotations)


def test_github_escapes_properties_and_data(govctl, factory):
    factory.build()
    # a Team in an oddly named file defined before teams/claims.yaml: the duplicate's
    # message names that file (data), the finding in it names it as a property
    odd = "a,b:c%d.yaml"
    factory.write(odd, (factory.root / "teams/claims.yaml").read_text()
                  .replace("members: [alice, carol]", "members: [alice, nobody]"))
    output = run(govctl, factory.root, "github").stdout.splitlines()
    annotations = [ANNOTATION.match(line) for line in output if line.startswith("::")]
    assert all(annotations), output
    by_title = {a["title"]: a for a in annotations}
    assert by_title["GOV020"]["file"] == "a%2Cb%3Ac%25d.yaml"
    assert by_title["GOV021"]["file"] == "teams/claims.yaml"
    assert "a,b:c%25d.yaml:1" in by_title["GOV021"]["data"]  # data escapes % only
    assert f"{odd}:" in "\n".join(output[len(annotations):])  # the text report is plain


def test_github_escaping_of_newlines_and_percent():
    from govctl.history.validation import ValidationResult
    from govctl.report import github

    finding = Finding("GOV010", "error", "x,y.yaml", 3, 4, None, "50% done\r\nnext: line")
    result = ValidationResult(Path("/r"), "", 0, ("x,y.yaml",), (finding,))
    first = github.render(result).splitlines()[0]
    assert first.startswith("::error file=x%2Cy.yaml,line=3,col=4,title=GOV010::")
    data = first.split("::", 2)[2]
    assert "50%25 done" in data
    assert "\n" not in data and "\r" not in data
    assert data.endswith("next: line")  # ':' and ',' stay as they are in the message


def test_github_clean(govctl, factory):
    factory.build()
    result = run(govctl, factory.root, "github")
    assert result.stdout == "ok: no findings (12 records in 10 files)\n"


# -- junit ------------------------------------------------------------------------------------


def test_junit_one_testcase_per_record_file(govctl, broken):
    lower_to_warning(broken, "GOV021")
    broken.write("teams/dup.yaml", (broken.root / "teams/claims.yaml").read_text()
                 .replace("members: [alice, carl]", "members: [alice, carol]"))
    result = run(govctl, broken.root, "junit")
    tree = ET.fromstring(result.stdout)
    [suite] = tree.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    record_files = sorted(str(p.relative_to(broken.root).as_posix())
                          for p in broken.root.rglob("*.yaml"))
    assert sorted(cases) == record_files  # prompts etc. are not record files; none here
    assert len(cases) == 11
    assert suite.get("tests") == tree.get("tests") == "11"
    assert suite.get("failures") == tree.get("failures") == "2"

    failure = cases["use-cases/triage.yaml"].find("failure")
    assert failure is not None
    lines = failure.text.splitlines()
    assert len(lines) == 2  # every finding of the file
    assert all(re.match(r"use-cases/triage\.yaml:\d+:\d+: GOV020 error ", x) for x in lines)
    assert "alcie" in failure.text and "claims-mll" in failure.text
    assert failure.get("type") == "GOV020"

    assert cases["teams/claims.yaml"].find("failure") is not None
    assert cases["governance.yaml"].find("failure") is None  # clean files are cases too
    assert list(cases["bundles/triage.yaml"]) == []
    dup = cases["teams/dup.yaml"]  # warnings only: passes, the warning is kept as output
    assert dup.find("failure") is None
    assert "GOV021 warning" in dup.find("system-out").text


def test_junit_with_paths_lists_only_those_files(govctl, broken):
    result = run(govctl, broken.root, "junit", broken.root / "teams" / "claims.yaml")
    tree = ET.fromstring(result.stdout)
    assert [c.get("name") for c in tree.iter("testcase")] == ["teams/claims.yaml"]


def test_junit_clean(govctl, factory):
    factory.build()
    tree = ET.fromstring(run(govctl, factory.root, "junit").stdout)
    assert tree.get("failures") == "0"
    assert len(list(tree.iter("testcase"))) == 10
    assert list(tree.iter("failure")) == []


# -- text -------------------------------------------------------------------------------------


def test_text_on_a_pipe_has_no_colour_and_no_wrapping(factory, monkeypatch):
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    factory.build()
    long_id = "an-owner-whose-identifier-is-long-enough-to-overflow-any-narrow-terminal-" \
              "width-by-far"
    factory.edit("use-cases/triage.yaml", "owner: alice", f"owner: {long_id}")
    result = run_subprocess("validate", "--as-of", AS_OF, cwd=factory.root,
                            env={"TERM": "xterm-256color", "COLUMNS": "40"})
    assert result.code == 1
    assert not ANSI.search(result.stdout), result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"GOV020 error {long_id!r} is not a known Person")
    assert len(lines[0]) > 120


def test_text_in_process_has_no_ansi(govctl, broken):
    result = run(govctl, broken.root, "text")
    assert not ANSI.search(result.stdout)
    assert result.stdout.splitlines()[-1] == "3 errors, 0 warnings (12 records in 10 files)"


def test_control_characters_in_file_names_are_escaped_everywhere(govctl, factory):
    factory.build()
    name = "evil\x1b[2Jname\x07.yaml"
    try:
        factory.write(name, "apiVersion: govctl/v1\nkind: Team\nmetadata: {id: t9}\n"
                      "spec: {members: [nobody]}\n")
    except OSError:
        pytest.skip("this file system refuses control characters in file names")
    for fmt in FORMATS:
        result = run(govctl, factory.root, fmt)
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout, fmt
        if fmt == "junit":
            ET.fromstring(result.stdout)  # still well-formed XML
    text = run(govctl, factory.root, "text").stdout
    assert text.startswith("evil\\x1b[2Jname\\x07.yaml:4:18: GOV020 error 'nobody'")
    [finding] = run(govctl, factory.root, "json").json()["findings"]
    assert finding["file"] == name  # JSON carries the real name, escaped by JSON itself


# -- every format, one run ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_exits_like_the_findings(govctl, factory, fmt):
    factory.build()
    assert run(govctl, factory.root, fmt).code == 0
    factory.edit("use-cases/triage.yaml", "owner: alice", "owner: alcie")
    assert run(govctl, factory.root, fmt).code == 1
    lower_to_warning(factory, "GOV020")
    assert run(govctl, factory.root, fmt).code == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_in_a_real_process(broken, fmt):
    result = run_subprocess("validate", "--as-of", AS_OF, "--format", fmt, cwd=broken.root,
                            env={"PYTHONIOENCODING": "utf-8"})
    assert result.code == 1
    assert result.stderr == ""
    assert "alcie" in result.stdout
    if fmt in ("json", "sarif"):
        json.loads(result.stdout)
    elif fmt == "junit":
        ET.fromstring(result.stdout)
