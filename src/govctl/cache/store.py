"""The user cache: ``$GOVCTL_CACHE_DIR``, else ``$XDG_CACHE_HOME/govctl``, else
``~/.cache/govctl`` — never inside a repository. One folder per govctl version and build
(a cache is never trusted across versions, nor across edits of an editable install or an
install from a branch, whose version number does not change with the code). Writes are
atomic (temp file + rename), so concurrent runs cannot leave a torn entry; every read is
allowed to fail and is then recomputed.
``GOVCTL_NO_CACHE=1`` turns it off.

What is read back decides findings (and, for compiled schemas, is executed), so a read
only trusts a regular file owned by this user that nobody else may write, and the whole
cache is off when its folder lies inside a governance root: files committed to the
repository under review must never be able to pose as cache entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from functools import cache as _once
from pathlib import Path
from typing import Any

from govctl import __version__

POLICY_FILE = "governance.yaml"  # (repository.POLICY_FILE; importing it costs startup time)
_OFF = ("1", "true", "yes", "on")

# configured folder → is it inside a governance root? (a few stat calls, once per folder)
_inside_root: dict[str, bool] = {}


def _base() -> Path | None:
    """The configured cache folder, absolute; None when there is no home to put it in."""
    base = os.environ.get("GOVCTL_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        if xdg:
            base = os.path.join(xdg, "govctl")
        else:
            try:
                # RuntimeError: no HOME and no passwd entry (`docker run --user 1234`)
                base = str(Path.home() / ".cache" / "govctl")
            except (RuntimeError, KeyError, OSError):
                return None
    # absolute now: a relative setting must not follow later changes of directory, and the
    # inside-a-repository checks compare absolute paths
    return Path(os.path.abspath(base))


def _in_governance_root(folder: Path) -> bool:
    key = str(folder)
    if key not in _inside_root:
        try:
            real = folder.resolve()
        except (OSError, RuntimeError):
            real = folder
        found = False
        for ancestor in (real, *real.parents):
            try:
                if (ancestor / POLICY_FILE).is_file():
                    found = True
                    break
            except OSError:
                continue
        _inside_root[key] = found
    return _inside_root[key]


def enabled() -> bool:
    if os.environ.get("GOVCTL_NO_CACHE", "").strip().lower() in _OFF:
        return False
    base = _base()
    # inside a governance root the cache would dirty the work tree and, worse, read entries
    # that a commit put there: off
    return base is not None and not _in_governance_root(base)


@_once
def code_fingerprint() -> str:
    """The installed code and schemas, by file name, size and modification time.

    Cached answers depend on the loader, the schemas and the rules, not only on the version
    number: a developer's edit of a schema must not be answered from yesterday's cache.
    (~0.5 ms, once per process; a wheel's files keep their times.)"""
    package = Path(__file__).resolve().parents[1]  # govctl/, above cache/
    folders = [package]
    if not (package / "schemas").is_dir():
        folders.append(package.parents[1] / "schemas")  # a source checkout (see model/schemas.py)
    digest = hashlib.sha256()
    for top in folders:
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith((".pyc", ".pyo")):
                    continue
                try:
                    info = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                rel = os.path.relpath(os.path.join(folder, name), top)
                digest.update(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\0".encode(
                    "utf-8", "surrogateescape"))
    return digest.hexdigest()[:12]


def usable_for(governance_root: Path) -> bool:
    """Caching is on, and its folder is not inside the governance root it would describe
    (a commit could otherwise plant entries that the next run trusts)."""
    from govctl.model.paths import is_inside

    return enabled() and not is_inside(root().resolve(), governance_root.resolve())


def root() -> Path:
    base = _base()
    if base is None:  # enabled() is False then; callers only ask after enabled()
        base = Path(tempfile.gettempdir()) / "govctl-no-home"
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return base / f"v{__version__}-{py}-{code_fingerprint()}"


def path(section: str, name: str) -> Path:
    return root() / section / name


def _trusted(info: os.stat_result) -> bool:
    """A regular file of ours that no one else can have written."""
    if not stat.S_ISREG(info.st_mode):
        return False  # a FIFO would block the read, a device never ends
    if not hasattr(os, "geteuid"):
        return True  # Windows: no owner bits to check
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read_bytes(section: str, name: str) -> bytes | None:
    if not enabled():
        return None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path(section, name), flags)
    except OSError:
        return None
    try:
        if not _trusted(os.fstat(fd)):
            return None
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the file object owns it now
            return handle.read()
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def read_text(section: str, name: str) -> str | None:
    data = read_bytes(section, name)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def write_bytes(section: str, name: str, data: bytes | Iterable[bytes]) -> None:
    """Best effort: a read-only home or a full disk only costs speed. ``data``: the bytes,
    or pieces of them written in turn (a large entry never held whole in memory)."""
    if not enabled():
        return
    folder = root() / section
    try:
        # private: entries hold record contents (and, for schemas, code that is run)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                if isinstance(data, bytes):
                    handle.write(data)
                else:
                    handle.writelines(data)
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def json_pieces(head: Mapping[str, Any], streamed: Mapping[str, Iterable[tuple[str, Any]]]
                ) -> Iterator[bytes]:
    """One JSON object for :func:`write_bytes`, a piece at a time: ``head``'s members, then
    each ``streamed`` member's object encoded one entry at a time — an entry tens of MB
    large (the digest index of a long history) is never held whole as text."""
    def encode(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass")

    members = [encode(key) + b":" + encode(value) for key, value in head.items()]
    yield b"{" + b",".join(members)
    for n, (key, entries) in enumerate(streamed.items()):
        yield (b"," if members or n else b"") + encode(key) + b":{"
        for i, (name, value) in enumerate(entries):
            yield (b"," if i else b"") + encode(name) + b":" + encode(value)
        yield b"}"
    yield b"}"


def write_text(section: str, name: str, text: str) -> None:
    write_bytes(section, name, text.encode("utf-8"))
