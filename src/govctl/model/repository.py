"""The repository index: find the root, read every record file, index records by kind/id.

Reading goes through a :class:`Source` so that the same code reads the working tree and,
for history commands, a git revision.
"""

from __future__ import annotations

import hashlib
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

from govctl.errors import GovctlError
from govctl.model import loader, schemas
from govctl.model.findings import RULES, Finding, cap, left_out_message
from govctl.model.paths import is_inside, resolve_reference, shown
from govctl.model.records import Record, file_references

POLICY_FILE = "governance.yaml"
RECORD_SUFFIXES = (".yaml", ".yml")

MAX_ID_LENGTH = 128  # ^[a-z0-9][a-z0-9._-]{0,127}$ (SPEC §1.1)

Path = tuple[str | int, ...]


def find_root(start: FsPath, explicit: str | os.PathLike[str] | None) -> FsPath:
    """The governance root: ``--root`` or the nearest folder upward with governance.yaml."""
    if explicit is not None:
        root = FsPath(explicit)
        if not root.is_dir():
            what = "not a directory" if root.exists() else "no such directory"
            raise GovctlError(f"--root {explicit}: {what}")
        if not (root / POLICY_FILE).is_file():
            raise GovctlError(f"--root {explicit}: no {POLICY_FILE} there; a governance root "
                              f"holds {POLICY_FILE} (create one with `govctl init DIR`)")
        return root.resolve()
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / POLICY_FILE).is_file():
            return folder
    raise GovctlError(f"no {POLICY_FILE} found in {start} or any parent folder; pass --root DIR "
                      "or run inside a governance repository (create one with `govctl init DIR`)")


# -- sources ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    path: str  # POSIX, relative to the governance root
    raw: bytes | None  # None when it must not be read
    problem: loader.Problem | None = None


class Source(ABC):
    """Where records come from: the working tree or a git revision."""

    # record files larger than this are GOV004 without being read (`--max-file-bytes`)
    max_size: int = loader.MAX_FILE_SIZE

    @abstractmethod
    def read(self, path: str) -> bytes | None:
        """Bytes of a file under the root (None when unreadable)."""

    @abstractmethod
    def record_files(self, excluded: Any) -> Iterator[SourceFile]:
        """Every candidate record file, sorted, minus dot-paths and ``excluded``."""

    @abstractmethod
    def referenced_file(self, ref: str) -> tuple[bytes | None, str | None]:
        """(content, None) for a valid file reference, else (None, what is wrong)."""

    def referenced_digest(self, ref: str) -> tuple[str | None, str | None]:
        """(lowercase hex sha256, None) or (None, what is wrong), once per source: the
        rules, the digests and the result cache all ask, and resolving a path costs a
        syscall per component (contents are not kept: eval data can be large)."""
        memo: dict[str, tuple[str | None, str | None]] = self.__dict__.setdefault(
            "_referenced_digests", {})
        found = memo.get(ref)
        if found is None:
            found = memo[ref] = self.referenced_sha256(ref)
        return found

    def referenced_size(self, ref: str) -> int | None:
        """The size of a valid file reference, known without reading it (None: invalid)."""
        content, _ = self.referenced_file(ref)
        return len(content) if content is not None else None

    def referenced_capped(self, ref: str, limit: int) -> tuple[bytes | None, str]:
        """A referenced file's bytes when it is at most ``limit`` bytes — its size is
        checked before it is read — else (None, why not); (None, "") when it is absent or
        not a valid reference."""
        size = self.referenced_size(ref)
        if size is None:
            return None, ""
        if size > limit:
            return None, f"{size:,} bytes, over the {limit:,}-byte limit for a diff: not shown"
        return self.referenced_file(ref)[0], ""

    def referenced_sha256(self, ref: str) -> tuple[str | None, str | None]:
        """:meth:`referenced_digest` without the memo. Sources override it to hash a large
        file as a stream (a referenced file has no size limit: SPEC §1.3 digests its bytes,
        whatever their size, but they need not all be in memory at once)."""
        content, problem = self.referenced_file(ref)
        return ((hashlib.sha256(content).hexdigest(), None) if content is not None
                else (None, problem))


