"""`govctl validate` as a command: exit codes, root discovery, PATH arguments, severity
overrides and robustness against files that are not records (SPEC §1, §2, §3)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_subprocess
from tests.factory import AS_OF

FINDING_LINE = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): "
                          r"(?P<rule>GOV\d{3}) (?P<severity>error|warning) (?P<message>.+)$")


def validate_json(govctl: Any, factory: Any, *args: object, cwd: Path | None = None
                  ) -> tuple[int, dict[str, Any]]:
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json",
                    *args, cwd=cwd)
    assert result.code in (0, 1), result.stderr
    assert result.stderr == ""
    return result.code, result.json()


def assert_usage_error(result: Any, *fragments: str) -> None:
    """Exit 2, nothing on stdout, exactly one ``govctl: error: …`` line on stderr."""
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("govctl: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def set_rules(factory: Any, rules: str) -> None:
    factory.edit("governance.yaml", "  approvals: {provenance: author}\n",
                 f"  approvals: {{provenance: author}}\n  rules: {rules}\n")


def break_owner(factory: Any) -> None:
    factory.edit("use-cases/triage.yaml", "owner: alice", "owner: alcie")


# -- exit codes ------------------------------------------------------------------------------


def test_clean_repository_exits_0_with_a_summary_line(govctl, factory):
    factory.build()
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF)
    assert result.code == 0, result.stdout
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines == ["ok: no findings (12 records in 10 files)"]


def test_one_error_exits_1_with_a_finding_line(govctl, factory):
    factory.build()
    break_owner(factory)
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 error, 0 warnings (12 records in 10 files)"
    matches = [FINDING_LINE.match(line) for line in lines[:-1]]
    assert all(matches), lines
    [m] = [m for m in matches if m and m["rule"] == "GOV020"]
    line = factory.line_of("use-cases/triage.yaml", "owner:")
    assert m.group("file", "line", "col", "severity") == (
        "use-cases/triage.yaml", str(line), str(len("  owner: ") + 1), "error")
    assert m["message"] == "'alcie' is not a known Person (did you mean 'alice'?)"


def test_warnings_only_exit_0(govctl, factory):
    factory.build()
    break_owner(factory)
    set_rules(factory, "{GOV020: warning}")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF)
    assert result.code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "0 errors, 1 warning (12 records in 10 files)"
    assert FINDING_LINE.match(result.stdout.splitlines()[0])["severity"] == "warning"


def test_no_governance_root_upward_exits_2(govctl, tmp_path):
    empty = tmp_path / "nowhere" / "deeper"
    empty.mkdir(parents=True)
    result = govctl("validate", cwd=empty)
    assert_usage_error(result, "governance.yaml")


def test_no_governance_root_in_a_real_process(tmp_path):
    result = run_subprocess("validate", cwd=tmp_path)
    assert_usage_error(result, "governance.yaml")


def test_root_without_governance_yaml_exits_2(govctl, tmp_path):
    (tmp_path / "not-a-root").mkdir()
    result = govctl("validate", "--root", tmp_path / "not-a-root")
    assert_usage_error(result, "--root", "governance.yaml")


def test_root_that_does_not_exist_exits_2(govctl, tmp_path):
    result = govctl("validate", "--root", tmp_path / "missing")
    assert_usage_error(result, "--root")


def test_root_that_is_a_file_exits_2(govctl, factory):
    factory.build()
    result = govctl("validate", "--root", factory.root / "governance.yaml")
    assert_usage_error(result, "--root")


def test_bad_format_exits_2(govctl, factory):
    factory.build()
    result = govctl("validate", "--root", factory.root, "--format", "xml")
    assert_usage_error(result, "--format", "xml")


def test_unknown_option_exits_2(govctl, factory):
    factory.build()
    result = govctl("validate", "--root", factory.root, "--no-such-flag")
    assert_usage_error(result, "--no-such-flag")


@pytest.mark.parametrize("as_of", ["garbage", "2026-13-45", "27/11/2026", "2026-11-27T09:30"])
def test_bad_as_of_exits_2(govctl, factory, as_of):
    factory.build()
    result = govctl("validate", "--root", factory.root, "--as-of", as_of)
    assert_usage_error(result, "--as-of")


def test_usage_errors_in_a_real_process_have_no_traceback(factory):
    factory.build()
    for args in (["--format", "xml"], ["--as-of", "garbage"], ["--bogus"]):
        result = run_subprocess("validate", "--root", factory.root, *args, cwd=factory.root)
        assert_usage_error(result)


def test_root_discovery_from_a_nested_folder(govctl, factory):
    factory.build()
    factory.edit("teams/claims.yaml", "members: [alice, carol]", "members: [alice, carl]")
    result = govctl("validate", "--as-of", AS_OF, "--format", "json",
                    cwd=factory.root / "bundles")
    assert result.code == 1
    payload = result.json()
    assert payload["root"] == str(factory.root.resolve())
    assert payload["records"] == 12
    [finding] = payload["findings"]
    assert finding["file"] == "teams/claims.yaml"  # root-relative, not cwd-relative
    assert finding["rule"] == "GOV020"


def test_root_discovery_in_a_real_process(factory):
    factory.build()
    result = run_subprocess("validate", "--as-of", AS_OF, cwd=factory.root / "use-cases")
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout == "ok: no findings (12 records in 10 files)\n"


def test_one_error_in_a_real_process(factory):
    factory.build()
    break_owner(factory)
    result = run_subprocess("validate", "--as-of", AS_OF, cwd=factory.root)
    assert result.code == 1
    assert result.stderr == ""
    line = factory.line_of("use-cases/triage.yaml", "owner:")
    assert result.stdout.startswith(f"use-cases/triage.yaml:{line}:10: GOV020 error 'alcie'")


def test_explicit_root_wins_over_the_cwd(govctl, factory, tmp_path):
    factory.build()
    other = tmp_path / "other"
    other.mkdir()
    (other / "governance.yaml").write_text("not: a policy\n")
    code, payload = validate_json(govctl, factory, cwd=other)
    assert code == 0
    assert payload["root"] == str(factory.root.resolve())


# -- PATH arguments --------------------------------------------------------------------------


def _break_two_files(factory: Any) -> None:
    break_owner(factory)  # use-cases/triage.yaml
    factory.edit("teams/claims.yaml", "members: [alice, carol]", "members: [alice, carl]")


def test_path_limits_reported_findings_to_that_file(govctl, factory):
    factory.build()
    _break_two_files(factory)
    code, payload = validate_json(govctl, factory, factory.root / "use-cases" / "triage.yaml")
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"use-cases/triage.yaml"}
    assert [f["rule"] for f in payload["findings"]] == ["GOV020"]
    assert payload["summary"] == {"errors": 1, "warnings": 0}


def test_path_still_resolves_references_across_the_root(govctl, factory):
    """The use case's bundle, team and contract live in other files and are found."""
    factory.build()
    factory.edit("teams/claims.yaml", "members: [alice, carol]", "members: [alice, carl]")
    code, payload = validate_json(govctl, factory, factory.root / "use-cases" / "triage.yaml")
    assert code == 0
    assert payload["findings"] == []


