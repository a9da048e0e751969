"""Errors for people (SPEC §3): every usage or environment error, across the commands, is
one line on stderr starting ``govctl: error:`` — no traceback, no "internal error" for
something the user can fix — with exit 2 (or 1 where the SPEC says so); ``--debug``
anywhere on the command line, or ``GOVCTL_DEBUG=1``, shows the traceback instead."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import init_git, run_subprocess
from tests.factory import AS_OF, RepoFactory
from tests.history_support import BOB, commit, git_quiet_status

ZERO = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Places:
    base: Path
    repo: Path  # committed git repository
    nogit: Path  # a governance root outside git
    empty: Path  # a git repository without commits
    nowhere: Path  # no governance.yaml here or above


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Places:
    base = tmp_path_factory.mktemp("errors")
    repo = RepoFactory(base / "repo").build().root
    init_git(repo)
    commit(repo, BOB, "2026-10-01T09:00:00Z", "records")
    nogit = RepoFactory(base / "nogit").build().root
    empty = RepoFactory(base / "empty").build().root
    init_git(empty)
    nowhere = base / "nowhere"
    nowhere.mkdir()
    (base / "afile").write_text("a file, not a folder\n")
    (base / "folder").mkdir()
    (base / "binary.jsonl").write_bytes(b"\xff\xfe\x00 not text")
    (base / "broken.jsonl").write_text('{"use_case": "claims-triage", "signal": "latency"\n')
    (base / "columns.csv").write_text("a,b\n1,2\n")
    (base / "no-eof.om").write_text('p95_latency_ms{use_case="claims-triage",'
                                    'signal="latency"} 1\n')
    (base / "words.jsonl").write_text(
        '{"use_case": "claims-triage", "signal": "latency", "metric": "p95_latency_ms", '
        '"value": "high", "at": "2026-11-27T00:00:00Z"}\n')
    (base / "notazip.zip").write_bytes(b"PK\x03\x04 not really a zip")
    return Places(base, repo, nogit, empty, nowhere)


APPROVER = ("--approver", "bob:risk-officer", "--approver", "carol:model-owner")

# (id, where it runs, argv, exit code); {base} is the folder holding the test files
ERRORS: list[tuple[str, str, tuple[str, ...], int]] = [
    # bad flags and arguments
    ("unknown-option", "repo", ("validate", "--no-such-flag"), 2),
    ("unknown-format", "repo", ("validate", "--format", "xml"), 2),
    ("unknown-command", "repo", ("frobnicate",), 2),
    ("unknown-subcommand", "repo", ("export", "nope"), 2),
    ("missing-option", "repo", ("approve", "claims-triage"), 2),
    ("missing-argument", "repo", ("verify",), 2),
    ("bad-approver", "repo", ("approve", "claims-triage", "--approver", "bob"), 2),
    ("bad-eval-result", "repo", ("approve", "claims-triage", *APPROVER, "--eval-result",
                                 "x=abc"), 2),
    ("eval-result-nan", "repo", ("approve", "claims-triage", *APPROVER, "--eval-result",
                                 "x=nan"), 2),
    ("valid-days-zero", "repo", ("approve", "claims-triage", *APPROVER, "--valid-days", "0"), 2),
    ("valid-days-text", "repo", ("approve", "claims-triage", *APPROVER, "--valid-days", "x"), 2),
    ("bad-decision", "repo", ("approve", "claims-triage", *APPROVER, "--decision", "maybe"), 2),
    ("card-format", "repo", ("card", "claims-triage", "--format", "pdf"), 2),
    ("pack-without-output", "repo", ("audit-pack", "claims-triage"), 2),
    ("pack-nothing-chosen", "repo", ("audit-pack", "-o", "{base}/p"), 2),
    ("pack-ids-and-all", "repo", ("audit-pack", "claims-triage", "--all", "-o", "{base}/p"), 2),
    ("diff-gate", "repo", ("diff", "--fail-on", "bogus"), 2),
    ("status-gate", "repo", ("status", "--fail-on", "bogus"), 2),
    ("trace-not-a-digest", "repo", ("trace", "not-a-digest"), 2),
    ("observations-format", "repo", ("status", "--observations", "{base}/broken.jsonl",
                                     "--observations-format", "xml"), 2),
    ("prometheus-url", "repo", ("status", "--prometheus", "not a url"), 2),
    # no governance root
    ("root-missing", "repo", ("validate", "--root", "{base}/missing"), 2),
    ("root-is-a-file", "repo", ("validate", "--root", "{base}/afile"), 2),
    ("no-root-upward", "nowhere", ("validate",), 2),
    ("no-root-status", "nowhere", ("status",), 2),
    ("no-root-explain", "nowhere", ("explain", "claims-triage"), 2),
    ("no-root-digest", "nowhere", ("digest", "triage"), 2),
    ("no-root-export", "nowhere", ("export", "prometheus-rules"), 2),
    # unknown ids
    ("unknown-bundle", "repo", ("digest", "nope"), 2),
    ("unknown-use-case-explain", "repo", ("explain", "nope"), 2),
    ("unknown-use-case-card", "repo", ("card", "nope"), 2),
    ("unknown-use-case-history", "repo", ("history", "nope"), 2),
    ("unknown-use-case-approve", "repo", ("approve", "nope", *APPROVER), 2),
    ("unknown-use-case-pack", "repo", ("audit-pack", "nope", "-o", "{base}/p"), 2),
    ("unknown-use-case-status", "repo", ("status", "--use-case", "nope"), 2),
    ("unknown-kind", "repo", ("schema", "Nope"), 2),
    ("unknown-supersedes", "repo", ("approve", "claims-triage", *APPROVER, "--supersedes",
                                    "nope"), 2),
    ("unknown-digest", "repo", ("trace", ZERO), 1),  # SPEC: an unknown digest exits 1
    # bad revisions
    ("diff-base", "repo", ("diff", "nope"), 2),
    ("diff-head", "repo", ("diff", "HEAD", "nope"), 2),
    ("diff-dash-revision", "repo", ("diff", "--", "--output=x"), 2),
    ("card-at", "repo", ("card", "claims-triage", "--at", "nope"), 2),
    ("pack-since", "repo", ("audit-pack", "claims-triage", "-o", "{base}/p", "--since", "nope"),
     2),
    ("pack-until", "repo", ("audit-pack", "claims-triage", "-o", "{base}/p", "--until",
                            "HEAD~5"), 2),
    # unreadable files and unwritable places
    ("observations-missing", "repo", ("status", "--observations", "{base}/missing.jsonl"), 2),
    ("observations-folder", "repo", ("status", "--observations", "{base}/folder"), 2),
    ("observations-binary", "repo", ("status", "--observations", "{base}/binary.jsonl"), 2),
    ("template-missing", "repo", ("card", "claims-triage", "--template", "{base}/missing"), 2),
    ("template-file", "repo", ("card", "claims-triage", "--template", "{base}/afile"), 2),
    ("verify-missing", "repo", ("verify", "{base}/missing"), 2),
    ("verify-a-file", "repo", ("verify", "{base}/afile"), 2),
    ("verify-bad-zip", "repo", ("verify", "{base}/notazip.zip"), 2),
    ("verify-not-a-pack", "repo", ("verify", "{base}/folder"), 2),
    ("card-output-through-a-file", "repo", ("card", "claims-triage", "-o",
                                            "{base}/afile/card.md"), 2),
    ("export-output-folder", "repo", ("export", "prometheus-rules", "-o", "{base}/folder"), 2),
    ("export-output-in-root", "repo", ("export", "alertmanager-routes", "-o", "routes.yaml"), 2),
    ("pack-output-through-a-file", "repo", ("audit-pack", "claims-triage", "-o",
                                            "{base}/afile/pack"), 2),
    ("pack-output-in-root", "repo", ("audit-pack", "claims-triage", "-o", "pack"), 2),
    ("init-a-file", "repo", ("init", "{base}/afile"), 2),
    ("init-through-a-file", "repo", ("init", "{base}/afile/gov"), 2),
    ("init-non-empty", "repo", ("init", "."), 2),
    # bad --as-of
    ("as-of-word", "repo", ("validate", "--as-of", "yesterday"), 2),
    ("as-of-month-13", "repo", ("status", "--as-of", "2026-13-01"), 2),
    ("as-of-hour-25", "repo", ("explain", "claims-triage", "--as-of", "2026-11-27T25:00:00Z"), 2),
    ("as-of-no-zone", "repo", ("card", "claims-triage", "--as-of", "2026-11-27T09:00:00"), 2),
    # bad observations
    ("observations-json", "repo", ("status", "--observations", "{base}/broken.jsonl"), 2),
    ("observations-csv", "repo", ("status", "--observations", "{base}/columns.csv"), 2),
    ("observations-openmetrics", "repo", ("status", "--observations", "{base}/no-eof.om"), 2),
    ("observations-value", "repo", ("explain", "claims-triage", "--observations",
                                    "{base}/words.jsonl"), 2),
    ("observations-card", "repo", ("card", "claims-triage", "--observations",
                                   "{base}/broken.jsonl"), 2),
    # history commands outside git, and in a repository without commits
    ("nogit-validate-history", "nogit", ("validate", "--history"), 2),
    ("nogit-diff", "nogit", ("diff",), 2),
    ("nogit-history", "nogit", ("history", "claims-triage"), 2),
    ("nogit-trace", "nogit", ("trace", ZERO), 2),
    ("nogit-card-at", "nogit", ("card", "claims-triage", "--at", "HEAD"), 2),
    ("nogit-audit-pack", "nogit", ("audit-pack", "claims-triage", "-o", "{base}/p"), 2),
    ("empty-diff", "empty", ("diff",), 2),
    ("empty-card-at", "empty", ("card", "claims-triage", "--at", "HEAD"), 2),
    ("empty-audit-pack", "empty", ("audit-pack", "claims-triage", "-o", "{base}/p"), 2),
]


def argv(places: Places, args: tuple[str, ...]) -> list[str]:
    return [a.format(base=places.base) for a in args]


def assert_error_line(result: Any, code: int) -> None:
    assert result.code == code, (result.code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("govctl: error: "), lines[0]
    assert "Traceback" not in result.stderr
    assert "internal error" not in lines[0], lines[0]  # something the user can fix
    assert result.stdout == ""


@pytest.mark.parametrize(("name", "where", "args", "code"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_is_one_line(places, govctl, name, where, args, code):
    result = govctl(*argv(places, args), cwd=getattr(places, where))
    assert_error_line(result, code)
    assert not (places.base / "p").exists()


SUBPROCESS = ["unknown-option", "no-root-upward", "unknown-bundle", "diff-base",
              "observations-folder", "as-of-word", "observations-json", "nogit-diff",
              "pack-output-through-a-file", "unknown-digest"]


@pytest.mark.parametrize("name", SUBPROCESS)
def test_error_is_one_line_from_the_real_entry_point(places, name):
    (_, where, args, code) = next(e for e in ERRORS if e[0] == name)
    assert_error_line(run_subprocess(*argv(places, args), cwd=getattr(places, where)), code)


def test_the_repository_is_left_as_it_was(places):
    """None of the error paths above wrote anything into the committed repository."""
    assert git_quiet_status(places.repo) == ""


# -- --debug and GOVCTL_DEBUG ---------------------------------------------------------------------


@pytest.fixture
def broken_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """An internal error: a bug inside validation."""
    import govctl.history.validation

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom inside validate")

    monkeypatch.setattr(govctl.history.validation, "validate", boom)


def test_an_internal_error_is_one_line_asking_for_a_report(places, govctl, broken_validate):
    result = govctl("validate", cwd=places.repo)
    assert result.code == 2
    (line,) = result.stderr.splitlines()
    assert line == ("govctl: error: internal error: RuntimeError: boom inside validate "
                    "(rerun with --debug for a traceback and please report it)")


@pytest.mark.parametrize("args", [
    ("--debug", "validate"),
    ("validate", "--debug"),
    ("validate", "--debug", "--format", "json"),
    ("validate", "--format", "json", "--debug"),
], ids=["first", "after-command", "middle", "last"])
def test_debug_anywhere_shows_the_traceback_and_keeps_the_exit_code(places, govctl,
                                                                    broken_validate, args):
    result = govctl(*args, cwd=places.repo)
    assert result.code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: boom inside validate" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("govctl: error: internal error")


def test_govctl_debug_env_shows_the_traceback(places, govctl, broken_validate, monkeypatch):
    monkeypatch.setenv("GOVCTL_DEBUG", "1")
    result = govctl("validate", cwd=places.repo)
    assert result.code == 2
    assert "RuntimeError: boom inside validate" in result.stderr


@pytest.mark.parametrize("args", [
    ("validate", "--as-of", "not-a-date"),
    ("explain", "no-such-use-case"),
    ("validate", "--no-such-flag"),
], ids=["bad-as-of", "unknown-id", "bad-flag"])
def test_debug_never_changes_the_exit_code_of_a_usage_error(places, govctl, args):
    quiet = govctl(*args, cwd=places.repo)
    loud = govctl(*args, "--debug", cwd=places.repo)
    assert quiet.code == loud.code == 2
    assert loud.stderr.rstrip().splitlines()[-1] == quiet.stderr.rstrip()


def test_debug_after_a_double_dash_is_an_argument(places, govctl, broken_validate):
    result = govctl("validate", "--", "--debug", cwd=places.repo)
    assert result.code == 2 and "internal error" in result.stderr
    assert "Traceback" not in result.stderr


BOOTSTRAP = """\
import sys
import govctl.history.validation

