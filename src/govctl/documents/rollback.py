"""The rollback target of a use case (SPEC §3.6, `govctl drill`): the latest version of any
of its approvals, in git history, that was `approved` or `conditional` and bound a bundle
digest other than the one approved now — with the commit that made that decision, the
bundle as committed there, and whether its models are still supported today.

Only git can say this: without a repository, or with a shallow clone that lacks the
versions, the answer is "cannot know" (:class:`RollbackUnknown`), never "none needed".
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from govctl.errors import GovctlError
from govctl.model.dates import parse_date
from govctl.model.graph import bundle_closure
from govctl.model.records import Record, as_mapping, file_references
from govctl.model.repository import Repository, load_repository

DECISIONS = ("approved", "conditional")


class RollbackUnknown(Exception):
    """Why the rollback target cannot be known, and what would let govctl know it."""

    def __init__(self, message: str, closes: str) -> None:
        super().__init__(message)
        self.closes = closes


@dataclass(frozen=True)
class RollbackTarget:
    digest: str
    approval_id: str
    decision: str
    approval_date: str
    commit: str  # full sha
    commit_date: str
    author: str
    bundle_id: str
    models: tuple[tuple[str, str], ...]  # (model id, "supported" / "retired on …" / …)
    retired: tuple[str, ...]  # the reasons the target cannot serve today
    checkout: str  # the command that restores the bundle's files as approved


def rollback_target(root: Path, repo: Repository, use_case: Record, current: str | None,
                    today: date) -> RollbackTarget | None:
    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex, Widen, commit_instant

    # an approval whose decision today is not approved/conditional (rejected since, say)
    # vouches for none of its versions
    approvals = [a for a in repo.of_kind("Approval") if a.spec.get("use_case") == use_case.id
                 and a.spec.get("decision") in DECISIONS]
    if not approvals:
        return None  # never approved: there is no approved bundle to go back to
    try:
        history = GitHistory(root)
    except GovctlError:
        raise RollbackUnknown("no git history here: the earlier approved bundle and its "
                              "commit cannot be found", "commit the records to git") from None
    with history:
        if history.head() is None:
            raise RollbackUnknown("the git repository has no commits: there is no earlier "
                                  "approval to find", "commit the records to git")
        if history.shallow_boundaries():
            raise RollbackUnknown("a shallow clone: earlier approvals may be cut off",
                                  "fetch the full history (git fetch --unshallow)")
        try:
            index = ProvenanceIndex(history, "HEAD", paths=sorted(
                {history.to_git(a.file) for a in approvals}))
            versions = [v for a in approvals for v in index.versions(a.id)]
        except Widen:  # an approval moved between files: read the whole history
            index = ProvenanceIndex(history, "HEAD")
            index.focus([a.id for a in approvals])
            versions = [v for a in approvals for v in index.versions(a.id)]
        candidates = []
        for commit, record in versions:
            bundle = as_mapping(record.spec.get("bundle"))
            digest = bundle.get("digest")
            if (record.spec.get("decision") in DECISIONS and isinstance(digest, str)
                    and digest != current and record.spec.get("use_case") == use_case.id):
                candidates.append((commit, record))
        if not candidates:
            return None
        commit, record = max(candidates, key=lambda c: commit_instant(c[0]))
        then = load_repository(history.tree_source(commit.sha))
        bundle_id = str(as_mapping(record.spec.get("bundle")).get("id"))
        bundle = then.get("Bundle", bundle_id)
        files = _bundle_files(then, bundle) if bundle is not None else []
        paths = " ".join(shlex.quote(history.to_git(f)) for f in files)
        # (paths from the top of the git work tree, wherever the command is run from)
        top = shlex.quote(str(history.top))
        checkout = (f"git -C {top} checkout {commit.sha} -- {paths}" if paths else
                    f"git -C {top} show --stat {commit.sha}  # the bundle record is not "
                    "in that commit")
    models = []
    retired = []
    for model_id in _models(then, bundle):
        state, reason = _model_state(repo, model_id, today)
        models.append((model_id, state))
        if reason:
            retired.append(reason)
    return RollbackTarget(
        str(as_mapping(record.spec.get("bundle")).get("digest")), record.id,
        str(record.spec.get("decision")), str(record.spec.get("date")), commit.sha,
        commit.committer_date, f"{commit.author} <{commit.email}>", bundle_id,
        tuple(models), tuple(retired), checkout)


def _bundle_files(repo: Repository, bundle: Record) -> list[str]:
    """The records and files the bundle's digest reads, as committed: the bundle and its
    components, their models and eval sets, and the files they reference."""
    files: set[str] = set()
    for record in _closure(repo, bundle):
        files.add(record.file)
        files.update(ref.target for ref in file_references(record))
    return sorted(files)


def _models(repo: Repository, bundle: Record | None) -> list[str]:
    if bundle is None:
        return []
    return sorted({r.id for r in _closure(repo, bundle) if r.kind == "Model"})


def _closure(repo: Repository, bundle: Record) -> list[Record]:
    """The bundle, its components, and the models and eval sets they name."""
    out: dict[str, Record] = {}
    for part in bundle_closure(repo, bundle.id):
        out[part.ref] = part
        model = repo.get("Model", part.spec.get("model"))
        for record in (model, repo.get("EvalSet", part.spec.get("eval_set")),
                       repo.get("EvalSet", model.spec.get("eval_set")) if model else None):
            if record is not None:
                out[record.ref] = record
    return list(out.values())


def _model_state(repo: Repository, model_id: str, today: date) -> tuple[str, str | None]:
    """The model as the records say today: its vendor may have retired it since."""
    model = repo.get("Model", model_id)
    if model is None:
        return "no Model record today", f"model {model_id} has no record today"
    lifecycle = as_mapping(model.spec.get("lifecycle"))
    retirement = parse_date(lifecycle.get("retirement"))
    if retirement is not None and today >= retirement:
        return (f"retired on {retirement.isoformat()}",
                f"model {model_id} retired on {retirement.isoformat()}")
    deprecation = parse_date(lifecycle.get("deprecation"))
    if retirement is not None:
        return f"supported until {retirement.isoformat()}", None
    if deprecation is not None and today >= deprecation:
        return f"deprecated since {deprecation.isoformat()}", None
    return "supported", None