class WorktreeSource(Source):
    def __init__(self, root: FsPath, max_size: int = loader.MAX_FILE_SIZE) -> None:
        self.root = root.resolve()
        self.max_size = max_size

    def read(self, path: str) -> bytes | None:
        # The same guard as record files: never follow a symlink out of the root, and never
        # open a FIFO or device (reading one blocks or never ends).
        full = self.root / path
        try:
            target = full.resolve(strict=True)
            info = target.stat()
            if not is_inside(target, self.root) or not stat.S_ISREG(info.st_mode) \
                    or info.st_size > self.max_size:  # (a 1 GiB governance.yaml: not read)
                return None
            return target.read_bytes()
        except (OSError, RuntimeError):
            return None

    def record_files(self, excluded: Any) -> Iterator[SourceFile]:
        found: list[str] = []
        root = str(self.root)
        for folder, dirs, files in os.walk(root):
            rel_folder = os.path.relpath(folder, root)
            prefix = "" if rel_folder == "." else rel_folder.replace(os.sep, "/") + "/"
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                             and not (excluded and excluded.match_file(prefix + d + "/")))
            for name in files:
                if name.startswith(".") or not name.endswith(RECORD_SUFFIXES):
                    continue
                rel = prefix + name
                # governance.yaml holds the exclude globs themselves: a glob such as "*.yaml"
                # must not hide the Policy (SPEC §1: *every other* file is subject to them)
                if excluded and rel != POLICY_FILE and excluded.match_file(rel):
                    continue
                found.append(rel)
        for rel in sorted(found):
            yield self._file(rel)

    def _file(self, rel: str) -> SourceFile:
        if not _is_utf8(rel):
            # os.walk hands undecodable bytes over as lone surrogates, which no report can
            # print (UnicodeEncodeError on a strict UTF-8 stdout): name the file with
            # escapes instead and do not read it.
            return SourceFile(_displayable(rel), None, loader.Problem(
                "GOV004", 1, 1, "file name is not valid UTF-8; not read (rename the file)",
                None))
        full = self.root / rel
        try:
            link = stat.S_ISLNK(os.lstat(full).st_mode)  # one lstat: most files are plain
        except OSError:
            link = False
        if link:
            try:
                target = full.resolve(strict=True)
            except (OSError, RuntimeError):
                return SourceFile(rel, None, loader.Problem(
                    "GOV004", 1, 1, "broken symlink; not read", None))
            if not is_inside(target, self.root):
                return SourceFile(rel, None, loader.Problem(
                    "GOV004", 1, 1, "symlink resolves outside the governance root; not read "
                    "(keep records inside the root)", None))
        try:
            info = full.stat()
            if not stat.S_ISREG(info.st_mode):
                # A FIFO named x.yaml would block the read forever; a device never ends.
                return SourceFile(rel, None, loader.Problem(
                    "GOV004", 1, 1, "not a regular file (FIFO, socket or device); not read",
                    None))
            size = info.st_size
            if size > self.max_size:
                return SourceFile(rel, None, loader.Problem(
                    "GOV004", 1, 1, f"file is {size:,} bytes, over the {self.max_size:,}-byte "
                    "limit for record files; split it or move data into a referenced file",
                    None))
            return SourceFile(rel, full.read_bytes())
        except OSError as exc:
            return SourceFile(rel, None, loader.Problem(
                "GOV004", 1, 1, f"cannot read file: {exc.strerror or exc}", None))

    def referenced_file(self, ref: str) -> tuple[bytes | None, str | None]:
        resolved, problem = resolve_reference(self.root, ref)
        if resolved is None:
            return None, problem
        try:
            return resolved.read_bytes(), None
        except OSError as exc:
            return None, f"cannot read {shown(ref)}: {exc.strerror or exc}"

    def referenced_size(self, ref: str) -> int | None:
        resolved, _ = resolve_reference(self.root, ref)
        try:
            return resolved.stat().st_size if resolved is not None else None
        except OSError:
            return None

    def referenced_sha256(self, ref: str) -> tuple[str | None, str | None]:
        resolved, problem = resolve_reference(self.root, ref)
        if resolved is None:
            return None, problem
        digest = hashlib.sha256()
        try:
            with resolved.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
        except OSError as exc:
            return None, f"cannot read {shown(ref)}: {exc.strerror or exc}"
        return digest.hexdigest(), None


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _displayable(name: str) -> str:
    """A file name with undecodable bytes shown as ``\\xff`` escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# -- positions -------------------------------------------------------------------------


class Locator:
    """Makes findings, finding each node's line and column only when one is needed.

    A file is re-read with positions the first time a finding points into it.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self._positions: dict[str, tuple[dict[Path, loader.Position], ...]] = {}

    def position(self, file: str, doc: int, path: Path, at_key: bool = False) -> tuple[int, int]:
        maps = self._positions.get(file)
        if maps is None:
            raw = self.source.read(file)
            maps = loader.load_bytes(raw, self.source.max_size, with_positions=True
                                     ).positions if raw else ()
            self._positions[file] = maps
        if doc >= len(maps):
            return (1, 1)
        return loader.locate(maps[doc], path, at_key)

    def finding(self, rule: str, record: Record | None, path: Path, message: str, *,
                at_key: bool = False, file: str | None = None, doc: int | None = None,
                ) -> Finding:
        where = file if file is not None else (record.file if record else "")
        docno = doc if doc is not None else (record.doc if record else 0)
        line, column = self.position(where, docno, path, at_key) if where else (1, 1)
        return Finding(rule, RULES[rule].severity, where, line, column,
                       record.ref if record else None, message)


