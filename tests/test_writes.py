"""The commands that write (`init`, `approve`, `audit-pack`, and `card -o`/`export -o`):
they never overwrite without --force (exit 2, the target untouched), replace with it, give
files the usual permissions, and leave nothing behind when interrupted — by an exception
injected mid-write (a full disk, Ctrl-C, a failing renderer) or by SIGKILL."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import init_git, run_subprocess
from tests.factory import AS_OF
from tests.history_support import BOB, assert_one_line_error, commit, committed

USE_CASE = "claims-triage"
APPROVE = ("approve", USE_CASE, "--approver", "bob:risk-officer", "--approver",
           "carol:model-owner", "--as-of", AS_OF)
NEW_APPROVAL = "approvals/claims-triage-2026-11-27.yaml"
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


# -- helpers ------------------------------------------------------------------------------------


def state(folder: Path) -> dict[str, tuple[Any, ...]]:
    """Everything under ``folder`` (hidden entries too): content, inode, mode, and the
    mtime of files (a folder's mtime moves when a temporary file comes and goes)."""
    out: dict[str, tuple[Any, ...]] = {}
    if not folder.exists():
        return out
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        regular = stat.S_ISREG(st.st_mode)
        out[path.relative_to(folder).as_posix()] = (
            path.read_bytes() if regular else None, st.st_ino, stat.S_IMODE(st.st_mode),
            st.st_mtime_ns if regular else None)
    return out


def file_state(path: Path) -> tuple[bytes, int, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_ino, stat.S_IMODE(st.st_mode), st.st_mtime_ns


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary entries a write may have left in ``folder`` (not recursive)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.name.startswith(".") and (p.name.endswith(".tmp") or ".govctl-" in p.name))


def deep_leftovers(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*")
                  if p.name.endswith(".tmp") or ".govctl-" in p.name)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for the test (restored afterwards)."""
    saved = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def fail_on_call(n: int, exc: BaseException, real: Callable[..., Any],
                 only: Callable[..., bool] = lambda *a: True) -> Callable[..., Any]:
    """A stand-in for ``real`` that raises ``exc`` on its n-th matching call."""
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if only(*args):
            calls["n"] += 1
            if calls["n"] == n:
                raise exc
        return real(*args, **kwargs)

    return wrapper


def assert_interrupted(result: Any) -> None:
    """Ctrl-C: exit 130, at most one line, no traceback. (typer turns KeyboardInterrupt
    into a silent Exit(130) before govctl's own "interrupted" handler sees it.)"""
    assert result.code == 130, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 1


def is_regular_fd(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def repo(factory: Any) -> Path:
    """The factory repository, committed (audit packs need history)."""
    committed(factory)
    return factory.root


# -- card -o and export -o: single files outside the repository ----------------------------------

FILE_WRITERS = {
    "card": ("card", USE_CASE, "--as-of", AS_OF),
    "card-html": ("card", USE_CASE, "--format", "html", "--as-of", AS_OF),
    "prometheus-rules": ("export", "prometheus-rules", "--as-of", AS_OF),
    "alertmanager-routes": ("export", "alertmanager-routes"),
}
FILE_MARKERS = {"card": b"# ", "card-html": b"<!DOCTYPE html>", "prometheus-rules": b"groups:",
                "alertmanager-routes": b"route:"}


@pytest.mark.parametrize("writer", FILE_WRITERS)
def test_file_output_refuses_to_overwrite_then_replaces_with_force(factory, govctl, tmp_path,
                                                                   umask, writer):
    factory.build()
    args = (*FILE_WRITERS[writer], "--root", factory.root)
    target = tmp_path / "out" / "result.txt"
    target.parent.mkdir()
    target.write_bytes(b"precious\n")
    target.chmod(0o600)  # the user made it private
    before = file_state(target)
    result = govctl(*args, "-o", target)
    assert_one_line_error(result, str(target), "already exists", "--force")
    assert file_state(target) == before
    assert leftovers(target.parent) == []

    result = govctl(*args, "-o", target, "--force")
    assert result.code == 0, result.stderr
    assert FILE_MARKERS[writer] in target.read_bytes()
    # replaced as a new file (a rename, never a rewrite in place) that stays private
    assert target.stat().st_ino != before[1]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
@pytest.mark.parametrize("writer", FILE_WRITERS)
def test_file_output_gets_the_usual_permissions(factory, govctl, tmp_path, umask, mask,
                                                writer):
    factory.build()
    umask(mask)
    target = tmp_path / "new-folder" / "result.txt"
    result = govctl(*FILE_WRITERS[writer], "--root", factory.root, "-o", target)
    assert result.code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o777 & ~mask


def _fsync_fails() -> Callable[..., Any]:
    return fail_on_call(1, ENOSPC, os.fsync, only=is_regular_fd)


@pytest.mark.parametrize("writer", FILE_WRITERS)
@pytest.mark.parametrize("failure", ["fsync", "link", "replace"])
def test_file_output_interrupted_leaves_nothing(factory, govctl, tmp_path, monkeypatch,
                                                writer, failure):
    factory.build()
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "result.txt"
    extra: tuple[str, ...] = ()
    if failure == "replace":  # only --force replaces: the old file must survive
        target.write_bytes(b"old\n")
        extra = ("--force",)
    before = state(folder)
    if failure == "fsync":
        monkeypatch.setattr(os, "fsync", _fsync_fails())
    elif failure == "link":
        monkeypatch.setattr(os, "link", fail_on_call(1, KeyboardInterrupt(), os.link))
    else:
        monkeypatch.setattr(os, "replace", fail_on_call(
            1, OSError(errno.EIO, os.strerror(errno.EIO)), os.replace,
            only=lambda src, dst: Path(dst) == target))
    result = govctl(*FILE_WRITERS[writer], "--root", factory.root, "-o", target, *extra)
    monkeypatch.undo()
    if failure == "link":
        assert_interrupted(result)
    else:
        reason = "No space left on device" if failure == "fsync" else "Input/output error"
        assert_one_line_error(result, f"cannot write {target}", reason)
        assert "internal error" not in result.stderr  # a disk problem is not a bug
    assert state(folder) == before  # absent, or the old file untouched; no temp file


def test_file_output_into_a_path_through_a_file_is_one_clear_line(factory, govctl, tmp_path):
    factory.build()
    (tmp_path / "afile").write_text("x")
    result = govctl("export", "alertmanager-routes", "--root", factory.root, "-o",
                    tmp_path / "afile" / "routes.yaml")
    assert_one_line_error(result, "cannot create the folder")
    assert "internal error" not in result.stderr


# -- approve -------------------------------------------------------------------------------------


def test_approve_never_overwrites_a_same_day_approval(factory, govctl):
    factory.build()
    assert govctl(*APPROVE, "--root", factory.root).code == 0
    first = file_state(factory.root / NEW_APPROVAL)
    result = govctl(*APPROVE, "--root", factory.root)
    assert result.code == 0, result.stderr
    assert "approvals/claims-triage-2026-11-27-2.yaml" in result.stdout
    assert file_state(factory.root / NEW_APPROVAL) == first
    assert deep_leftovers(factory.root) == []


def test_approve_refuses_a_file_that_appears_meanwhile(factory, govctl, monkeypatch):
    """The name is chosen free, but another writer may take it before the write: the link
    refuses and the other file is untouched (exit 2)."""
    import govctl.rules.approve as approve

    factory.build()
    target = factory.root / NEW_APPROVAL
    real = approve._free_name

    def racing(*args: Any) -> tuple[str, str]:
        chosen = real(*args)
        target.write_bytes(b"the other writer's approval\n")
        return chosen

    monkeypatch.setattr(approve, "_free_name", racing)
    result = govctl(*APPROVE, "--root", factory.root)
    # said as it is: another approval took the name; approve has no --force to suggest
    assert_one_line_error(result, "appeared while", "run `govctl approve` again")
    assert "--force" not in result.stderr
    assert target.read_bytes() == b"the other writer's approval\n"
    assert deep_leftovers(factory.root) == []


@pytest.mark.parametrize("failure", ["fsync", "link"])
def test_approve_interrupted_leaves_nothing(factory, govctl, monkeypatch, failure):
    factory.build()
    before = state(factory.root)
    if failure == "fsync":
        monkeypatch.setattr(os, "fsync", _fsync_fails())
    else:
        monkeypatch.setattr(os, "link", fail_on_call(1, KeyboardInterrupt(), os.link))
    result = govctl(*APPROVE, "--root", factory.root)
    monkeypatch.undo()
    if failure == "fsync":
        assert_one_line_error(result, "No space left on device")
    else:
        assert_interrupted(result)
    assert state(factory.root) == before


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_approve_gets_the_usual_permissions(factory, govctl, umask, mask):
    factory.build()
    umask(mask)
    assert govctl(*APPROVE, "--root", factory.root).code == 0
    assert stat.S_IMODE((factory.root / NEW_APPROVAL).stat().st_mode) == 0o666 & ~mask


def test_approve_never_writes_through_a_link_out_of_the_root(factory, govctl, tmp_path):
    factory.build()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (factory.root / "approvals").rename(tmp_path / "kept")
    (factory.root / "approvals").symlink_to(elsewhere)
    result = govctl(*APPROVE, "--root", factory.root)
    assert_one_line_error(result, "outside the governance root")
    assert list(elsewhere.iterdir()) == []


def test_approve_skips_a_name_taken_by_a_dangling_link(factory, govctl):
    factory.build()
    (factory.root / NEW_APPROVAL).symlink_to("nowhere.yaml")
    result = govctl(*APPROVE, "--root", factory.root)
    assert result.code == 0, result.stderr
    assert "approvals/claims-triage-2026-11-27-2.yaml" in result.stdout
    assert (factory.root / NEW_APPROVAL).is_symlink()


def test_approve_refuses_text_that_is_not_utf8(factory, govctl):
    """A shell passes undecodable bytes as surrogates: a usage error, not a crash."""
    factory.build()
    before = state(factory.root)
    result = govctl(*APPROVE, "--notes", "caf\udce9", "--root", factory.root)
    assert_one_line_error(result, "--notes", "not valid UTF-8 text")
    assert state(factory.root) == before


def test_approve_never_puts_a_newline_into_a_file_name(factory, govctl):
    """An id with a final newline is a schema error (GOV010, ids match the pattern as
    ECMA-262 reads it), so approve refuses on its closure; its own file-name check stays
    as a second line of defence. Either way nothing is written."""
    factory.build()
    factory.edit("use-cases/triage.yaml", "{id: claims-triage,", '{id: "claims-triage\\n",')
    before = state(factory.root)
    result = govctl("approve", "claims-triage\n", *APPROVE[2:], "--root", factory.root)
    assert result.code == 1, result.stderr
    assert "GOV010" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert state(factory.root) == before


# -- init ----------------------------------------------------------------------------------------


def test_init_refuses_then_replaces_with_force(govctl, tmp_path):
    target = tmp_path / "gov"
    assert govctl("init", target).code == 0
    (target / "governance.yaml").write_text("# edited by the user\n")
    (target / "mine.txt").write_text("mine\n")
    before = state(target)
    result = govctl("init", target)
    assert_one_line_error(result, "not empty", "--force")
    assert state(target) == before
    result = govctl("init", target, "--force")
    assert result.code == 0, result.stderr
    assert "kind: Policy" in (target / "governance.yaml").read_text()
    assert (target / "mine.txt").read_text() == "mine\n"
    assert deep_leftovers(target) == [] and leftovers(tmp_path) == []


def test_init_force_never_writes_through_a_link_out_of_the_folder(govctl, tmp_path):
    target = tmp_path / "gov"
    target.mkdir()
    (target / "mine.txt").write_text("mine\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (target / "prompts").symlink_to(elsewhere)
    result = govctl("init", target, "--force")
    assert_one_line_error(result, "leads outside")
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt", "prompts"]


def test_init_refuses_a_file(govctl, tmp_path):
    target = tmp_path / "gov"
    target.write_text("a file\n")
    assert_one_line_error(govctl("init", target), "not a directory")
    assert govctl("init", target, "--force").code == 2
    assert target.read_text() == "a file\n"


@pytest.mark.parametrize("mask", [0o022, 0o027])
@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "empty-folder"])
def test_init_gets_the_usual_permissions(govctl, tmp_path, umask, mask, existing):
    umask(mask)
    target = tmp_path / "gov"
    if existing:
        target.mkdir()
    assert govctl("init", target).code == 0
    for path in [target, *target.rglob("*")]:
        expected = (0o777 if path.is_dir() else 0o666) & ~mask
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_init_of_the_current_folder(govctl, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    result = govctl("init", ".", cwd=here)
    assert result.code == 0, result.stderr
    assert (here / "governance.yaml").is_file()
    assert leftovers(tmp_path) == [] and deep_leftovers(here) == []


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "empty-folder"])
@pytest.mark.parametrize("failure", ["fsync-5th-file", "link-3rd-file", "rename"])
def test_init_interrupted_leaves_nothing(govctl, tmp_path, monkeypatch, existing, failure):
    target = tmp_path / "gov"
    if existing:
        target.mkdir()
    if failure == "fsync-5th-file":
        monkeypatch.setattr(os, "fsync", fail_on_call(5, ENOSPC, os.fsync, only=is_regular_fd))
    elif failure == "link-3rd-file":
        monkeypatch.setattr(os, "link", fail_on_call(3, KeyboardInterrupt(), os.link))
    else:  # the final rename of the whole scaffold (a new folder only)
        monkeypatch.setattr(os, "rename", fail_on_call(
            1, OSError(errno.EIO, os.strerror(errno.EIO)), os.rename))
    result = govctl("init", target)
    monkeypatch.undo()
    if failure == "rename" and existing:
        assert result.code == 0  # an existing folder is filled in place, never renamed over
        return
    if failure.startswith("link"):
        assert_interrupted(result)
    else:
        assert_one_line_error(result)
        assert "internal error" not in result.stderr
    if existing:
        assert list(target.iterdir()) == []  # empty again
    else:
        assert not target.exists()
    assert leftovers(tmp_path) == []


def test_init_force_interrupted_replaces_file_by_file(govctl, tmp_path, monkeypatch):
    """With --force into a non-empty folder each file is replaced atomically: an
    interruption leaves every file either old or new, never torn, and no temp file."""
    target = tmp_path / "gov"
    assert govctl("init", target).code == 0
    for path in target.rglob("*"):
        if path.is_file():
            path.write_bytes(b"old " + path.read_bytes())
    old = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    monkeypatch.setattr(os, "fsync", fail_on_call(4, ENOSPC, os.fsync, only=is_regular_fd))
    result = govctl("init", target, "--force")
    monkeypatch.undo()
    assert_one_line_error(result, "No space left on device")
    for path, data in old.items():
        assert path.read_bytes() in (data, data[len(b"old "):]), path
    assert deep_leftovers(target) == []


# -- audit-pack ----------------------------------------------------------------------------------


def pack_args(root: Path, out: Path, *extra: object) -> tuple[object, ...]:
    return ("audit-pack", USE_CASE, "-o", out, "--root", root, "--as-of", AS_OF, *extra)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_audit_pack_refuses_then_replaces_with_force(repo, govctl, tmp_path, as_zip):
    extra = ("--zip",) if as_zip else ()
    out = tmp_path / ("pack.zip" if as_zip else "pack")
    assert govctl(*pack_args(repo, out, *extra)).code == 0
    before = state(tmp_path)
    result = govctl(*pack_args(repo, out, *extra))
    assert_one_line_error(result, "not overwriting", "--force")
    assert state(tmp_path) == before
    result = govctl(*pack_args(repo, out, *extra, "--force"))
    assert result.code == 0, result.stderr
    assert govctl("verify", out, cwd=repo).code == 0
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mask", [0o022, 0o027])
@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_audit_pack_gets_the_usual_permissions(repo, govctl, tmp_path, umask, mask, as_zip):
    umask(mask)
    out = tmp_path / "packs" / ("pack.zip" if as_zip else "pack")
    assert govctl(*pack_args(repo, out, *(("--zip",) if as_zip else ()))).code == 0
    for path in [out.parent, out, *(out.rglob("*") if out.is_dir() else ())]:
        expected = (0o777 if path.is_dir() else 0o666) & ~mask
        assert stat.S_IMODE(path.stat().st_mode) == expected, path  # not mkdtemp's 0700


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("force", [False, True], ids=["new", "force"])
@pytest.mark.parametrize("failure", ["renderer", "disk-full", "install"])
def test_audit_pack_interrupted_leaves_nothing(repo, govctl, tmp_path, monkeypatch, as_zip,
                                               force, failure):
    import govctl.documents.audit_pack as auditpack

    extra = ("--zip",) if as_zip else ()
    out = tmp_path / ("pack.zip" if as_zip else "pack")
    if force:
        assert govctl(*pack_args(repo, out, *extra)).code == 0
    before = state(tmp_path)
    if failure == "renderer":  # the second document fails to render: Ctrl-C mid-write
        monkeypatch.setattr(auditpack, "render_pieces",
                            fail_on_call(2, KeyboardInterrupt(), auditpack.render_pieces))
    elif failure == "disk-full":  # the fourth file written hits a full disk
        monkeypatch.setattr(auditpack, "_write_file",
                            fail_on_call(4, ENOSPC, auditpack._write_file))
    else:  # the rename that publishes the new pack fails
        def publishing(src: Any, dst: Any) -> bool:
            return Path(dst) == out and ".govctl-" in str(src)

        monkeypatch.setattr(os, "replace", fail_on_call(
            1, OSError(errno.EIO, os.strerror(errno.EIO)), os.replace, only=publishing))
    result = govctl(*pack_args(repo, out, *extra, *(("--force",) if force else ())))
    monkeypatch.undo()
    if failure == "renderer":
        assert_interrupted(result)
    else:
        reason = "No space left on device" if failure == "disk-full" else "Input/output error"
        assert_one_line_error(result, "cannot write the audit pack", reason)
    # no temporary folder, no moved-aside pack; the old pack (with --force) untouched
    assert state(tmp_path) == before
    if force:
        assert govctl("verify", out, cwd=repo).code == 0


def test_audit_pack_into_a_path_through_a_file_is_one_clear_line(repo, govctl, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = govctl(*pack_args(repo, tmp_path / "afile" / "pack"))
    assert_one_line_error(result, "cannot write the audit pack")
    assert "internal error" not in result.stderr


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_later_run_cleans_up_after_a_killed_one(repo, govctl, tmp_path):
    """What a SIGKILL can leave beside the target — a half-built work folder, a pack moved
    aside by --force — is cleaned up (or put back) by the next run for that target on
    this host; entries of live processes and of other hosts are left alone."""
    from govctl.documents.audit_pack import _host

    out = tmp_path / "pack"
    dead, alive = _dead_pid(), os.getppid()
    work = tmp_path / f".pack.govctl-{_host()}-{dead}.work.abc123.tmp"
    (work / "pack").mkdir(parents=True)
    (work / "pack" / "README.md").write_text("half a pack\n")
    live = tmp_path / f".pack.govctl-{_host()}-{alive}.work.def456.tmp"
    live.mkdir()
    elsewhere = tmp_path / f".pack.govctl-otherhost-{dead}.work.ghi789.tmp"
    elsewhere.mkdir()
    # a --force run killed between moving the old pack aside and installing the new one
    assert govctl(*pack_args(repo, tmp_path / "old")).code == 0
    aside = tmp_path / f".pack.govctl-{_host()}-{dead}.old"
    (tmp_path / "old").rename(aside)
    old_pack = state(aside)

    result = govctl(*pack_args(repo, out))
    assert_one_line_error(result, "put back after an interrupted --force run")
    assert state(out) == old_pack  # the interrupted replacement was undone
    assert not work.exists() and not aside.exists()
    assert live.exists() and elsewhere.exists()

    result = govctl(*pack_args(repo, out, "--force"))
    assert result.code == 0, result.stderr
    assert sorted(leftovers(tmp_path)) == sorted([live.name, elsewhere.name])


# -- SIGKILL -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated repository large enough that audit-pack --all takes a few seconds."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from generate import generate_tree, write_tree  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCHMARKS))
    root = tmp_path_factory.mktemp("big") / "repo"
    write_tree(root, generate_tree(40))
    init_git(root)
    commit(root, BOB, "2026-10-01T09:00:00Z", "generated records")
    return root


def _start_pack(root: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "govctl", "audit-pack", "--all", "-o",
                             str(out), "--root", str(root), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], delay: float,
               timeout: float = 120) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds after ``ready()``; False if it finished first."""
    end = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            return False
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("audit-pack never reached the point to kill it at")
        time.sleep(0.002)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def _writing(folder: Path, proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """True once ``proc`` has begun writing the pack (its own work folder exists)."""
    def ready() -> bool:
        return any(f"-{proc.pid}.work." in p.name for p in folder.iterdir())

    return ready


def _check_after_kill(root: Path, folder: Path, name: str, force: bool) -> list[str]:
    """X is absent (never with --force over an old pack) or a complete pack that verifies;
    returns the leftovers seen."""
    out = folder / name
    if out.exists():
        result = run_subprocess("verify", out, cwd=root)
        assert result.code == 0, result.stdout
    else:
        assert not force, "a --force run that was killed lost the old pack"
    seen = leftovers(folder)
    assert all(n.startswith(f".{name}.govctl-") for n in seen), seen  # only ours, named
    return seen


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_sigkill_leaves_no_pack_or_a_complete_one(big_repo, tmp_path, as_zip):
    """Kill `audit-pack --all` while it reads history, and at points while it writes —
    into an absent target and replacing a pack with --force: the target is then absent
    (only if there was none) or a pack `govctl verify` accepts, never a partial one; the
    only leftovers are the killed run's own hidden entries; the next run removes them.

    What it shows (documented in govctl.documents.audit_pack and SECURITY.md): a kill while
    writing leaves ``.<name>.govctl-<host>-<pid>.work.*.tmp`` beside the target, and one
    just after a --force install also ``.<name>.govctl-<host>-<pid>.old``."""
    name = "pack.zip" if as_zip else "pack"
    extra = ("--zip",) if as_zip else ()
    out = tmp_path / name
    seen: list[list[str]] = []
    killed = 0
    # 1. early: while it is still reading history (no pack yet)
    proc = _start_pack(big_repo, out, *extra)
    time.sleep(0.5)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed += 1
    seen.append(_check_after_kill(big_repo, tmp_path, name, force=False))
    # 2. while writing into an absent target, then while replacing with --force
    for force, delay in ((False, 0.0), (False, 0.05), (True, 0.0), (True, 0.05),
                         (True, 0.2)):
        if not force:
            _remove(out)
        elif not out.exists():
            assert run_subprocess("audit-pack", "--all", "-o", out, "--root", big_repo,
                                  *extra, cwd=tmp_path).code == 0
        proc = _start_pack(big_repo, out, *extra, *(("--force",) if force else ()))
        killed += _kill_when(proc, _writing(tmp_path, proc), delay)
        seen.append(_check_after_kill(big_repo, tmp_path, name, force))
    # 3. the next run cleans up and produces a pack that verifies
    result = run_subprocess("audit-pack", "--all", "-o", out, "--root", big_repo, "--force",
                            *extra, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert run_subprocess("verify", out, cwd=big_repo).code == 0
    assert leftovers(tmp_path) == []
    assert killed >= 4, "the runs finished before they could be killed"
    assert any(seen), "no kill landed while writing (the machine may be too fast)"


def test_host_name_in_scratch_entries_is_a_safe_file_name():
    from govctl.documents.audit_pack import _host

    assert _host() and "/" not in _host() and "." not in _host()
    assert socket.gethostname()  # (what it is derived from)
