"""The external programs govctl starts (git, ssh-keygen), found only in absolute PATH
entries.

An empty PATH entry (``:/usr/bin``, ``/usr/bin:``) and a relative one (``.``, ``bin``)
mean the current directory, or a folder inside it: ``govctl verify .`` run inside an
unpacked pack that ships an executable ``ssh-keygen`` would run it, and its "Good …"
line would vouch for a forged pack. So programs are looked up in the absolute entries
only, and the programs govctl starts get that PATH too (git itself starts ``ssh-keygen``
and ``gpg`` to check commit signatures, in the repository's folder).
"""

from __future__ import annotations

import os
import shutil


def search_path(path: str | None = None) -> str:
    """``path`` (by default ``$PATH``) with only its absolute entries."""
    if path is None:
        path = os.environ.get("PATH", os.defpath)
    return os.pathsep.join(entry for entry in path.split(os.pathsep) if os.path.isabs(entry))


def find_program(name: str) -> str | None:
    """The absolute path of the executable ``name`` in an absolute PATH entry, or None
    (never one in the current directory, whatever PATH says)."""
    path = search_path()
    found = shutil.which(name, path=path) if path else None
    # (shutil.which on Windows looks in the current directory first: refused too)
    return found if found is not None and os.path.isabs(found) else None


def program_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (by default this process's environment) with PATH reduced to its absolute
    entries, for a program govctl starts: what it starts in turn cannot come from its
    working folder either."""
    out = dict(os.environ if env is None else env)
    out["PATH"] = search_path(out.get("PATH", os.defpath))
    return out