def test_path_relative_to_the_cwd(govctl, factory):
    factory.build()
    _break_two_files(factory)
    code, payload = validate_json(govctl, factory, "claims.yaml", cwd=factory.root / "teams")
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"teams/claims.yaml"}


def test_directory_path(govctl, factory):
    factory.build()
    _break_two_files(factory)
    code, payload = validate_json(govctl, factory, "teams", cwd=factory.root)
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"teams/claims.yaml"}


def test_path_outside_the_root_is_ignored(govctl, factory, tmp_path):
    factory.build()
    _break_two_files(factory)
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("kind: nonsense\n")
    code, payload = validate_json(govctl, factory, outside)
    assert code == 0
    assert payload["findings"] == []
    code, payload = validate_json(govctl, factory, outside, factory.root / "teams/claims.yaml")
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"teams/claims.yaml"}


def test_folder_holding_the_whole_root_reports_everything(govctl, tmp_path):
    """`govctl validate .` at a monorepo's top must not silently report nothing."""
    from tests.factory import RepoFactory

    mono = tmp_path / "mono"
    nested = RepoFactory(mono / "platform" / "governance").build()
    break_owner(nested)
    code, payload = validate_json(govctl, nested, ".", cwd=mono)
    assert code == 1
    assert [f["file"] for f in payload["findings"]] == ["use-cases/triage.yaml"]


