"""The records at HEAD, for naming what changed since an approval (GOV031/GOV032).

Loaded only when a stale approval needs explaining, and only for a working tree inside a
git repository: when HEAD still has the approved digest, the difference between HEAD and
the working tree is exactly what invalidated the approval — the prompt file, the model
snapshot, a threshold — and the message can say so instead of listing every input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class HeadBaseline:
    def __init__(self, root: Path, max_file_bytes: int | None = None) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes  # None: the default size limit
        self._history: Any = None
        self._loaded = False
        self._value: tuple[Any, Any] | None = None

    def get(self) -> tuple[Any, Any] | None:
        """(repository at HEAD, its Digester), or None outside git / without commits."""
        if not self._loaded:
            self._loaded = True
            from govctl.digest.digester import Digester
            from govctl.errors import GovctlError
            from govctl.history.git import GitHistory
            from govctl.model.repository import load_repository

            try:
                self._history = GitHistory(self.root) if self.max_file_bytes is None else \
                    GitHistory(self.root, self.max_file_bytes)
                head = self._history.head()
                if head is not None:
                    repo = load_repository(self._history.tree_source(head))
                    self._value = (repo, Digester(repo))
            except (GovctlError, OSError):
                self._value = None
        return self._value

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None


def for_root(root: Path, max_file_bytes: int | None = None) -> HeadBaseline | None:
    """A baseline when ``root`` is inside a git work tree (found without running git)."""
    if any((folder / ".git").exists() for folder in (root, *root.parents)):
        return HeadBaseline(root, max_file_bytes)
    return None
