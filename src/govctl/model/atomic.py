"""Atomic writes: a temporary file in the target's folder, fsync, then link or rename.

Readers never see a half-written file, an interrupted write leaves at most a hidden
temporary file (removed on the way out; only a SIGKILL or a power cut between creating and
removing it can leave one behind), and without ``overwrite`` an existing file is never
replaced — ``os.link`` fails instead of clobbering, even against a racing writer.

A failure of the file system (a read-only disk, a full disk, a path through a file) is an
environment error: one line naming the path, never an "internal error".

:func:`claim_output` is the one answer to "may govctl write, or with ``--force`` replace,
this output path?" (SPEC §3): never through a symbolic link (dangling or not, with or
without ``--force``), never over anything without ``--force``, and with it only over what
govctl itself wrote — a regular file for ``card``/``export``, an audit pack for
``audit-pack`` (the caller says what counts as its own).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from govctl.errors import GovctlError


def fsync_dir(folder: Path) -> None:
    """Make a folder's new entries durable (best effort: not every file system can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def flush_file_system(folder: Path) -> None:
    """Everything written under ``folder`` on disk, in one call rather than one fsync per
    file (thousands of fsyncs cost seconds): ``syncfs`` of that file system on Linux, else
    ``sync``, else each file. Best effort, like every durability promise of a file system."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(folder, os.O_RDONLY)
            try:
                if libc.syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
        except (OSError, AttributeError):
            pass
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in folder.rglob("*"):  # pragma: no cover - Windows
        if path.is_file():
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The mode a plain ``open``/``mkdir`` would give under the current umask (mkstemp and
    mkdtemp make 0600/0700, which would hide shared repository files from a group)."""
    return (0o777 if directory else 0o666) & ~_umask()


def reason(exc: OSError) -> str:
    """The human part of an OSError ("No space left on device"), without the errno noise."""
    return exc.strerror or str(exc)


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GovctlError(f"cannot create the folder {folder}: {reason(exc)}") from None


def output_target(path: Path) -> Path:
    """``path`` with its folder resolved and its last component as given: a link there is
    the output path itself, never followed (``.`` and ``..`` name the folder they mean)."""
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def claim_output(path: Path, force: bool, ours: Callable[[Path], bool] = is_regular_file,
                 ours_name: str = "a regular file", empty_folder: bool = False,
                 note: str = "") -> Path:
    """The output path to write (see :func:`output_target`) when govctl may write it:
    nothing is there yet (or, with ``empty_folder``, an empty folder), or ``force`` is given
    and ``ours`` says it is what govctl writes there (``ours_name``). Otherwise one
    GovctlError naming ``path``: a symbolic link is refused with or without ``force``,
    anything else that is not govctl's even with it, and govctl's own without it."""
    target = output_target(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:  # a path through a file, a folder we may not read: let the
        if exc.errno in (errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP):  # write say so
            return target
        raise GovctlError(f"cannot write {path}: {reason(exc)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise GovctlError(f"{path} is a symbolic link; govctl never writes through a link, "
                          "with or without --force (remove it or choose another path)")
    if stat.S_ISDIR(st.st_mode) and empty_folder and _empty(target):
        return target
    if not ours(target):
        if stat.S_ISDIR(st.st_mode) and ours is is_regular_file:
            raise GovctlError(f"{path} is a directory; name the file to write")
        raise GovctlError(f"{path} exists and is not {ours_name}; refusing to replace it, "
                          "even with --force")
    if not force:
        raise GovctlError(f"{path} already exists{note}; not overwriting (use --force to "
                          "replace it)")
    return target


def _empty(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _mode_for(path: Path, overwrite: bool) -> int:
    # --force replaces the content, not the owner's choice of who may read it: a file the
    # user made private (0600) stays private
    if overwrite:
        try:
            st = path.lstat()
        except OSError:
            pass
        else:
            if stat.S_ISREG(st.st_mode):
                return stat.S_IMODE(st.st_mode)
    return default_mode()


def _exists_error(path: Path) -> GovctlError:
    return GovctlError(f"{path} already exists; not overwriting (use --force to replace it)")


def write_atomic(path: Path, data: bytes, overwrite: bool = False) -> None:
    folder = path.parent
    make_folder(folder)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise _exists_error(path)
    if overwrite:  # only a regular file is replaced, and never a link (nor its target)
        claim_output(path, force=True)
    mode = _mode_for(path, overwrite)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise GovctlError(f"cannot write {path}: {reason(exc)}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_into_place(tmp, path)
        fsync_dir(folder)
    except OSError as exc:
        raise GovctlError(f"cannot write {path}: {reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _link_into_place(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:  # a filesystem without hard links: check, then rename
        if path.exists() or path.is_symlink():
            raise _exists_error(path) from None
        os.replace(tmp, path)
