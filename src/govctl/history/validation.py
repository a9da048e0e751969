"""`govctl validate`: every check of SPEC §2 over the whole root, as data.

The rules (``rules/``) are functions of the records in hand; this module composes them
with what needs git — GOV080 provenance and the records at HEAD that let GOV031/GOV032
say what changed — and with the whole-answer cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.dates import utc_date
from govctl.model.findings import (
    ERROR,
    WARNING,
    Finding,
    apply_severities,
    cap,
    count,
    sort_key,
)
from govctl.model.loader import MAX_FILE_SIZE
from govctl.model.paths import is_inside
from govctl.model.policy import Policy
from govctl.model.records import file_references
from govctl.model.repository import Repository, WorktreeSource, load_repository
from govctl.rules.runner import check_repository


@dataclass(frozen=True)
class ValidationResult:
    root: Path
    git_prefix: str  # the root's path inside its git repository ("" at the top, or "a/b/")
    records: int
    files: tuple[str, ...]  # record files read (reported ones only, when PATHs were given)
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return count(self.findings)[0]

    @property
    def warnings(self) -> int:
        return count(self.findings)[1]


def git_prefix(root: Path) -> str:
    """Where ``root`` sits inside its git work tree, found without running git."""
    for folder in (root, *root.parents):
        if (folder / ".git").exists():
            rel = root.relative_to(folder).as_posix()
            return "" if rel == "." else rel + "/"
    return ""


def check_with_head(repo: Repository, as_of: datetime, digester: Digester | None = None,
                    baseline: Any = None) -> tuple[Policy, list[Finding]]:
    """:func:`check_repository` with the git halves of two rules, when the records are a
    working tree inside git: GOV031/GOV032 name what changed since the approved revision
    (and point at it), and GOV036 judges an approval's eval results against the contract
    it bound, found in history when the records changed since. A ``baseline`` passed in
    (a diff's, which knows its base) is used instead of the working tree's; the caller
    closes it."""
    owned = approved = None
    if isinstance(repo.source, WorktreeSource):
        from govctl.history.baseline import for_root

        in_git = for_root(repo.source.root, repo.source.max_size)
        if in_git is not None:
            from govctl.history.contracts import ApprovedContracts

            approved = ApprovedContracts(repo.source.root, repo)
            if baseline is None:
                baseline = owned = in_git
    try:
        return check_repository(repo, as_of, digester, baseline, approved)
    finally:
        for opened in (owned, approved):
            if opened is not None:
                opened.close()


def _selected_files(repo: Repository, root: Path, paths: Sequence[str]) -> set[str] | None:
    """Root-relative files whose findings are reported; None means all.

    Paths outside the root are ignored (pre-commit passes every changed file of a
    monorepo). A referenced file (a prompt) selects the records that reference it.
    """
    if not paths:
        return None
    wanted: set[str] = set()
    folders: list[str] = []
    for given in paths:
        full = _absolute(given)
        if full.is_dir() and is_inside(root, full):
            return None  # a folder holding the whole root (`govctl validate .` at the top)
        if not is_inside(full, root):
            continue
        rel = full.relative_to(root).as_posix()
        if full.is_dir():
            folders.append("" if rel == "." else rel + "/")
        else:
            wanted.add(rel)
    candidates = set(repo.files) | repo.referenced_files
    wanted |= {f for f in candidates for folder in folders if f.startswith(folder)}
    for record in repo.records:
        if any(ref.target in wanted for ref in file_references(record)):
            wanted.add(record.file)
    return wanted


def _absolute(given: str) -> Path:
    """``given`` made absolute with its folder's symlinks resolved, as ``root`` is.

    Only the folder is resolved: a record file that is itself a symlink keeps its own name
    (findings are reported under it), while ``/tmp/link-to-repo/x.yaml`` still matches a
    root resolved to ``/private/tmp/repo``.
    """
    full = Path(os.path.abspath(given))
    try:
        if full.is_dir() or full.parent == full:  # folders: nothing is reported under their name
            return full.resolve()
        return full.parent.resolve() / full.name
    except (OSError, RuntimeError):  # a symlink loop: compare the path as given
        return full


def provenance(repo: Repository, policy: Policy, root: Path) -> list[Finding]:
    """GOV080 (`validate --history`): every approval's deciding commit, from git."""
    from govctl.history.git import GitHistory
    from govctl.history.provenance import provenance_findings

    with GitHistory(root, repo.source.max_size) as history:
        found = list(provenance_findings(repo, history, policy.provenance,
                                         repo.of_kind("Approval")))
    return apply_severities(found, policy.rules)


def validate(root: Path, as_of: datetime, paths: Sequence[str] = (),
             history: bool = False, warn: Sequence[str] = (),
             max_file_bytes: int = MAX_FILE_SIZE) -> ValidationResult:
    """Every finding of the root; ``warn`` names rules reported as warnings for this run
    (`--warn`: the pre-commit hook lets an engineer commit a change that is re-approved in
    its pull request, while CI, without it, still fails). Record files larger than
    ``max_file_bytes`` are GOV004, not read. At most 100 findings per rule and file are
    reported, then one saying how many were left out (SPEC §3)."""
    from govctl.cache import results, store
    from govctl.model.repository import exclusions

    source = WorktreeSource(root, max_file_bytes)
    files = list(source.record_files(exclusions(source)))
    cacheable = store.usable_for(root)
    name = results.key(source.root, files, utc_date(as_of)) + ".json" if cacheable else ""
    cached = results.load(name, source) if cacheable else None
    repo: Repository | None = None
    if cached is not None and not history:
        findings = list(cached["findings"])
        record_count, record_files = cached["records"], tuple(cached["files"])
    else:
        repo = load_repository(source, files)
        policy, findings = check_with_head(repo, as_of)
        findings = cap(findings)  # (before the result cache stores them)
        record_count, record_files = len(repo.records), repo.files
        if cacheable:
            results.save(name, source, repo.referenced_files, findings, record_count,
                         record_files)
        if history:
            findings += provenance(repo, policy, root)
    if paths:
        if repo is None:
            repo = load_repository(source, files)
        selected = _selected_files(repo, root, paths)
        if selected is not None:
            findings = [f for f in findings if f.file in selected]
            record_files = tuple(f for f in record_files if f in selected)
    if warn:
        findings = [replace(f, severity=WARNING) if f.rule in warn and f.severity == ERROR
                    else f for f in findings]
    findings = cap(findings)  # GOV080 may have added some
    findings.sort(key=sort_key)
    return ValidationResult(root, git_prefix(root), record_count, record_files,
                            tuple(findings))
