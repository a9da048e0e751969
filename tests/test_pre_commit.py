"""The shipped pre-commit hooks, run by the real pre-commit framework.

`.pre-commit-hooks.yaml` (for `repo: <url>`) through `try-repo`, and the `repo: local`
hook of examples/pre-commit-config.yaml, copied literally, through `pre-commit run`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from govctl import __version__
from tests.conftest import commit_all, git, init_git, require_program, run_subprocess
from tests.factory import RepoFactory

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = PROJECT / "examples" / "pre-commit-config.yaml"


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


# -- the shipped `repo: local` config -------------------------------------------------------


def _shipped_hook() -> dict:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    [repo] = config["repos"]
    [hook] = repo["hooks"]
    assert repo["repo"] == "local"
    return hook


def test_shipped_config_pins_this_release_of_govctl_ai():
    hook = _shipped_hook()
    # the distribution is govctl-ai: `govctl` on PyPI is somebody else's (issue 15)
    assert hook["additional_dependencies"] == [f"govctl-ai=={__version__}"]
    # the same hook as .pre-commit-hooks.yaml, so the two forms cannot drift apart
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    (published,) = [h for h in hooks if h["id"] == "govctl-validate"]
    for key in ("id", "name", "entry", "language", "pass_filenames", "require_serial",
                "types_or", "files"):
        assert hook[key] == published[key], key
    # and the README shows the shipped config
    readme = (PROJECT / "README.md").read_text()
    [snippet] = [block for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
                 if "repo: local" in block]
    assert yaml.safe_load(snippet) == yaml.safe_load(SHIPPED_CONFIG.read_text())["repos"]


def _find_links(env: dict[str, str]) -> list[str]:
    """The find-links pip already uses here (PIP_FIND_LINKS replaces them, not adds to them)."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], env=env,
                            capture_output=True, text=True, check=True).stdout
    links: list[str] = []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".find-links"):
            links += value.strip().strip("'\"").split()
    return links


def _wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    """A wheel of this checkout, where PyPI's govctl-ai would come from."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, source / name)
    for folder in ("src", "schemas"):
        shutil.copytree(PROJECT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(wheels), str(source)], env=env, capture_output=True,
                           text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = wheels.glob("*.whl")
    assert wheel.name.startswith(f"govctl_ai-{__version__}-")
    return wheels


def test_shipped_local_hook_passes_on_a_clean_repo_and_fails_on_a_broken_one(tmp_path):
    pre_commit = require_program("pre-commit")
    hook = _shipped_hook()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    wheels = _wheel(tmp_path, env)
    env["PIP_FIND_LINKS"] = " ".join(dict.fromkeys([str(wheels), *_find_links(env)]))

    governance = RepoFactory(tmp_path / "governance").build()
    shutil.copy2(SHIPPED_CONFIG, governance.root / ".pre-commit-config.yaml")
    init_git(governance.root)
    commit_all(governance.root, "records", author="Bob Risk", email="bob@acme.test")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([pre_commit, "run", "--all-files"], cwd=governance.root,
                              capture_output=True, text=True, env=env, timeout=900)

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert hook["name"] in clean.stdout and "Passed" in clean.stdout

    governance.edit("use-cases/triage.yaml", "thresholds: triage-contract",
                    "threshhold: triage-contract")
    git(governance.root, "add", "-A")
    broken = run()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    line = governance.line_of("use-cases/triage.yaml", "threshhold")
    assert f"use-cases/triage.yaml:{line}:3: GOV010 error unknown key 'threshhold'" in broken.stdout
