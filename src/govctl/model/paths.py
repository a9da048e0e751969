"""File references: the normal form SPEC §1.1 requires and resolution inside the root."""

from __future__ import annotations

import os
from pathlib import Path


def normal_form_problem(ref: str) -> str | None:
    """Why ``ref`` is not a normalised POSIX path relative to the root, or None."""
    if not ref:
        return "is empty"
    if "\\" in ref:
        return "contains a backslash; use '/'"
    if ref.startswith("/") or (len(ref) > 1 and ref[1] == ":"):
        return "is absolute; write it relative to the governance root"
    if "\x00" in ref:
        return "contains a NUL character"
    segments = ref.split("/")
    if segments[0] == "." and len(segments) > 1:
        return "starts with './'; drop it"
    if "" in segments:
        return "has an empty segment ('//' or a trailing '/')"
    if ".." in segments:
        return "has a '..' segment; paths may not leave the governance root"
    if "." in segments:
        return "has a '.' segment"
    return None


def is_inside(path: Path, root: Path) -> bool:
    """True when ``path`` (already resolved) is ``root`` or below it."""
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def shown(ref: str, limit: int = 140) -> str:
    """``ref`` quoted for a message, clipped: a reference may be megabytes long."""
    from govctl.model.findings import quote

    return quote(ref, limit)


def resolve_reference(root: Path, ref: str) -> tuple[Path | None, str | None]:
    """(the resolved regular file, None) or (None, what is wrong). ``root`` is resolved."""
    problem = normal_form_problem(ref)
    if problem is not None:
        return None, f"file reference {shown(ref)} {problem}"
    candidate = root.joinpath(*ref.split("/"))
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None, f"file {shown(ref)} does not exist under the governance root"
    if not is_inside(resolved, root):
        return None, (f"file reference {shown(ref)} resolves outside the governance root "
                      "(through a symlink); keep referenced files inside the root")
    if not resolved.is_file():
        return None, f"file reference {shown(ref)} is not a regular file"
    return resolved, None


def posix_relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def safe_file_name(text: str) -> bool:
    """True when ``text`` can be used as one path segment of a file we write."""
    return bool(text) and text not in (".", "..") and os.sep not in text and "/" not in text \
        and "\\" not in text and "\x00" not in text
