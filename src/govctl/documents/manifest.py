"""The layout of an audit pack that its builder and its verifier share (SPEC §4)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Collection, Iterable

# what opening or reading a zip member can raise (RuntimeError: an encrypted member;
# NotImplementedError: a compression method zipfile cannot read)
ZIP_READ_ERRORS = (OSError, zipfile.BadZipFile, ValueError, NotImplementedError, EOFError,
                   zlib.error, RuntimeError)

MANIFEST = "manifest.json"
# an SSH signature of manifest.json (`audit-pack --sign`): the one file the manifest does
# not list, since it is made from the manifest
SIGNATURE = "manifest.json.sig"
EVIDENCE = "evidence/"  # evidence/<commit>/<path>: a record as committed
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # git object ids (sha1 or sha256)
MANIFEST_LIMIT = 64 << 20  # bytes of a manifest read at most (a pack is untrusted input)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be the name of a file in a pack (SPEC §4: member names are
    normalised relative POSIX paths), None when it can. A name that fails is never opened:
    a tool that unpacks the pack would put it elsewhere (``../../home/x/.bashrc``), or show
    one file under two names."""
    if not name:
        return "an empty name"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        return "a control character in the name"
    if any(0xD800 <= ord(c) < 0xE000 for c in name):
        return "a name that is not UTF-8"
    if "\\" in name:
        return "a backslash in the name"
    if name.startswith("/"):
        return "an absolute path"
    segments = name.split("/")
    if "" in segments:
        return "an empty path segment"
    if ".." in segments:
        return "a '..' path segment"
    if "." in segments:
        return "a '.' path segment"
    return None


def _unpacked_as(name: str) -> str:
    """The name as a file system that ignores case and Unicode normalisation sees it
    (macOS, Windows): canonical caseless matching, NFD(casefold(NFD(name)))."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


def name_clashes(names: Iterable[str], first: Collection[str] = ()) -> dict[str, str]:
    """name → the earlier name it would overwrite, or be overwritten by, when the pack is
    unpacked on macOS or Windows: the two differ only by case or Unicode normalisation
    (``README.md``/``readme.md``, NFC/NFD ``café``). The names in ``first`` (the manifest
    and its signature) count as earlier than any other, so the look-alike is the one named."""
    seen: dict[str, str] = {}
    out: dict[str, str] = {}
    for name in sorted(names, key=lambda n: (n not in first, n)):
        key = _unpacked_as(name)
        if key in seen:
            out[name] = seen[key]
        else:
            seen[key] = name
    return out


def is_govctl_manifest(raw: bytes) -> bool:
    """Whether ``raw`` has the shape of a manifest govctl writes (SPEC §4: ``version``,
    ``govctl_version``, ``files``) — what lets ``--force`` replace a pack, and nothing that
    merely holds a file of that name (a browser extension's manifest.json)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return (isinstance(data, dict) and type(data.get("version")) is int
            and isinstance(data.get("govctl_version"), str)
            and isinstance(data.get("files"), dict))


def git_blob_id(data: bytes, length: int = 40) -> str:
    """Git's object id of a blob: sha1, or sha256 in a repository with 64-digit ids."""
    algorithm = hashlib.sha256 if length == 64 else hashlib.sha1
    return algorithm(b"blob %d\0" % len(data) + data).hexdigest()
