"""Replaying history: the records of every commit, kept incrementally.

A :class:`Replay` walks the first-parent history of the governance root, oldest first,
applying each commit's changes (one ``git log --raw``) to an in-memory state: only the
blobs that changed are parsed (and each blob once, by content), and only bundles whose
digest inputs changed are digested again — the cost grows with the changes, not with
commits × records.

First parent: the main line as it was merged. A digest that only ever existed on a
side branch's intermediate commit is not seen; what was merged is (documented in README).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from govctl.digest.digester import Digester
from govctl.history.git import Commit, GitHistory, resolve_entry
from govctl.model import loader, schemas
from govctl.model.parallel import map_halves
from govctl.model.records import Record, is_url
from govctl.model.repository import is_record_path, parse_file


def parse_records(path: str, raw: bytes, salvaged: bool = True,
                  check_schema: bool | frozenset[str] = True,
                  max_size: int = loader.MAX_FILE_SIZE) -> list[Record]:
    """Records of one file as committed (the same loader and schema checks as validate).

    ``salvaged=False`` leaves out records cut short by a YAML error (the loader keeps what
    it read of them, marked broken): what such a version said cannot be known.
    ``check_schema=False`` skips the schema (about half the cost) for callers that only
    compare data; every record is then marked ``valid=False``. A set of kinds checks
    those kinds only (the others are marked ``valid=False``). ``max_size``: the size limit
    (`--max-file-bytes`; a blob over it has no records).
    """
    result = loader.load_bytes(raw, max_size)
    out = []
    for doc in result.documents:
        if doc.broken and not salvaged:
            continue
        data = doc.data
        if not isinstance(data, Mapping):
            continue
        kind, issues = schemas.envelope_issues(data)
        meta = data.get("metadata")
        record_id = meta.get("id") if isinstance(meta, Mapping) else None
        if kind is None or not isinstance(record_id, str):
            continue
        checked = check_schema if isinstance(check_schema, bool) else kind in check_schema
        valid = checked and not doc.broken and not issues and not schemas.validate(
            kind, data, limit=1)  # (valid or not: one issue tells)
        out.append(Record(kind, record_id, path, doc.index, doc.line, data, valid))
    return out


@dataclass
class State:
    """The records of one revision, read as `validate` reads them (every kind
    schema-checked); quacks like a Repository for the Digester. ``kinds``: only these are
    wanted — a file that cannot hold one (``loader.may_hold``) is not parsed."""

    history: GitHistory
    kinds: frozenset[str] | None = None
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path → (mode, blob)
    by_file: dict[str, list[Record]] = field(default_factory=dict)
    holders: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    index: dict[str, dict[str, Record]] = field(default_factory=lambda: defaultdict(dict))
    _parsed: dict[tuple[str, str], list[Record]] = field(default_factory=dict)  # ahead
    _remembered: dict[tuple[str, str], str] = field(default_factory=dict)  # → memory key
    _hashes: dict[str, str] = field(default_factory=dict)

    # the Repository interface the Digester and graph helpers use -----------------------
    def get(self, kind: str, record_id: Any) -> Record | None:
        if not isinstance(record_id, str):
            return None
        return self.index.get(kind, {}).get(record_id)

    def of_kind(self, kind: str, valid_only: bool = True) -> list[Record]:
        return [r for r in self.index.get(kind, {}).values() if r.valid or not valid_only]

    def file_sha256(self, ref: str) -> str | None:
        # through symlinks, as the working tree and GitTreeSource read them: hashing the
        # link's own blob (its target text) would give digests nobody else computes
        found = resolve_entry(self.files, self.history.small_blob, ref)
        if found is None:
            return None
        blob = found[1][1]
        digest = self._hashes.get(blob)
        if digest is None:
            # (streamed when the file is large: referenced files have no size limit)
            digest = self._hashes[blob] = self.history.sha256(blob)
        return digest

    # changes ---------------------------------------------------------------------------
    def _records_of(self, path: str, blob: str) -> list[Record]:
        records = self._parsed.pop((path, blob), None)  # parsed ahead (preparse)
        if records is None:
            raw = self.history.small_blob(blob)
            if raw is None:  # over the size limit: GOV004, no records (and not read)
                return []
            records = self._parse(path, blob, raw) if self._wanted(raw) else []
        return records

    def _wanted(self, raw: bytes) -> bool:
        return self.kinds is None or loader.may_hold(raw, self.kinds)

    def _parse(self, path: str, blob: str, raw: bytes) -> list[Record]:
        """The file's records as `validate` reads them (all kinds schema-checked), through
        the history's parse cache: the working tree's unchanged files are then hits."""
        parses = self.history.parses
        hit = parses.lookup(path, raw)
        if hit is not None:
            return hit[0]
        records, findings = parse_file(path, raw, self.history.max_file_bytes)
        self._remembered[(path, blob)] = parses.remember(path, raw, records, findings)
        return records

    def preparse(self, versions: Iterable[tuple[str, str]]) -> None:
        """Parse these (path, blob) versions now, on both cores; add_file takes them."""
        parses = self.history.parses
        todo: list[tuple[str, bytes]] = []
        keys: list[tuple[str, str]] = []
        for path, blob in dict.fromkeys(versions):
            if (path, blob) in self._parsed:
                continue
            raw = self.history.small_blob(blob)
            if raw is None:
                continue
            if not self._wanted(raw):
                self._parsed[(path, blob)] = []
                continue
            hit = parses.lookup(path, raw)
            if hit is not None:
                self._parsed[(path, blob)] = hit[0]
            else:
                todo.append((path, raw))
                keys.append((path, blob))
        limit = self.history.max_file_bytes
        parsed = map_halves(lambda item: parse_file(item[0], item[1], limit), todo)
        for key, (path, raw), (records, findings) in zip(keys, todo, parsed, strict=True):
            self._remembered[key] = parses.remember(path, raw, records, findings)
            self._parsed[key] = records

    def remove_file(self, path: str) -> list[Record]:
        entry = self.files.pop(path, None)
        if entry is not None and (path, entry[1]) in self._remembered:
            # replaced or deleted: its parse is no longer the working tree's to reuse
            self.history.parses.forget(self._remembered.pop((path, entry[1])))
        gone = self.by_file.pop(path, [])
        for key in dict.fromkeys((record.kind, record.id) for record in gone):
            # every time the file held it: one file may hold an id twice (GOV021)
            self.holders[key] = [p for p in self.holders.get(key, ()) if p != path]
            self._reindex(key)
        return gone

    def depends_on(self, ref: str) -> list[str]:
        """Every path what ``ref`` reads depends on: itself, symlinks on the way, target."""
        visited = [ref]
        resolve_entry(self.files, self.history.small_blob, ref, visited)
        return visited

    def add_file(self, path: str, blob: str, mode: str = "100644") -> list[Record]:
        self.files[path] = (mode, blob)
        if not holds_records(path, mode):
            return []
        records = self._records_of(path, blob)
        self.by_file[path] = records
        for record in records:
            key = (record.kind, record.id)
            self.holders[key].append(path)
            self._reindex(key)
        return records

    def _reindex(self, key: tuple[str, str]) -> None:
        kind, record_id = key
        paths = self.holders.get(key)
        if not paths:
            self.index[kind].pop(record_id, None)
            self.holders.pop(key, None)
            return
        first = min(paths)  # duplicates (GOV021): the first file in path order wins
        self.index[kind][record_id] = next(r for r in self.by_file[first] if
                                           (r.kind, r.id) == key)


def holds_records(path: str, mode: str) -> bool:
    """A regular file with a record suffix outside dot-folders (symlinks are kept for
    resolving references; their records are not read)."""
    return mode.startswith("100") and is_record_path(path)


@dataclass(frozen=True)
class Step:
    """One commit of the replay: what changed in it."""

    commit: Commit
    changed: frozenset[tuple[str, str]]  # (kind, id) whose record data changed
    removed: frozenset[tuple[str, str]]  # (kind, id) that no longer exist
    changed_files: frozenset[str]  # every path changed in the commit
    digests: Mapping[str, str]  # bundle id → digest, for bundles whose digest changed


PREPARSE_BATCH = 2_000  # record versions parsed ahead at once
# what bundle digests read (SPEC §1.3): a replay for digests alone parses no other kind
DIGEST_KINDS = frozenset({"Bundle", "Model", "EvalSet"})


class Replay:
    """``Replay(history)`` walks HEAD's first-parent line from the root commit;
    ``Replay(history, f"{start}..{tip}", start=start)`` starts from the records as they
    are at ``start`` (one ls-tree) and walks tip's first-parent line down to it — a merged
    branch, say. ``kinds``: the record kinds the caller reads (every kind by default); the
    replay adds :data:`DIGEST_KINDS` and parses no file that cannot hold one of them."""

    def __init__(self, history: GitHistory, rev: str = "HEAD", start: str | None = None,
                 kinds: frozenset[str] | None = None) -> None:
        self.history = history
        self.rev = rev
        self.state = State(history, None if kinds is None else kinds | DIGEST_KINDS)
        self.digests: dict[str, str] = {}  # bundle id → digest in the current state
        self.deps: dict[str, set[tuple[str, str]]] = {}  # bundle → what its digest read
        self.rdeps: dict[tuple[str, str], set[str]] = defaultdict(set)  # and back
        if start is not None:
            tree = history.tree(start)
            self.state.preparse((path, blob) for path, (mode, blob) in tree.items()
                                if holds_records(path, mode))
            for path, (mode, blob) in tree.items():
                self.state.add_file(path, blob, mode)
            self._redigest({("Bundle", b.id) for b in self.state.of_kind("Bundle")}, set())

    def steps(self) -> Iterator[Step]:
        commits = self.history.log(rev=self.rev, first_parent=True, reverse=True)
        # every record version the replay will read, in order; parsed ahead in batches on
        # both cores (a batch at a time: the parses wait in memory until applied)
        versions = [(i, ch.new_path, ch.new_blob) for i, c in enumerate(commits)
                    for ch in c.changes if ch.new_path is not None
                    and ch.new_blob is not None and holds_records(ch.new_path, ch.new_mode)]
        ahead = 0
        for i, commit in enumerate(commits):
            if ahead < len(versions) and versions[ahead][0] <= i:
                end = ahead + PREPARSE_BATCH
                while end < len(versions) and versions[end][0] <= i:
                    end += 1  # a commit's versions in one batch (the first has them all)
                batch = [(path, blob) for _, path, blob in versions[ahead:end]]
                # read in one cat-file batch, parsed, then dropped: memory holds one batch
                # of versions, not the whole history's
                read = self.history.prefetch(blob for _, blob in batch)
                self.state.preparse(batch)
                self.history.release(read)
                ahead = end
            yield self._apply(commit)

    def _apply(self, commit: Commit) -> Step:
        state = self.state
        before: dict[tuple[str, str], Any] = {}
        changed_files: set[str] = set()
        for change in commit.changes:
            for path in (change.old_path, change.new_path):
                if path is not None:
                    changed_files.add(path)
            if change.old_path is not None:
                for record in state.remove_file(change.old_path):
                    before.setdefault((record.kind, record.id), record.data)
        for change in commit.changes:
            if change.new_path is not None and change.new_blob is not None:
                for record in state.add_file(change.new_path, change.new_blob,
                                             change.new_mode):
                    before.setdefault((record.kind, record.id), None)
        changed = set()
        removed = set()
        for key, old_data in before.items():
            now = state.get(*key)
            if now is None:
                removed.add(key)
                changed.add(key)
            elif now.data != old_data:
                changed.add(key)
        digests = self._redigest(changed, changed_files)
        return Step(commit, frozenset(changed), frozenset(removed), frozenset(changed_files),
                    digests)

    def _dependencies(self, bundle: Record) -> set[tuple[str, str]]:
        """Everything the bundle's digest reads: its model and eval set records, every
        path on the way to its files (symlinks too), and its components."""
        state = self.state
        spec = bundle.spec
        keys: set[tuple[str, Any]] = {("Model", spec.get("model")),
                                      ("EvalSet", spec.get("eval_set"))}
        refs = set(_file_refs(spec))
        eval_set = state.get("EvalSet", spec.get("eval_set"))
        if eval_set is not None and isinstance(eval_set.spec.get("path"), str):
            refs.add(eval_set.spec["path"])
        for ref in refs:
            keys.update(("file", path) for path in state.depends_on(ref))
        components = spec.get("components")
        if isinstance(components, list):
            keys.update(("Bundle", c) for c in components)
        return {k for k in keys if isinstance(k[1], str)}

    def _track(self, bundle_id: str, deps: set[tuple[str, str]]) -> None:
        for key in self.deps.pop(bundle_id, set()) - deps:
            self.rdeps[key].discard(bundle_id)
        for key in deps:
            self.rdeps[key].add(bundle_id)
        if deps:
            self.deps[bundle_id] = deps

    def _redigest(self, changed: set[tuple[str, str]], files: set[str]) -> dict[str, str]:
        """Digest again every bundle whose inputs changed, and every bundle above it.

        Reverse dependencies (``rdeps``: what was read → the bundles that read it) are
        recorded whenever a bundle is digested, so finding the affected bundles costs what
        changed, not every bundle on every commit.
        """
        state = self.state
        affected: set[str] = set()
        for key in changed:
            if key[0] == "Bundle":
                affected.add(key[1])
            affected |= self.rdeps.get(key, set())
        for path in files:
            affected |= self.rdeps.get(("file", path), set())
        stack = list(affected)
        while stack:  # bundles composing an affected one change with it
            for parent in self.rdeps.get(("Bundle", stack.pop()), ()):
                if parent not in affected:
                    affected.add(parent)
                    stack.append(parent)
        if not affected:
            return {}
        digester = Digester(state)  # type: ignore[arg-type]
        out: dict[str, str] = {}
        for bundle_id in sorted(affected):
            bundle = state.get("Bundle", bundle_id)
            if bundle is None:
                self.digests.pop(bundle_id, None)
                self._track(bundle_id, set())
                continue
            self._track(bundle_id, self._dependencies(bundle))
            digest = digester.try_bundle(bundle) if bundle.valid else None
            if digest is None:
                self.digests.pop(bundle_id, None)
            elif self.digests.get(bundle_id) != digest:
                self.digests[bundle_id] = digest
                out[bundle_id] = digest
        return out


def _file_refs(spec: Mapping[str, Any]) -> set[str]:
    refs = set()
    prompt = spec.get("prompt")
    if isinstance(prompt, Mapping) and isinstance(prompt.get("template"), str):
        refs.add(prompt["template"])
    for tool in spec.get("tools") or ():
        if isinstance(tool, Mapping) and isinstance(tool.get("schema"), str):
            refs.add(tool["schema"])
    return refs


def runbook_file(spec: Mapping[str, Any]) -> str | None:
    runbook = (spec.get("on_breach") or {}).get("runbook")
    return runbook if isinstance(runbook, str) and not is_url(runbook) else None
