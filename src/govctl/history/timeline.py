"""`govctl history USE_CASE`: every commit that touched the use case or anything it
depends on — its bundle and components, their prompt and tool files, models and eval
sets, its contract, approvals and incidents — with the semantic change of each.

Non-merge commits, oldest first: each change is shown once, in the commit (and by the
author) that made it. What is relevant starts from the working tree's dependency closure
and grows as older versions of the use case and bundles name other records.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.cache.parses import parse_cache
from govctl.history.git import Commit, GitHistory
from govctl.history.mentions import MentionIndex, Span
from govctl.history.replay import parse_records
from govctl.model.graph import closure_repository, use_case_closure
from govctl.model.loader import MAX_FILE_SIZE, loads_cleanly, may_hold
from govctl.model.records import Record, file_references
from govctl.model.repository import (
    RECORD_SUFFIXES,
    Repository,
    WorktreeSource,
    exclusions,
    load_repository,
)
from govctl.model.schemas import dotted
from govctl.rules.changes import FieldChange, describe, field_changes


@dataclass(frozen=True)
class TimelineChange:
    record: str  # Kind/id, or the file for a referenced file
    change: str  # added | removed | modified | file
    summary: str
    fields: tuple[FieldChange, ...] = ()

    def json(self) -> dict[str, Any]:
        return {"record": self.record, "change": self.change, "summary": self.summary,
                "fields": [f.json() for f in self.fields]}


@dataclass(frozen=True)
class TimelineEntry:
    commit: Commit
    changes: tuple[TimelineChange, ...]

    def json(self) -> dict[str, Any]:
        return {"sha": self.commit.sha, "short": self.commit.short, "date": self.commit.date,
                "author": self.commit.author, "email": self.commit.email,
                "subject": self.commit.subject, "changes": [c.json() for c in self.changes]}


@dataclass(frozen=True)
class Timeline:
    use_case: str
    entries: tuple[TimelineEntry, ...]

    def json(self) -> dict[str, Any]:
        return {"version": 1, "use_case": self.use_case,
                "commits": [e.json() for e in self.entries]}


class _Relevance:
    """What belongs to the use case; grows as history names more records."""

    def __init__(self, use_case_id: str, closure: Iterable[Record]) -> None:
        self.use_case = use_case_id
        self.refs: set[tuple[str, str]] = set()
        # the needles of so many refs (refs only grow: another size, other needles)
        self._needles: tuple[int, tuple[tuple[str, str], ...]] = (-1, ())
        self._held: tuple[tuple[tuple[str, str], ...] | None, frozenset[str]] = (None, frozenset())
        self.files: dict[str, str] = {}  # referenced file → "Kind/id field"
        for record in closure:
            self.learn(record.kind, record.id, record.data)

    def learn(self, kind: str, record_id: str, data: Mapping[str, Any] | None) -> None:
        self.refs.add((kind, record_id))
        spec = data.get("spec") if isinstance(data, Mapping) else None
        if not isinstance(spec, Mapping):
            return
        if kind == "UseCase":
            for key, target in (("bundle", "Bundle"), ("thresholds", "ThresholdContract")):
                if isinstance(spec.get(key), str):
                    self.refs.add((target, spec[key]))
        elif kind == "Bundle":
            for key, target in (("model", "Model"), ("eval_set", "EvalSet")):
                if isinstance(spec.get(key), str):
                    self.refs.add((target, spec[key]))
            for component in spec.get("components") or ():
                if isinstance(component, str):
                    self.refs.add(("Bundle", component))
        record = Record(kind, record_id, "", 0, 1, data, True)  # type: ignore[arg-type]
        for ref in file_references(record):
            field = dotted(ref.path[1:])
            self.files.setdefault(ref.target, f"{kind}/{record_id} {field}")

    def needles(self) -> tuple[tuple[str, str], ...]:
        """What a relevant record's file spells: its kind and its id (an approval or an
        incident of the use case: its kind and the use case's id)."""
        if self._needles[0] != len(self.refs):
            self._needles = (len(self.refs), tuple(sorted(self.refs | {
                (kind, self.use_case) for kind in ("UseCase", "Approval", "Incident")})))
        return self._needles[1]

    def held(self, index: MentionIndex) -> frozenset[str]:
        """``index.holding(self.needles())``, asked again only when the needles change (a
        timeline asks it of every change it walks)."""
        needles = self.needles()
        if self._held[0] is not needles:
            self._held = (needles, index.holding(needles))
        return self._held[1]

    def wants(self, record: Record) -> bool:
        if (record.kind, record.id) in self.refs:
            return True
        return record.kind in ("Approval", "Incident") and \
            record.spec.get("use_case") == self.use_case


