"""Read-only commands write nothing into the repository (SPEC §3 conventions).

Every read-only command runs, in-process (cold and warm cache) and as a real child process,
against a committed git repository whose working tree is dirty in a known way: a tracked
file modified, an untracked file, an ignored file, and a tracked file whose content is
unchanged but whose mtime is not the one `.git/index` recorded — the tripwire: a plain
``git status`` (without ``GIT_OPTIONAL_LOCKS=0``) refreshes and rewrites the index then.
Before and after, ``git status --porcelain --ignored`` must be identical and no file or
folder under the root — `.git/` included — may change (content, mode, inode, mtime_ns,
ctime_ns) or appear. Folder mtimes catch a temporary file that was created and removed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, init_git, run_subprocess
from tests.factory import AS_OF, RepoFactory
from tests.history_support import BOB, DAVE, commit, git_quiet_status
from tests.render_support import run_cli, write_observations

USE_CASE = "claims-triage"
STAT_DIRTY = "people.yaml"  # same content, new mtime: git's index is out of date for it


@dataclass(frozen=True)
class Repo:
    root: Path
    pack: Path  # an audit pack built outside the repository, for `verify`
    pack_zip: Path
    digest: str  # the triage bundle's digest (committed and current)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("readonly")
    factory = RepoFactory(base / "repo")
    factory.files[".gitignore"] = "*.log\n"
    factory.build()
    root = factory.root
    init_git(root)
    commit(root, BOB, "2026-10-01T09:00:00Z", "governance records")
    factory.edit("incidents/2026-10-15.yaml", "status: resolved", "status: mitigated")
    commit(root, DAVE, "2026-10-16T09:00:00Z", "incident mitigated, not resolved")
    pack, pack_zip = base / "pack", base / "pack.zip"
    for out, extra in ((pack, ()), (pack_zip, ("--zip",))):
        code, _, err = run_cli("audit-pack", USE_CASE, "-o", out, "--root", root, "--as-of",
                               AS_OF, *extra)
        assert code == 0, err
    code, out, err = run_cli("digest", "triage", "--root", root)
    assert code == 0, err
    # the known dirty state
    factory.edit("use-cases/triage.yaml", "title: Claims triage", "title: Claims triage (draft)")
    (root / "notes.txt").write_text("an untracked note\n")
    (root / "build.log").write_text("an ignored file\n")
    write_observations(root, "jsonl")  # untracked too: observations.jsonl
    return Repo(root, pack, pack_zip, out.strip())


def make_index_stale(root: Path) -> None:
    """Give a tracked file an mtime the index does not know (content unchanged)."""
    path = root / STAT_DIRTY
    stamp = time.time_ns() - 3_600_000_000_000  # an hour ago: never racily clean
    os.utime(path, ns=(stamp, stamp))


# -- the snapshot ------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every file, folder and symlink under ``root`` (``.git/`` included), by path."""
    out: dict[str, tuple[Any, ...]] = {}

    def rel(path: Path) -> str:
        return path.relative_to(root).as_posix()

    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        st = os.lstat(here)
        out[rel(here)] = ("dir", st.st_mode, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        for name in [*files, *(d for d in dirs if (here / d).is_symlink())]:
            path = here / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel(path)] = ("link", os.readlink(path), st.st_mtime_ns)
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[rel(path)] = ("file", st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns,
                              st.st_ctime_ns, digest)
    return out


def differences(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]
                ) -> list[str]:
    out = [f"new: {p}" for p in sorted(set(after) - set(before))]
    out += [f"gone: {p}" for p in sorted(set(before) - set(after))]
    out += [f"changed: {p} {before[p]} -> {after[p]}" for p in sorted(set(before) & set(after))
            if before[p] != after[p]]
    return out


def assert_untouched(root: Path, action: Callable[[], Any]) -> Any:
    make_index_stale(root)
    status = git_quiet_status(root)
    before = snapshot(root)
    index_mtime = (root / ".git" / "index").stat().st_mtime_ns
    result = action()
    assert (root / ".git" / "index").stat().st_mtime_ns == index_mtime, ".git/index rewritten"
    assert differences(before, snapshot(root)) == []
    assert git_quiet_status(root) == status
    return result


