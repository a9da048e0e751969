"""Atomic writes: a temporary file in the target's folder, fsync, then link or rename.

Readers never see a half-written file, an interrupted write leaves at most a hidden
temporary file (removed on the way out), and without ``overwrite`` an existing file is
never replaced — ``os.link`` fails instead of clobbering, even against a racing writer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from govctl.errors import GovctlError


def _fsync_dir(folder: Path) -> None:
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes, overwrite: bool = False) -> None:
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not overwrite and path.exists():
        raise GovctlError(f"{path} already exists; not overwriting (use --force to replace it)")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give files the usual mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise GovctlError(f"{path} already exists; not overwriting "
                                  "(use --force to replace it)") from None
            except OSError:  # a filesystem without hard links: check, then rename
                if path.exists():
                    raise GovctlError(f"{path} already exists; not overwriting") from None
                os.replace(tmp, path)
        _fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)