def boom(*args, **kwargs):
    raise RuntimeError("boom inside validate")

govctl.history.validation.validate = boom
from govctl.cli.main import main
main(sys.argv[1:])
"""


def _broken_child(*args: str, cwd: Path, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", BOOTSTRAP, *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=120)


@pytest.mark.parametrize("args", [("--debug", "validate"), ("validate", "--debug"),
                                  ("validate", "--as-of", AS_OF, "--debug")],
                         ids=["first", "after-command", "last"])
def test_debug_shows_the_traceback_in_a_real_process(places, args):
    proc = _broken_child(*args, cwd=places.repo)
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr
    assert "RuntimeError: boom inside validate" in proc.stderr


def test_govctl_debug_env_shows_the_traceback_in_a_real_process(places):
    quiet = _broken_child("validate", cwd=places.repo)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert len(quiet.stderr.splitlines()) == 1
    loud = _broken_child("validate", cwd=places.repo, env={"GOVCTL_DEBUG": "1"})
    assert "Traceback (most recent call last)" in loud.stderr
    assert "RuntimeError: boom inside validate" in loud.stderr


def test_debug_also_shows_where_an_expected_error_came_from(places):
    result = run_subprocess("digest", "nope", "--debug", cwd=places.repo)
    assert "Traceback (most recent call last)" in result.stderr
    assert "GovctlError: unknown bundle 'nope'" in result.stderr
