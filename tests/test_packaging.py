"""Packaging that cannot be confused with somebody else's (issue 15).

PyPI's `govctl` is an unrelated project, so this one is distributed as `govctl-ai` (the
command and the import package stay `govctl`), and no file may tell a user to install
`govctl` or point at a repository URL this project does not control.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from govctl import __version__
from tests.conftest import require_program

PROJECT = Path(__file__).resolve().parent.parent
SELF = "tests/test_packaging.py"  # spells out what it looks for

# `pip install govctl` (pip3, pipx, `uv tool`/`uv pip install`, `uv add`, `poetry add`),
# with flags or quotes in between but not across `&&`, `;` or `|`, unless the name goes on
# as `govctl-ai` (or `govctl_ai`, the same name to pip); and `govctl` pinned as a requirement.
WRONG_INSTALL = re.compile(
    r"\b(?:(?:pip3?|pipx|uv tool|uv pip) install|uv add|poetry add)\b[^\n;&|]*?"
    r"(?<![\w./-])govctl(?![\w-])"
    r"|(?<![\w./-])govctl\s*(?:===?|~=|>=|<=|!=)")
DEAD_URL = re.compile(r"github\.com/govctl/govctl", re.IGNORECASE)
PINNED = re.compile(r"govctl-ai==(\d[^\s\"'\],]*)")


def project_table() -> dict[str, str]:
    """`name` and `version` of pyproject.toml's [project] (no tomllib on Python 3.10)."""
    text = (PROJECT / "pyproject.toml").read_text()
    table = re.search(r"^\[project\]\n(.*?)^\[", text, re.MULTILINE | re.DOTALL).group(1)
    return dict(re.findall(r'^(name|version) = "([^"]*)"$', table, re.MULTILINE))


# what is not the project's own text: version control, environments, caches, build output
_NOT_PROJECT = {".git", ".venv", "venv", ".hypothesis", ".ruff_cache", ".pytest_cache",
                "__pycache__", "build", "dist", ".benchmarks", "out"}


def tracked_text_files() -> dict[str, str]:
    """The project's text files: in a git checkout, the tracked ones and new ones not
    ignored (about to be added); in an exported tree (CI runs `git archive` output), every
    file but environments, caches and build output — never a skip."""
    if (PROJECT / ".git").exists():
        require_program("git")
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], cwd=PROJECT, capture_output=True,
                                check=True).stdout.decode()
        names = sorted(set(filter(None, listed.split("\0"))))
    else:
        names = sorted(p.relative_to(PROJECT).as_posix() for p in PROJECT.rglob("*")
                       if p.is_file() and not _NOT_PROJECT & set(p.relative_to(PROJECT).parts)
                       and not p.relative_to(PROJECT).parts[0].endswith(".egg-info"))
    files = {}
    for rel in names:
        path = PROJECT / rel
        if rel == SELF or not path.is_file():  # this file, or deleted in the working tree
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        files[rel] = data.decode("utf-8", errors="replace")
    assert "README.md" in files and "pyproject.toml" in files, sorted(files)[:20]
    return files


def offending_lines(files: dict[str, str], pattern: re.Pattern[str]) -> list[str]:
    return [f"{rel}:{n}: {line.strip()}"
            for rel, text in files.items()
            for n, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def test_the_patterns_catch_what_they_are_for():
    for bad in ("pip install govctl", "run: pip install govctl", "pip install -U govctl",
                'pip install "govctl==0.1.0"', "pipx install govctl", "uv tool install govctl",
                "python -m pip install govctl[test]", "pip3 install --user govctl",
                "uv add govctl", 'additional_dependencies: ["govctl==0.1.0"]',
                "govctl>=0.1"):
        assert WRONG_INSTALL.search(bad), bad
    for good in ("pip install govctl-ai", 'pip install "govctl-ai==0.1.0"', "pip install .",
                 "pip install '.[test]'", "pip install -e '/work/govctl[test]'",
                 "pipx install govctl-ai", "pip install atheris", "pip install govctl_ai",
                 "pip install . && govctl validate --root examples/governance-repo",
                 'additional_dependencies: ["govctl-ai==0.1.0"]', "govctl --version"):
        assert not WRONG_INSTALL.search(good), good
    assert DEAD_URL.search("see https://github.com/govctl/govctl/security")


def test_no_file_installs_the_unrelated_govctl_or_links_a_repository_we_do_not_control():
    files = tracked_text_files()
    assert "pyproject.toml" in files and "README.md" in files
    assert offending_lines(files, WRONG_INSTALL) == []
    assert offending_lines(files, DEAD_URL) == []


def test_every_pin_of_govctl_ai_is_this_release():
    files = tracked_text_files()
    pins = {(rel, m.group(1)) for rel, text in files.items() for m in PINNED.finditer(text)}
    assert {rel for rel, _ in pins} >= {"examples/github-actions/govctl.yml",
                                        "examples/pre-commit-config.yaml"}
    assert {(rel, v) for rel, v in pins if v != __version__} == set()


def test_the_distribution_is_govctl_ai_and_the_command_govctl():
    assert project_table() == {"name": "govctl-ai", "version": __version__}
    scripts = (PROJECT / "pyproject.toml").read_text().split("[project.scripts]\n")[1]
    assert scripts.splitlines()[0] == 'govctl = "govctl.cli.main:main"'
