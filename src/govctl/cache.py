"""The user cache: ``$GOVCTL_CACHE_DIR``, else ``$XDG_CACHE_HOME/govctl``, else
``~/.cache/govctl`` — never inside a repository. One folder per govctl version (a cache is
never trusted across versions). Writes are atomic (temp file + rename), so concurrent runs
cannot leave a torn entry; every read is allowed to fail and is then recomputed.
``GOVCTL_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from govctl import __version__


def enabled() -> bool:
    return os.environ.get("GOVCTL_NO_CACHE", "") not in ("1", "true", "yes")


def root() -> Path:
    base = os.environ.get("GOVCTL_CACHE_DIR")
    if base:
        folder = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        folder = (Path(xdg) if xdg else Path.home() / ".cache") / "govctl"
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return folder / f"v{__version__}-{py}"


def path(section: str, name: str) -> Path:
    return root() / section / name


def read_bytes(section: str, name: str) -> bytes | None:
    if not enabled():
        return None
    try:
        return path(section, name).read_bytes()
    except OSError:
        return None


def read_text(section: str, name: str) -> str | None:
    data = read_bytes(section, name)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def write_bytes(section: str, name: str, data: bytes) -> None:
    """Best effort: a read-only home or a full disk only costs speed."""
    if not enabled():
        return
    folder = root() / section
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def write_text(section: str, name: str, text: str) -> None:
    write_bytes(section, name, text.encode("utf-8"))