def _mentions(history: GitHistory, relevance: _Relevance, change: Any,
              index: MentionIndex | None) -> bool:
    """Whether either version of a changed record file may hold a record the use case
    cares about: one spelling the kind and the id of one (``loader.may_hold``: a backslash,
    an escape that could spell them differently, always parses); other files are skipped
    unparsed. ``index``: the same answer for the blobs it holds, without reading them."""
    needles = relevance.needles()
    for path, blob in ((change.old_path, change.old_blob), (change.new_path, change.new_blob)):
        if path is None or blob is None or not path.endswith(RECORD_SUFFIXES):
            continue
        if index is not None and index.knows(blob):
            if blob in relevance.held(index):
                return True
            continue
        raw = history.small_blob(blob)
        if raw is None:
            continue  # over the size limit (GOV004): holds no readable record, not read
        if may_hold(raw, needles):
            return True
    return False


def _visits(span: Span, relevance: _Relevance) -> Iterator[Commit]:
    """The commits of the span a timeline must look at, in order: those changing a blob
    that may hold one of its records (``_mentions``) or a file one references. The others
    would show nothing (no change mentions the use case: nothing is parsed or learnt), so
    they are skipped; what they are is asked again whenever the relevance grows."""
    after, grown, queue = -1, (-1, -1), iter(())
    while True:
        now = (len(relevance.refs), len(relevance.files))
        if now != grown:
            grown = now
            queue = iter([position for position in span.positions(
                relevance.held(span.mentions), relevance.files)
                if position > after])
        after = next(queue, -1)
        if after < 0:
            return
        yield span.commits[after]


def _approvers(worktree: Repository, data: Mapping[str, Any]) -> str:
    names = []
    for entry in data.get("spec", {}).get("approvers") or ():
        person = worktree.get("Person", entry.get("person"))
        name = person.spec["name"] if person is not None else entry.get("person")
        names.append(f"{name} ({entry.get('role')})")
    return ", ".join(names) or "nobody"


def _summary(worktree: Repository, record: Record, change: str,
             fields: list[FieldChange]) -> str:
    spec = record.spec
    if record.kind == "Approval" and change in ("added", "modified") and (
            change == "added" or any(f.path in ("decision", "approvers") for f in fields)):
        verb = {"approved": "approved", "conditional": "conditionally approved",
                "rejected": "rejected"}.get(spec.get("decision"), spec.get("decision"))
        digest = (spec.get("bundle") or {}).get("digest", "")
        return f"{verb} by {_approvers(worktree, record.data)} ({record.id}, bundle " \
               f"{str(digest)[:15]}…)"
    if record.kind == "Incident" and change == "added":
        return f"incident {record.id} opened ({spec.get('severity')}, {spec.get('status')})" \
               + (f": {spec['summary']}" if spec.get("summary") else "")
    if change in ("added", "removed"):
        return f"{record.kind} {record.id} {change}"
    if change == "restored":
        return f"{record.kind} {record.id} restored" + (
            ": " + "; ".join(describe(f) for f in fields) if fields else " unchanged")
    return "; ".join(describe(f) for f in fields) or f"{record.kind} {record.id} reformatted"


def history_of(root: Path, use_case_id: str, max_file_bytes: int = MAX_FILE_SIZE
               ) -> Timeline:
    """``max_file_bytes``: record files and blobs larger than this are not read."""
    worktree = _closure_repository(WorktreeSource(root, max_file_bytes), use_case_id)
    use_case = worktree.require("UseCase", use_case_id)
    with GitHistory(root, max_file_bytes) as history:
        return timeline_of(history, worktree, use_case, release=True)


def _closure_repository(source: WorktreeSource, use_case_id: str) -> Repository:
    """The working tree's records the timeline starts from, without parsing the whole
    repository: the use case's closure (``graph.closure_repository``) and every Person
    (approvers' names); an unknown use case gets the full load's error (its "did you
    mean" looks at every id)."""
    files = list(source.record_files(exclusions(source)))
    parses = parse_cache(source.root)
    repo = closure_repository(lambda words: load_repository(source, files, parses, words),
                              [use_case_id], ["Person"])
    if repo.get("UseCase", use_case_id) is None:
        return load_repository(source, files, parses)
    return repo


Parsed = MutableMapping[tuple[str, str], dict[tuple[str, str], Record]]


class RecentParses(OrderedDict[tuple[str, str], dict[tuple[str, str], Record]]):
    """Parsed file versions shared by many timelines, the ``size`` last used kept: what
    every use case reads (people, teams, shared models) stays, each use case's own files
    go (an audit pack of 2,000 use cases held 11,500 parsed versions, 37 MB, to save 2 s)."""

    def __init__(self, size: int = 2048) -> None:
        super().__init__()
        self.size = size

    def __getitem__(self, key: tuple[str, str]) -> dict[tuple[str, str], Record]:
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key: tuple[str, str], value: dict[tuple[str, str], Record]
                    ) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


def timeline_commits(history: GitHistory, rev: str = "HEAD", since: str | None = None
                     ) -> list[Commit]:
    """The commits a timeline walks, oldest first: those of ``since..rev`` touching the
    root, merges left out (their changes are their parents')."""
    return history.log(rev=f"{since}..{rev}" if since else rev, no_merges=True, reverse=True)


