"""The fast paths: `--version` and `--help` answer without importing the heavy modules,
and the static top-level help lists exactly the commands typer registers."""

from __future__ import annotations

import subprocess
import sys

import typer

from govctl.cli.app import app
from govctl.cli.help import COMMANDS, top_level_help
from tests.conftest import run_subprocess

HEAVY = ("typer", "rich", "jinja2", "git", "jsonschema", "yaml", "fastjsonschema")


def test_static_help_matches_the_registered_commands():
    registered = typer.main.get_command(app).commands
    assert [name for name, _ in COMMANDS] == list(registered)
    for name, summary in COMMANDS:
        command = registered[name]
        first_line = (command.help or command.short_help or "").splitlines()[0]
        assert summary == first_line, name


def test_help_and_version_import_nothing_heavy(tmp_path):
    probe = ("import sys\nfrom govctl.cli.main import run\n"
             "for args in (['--version'], ['--help']):\n    run(args)\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_help_lists_every_command(tmp_path):
    result = run_subprocess("--help", cwd=tmp_path)
    assert result.code == 0
    assert result.stdout == top_level_help()
    for name, _ in COMMANDS:
        assert f"  {name} " in result.stdout


def test_no_arguments_is_a_usage_error_with_help(tmp_path):
    result = run_subprocess(cwd=tmp_path)
    assert result.code == 2
    assert "Usage: govctl" in result.stderr and result.stdout == ""


def test_subcommand_help_still_comes_from_typer(tmp_path):
    result = run_subprocess("validate", "--help", cwd=tmp_path)
    assert result.code == 0
    assert "--format" in result.stdout and "--history" in result.stdout