def test_referenced_prompt_path_reports_the_bundle_that_uses_it(govctl, factory):
    factory.build()
    _break_two_files(factory)
    factory.edit("bundles/triage.yaml", "model: chat-2026-03", "model: chat-2026-99")
    code, payload = validate_json(govctl, factory, factory.root / "prompts" / "triage.md")
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"bundles/triage.yaml"}
    assert any(f["rule"] == "GOV020" and "chat-2026-99" in f["message"]
               for f in payload["findings"])


def test_referenced_runbook_path_reports_the_contract(govctl, factory):
    factory.build()
    factory.edit("thresholds/triage.yaml", "max: 2500", "max: 2500, extra_key: 1")
    code, payload = validate_json(govctl, factory, "runbooks/triage.md", cwd=factory.root)
    assert code == 1
    assert {f["file"] for f in payload["findings"]} == {"thresholds/triage.yaml"}


def test_path_to_a_deleted_file_reports_nothing(govctl, factory):
    """A missing PATH (a deleted file) is not an error, but a typo must not pass silently:
    one warning line on stderr names it; stdout and the exit code are as for no findings."""
    factory.build()
    _break_two_files(factory)
    gone = factory.root / "teams" / "gone.yaml"
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json",
                    gone)
    assert result.code == 0
    assert result.json()["findings"] == []
    assert result.stderr == f"govctl: warning: {gone}: no such file; nothing reported for it\n"


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                    reason="symlinks are not available")
def test_path_through_a_symlinked_root(govctl, factory, tmp_path):
    """A root reached through a symlink (macOS /tmp) still matches PATHs under it."""
    factory.build()
    _break_two_files(factory)
    link = tmp_path / "repo-link"
    os.symlink(factory.root, link)
    result = govctl("validate", "--root", link, "--as-of", AS_OF, "--format", "json",
                    link / "teams" / "claims.yaml")
    assert result.code == 1
    assert {f["file"] for f in result.json()["findings"]} == {"teams/claims.yaml"}


def test_path_in_text_summary_counts_selected_files(govctl, factory):
    factory.build()
    _break_two_files(factory)
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF,
                    factory.root / "teams" / "claims.yaml")
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("teams/claims.yaml:")
    assert lines[-1] == "1 error, 0 warnings (12 records in 1 file)"


# -- Policy.rules overrides -------------------------------------------------------------------


def test_rule_turned_off_drops_the_finding(govctl, factory):
    factory.build()
    break_owner(factory)
    set_rules(factory, "{GOV020: off}")
    code, payload = validate_json(govctl, factory)
    assert code == 0
    assert [f for f in payload["findings"] if f["rule"] == "GOV020"] == []


def test_rule_lowered_to_warning_keeps_it_and_exits_0(govctl, factory):
    factory.build()
    break_owner(factory)
    set_rules(factory, "{GOV020: warning}")
    code, payload = validate_json(govctl, factory)
    assert code == 0
    [finding] = payload["findings"]
    assert (finding["rule"], finding["severity"]) == ("GOV020", "warning")
    assert payload["summary"] == {"errors": 0, "warnings": 1}


def test_rule_override_applies_to_structural_rules_found_while_reading(govctl, factory):
    factory.build()
    factory.write("teams/dup.yaml", (factory.root / "teams/claims.yaml").read_text())
    factory.write("broken.yaml", "a: [unclosed\n")
    set_rules(factory, "{GOV021: warning, GOV001: off}")
    code, payload = validate_json(govctl, factory)
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in payload["findings"]] == [("GOV021", "warning")]