# -- the repository ----------------------------------------------------------------------


@dataclass
class Repository:
    source: Source
    locator: Locator
    files: tuple[str, ...]  # record files read
    records: tuple[Record, ...]  # every record read, in file order, duplicates included
    index: dict[str, dict[str, Record]]  # kind → id → first record with that id
    findings: tuple[Finding, ...]  # found while reading (GOV001-GOV004, GOV010, GOV021)
    referenced_files: frozenset[str]
    # kind → use case id → its records (of_use_case), filled when first asked
    _by_use_case: dict[str, dict[str, list[Record]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def get(self, kind: str, record_id: Any) -> Record | None:
        if not isinstance(record_id, str):
            return None
        return self.index.get(kind, {}).get(record_id)

    def require(self, kind: str, record_id: str, *, valid: bool = False, where: str = ""
                ) -> Record:
        """The record a command was asked about: exit 2 naming the closest id when there is
        none; with ``valid``, exit 1 when it has errors (``where``: e.g. " at <revision>")."""
        record = self.get(kind, record_id)
        label = {"UseCase": "use case", "Bundle": "bundle"}.get(kind, kind)
        if record is None:
            raise GovctlError(f"unknown {label} {record_id!r}{where}"
                              f"{schemas.suggest(record_id, self.index.get(kind, {}))}")
        if valid and not record.valid:
            raise GovctlError(f"{kind} {record_id!r} ({record.file}) has errors{where}; run "
                              "`govctl validate`", exit_code=1)
        return record

    def of_kind(self, kind: str, valid_only: bool = True) -> list[Record]:
        return [r for r in self.index.get(kind, {}).values() if r.valid or not valid_only]

    def of_use_case(self, kind: str, use_case_id: str, valid_only: bool = True
                    ) -> list[Record]:
        """The records of ``kind`` whose ``spec.use_case`` names the use case (approvals,
        incidents, exercises), in ``of_kind``'s order. Grouped once per repository: an
        audit pack of 2,000 use cases asked it of every approval 2,000 times."""
        groups = self._by_use_case.get(kind)
        if groups is None:
            groups = {}
            for record in self.of_kind(kind, valid_only=False):
                named = record.spec.get("use_case")
                if isinstance(named, str):
                    groups.setdefault(named, []).append(record)
            self._by_use_case[kind] = groups
        return [r for r in groups.get(use_case_id, ()) if r.valid or not valid_only]

    @property
    def policy(self) -> Record | None:
        policies = self.index.get("Policy", {})
        for record in policies.values():
            if record.file == POLICY_FILE:
                return record
        return next(iter(policies.values()), None)

    def file_sha256(self, ref: str) -> str | None:
        """Lowercase hex sha256 of a referenced file's bytes, or None when invalid."""
        return self.source.referenced_digest(ref)[0]


def exclusions(source: Source) -> Any:
    """The Policy's ``spec.exclude`` globs as a matcher (None when there are none)."""
    raw = source.read(POLICY_FILE)
    if raw is None:
        return None
    result = loader.load_bytes(raw)
    globs: list[str] = []
    for doc in result.documents:
        data = doc.data
        if isinstance(data, Mapping) and data.get("kind") == "Policy":
            spec = data.get("spec")
            exclude = spec.get("exclude") if isinstance(spec, Mapping) else None
            if isinstance(exclude, list):
                globs.extend(g for g in exclude if isinstance(g, str))
    if not globs:
        return None
    import pathspec

    # GitIgnoreSpec follows git's own rules (a later negation re-includes a file) and, unlike
    # the "gitwildmatch" factory, is not deprecated in pathspec >= 1.0 (exists since 0.10).
    return pathspec.GitIgnoreSpec.from_lines(globs)


@dataclass
class _FileRecords:
    path: str
    records: list[Record]
    findings: list[Finding]


def _record_name(data: Any) -> str | None:
    """"Kind/id" of a (possibly broken) document that says what it is, else None."""
    if not isinstance(data, Mapping):
        return None
    kind, meta = data.get("kind"), data.get("metadata")
    record_id = meta.get("id") if isinstance(meta, Mapping) else None
    from govctl.model.records import KINDS

    if kind in KINDS and isinstance(record_id, str) and 0 < len(record_id) <= MAX_ID_LENGTH:
        return f"{kind}/{record_id}"
    return None


def parse_file(path: str, raw: bytes, max_size: int = loader.MAX_FILE_SIZE
               ) -> tuple[list[Record], list[Finding]]:
    """The records and findings of one record file's bytes: what `validate` makes of it
    (and what the parse cache holds), for the working tree and git blobs alike."""
    result = _read_file(SourceFile(path, raw), max_size)
    return result.records, result.findings


def _read_file(source_file: SourceFile, max_size: int) -> _FileRecords:
    path = source_file.path
    out = _FileRecords(path, [], [])

    def problem_finding(p: loader.Problem) -> Finding:
        return Finding(p.rule, RULES[p.rule].severity, path, p.line, p.column, None, p.message,
                       p.left_out)

    if source_file.raw is None:
        if source_file.problem:
            out.findings.append(problem_finding(source_file.problem))
        return out
    result = loader.load_bytes(source_file.raw, max_size)
    names = {doc.index: _record_name(doc.data) for doc in result.documents}
    pending: list[tuple[int, Record | None, list[schemas.SchemaIssue]]] = []
    # A loader problem inside a record names it (SPEC §2: null is for file-level problems)
    out.findings.extend(replace(problem_finding(p), record=names.get(p.document))
                        for p in result.problems)
    for doc in result.documents:
        if doc.data is None:
            continue  # an empty document (e.g. a trailing ---)
        kind, issues = schemas.envelope_issues(doc.data)
        if doc.broken:
            # The loader already reported this document (a syntax error cut it short, or a
            # value was rejected): envelope complaints would only restate that finding.
            issues = []
        data = doc.data
        meta = data.get("metadata") if isinstance(data, Mapping) else None
        record_id = meta.get("id") if isinstance(meta, Mapping) else None
        record = None
        # An id longer than any id may be (the schemas' pattern allows 128 characters) names
        # no record: GOV010 reports it at metadata.id, and its findings carry no record
        # name. Otherwise a megabyte-long id would be repeated in every finding of the
        # record ("record": "Kind/<id>"): one 5 MiB file could make gigabytes of output.
        if kind is not None and isinstance(record_id, str) and len(record_id) <= MAX_ID_LENGTH:
            record = Record(kind, record_id, path, doc.index, doc.line, data, True)
        if kind is not None and not doc.broken:
            issues.extend(schemas.validate(kind, data, limit=SCHEMA_ISSUE_BUDGET))
        valid = not issues and not doc.broken
        if issues:
            pending.append((doc.index, record, issues))
        if record is not None:
            if not valid:
                record = Record(kind, record_id, path, doc.index, doc.line, data, False)
            out.records.append(record)
        # a record with loader problems keeps them; their findings carry no record name
    if pending:
        out.findings.extend(_schema_findings(source_file, pending, max_size))
    out.findings = cap(out.findings)  # SPEC §3: at most 100 per rule (the parse cache too)
    return out


# A record with more schema issues than this is not checked further: a hostile file can
# hold a million wrong values, each costing jsonschema tens of microseconds (SPEC §3).
SCHEMA_ISSUE_BUDGET = 1_000


def _schema_findings(source_file: SourceFile, pending: list[tuple[int, Record | None,
                                                                  list[schemas.SchemaIssue]]],
                     max_size: int) -> list[Finding]:
    """GOV010 for the schema issues of a file's documents, placed by one re-read that keeps
    only the positions asked for (and their ancestors, where a missing node is shown), and
    stops once it has them all."""
    assert source_file.raw is not None
    wanted = {issue.path[:n] for _, _, issues in pending for issue in issues
              for n in range(len(issue.path) + 1)}
    targets = {(docno, issue.path) for docno, _, issues in pending for issue in issues}
    maps = loader.load_bytes(source_file.raw, max_size, with_positions=True,
                             wanted=wanted, targets=targets).positions
    severity = RULES["GOV010"].severity
    out: list[Finding] = []
    for docno, record, issues in pending:
        found = []
        for issue in issues:
            line, column = loader.locate(maps[docno], issue.path, issue.at_key) \
                if docno < len(maps) else (1, 1)
            found.append(Finding("GOV010", severity, source_file.path, line, column,
                                 record.ref if record else None, issue.message))
        if len(issues) >= SCHEMA_ISSUE_BUDGET:  # the check stopped: "at least" so many
            found = [replace(f, message=left_out_message("GOV010", f.left_out, True))
                     if f.left_out else f for f in cap(found)]
        out.extend(found)
    return out


def _parse_cache(source: Source) -> Any:
    """The parse cache of the governance root (shared by the working tree and its git
    revisions: entries are keyed by path and bytes): a git source's is its history's."""
    history = getattr(source, "history", None)
    if history is not None:
        return history.parses
    root = getattr(source, "root", None)
    if root is None:
        return None
    from govctl.cache.parses import parse_cache

    return parse_cache(root)


def _read_files(source: Source, files: list[SourceFile], locator: Locator,
                parse_cache: Any = None) -> list[_FileRecords]:
    if parse_cache is None:
        parse_cache = _parse_cache(source)
    max_size = locator.source.max_size
    results: list[_FileRecords | None] = [None] * len(files)
    todo: list[int] = []
    for i, f in enumerate(files):
        hit = parse_cache.lookup(f.path, f.raw) if parse_cache is not None else None
        if hit is None:
            todo.append(i)
        else:
            results[i] = _FileRecords(f.path, *hit)
    # Parsing is CPU-bound and per file: both cores (the bytes are read already, so a
    # forked child never talks to a git source's persistent cat-file process)
    from govctl.model.parallel import map_halves

    computed = map_halves(lambda i: _read_file(files[i], max_size), todo)
    for i, result in zip(todo, computed, strict=True):
        results[i] = result
        if parse_cache is not None:
            parse_cache.store(files[i].path, files[i].raw, result.records, result.findings)
    if parse_cache is not None:
        parse_cache.save()
    return [r for r in results if r is not None]


def is_record_path(path: str) -> bool:
    """A path the loader reads as a record file: a record suffix, outside hidden folders
    (and not hidden itself)."""
    return path.endswith(RECORD_SUFFIXES) and not any(part.startswith(".")
                                                      for part in path.split("/"))


Words = frozenset[str | tuple[str, ...]]  # what a partial load reads (load_repository)
# whether a file read may hold one of the words (``loader.may_hold`` of its bytes, or an
# index's answer for the same bytes)
Holds = Callable[[SourceFile, Words], bool]
NAMING: Words = frozenset(RECORD_SUFFIXES)  # what a file naming a record file spells


def _may_hold(file: SourceFile, words: Words) -> bool:
    return file.raw is not None and loader.may_hold(file.raw, words)


def _read_holding(source: Source, files: list[SourceFile], locator: Locator, parses: Any,
                  words: Words, holds: Holds
                  ) -> tuple[list[_FileRecords], list[_FileRecords]]:
    """(every file read, the files kept): the files that may hold one of ``words``, and,
    read only for their references, the files that may name a record file (a reference
    drops a file only when it spells the file's path, suffix included:
    ``normal_form_problem``)."""
    files = [f for f in files if f.raw is not None]
    holding = [f for f in files if holds(f, words)]
    held = {id(f) for f in holding}
    naming = [f for f in files if id(f) not in held and holds(f, NAMING)]
    read = _read_files(source, holding + naming, locator, parses)
    return read, read[:len(holding)]


def load_repository(source: Source, files: list[SourceFile] | None = None,
                    parses: Any = None, words: Words | None = None,
                    holds: Holds = _may_hold) -> Repository:
    """Read every record file of ``source`` (or the ``files`` already read from it).
    ``parses``: the parse cache to read through (a history's, say) instead of a new one.

    ``words`` (kind names; a tuple such as a kind and an id: all of its words): a partial
    repository of the files that may hold one of them (``loader.may_hold``) — the same
    records, duplicates and dropped referenced files as a full load for every record
    spelling one of the words; its findings and other records are not the repository's.
    For commands that read a few records of a large repository without judging it (trace,
    history). ``holds``: another way to say what ``loader.may_hold`` says of a file, with
    the same answer (an index of a history's blobs, for many partial loads)."""
    locator = Locator(source)
    if files is None:
        files = list(source.record_files(exclusions(source)))
    if words is None:
        per_file = _read_files(source, files, locator, parses)
        kept = per_file
    else:
        per_file, kept = _read_holding(source, files, locator, parses, words, holds)

    # Files that records reference (prompts, schemas, eval data) are digested, never read as
    # records, even when they end in .yaml: drop what was read from them.
    referenced = frozenset(
        ref.target for f in per_file for r in f.records for ref in file_references(r))
    per_file = [f for f in kept if f.path not in referenced]

    findings: list[Finding] = []
    records: list[Record] = []
    index: dict[str, dict[str, Record]] = {}
    for f in per_file:
        findings.extend(f.findings)
        for record in f.records:
            records.append(record)
            first = index.setdefault(record.kind, {}).get(record.id)
            if first is None:
                index[record.kind][record.id] = record
            else:
                findings.append(locator.finding(
                    "GOV021", record, ("metadata", "id"),
                    f"duplicate {record.kind} id {record.id!r} (first defined in "
                    f"{first.file}:{first.line})"))
    findings.extend(_policy_placement(records, source, locator))
    return Repository(source, locator, tuple(f.path for f in per_file), tuple(records), index,
                      tuple(findings), referenced)


def _policy_placement(records: Iterable[Record], source: Source,
                      locator: Locator) -> Iterator[Finding]:
    """Exactly one Policy, in governance.yaml (same-id duplicates are already GOV021)."""
    policies = [r for r in records if r.kind == "Policy"]
    in_file = [r for r in policies if r.file == POLICY_FILE]
    if not in_file and source.read(POLICY_FILE) is not None:
        yield Finding("GOV010", RULES["GOV010"].severity, POLICY_FILE, 1, 1, None,
                      f"{POLICY_FILE} must hold the Policy record (kind: Policy)")
    for record in policies:
        if record.file != POLICY_FILE:
            yield locator.finding("GOV010", record, ("kind",),
                                  f"a Policy belongs in {POLICY_FILE}, and there is only one")
    for record in in_file[1:]:
        if record.id != in_file[0].id:
            yield locator.finding("GOV010", record, ("kind",),
                                  f"{POLICY_FILE} may hold only one Policy")
