"""`govctl card USE_CASE`: a model card regenerated from the records every time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl.documents.context import card_context, commit_json
from govctl.documents.templating import render
from govctl.errors import GovctlError
from govctl.history.validation import check_with_head
from govctl.model.dates import now
from govctl.model.repository import WorktreeSource, load_repository
from govctl.monitoring.sources import ObservationSource
from govctl.monitoring.status import build_status

FORMATS = ("md", "html")


@dataclass(frozen=True)
class CardRequest:
    use_case: str
    fmt: str = "md"
    at: str | None = None  # a git revision; None: the working tree
    source: ObservationSource | None = None  # --observations
    template_dir: Path | None = None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def card_data(root: Path, request: CardRequest, as_of: datetime) -> dict[str, Any]:
    """The card's template context (see docs/templates.md)."""
    from govctl.history.git import GitHistory

    in_git = any((folder / ".git").exists() for folder in (root, *root.parents))
    if request.at is not None and not in_git:
        raise GovctlError(f"--at {request.at}: {root} is not inside a git repository")
    history = GitHistory(root) if in_git else None
    try:
        if request.at is not None:
            assert history is not None
            source = history.tree_source(request.at)
            generated = {"at": _iso(now()), "commit": source.sha, "dirty": False,
                         "revision": request.at}
        else:
            source = WorktreeSource(root)
            head = history.head() if history else None
            generated = {"at": _iso(now()), "commit": head,
                         "dirty": history.dirty() if history and head else None,
                         "revision": None}
        repo = load_repository(source)
        policy, findings = check_with_head(repo, as_of)
        use_case = repo.require("UseCase", request.use_case, valid=True)
        commit_info = None
        if history is not None:
            # the deciding commit as seen from the revision rendered (HEAD for the tree)
            commit_info = _approval_commit(history, repo, policy, use_case, as_of,
                                           generated["commit"] or "HEAD")
        status = build_status(repo, policy, request.source or ObservationSource(), as_of,
                              [use_case], root)
        return card_context(repo, policy, use_case, as_of, findings, status, generated,
                            commit_info)
    finally:
        if history is not None:
            history.close()


def _approval_commit(history: Any, repo: Any, policy: Any, use_case: Any,
                     as_of: datetime, rev: str) -> dict[str, Any] | None:
    from govctl.history.provenance import ProvenanceIndex
    from govctl.history.signatures import people_at, signatures
    from govctl.model.dates import utc_date
    from govctl.rules.decisions import current_approval

    approval = current_approval(repo, use_case.id, utc_date(as_of))
    if approval is None or history.head() is None:
        return None
    decision = ProvenanceIndex(history, rev).decision(approval)
    if decision.commit is None:
        return None
    checked = signatures(history, people_at(history, rev), {decision.commit.sha})
    return commit_json(decision.commit, checked.get(decision.commit.sha), approval)


def render_card(root: Path, request: CardRequest, as_of: datetime) -> str:
    if request.fmt not in FORMATS:
        raise GovctlError(f"--format {request.fmt!r}: one of {', '.join(FORMATS)}")
    context = card_data(root, request, as_of)
    return render(f"card.{request.fmt}.j2", {"card": context}, request.template_dir)