def test_rule_raised_from_warning_to_error(govctl, factory):
    factory.build()
    factory.edit("use-cases/triage.yaml", "  fallback: Claims go to the human triage queue.\n", "")
    set_rules(factory, "{GOV042: error}")
    code, payload = validate_json(govctl, factory)
    gov042 = [f for f in payload["findings"] if f["rule"] == "GOV042"]
    if not gov042:
        pytest.skip("GOV042 is not implemented yet")
    assert code == 1
    assert gov042[0]["severity"] == "error"


# -- robustness: files that are not (good) records ------------------------------------------


def _only_file(payload: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [f for f in payload["findings"] if f["file"] == rel]


@pytest.mark.parametrize(("content", "rule", "fragment"), [
    pytest.param("- apiVersion: govctl/v1\n- kind: Person\n", "GOV010", "mapping", id="list"),
    pytest.param("42\n", "GOV010", "mapping", id="scalar"),
    pytest.param("just some words\n", "GOV010", "mapping", id="string"),
    pytest.param("a: [unclosed\n", "GOV001", "YAML", id="syntax-error"),
    pytest.param("a: 1\na: 2\n", "GOV002", "", id="duplicate-key"),
    pytest.param("apiVersion: govctl/v1\nkind: Person\nspec: {}\n", "GOV010", "", id="no-id"),
])
def test_bad_record_files(govctl, factory, content, rule, fragment):
    factory.build()
    factory.write("odd.yaml", content)
    code, payload = validate_json(govctl, factory)
    assert code == 1
    findings = _only_file(payload, "odd.yaml")
    matching = [f for f in findings if f["rule"] == rule]
    assert matching, findings
    assert fragment in matching[0]["message"]
    assert matching[0]["line"] >= 1 and matching[0]["column"] >= 1
    assert payload["records"] == 12


def test_syntax_error_is_one_finding_at_its_position(govctl, factory):
    """A document cut short by a syntax error is not also 'missing apiVersion / kind'."""
    factory.build()
    factory.write("odd.yaml", "apiVersion: govctl/v1\nkind: Person\nmetadata: {id: [x\n")
    code, payload = validate_json(govctl, factory)
    assert code == 1
    [finding] = _only_file(payload, "odd.yaml")
    assert finding["rule"] == "GOV001"
    assert (finding["line"], finding["column"]) == (4, 1)
    assert finding["record"] is None


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n# and another\n", "---\n",
                                     "--- # nothing\n...\n"])
def test_empty_and_comment_only_files_are_harmless(govctl, factory, content):
    factory.build()
    factory.write("notes.yaml", content)
    code, payload = validate_json(govctl, factory)
    assert code == 0
    assert payload["findings"] == []
    assert payload["records"] == 12


def test_directory_named_like_a_record_file(govctl, factory):
    factory.build()
    (factory.root / "x.yaml").mkdir()
    (factory.root / "x.yaml" / "inner.yaml").write_text("kind: [broken\n")
    code, payload = validate_json(govctl, factory)
    assert code == 1
    assert [f["file"] for f in payload["findings"]] == ["x.yaml/inner.yaml"]
    assert payload["findings"][0]["rule"] == "GOV001"


def test_not_utf8_content_is_gov004(govctl, factory):
    factory.build()
    factory.write("latin1.yaml", "apiVersion: govctl/v1\nname: caf\xe9\n".encode("latin-1"))
    code, payload = validate_json(govctl, factory)
    assert code == 1
    [finding] = _only_file(payload, "latin1.yaml")
    assert finding["rule"] == "GOV004"
    assert (finding["line"], finding["column"]) == (2, 10)
    assert "UTF-8" in finding["message"]


@pytest.mark.skipif(sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="root (and Windows) can read a chmod 000 file")
def test_unreadable_file_is_gov004(govctl, factory):
    factory.build()
    locked = factory.write("locked.yaml", "apiVersion: govctl/v1\n")
    locked.chmod(0)
    try:
        code, payload = validate_json(govctl, factory)
    finally:
        locked.chmod(0o644)
    assert code == 1
    [finding] = _only_file(payload, "locked.yaml")
    assert finding["rule"] == "GOV004"
    assert "cannot read" in finding["message"]


