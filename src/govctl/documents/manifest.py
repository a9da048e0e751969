"""The layout of an audit pack that its builder and its verifier share (SPEC §4)."""

from __future__ import annotations

import hashlib
import re

MANIFEST = "manifest.json"
EVIDENCE = "evidence/"  # evidence/<commit>/<path>: a record as committed
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # git object ids (sha1 or sha256)


def git_blob_id(data: bytes, length: int = 40) -> str:
    """Git's object id of a blob: sha1, or sha256 in a repository with 64-digit ids."""
    algorithm = hashlib.sha256 if length == 64 else hashlib.sha1
    return algorithm(b"blob %d\0" % len(data) + data).hexdigest()
