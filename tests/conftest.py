"""Shared fixtures: isolated home, CLI runners, repository factory, real git repos."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.factory import RepoFactory
from tests.http_support import Answer, FakePrometheus

DATA = Path(__file__).parent / "data"
REQUIRE_EXTERNAL = os.environ.get("GOVCTL_REQUIRE_EXTERNAL") == "1"


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test may write to the real home or cache (pre-commit's lesson)."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                                             "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")}
    os.environ["HOME"] = str(home)
    os.environ["XDG_CACHE_HOME"] = str(home / ".cache")
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Runner\n\temail = runner@example.test\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def require_program(name: str) -> str:
    """The program's path; skips without it, fails under GOVCTL_REQUIRE_EXTERNAL=1."""
    # Programs pip installed into this environment (pre-commit) sit beside the interpreter,
    # which is not on PATH when pytest runs without an activated virtualenv.
    path = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if path is None:
        message = f"{name} is not installed"
        if REQUIRE_EXTERNAL:
            pytest.fail(f"{message} (GOVCTL_REQUIRE_EXTERNAL=1: .ci/run must install it)")
        pytest.skip(message)
    return path


def require_module(name: str, why: str) -> Any:
    """The imported module; skips when it (or a library it loads) is missing, fails under
    GOVCTL_REQUIRE_EXTERNAL=1 — like :func:`require_program`, for an optional extra."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # (WeasyPrint's banner without Pango)
            return importlib.import_module(name)
    except (ImportError, OSError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        message = f"{name} cannot be imported ({why}): {reason}"
        if REQUIRE_EXTERNAL:
            pytest.fail(f"{message} (GOVCTL_REQUIRE_EXTERNAL=1: .ci/run must install it)")
        pytest.skip(message)


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        import json

        return json.loads(self.stdout)


def _run_in_process(args: list[str], cwd: Path, capsys: pytest.CaptureFixture[str]) -> CliResult:
    from govctl.cli.main import run

    old = Path.cwd()
    os.chdir(cwd)
    try:
        capsys.readouterr()
        code = run([str(a) for a in args])
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    return CliResult(code, out.out, out.err)


@pytest.fixture
def govctl(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Callable[..., CliResult]:
    """Run the real CLI in-process: ``govctl("validate", "--root", root, cwd=...)``."""

    def runner(*args: object, cwd: Path | None = None) -> CliResult:
        return _run_in_process([str(a) for a in args], cwd or tmp_path, capsys)

    return runner


def run_subprocess(*args: object, cwd: Path, env: dict[str, str] | None = None,
                   stdin: str | None = None, timeout: float = 120) -> CliResult:
    """Run ``python -m govctl`` in a child process (the installed entry point's twin)."""
    proc = subprocess.run([sys.executable, "-m", "govctl", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          input=stdin, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def factory(tmp_path: Path) -> RepoFactory:
    """A valid governance repository in ``tmp_path/repo`` that tests then break."""
    return RepoFactory(tmp_path / "repo")


# -- git ------------------------------------------------------------------------------


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True)
    return proc.stdout


def commit_all(repo: Path, message: str, author: str = "Test Runner",
               email: str = "runner@example.test", date: str = "2026-01-01T12:00:00Z") -> str:
    """Commit everything as ``author`` at ``date``; returns the commit sha."""
    env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": email,
           "GIT_COMMITTER_DATE": date}
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD").strip()


def init_git(repo: Path) -> Path:
    require_program("git")
    git(repo, "init", "-q", "-b", "main")
    return repo


@pytest.fixture
def fake_prometheus() -> Iterator[Callable[[Answer], FakePrometheus]]:
    started: list[FakePrometheus] = []

    def start(answer: Answer) -> FakePrometheus:
        server = FakePrometheus(answer)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