def timeline_of(history: GitHistory, repo: Repository, use_case: Record, rev: str = "HEAD",
                since: str | None = None,
                parsed: Parsed | None = None,
                release: bool = False, span: Span | None = None) -> Timeline:
    """The use case's timeline over the commits ``since..rev``; ``repo`` holds the records
    (the working tree, or a revision for audit packs) whose closure starts the search.
    ``parsed`` shares parsed file versions between calls (an audit pack of every use case
    would otherwise parse the same blobs once per use case). ``release``: drop each batch
    of blobs once read (one timeline: memory bounded by a batch); without, they stay in the
    history's blob cache (bounded by its size) for the next use case's timeline.
    ``span``: :func:`timeline_commits` of the same stretch, indexed (many timelines of one
    span: each visits the commits and reads the blobs that may hold its records, not every
    commit and blob of the span)."""
    use_case_id = use_case.id
    worktree = repo  # people's names for summaries
    relevance = _Relevance(use_case_id, use_case_closure(repo, use_case))
    entries = []
    if parsed is None:
        parsed = {}

    def records(history: GitHistory, path: str | None, blob: str | None
                ) -> dict[tuple[str, str], Record]:
        if path is None or blob is None or not path.endswith(RECORD_SUFFIXES):
            return {}
        key = (path, blob)
        if key not in parsed:
            # a record cut short by a YAML error is unreadable, not half a record: its
            # missing fields would show as removed (loosened) and then added back
            # (the timeline compares data and never asks whether a version was valid)
            raw = history.small_blob(blob)  # None: over the size limit, not read (GOV004)
            parsed[key] = {} if raw is None else {
                (r.kind, r.id): r for r in parse_records(
                    path, raw, salvaged=False, check_schema=False,
                    max_size=history.max_file_bytes)}
        return parsed[key]

    # the last readable version of every record seen so far: a record that comes back
    # (after a commit that broke its file, or a deletion) is compared with it, so a
    # loosened threshold cannot hide behind a "removed" + "added" pair
    known: dict[tuple[str, str], Record] = {}

    def unreadable(commit: Commit, record: Record) -> bool:
        """The record's file still names it in this commit but it cannot be read."""
        for change in commit.changes:
            if change.old_path == record.file and change.new_path and change.new_blob:
                raw = history.small_blob(change.new_blob)
                # a version over the size limit is not read: it cannot be read either; one
                # that loads cleanly and parses without the record no longer holds it
                return raw is None or (may_hold(raw, (record.id,)) and not loads_cleanly(raw))
        return False

    mentions = span.mentions if span is not None else None
    if span is not None:
        # what may hold the records known now, in one read (those named later: one by one)
        read = history.prefetch(relevance.held(span.mentions))
        walk: Iterable[Commit] = _visits(span, relevance)
    else:
        walk = history.prefetched(timeline_commits(history, rev, since), release)
    for commit in walk:
        changes: list[TimelineChange] = []
        before: dict[tuple[str, str], Record] = {}
        after: dict[tuple[str, str], Record] = {}
        for change in commit.changes:
            if not _mentions(history, relevance, change, mentions):
                continue  # neither version names anything of this use case: not parsed
            before.update(records(history, change.old_path, change.old_blob))
            after.update(records(history, change.new_path, change.new_blob))
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            returning = old is None and key in known
            if returning:
                old = known[key]
            if new is not None:
                known[key] = new
            record = new or old
            assert record is not None
            if not relevance.wants(record) and not (old and relevance.wants(old)):
                continue
            if new is None and unreadable(commit, record):
                changes.append(TimelineChange(
                    f"{record.kind}/{record.id}", "unreadable",
                    f"{record.kind} {record.id} cannot be read in {record.file} (YAML "
                    "error, or over the size limit); its next readable version is compared "
                    "with the last one"))
                continue
            if old is None:
                kind, fields = "added", []
            elif new is None:
                kind, fields = "removed", []
            elif returning:
                kind = "restored"
                fields = field_changes(record.kind, old.data, new.data)
            else:
                fields = field_changes(record.kind, old.data, new.data)
                if not fields:
                    continue  # moved or reformatted only
                kind = "modified"
            relevance.learn(record.kind, record.id, record.data)
            changes.append(TimelineChange(f"{record.kind}/{record.id}", kind,
                                          _summary(worktree, record, kind, fields),
                                          tuple(fields)))
        for change in commit.changes:
            path = change.new_path or change.old_path
            if path in relevance.files:
                what = "added" if change.old_blob is None else (
                    "removed" if change.new_blob is None else "changed")
                changes.append(TimelineChange(
                    path, "file", f"{path} {what} ({relevance.files[path]}: reapproval)"))
        if changes:
            # a shallow clone's cut-off commit "adds" everything: not a real change
            history.require_complete(commit, f"history of {use_case_id}")
            entries.append(TimelineEntry(commit, tuple(changes)))
    if span is not None and release:
        history.release(read)
    return Timeline(use_case_id, tuple(entries))