def test_the_tripwire_catches_a_plain_git_status(repo):
    """The check itself is sound: an ordinary `git status` rewrites the stale index."""
    make_index_stale(repo.root)
    before = snapshot(repo.root)
    env = {k: v for k, v in os.environ.items() if k != "GIT_OPTIONAL_LOCKS"}
    subprocess.run(["git", "status", "--porcelain"], cwd=repo.root, env=env, check=True,
                   capture_output=True)
    assert any(line.startswith("changed: .git/index") for line in
               differences(before, snapshot(repo.root)))


def test_the_dirty_state_is_the_one_intended(repo):
    status = git_quiet_status(repo.root).splitlines()
    assert sorted(status) == sorted([" M use-cases/triage.yaml", "?? notes.txt",
                                     "?? observations.jsonl", "!! build.log"])


# -- the commands ------------------------------------------------------------------------------

# (id, argv, exit code); {out} is a file outside the repository, {pack}/{zip} the audit
# packs, {digest} the bundle digest, {obs} the (untracked) observations file in the root
COMMANDS: list[tuple[str, tuple[str, ...], int]] = [
    ("validate", ("validate", "--as-of", AS_OF), 0),
    ("validate-history", ("validate", "--history", "--format", "json", "--as-of", AS_OF), 0),
    ("validate-paths-sarif", ("validate", "use-cases/triage.yaml", "--history", "--format",
                              "sarif", "--as-of", AS_OF), 0),
    ("validate-junit", ("validate", "--format", "junit", "--as-of", AS_OF), 0),
    ("diff", ("diff", "--as-of", AS_OF), 0),
    ("diff-revisions", ("diff", "HEAD~1", "HEAD", "--format", "json", "--as-of", AS_OF), 0),
    ("diff-markdown-gate", ("diff", "HEAD~1", "--format", "markdown", "--fail-on", "any",
                            "--as-of", AS_OF), 1),
    ("history", ("history", USE_CASE), 0),
    ("history-json", ("history", USE_CASE, "--format", "json"), 0),
    ("trace", ("trace", "{digest}"), 0),
    ("trace-json", ("trace", "{digest}", "--format", "json"), 0),
    ("trace-unknown", ("trace", "sha256:" + "0" * 64), 1),
    ("digest", ("digest", "triage"), 0),
    ("digest-json", ("digest", "triage", "--format", "json"), 0),
    ("status", ("status", "--observations", "{obs}", "--as-of", AS_OF), 0),
    ("status-json", ("status", "--observations", "{obs}", "--format", "json",
                     "--fail-on", "breach", "--as-of", AS_OF), 1),
    ("explain", ("explain", USE_CASE, "--observations", "{obs}", "--as-of",
                 AS_OF), 0),
    ("explain-json", ("explain", USE_CASE, "--format", "json", "--as-of", AS_OF), 0),
    ("card-stdout", ("card", USE_CASE, "--as-of", AS_OF), 0),
    ("card-md-file", ("card", USE_CASE, "-o", "{out}", "--observations", "{obs}",
                      "--as-of", AS_OF), 0),
    ("card-html-file", ("card", USE_CASE, "--format", "html", "-o", "{out}", "--as-of",
                        AS_OF), 0),
    ("card-at", ("card", USE_CASE, "--at", "HEAD~1", "-o", "{out}", "--as-of", AS_OF), 0),
    ("drill", ("drill", USE_CASE, "--as-of", AS_OF, "--detected", "2026-11-27T01:00:00Z"),
     0),
    ("drill-html-file", ("drill", USE_CASE, "--format", "html", "-o", "{out}", "--as-of",
                         AS_OF), 0),
    ("coverage", ("coverage", "--observations", "{obs}", "--as-of", AS_OF,
                  "--format", "markdown"), 1),
    ("export-rules", ("export", "prometheus-rules", "--as-of", AS_OF), 0),
    ("export-rules-file", ("export", "prometheus-rules", "-o", "{out}", "--as-of", AS_OF), 0),
    ("export-routes", ("export", "alertmanager-routes"), 0),
    ("export-routes-file", ("export", "alertmanager-routes", "-o", "{out}"), 0),
    ("schema", ("schema",), 0),
    ("schema-kind", ("schema", "Approval"), 0),
    ("verify", ("verify", "{pack}"), 0),
    ("verify-zip-json", ("verify", "{zip}", "--format", "json"), 0),
]