def test_read_error_is_gov004_even_as_root(govctl, factory, monkeypatch):
    """The same path as chmod 000, for machines where tests run as root."""
    factory.build()
    factory.write("locked.yaml", "apiVersion: govctl/v1\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, payload = validate_json(govctl, factory)
    assert code == 1
    [finding] = _only_file(payload, "locked.yaml")
    assert finding["rule"] == "GOV004"
    assert finding["message"] == "cannot read file: Permission denied"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_named_pipe_is_not_read(factory):
    """A FIFO named like a record would block a read forever: GOV004, and no hang."""
    factory.build()
    os.mkfifo(factory.root / "pipe.yaml")
    result = run_subprocess("validate", "--root", factory.root, "--as-of", AS_OF, "--format",
                            "json", cwd=factory.root, timeout=60)
    assert result.code == 1, result.stderr
    [finding] = result.json()["findings"]
    assert (finding["rule"], finding["file"]) == ("GOV004", "pipe.yaml")
    assert "regular file" in finding["message"]


def test_file_name_that_is_not_utf8(factory):
    factory.build()
    try:
        with open(os.path.join(os.fsencode(factory.root), b"bad\xffname.yaml"), "wb") as f:
            f.write(b"apiVersion: govctl/v1\n")
    except (OSError, ValueError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    for fmt in ("text", "json", "github", "sarif", "junit"):
        result = run_subprocess("validate", "--root", factory.root, "--as-of", AS_OF,
                                "--format", fmt, cwd=factory.root,
                                env={"PYTHONIOENCODING": "utf-8"})
        assert result.code == 1, (fmt, result.stderr)
        assert result.stderr == "", fmt
        if fmt == "json":
            [finding] = result.json()["findings"]
            assert (finding["rule"], finding["file"]) == ("GOV004", "bad\\xffname.yaml")
            assert "UTF-8" in finding["message"]
        elif fmt == "sarif":
            [sarif] = result.json()["runs"][0]["results"]
            location = sarif["locations"][0]["physicalLocation"]["artifactLocation"]
            assert location["uri"] == "bad%5Cxffname.yaml"
        else:
            assert "bad\\xffname.yaml" in result.stdout, fmt


def test_broken_policy_file_is_a_finding_not_a_crash(govctl, factory):
    factory.build()
    factory.write("governance.yaml", "apiVersion: govctl/v1\nkind: Policy\nspec: [\n")
    code, payload = validate_json(govctl, factory)
    assert code == 1
    assert any(f["file"] == "governance.yaml" and f["rule"] == "GOV001"
               for f in payload["findings"])


@pytest.mark.parametrize("content", ["[]\n", "", "apiVersion: govctl/v1\nkind: Person\n"
                                     "metadata: {id: policy}\nspec: {name: P, email: p@x.test}\n"])
def test_policy_file_without_a_policy(govctl, factory, content):
    factory.build()
    factory.write("governance.yaml", content)
    code, payload = validate_json(govctl, factory)
    assert code == 1
    assert any(f["file"] == "governance.yaml" for f in payload["findings"])


def test_many_broken_files_at_once(govctl, factory):
    factory.build()
    factory.write("a/list.yaml", "[1, 2]\n")
    factory.write("a/scalar.yaml", "true\n")
    factory.write("a/empty.yml", "")
    factory.write("a/tags.yaml", "!!python/object:os.system {}\n")
    factory.write("a/alias.yaml", "a: &x [1]\nb: *x\nc: *nope\n")
    for fmt in ("text", "json", "github", "sarif", "junit"):
        result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", fmt)
        assert result.code == 1, (fmt, result.stderr)
        assert result.stderr == "", fmt
        for name in ("a/list.yaml", "a/scalar.yaml", "a/tags.yaml", "a/alias.yaml"):
            assert name in result.stdout, (fmt, name)


def test_validate_writes_nothing_into_the_repository(govctl, factory):
    factory.build()
    break_owner(factory)
    before = sorted(p.relative_to(factory.root) for p in factory.root.rglob("*"))
    for fmt in ("text", "json", "github", "sarif", "junit"):
        govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", fmt)
    assert sorted(p.relative_to(factory.root) for p in factory.root.rglob("*")) == before
