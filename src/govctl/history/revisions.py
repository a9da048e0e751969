"""Loading the records of a revision (or the working tree) for diff-like commands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from govctl.history.diff import WORKTREE, DiffResult, diff_repositories
from govctl.history.git import GitHistory
from govctl.model.loader import MAX_FILE_SIZE
from govctl.model.repository import WorktreeSource, load_repository


def diff_revisions(root: Path, base: str | None, head: str | None,
                   as_of: datetime, max_file_bytes: int = MAX_FILE_SIZE) -> DiffResult:
    """`govctl diff [BASE [HEAD]]`: BASE defaults to the merge-base with the default
    branch, HEAD to the working tree. Record files (and blobs) larger than
    ``max_file_bytes`` are GOV004, never read."""
    with GitHistory(root, max_file_bytes) as history:
        base_sha = history.resolve(base) if base is not None else history.default_base()
        old = load_repository(history.tree_source(base_sha))
        if head is None:
            new = load_repository(WorktreeSource(root, max_file_bytes))
            head_label = WORKTREE
        else:
            head_label = history.resolve(head)
            new = load_repository(history.tree_source(head_label))
        return diff_repositories(old, new, base_sha, head_label, as_of, history)
