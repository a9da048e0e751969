"""The shipped pre-commit hook, run by the real pre-commit framework (`try-repo`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import commit_all, git, init_git, require_program, run_subprocess
from tests.factory import RepoFactory

PROJECT = Path(__file__).resolve().parent.parent


def _hooks_repo(tmp_path: Path) -> Path:
    """A git repository holding this checkout's package (try-repo clones a git repo)."""
    hooks = tmp_path / "hooks-repo"
    hooks.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(PROJECT / name, hooks / name)
    for folder in ("src", "schemas"):
        shutil.copytree(PROJECT / folder, hooks / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    init_git(hooks)
    commit_all(hooks, "hooks")
    return hooks


def test_hook_definition_is_what_we_document():
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    (validate,) = [h for h in hooks if h["id"] == "govctl-validate"]
    # stale and expired approvals warn at commit time; CI (no --warn) still fails on them
    assert validate["entry"] == "govctl validate --warn GOV031 --warn GOV032 --warn GOV033"
    assert validate["pass_filenames"] is False
    assert validate["require_serial"] is True
    assert validate["language"] == "python"


def test_try_repo_passes_on_a_clean_repo_and_fails_on_a_broken_one(tmp_path):
    pre_commit = require_program("pre-commit")
    hooks = _hooks_repo(tmp_path)
    governance = RepoFactory(tmp_path / "governance").build()
    init_git(governance.root)
    commit_all(governance.root, "records", author="Bob Risk", email="bob@acme.test")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def try_repo(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pre_commit, "try-repo", str(hooks), "govctl-validate",
                               "--all-files", *extra], cwd=governance.root,
                              capture_output=True, text=True, env=env, timeout=600)

    clean = try_repo()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "govctl validate" in clean.stdout and "Passed" in clean.stdout

    governance.edit("use-cases/triage.yaml", "thresholds: triage-contract",
                    "threshhold: triage-contract")
    git(governance.root, "add", "-A")
    broken = try_repo()
    assert broken.returncode == 1
    assert "Failed" in broken.stdout
    line = governance.line_of("use-cases/triage.yaml", "threshhold")
    assert f"use-cases/triage.yaml:{line}:3: GOV010 error unknown key 'threshhold'" in broken.stdout
    assert "did you mean 'thresholds'" in broken.stdout

    # the flow the README describes: an engineer edits a prompt and commits; the approvers
    # re-approve in the pull request. The hook warns (GOV031), CI's validate fails.
    governance.edit("use-cases/triage.yaml", "threshhold: triage-contract",
                    "thresholds: triage-contract")
    governance.edit("prompts/triage.md", "You triage claims.", "You triage claims kindly.")
    git(governance.root, "add", "-A")
    warned = try_repo("--verbose")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "GOV031 warning stale approval: Bundle 'triage'" in warned.stdout
    ci = run_subprocess("validate", "--root", governance.root, cwd=governance.root)
    assert ci.code == 1
    assert "GOV031 error stale approval: Bundle 'triage'" in ci.stdout