def argv(args: tuple[str, ...], repo: Repo, out: Path) -> list[str]:
    return [a.format(out=out, pack=repo.pack, zip=repo.pack_zip, digest=repo.digest,
                     obs=repo.root / "observations.jsonl") for a in args]


def check_output(name: str, result: CliResult, code: int, out: Path, repo: Repo) -> None:
    assert result.code == code, (name, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if "{out}" in dict((n, a) for n, a, _ in COMMANDS)[name]:
        assert out.is_file() and out.stat().st_size > 0
    if name.startswith("verify"):
        assert "not checked against git" not in result.stdout  # it did read the repository
    if name == "diff":
        assert "Claims triage (draft)" in result.stdout  # the dirty title was read


@pytest.mark.parametrize(("name", "args", "code"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_in_process_cold_and_warm_cache(repo, govctl, tmp_path, monkeypatch, name, args, code):
    monkeypatch.setenv("GOVCTL_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "outside" / "out.txt"

    def run_twice() -> None:
        for attempt in ("cold", "warm"):
            # the warm run replaces the file the cold one wrote (outside the repository)
            force = ("--force",) if attempt == "warm" and "{out}" in args else ()
            result = govctl(*argv(args, repo, out), *force, cwd=repo.root)
            check_output(name, result, code, out, repo)

    assert_untouched(repo.root, run_twice)


@pytest.mark.parametrize(("name", "args", "code"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_as_a_child_process(repo, tmp_path, name, args, code):
    out = tmp_path / "outside" / "out.txt"
    env = {"GOVCTL_CACHE_DIR": str(tmp_path / "cache")}
    result = assert_untouched(repo.root, lambda: run_subprocess(
        *argv(args, repo, out), cwd=repo.root, env=env))
    check_output(name, result, code, out, repo)


def test_root_given_from_outside_the_repository(repo, govctl, tmp_path):
    """--root from elsewhere: the same commands, nothing written either."""
    def run_all() -> None:
        for name, args, code in COMMANDS:
            out = tmp_path / f"{name}.out"
            rooted = [*argv(args, repo, out)]
            if rooted[0] not in ("schema", "verify"):
                rooted += ["--root", str(repo.root)]
            result = govctl(*rooted, cwd=tmp_path)
            if name.startswith("verify"):  # outside the repository: manifest check only
                assert result.code == 0, result.stdout
                continue
            assert result.code == code, (name, result.stdout, result.stderr)

    assert_untouched(repo.root, run_all)


def test_audit_pack_writes_only_outside(repo, govctl, tmp_path):
    """audit-pack writes, but never into the repository it documents."""
    def run() -> None:
        for extra in ((), ("--zip",), ("--all",)):
            out = tmp_path / f"pack{len(extra)}{extra[0] if extra else ''}"
            names = () if "--all" in extra else (USE_CASE,)
            result = govctl("audit-pack", *names, "-o", out, "--as-of", AS_OF, *extra,
                            cwd=repo.root)
            assert result.code == 0, result.stderr

    assert_untouched(repo.root, run)


def test_approve_dry_run_writes_nothing(repo, govctl):
    def run() -> None:
        result = govctl("approve", USE_CASE, "--approver", "bob:risk-officer", "--approver",
                        "carol:model-owner", "--dry-run", "--as-of", AS_OF, cwd=repo.root)
        assert result.code == 0, result.stderr
        assert "kind: Approval" in result.stdout

    assert_untouched(repo.root, run)
