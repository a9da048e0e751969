"""Git access for history commands: batched, read-only, monorepo-aware.

One ``git log -z --raw`` per question (the blob ids of every change come with it), one
``ls-tree`` per revision read, and blobs through GitPython's persistent
``git cat-file --batch``: never a git process per commit. Git runs with
``GIT_OPTIONAL_LOCKS=0`` so read-only commands never rewrite ``.git/index``.

Sizes first (SPEC §3: a blob larger than the size limit is GOV004 without being read
whole): ``ls-tree -l`` and ``cat-file --batch-check`` tell a blob's size, and the content
of a blob over the limit is never asked for — a 1 GiB record compresses to a few MB in
``.git``. Such a blob can only be hashed (a referenced file, SPEC §1.3) or copied (audit
pack evidence), both as a stream.

git itself is taken from an absolute PATH entry only (never the current directory, which
may hold an unpacked audit pack or a clone), both for GitPython and for the processes
started here, and runs with that PATH (see :mod:`govctl.model.programs`).

Paths: git reports paths from the top of the work tree; everything here is converted to
paths relative to the governance root (which may be a folder inside a monorepo), and
changes outside the root are dropped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from govctl.errors import GovctlError
from govctl.model import loader
from govctl.model.paths import normal_form_problem
from govctl.model.programs import find_program, program_environment, search_path
from govctl.model.repository import RECORD_SUFFIXES, Source, SourceFile, is_record_path

NULL_SHA = "0" * 40
GITLINK = "160000"
BLOB_CACHE_BYTES = 64 << 20  # blobs kept in memory (record versions are small)
PREFETCH_COMMITS = 2_000  # commits whose record versions are read (and held) at once
_STREAM_CHUNK = 1 << 20
_FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%s")


# Slotted, and their repeated strings (names, dates, paths, a blob that is one commit's
# new and the next one's old) shared: 50,000 commits took 97 MB as plain dataclasses.
@dataclass(frozen=True, slots=True)
class FileChange:
    status: str  # A, M, D, R, C, T (git's letter; the score of R/C is dropped)
    old_path: str | None  # root-relative; None when added or coming from outside the root
    new_path: str | None  # root-relative; None when deleted or moved outside the root
    old_blob: str | None
    new_blob: str | None
    new_mode: str


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    date: str  # author date, ISO 8601 with offset
    committer: str
    committer_email: str
    committer_date: str
    subject: str
    signature: str | None  # %G? (G good, B bad, U untrusted, N none, …) when asked for
    changes: tuple[FileChange, ...]

    @property
    def short(self) -> str:
        return self.sha[:7]

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha": self.sha, "author": self.author, "email": self.email,
                               "date": self.date}
        if self.signature is not None:
            out["signed"] = self.signature == "G"
            out["signature"] = self.signature
        return out


class BlobTooLarge(GovctlError):
    """A blob's content was asked for although it is larger than the size limit."""


_GIT_EXECUTABLE = "GIT_PYTHON_GIT_EXECUTABLE"  # GitPython's setting: the git it runs


def git_program() -> str:
    """The git to run: ``$GIT_PYTHON_GIT_EXECUTABLE`` when it is an absolute path, else git
    from an absolute PATH entry."""
    configured = os.environ.get(_GIT_EXECUTABLE, "")
    if os.path.isabs(configured):
        return configured
    found = find_program("git")
    if found is None:
        raise GovctlError("git is not available (not in a folder on PATH; only absolute PATH "
                          "entries count); history commands need git installed")
    return found


def _gitpython(program: str) -> ModuleType:
    """GitPython, running ``program``. Importing it runs git (``git version``), looked up
    on PATH unless ``$GIT_PYTHON_GIT_EXECUTABLE`` names it: that is set first."""
    os.environ[_GIT_EXECUTABLE] = program
    try:
        import git
    except ImportError as exc:  # GitPython refuses to import without a git binary
        raise GovctlError(f"git is not available ({exc}); history commands need git "
                          "installed") from None
    if program != git.Git.GIT_PYTHON_GIT_EXECUTABLE:  # imported before, with another git
        try:
            git.refresh(program)
        except (git.GitCommandNotFound, OSError) as exc:
            raise GovctlError(f"git is not available ({program}: "
                              f"{' '.join(str(exc).split())[:200]}); history commands need "
                              "git installed") from None
    return git


# For every git process: no optional locks, the C locale, and paths as written — a path
# given to git is a file's name, never a pattern (a record file named `[ab].yaml` or
# `:(exclude)x.yaml`, from a pull request, must not widen or invert what git is asked).
_SETTINGS = {"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "LANG": "C",
             "GIT_LITERAL_PATHSPECS": "1"}


def _environment() -> dict[str, str]:
    """For the git processes started here: ``_SETTINGS``, PATH absolute."""
    return {**program_environment(), **_SETTINGS}


class GitHistory:
    """An open git repository around a governance root. Use as a context manager.

    ``max_file_bytes``: record blobs larger than this are never read (`--max-file-bytes`).
    """

    def __init__(self, root: Path, max_file_bytes: int = loader.MAX_FILE_SIZE) -> None:
        self.program = git_program()
        git = _gitpython(self.program)
        self.root = root.resolve()
        try:
            self.repo = git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GovctlError(f"{root} is not inside a git repository; this command reads git "
                              "history (run `git init` and commit the records)") from None
        if self.repo.bare or self.repo.working_tree_dir is None:
            self.repo.close()
            raise GovctlError(f"{root} is in a bare git repository; need a work tree")
        self.repo.git.update_environment(**_SETTINGS, PATH=search_path())
        self.top = Path(self.repo.working_tree_dir).resolve()
        rel = self.root.relative_to(self.top).as_posix()
        self.prefix = "" if rel == "." else rel + "/"
        self.max_file_bytes = max_file_bytes
        self._blobs: dict[str, bytes] = {}
        self._blob_bytes = 0  # what the cache holds, against BLOB_CACHE_BYTES
        self._sizes: dict[str, int] = {}  # blob sha → size in bytes, as git said
        self._git = self.repo.git
        self._shallow: frozenset[str] | None = None
        self._parses: Any = None

    @property
    def parses(self) -> Any:
        """The root's parse cache for as long as this history is open: replays, revisions
        and the working tree read through one, so a file parsed once is parsed once."""
        if self._parses is None:
            from govctl.cache.parses import parse_cache

            self._parses = parse_cache(self.root, shared=True)
        return self._parses

    # lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self.repo.close()  # ends the persistent cat-file processes
        if self._parses is not None:
            parses, self._parses = self._parses, None
            parses.close()  # written once, whatever this history loaded

    def __enter__(self) -> GitHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # raw commands --------------------------------------------------------------------------
    def _run(self, *args: str) -> bytes:
        import git

        try:
            out = self._git.execute([self.program, *args], stdout_as_string=False,
                                    strip_newline_in_stdout=False)
        except git.GitCommandError as exc:
            stderr = (exc.stderr or "").strip().splitlines()
            detail = stderr[-1] if stderr else str(exc)
            raise GovctlError(f"git {args[0]} failed: {detail.removeprefix('stderr: ')}"
                              ) from None
        return out if isinstance(out, bytes) else out.encode()

    def resolve(self, rev: str) -> str:
        """The commit sha of ``rev``; exit 2 when it is not a commit."""
        if rev.startswith("-"):
            raise GovctlError(f"{rev!r} is not a revision")
        try:
            # (no --end-of-options: rev-parse only knows it since git 2.30, and a leading
            # "-" is refused above)
            out = self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except GovctlError:
            out = b""
        sha = out.decode().strip()
        if not sha:
            raise GovctlError(f"unknown revision {rev!r} (not a commit in this repository)")
        return sha

    def head(self) -> str | None:
        """HEAD's sha, or None in a repository without commits."""
        try:
            return self.resolve("HEAD")
        except GovctlError:
            return None

    def merge_base(self, a: str, b: str) -> str | None:
        try:
            return self._run("merge-base", a, b).decode().strip() or None
        except GovctlError:
            return None

    def default_base(self) -> str:
        """Merge-base of HEAD with the default branch: origin/HEAD, else main, else master."""
        head = self.head()
        if head is None:
            raise GovctlError("the repository has no commits yet")
        for candidate in ("origin/HEAD", "main", "master"):
            try:
                other = self.resolve(candidate)
            except GovctlError:
                continue
            base = self.merge_base(head, other)
            if base:
                return base
        raise GovctlError("cannot find the default branch (origin/HEAD, main or master); "
                          "name the base revision: govctl diff BASE")

    def shallow_boundaries(self) -> frozenset[str]:
        """Commits whose parents this (shallow) clone does not have; empty in a full clone.

        Such a commit looks as if it added every file, so attributing anything to it (who
        approved, who introduced a digest) would name the wrong person.
        """
        if self._shallow is None:
            out = self._run("rev-parse", "--git-path", "shallow").decode().strip()
            path = Path(out) if os.path.isabs(out) else self.top / out
            try:
                lines = path.read_text(encoding="ascii").split()
            except (OSError, UnicodeDecodeError):
                lines = []
            # git also lists a clone's true root commits when the depth reached them; the
            # commit object itself still names its real parents
            self._shallow = frozenset(sha for sha in lines if self._has_parents(sha))
        return self._shallow

    def _has_parents(self, sha: str) -> bool:
        try:
            _, _, _, raw = self._git.get_object_data(sha)
        except ValueError:  # not in this clone at all: treat as cut off
            return True
        header = raw.split(b"\n\n", 1)[0]
        return any(line.startswith(b"parent ") for line in header.split(b"\n"))

    def require_complete(self, commit: Commit, what: str) -> None:
        """Exit 2 when ``what`` would be attributed to a shallow clone's cut-off commit."""
        if commit.sha in self.shallow_boundaries():
            raise GovctlError(
                f"{what} is attributed to commit {commit.short}, where this shallow clone's "
                "history is cut off; fetch the full history (git fetch --unshallow, or "
                "fetch-depth: 0 with actions/checkout)")

    def blob(self, sha: str) -> bytes:
        """The blob's content; :class:`BlobTooLarge` (exit 2) when it is over the size
        limit — callers that can meet such a blob use :meth:`small_blob`."""
        data = self._blobs.get(sha)
        if data is None:
            size = self.size(sha)
            if size > self.max_file_bytes:
                raise BlobTooLarge(f"git blob {sha[:12]} is {size:,} bytes, over the "
                                   f"{self.max_file_bytes:,}-byte limit (--max-file-bytes)")
            _, _, _, data = self._git.get_object_data(sha)
            self._keep(sha, data)
        return data

    def small_blob(self, sha: str) -> bytes | None:
        """The blob's content, or None when it is larger than the size limit (a record
        file that is GOV004: it is not read)."""
        try:
            return self.blob(sha)
        except BlobTooLarge:
            return None

    def size(self, sha: str) -> int:
        """The blob's size, from git's object header (ValueError when it is missing)."""
        size = self._sizes.get(sha)
        if size is None:
            _, _, size = self._git.get_object_header(sha)
            self._sizes[sha] = size
        return size

    def too_large(self, sha: str) -> bool:
        return self.size(sha) > self.max_file_bytes

    def learn_sizes(self, shas: Iterable[str | None]) -> None:
        """Ask git the size of many blobs at once (one ``cat-file --batch-check``)."""
        wanted = [sha for sha in dict.fromkeys(shas) if sha and sha not in self._sizes]
        if len(wanted) < 32:
            return  # asked one by one when needed
        out = self._pipe(["cat-file", "--batch-check"], wanted)
        try:
            assert out.stdout is not None
            for _ in wanted:
                header = out.stdout.readline().split()
                if not header:
                    break
                if len(header) == 3:  # "<sha> <type> <size>" ("<sha> missing" otherwise)
                    self._sizes[header[0].decode()] = int(header[2])
        finally:
            out.close()

    def sha256(self, sha: str) -> str:
        """Lowercase hex sha256 of a blob's content, read as a stream when it is large (a
        referenced file has no size limit; its digest is over all of its bytes)."""
        import hashlib

        if not self.too_large(sha):
            return hashlib.sha256(self.blob(sha)).hexdigest()
        digest = hashlib.sha256()
        for block in self.stream(sha):
            digest.update(block)
        return digest.hexdigest()

    def stream(self, sha: str) -> Iterator[bytes]:
        """A blob's content in pieces of at most 1 MiB (``git cat-file blob``, which
        streams large blobs itself): for blobs too large to hold."""
        return self._pieces("cat-file", "blob", sha)

    def _pieces(self, *args: str) -> Iterator[bytes]:
        """A git command's output in pieces of at most 1 MiB, never held whole (a blob too
        large to hold, the raw log of 50,000 commits); when git fails, GovctlError with its
        last line of stderr — after the pieces read, so a caller never takes a cut-short
        output for the whole (a log missing its oldest commits, say)."""
        import subprocess
        import tempfile

        with tempfile.TemporaryFile() as errors, subprocess.Popen(
                [self.program, *args], cwd=self.top, env=_environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors) as proc:
            assert proc.stdout is not None
            finished = False
            try:
                while block := proc.stdout.read(_STREAM_CHUNK):
                    yield block
                finished = True
            finally:
                if not finished:  # the reader stopped early: so does git
                    proc.kill()
            code = proc.wait()
            if code != 0:
                errors.seek(0)
                said = errors.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
                detail = said[-1] if said else f"exit status {code}"
                raise GovctlError(f"git {args[0]} failed: {detail}")

    def _pipe(self, args: list[str], shas: list[str]) -> _Batch:
        """A ``git cat-file --batch*`` process fed ``shas`` from a thread (git reads
        requests while it writes answers: neither side may block on a full pipe)."""
        return _Batch(self.top, [self.program, *args], ("\n".join(shas) + "\n").encode())

    def _keep(self, sha: str, data: bytes) -> bool:
        if self._blob_bytes + len(data) > BLOB_CACHE_BYTES:
            return False
        self._blobs[sha] = data
        self._blob_bytes += len(data)
        return True

    def release(self, shas: Iterable[str]) -> None:
        """Drop these blobs from memory (read and parsed already: a replay of a long
        history keeps only a batch of versions at a time). Asked again, they are read again."""
        for sha in shas:
            data = self._blobs.pop(sha, None)
            if data is not None:
                self._blob_bytes -= len(data)

    def prefetch(self, shas: Iterable[str | None]) -> list[str]:
        """Read many blobs through one ``git cat-file --batch`` process, in one write; the
        blobs it read (those already held are not read again).

        The persistent cat-file answers one blob per round trip (~0.1 ms each: half a
        second over 5,000 record versions); timelines and replays know every blob they
        will read from the log, so they ask for them all at once. Best effort: whatever
        does not fit the cache is read later, one by one.
        """
        wanted = [sha for sha in dict.fromkeys(shas) if sha and sha not in self._blobs]
        if len(wanted) < 32:
            return []
        # sizes first: a blob over the limit is never asked for (nor one that is missing)
        self.learn_sizes(wanted)
        sizes = self._sizes
        wanted = [sha for sha in wanted if sizes.get(sha, self.max_file_bytes + 1)
                  <= self.max_file_bytes]
        read: list[str] = []
        if not wanted:
            return read
        out = self._pipe(["cat-file", "--batch"], wanted)
        try:
            assert out.stdout is not None
            for _ in wanted:
                header = out.stdout.readline().split()
                if len(header) != 3:  # "<sha> missing" (or an early end)
                    if not header:
                        break
                    continue
                size = int(header[2])
                if size > self.max_file_bytes:
                    break  # (its size was checked above; a changed answer ends the batch)
                data = out.stdout.read(size)
                out.stdout.read(1)  # the newline after the content
                sha = header[0].decode()
                if not self._keep(sha, data):
                    break  # the cache is full
                read.append(sha)
        finally:
            out.close()
        return read

    def prefetched(self, commits: Sequence[Commit], release: bool = True) -> Iterator[Commit]:
        """``commits`` in turn, the record versions (both sides) of each run of
        ``PREFETCH_COMMITS`` commits read in one cat-file batch before the first of them.
        ``release``: what each batch read dropped once the walk is past it (memory holds a
        batch, not the history; blobs held before stay, for whoever read them: an audit
        pack's next use case); without, they stay in the blob cache (bounded by its size)."""
        read: list[str] = []
        for position, commit in enumerate(commits):
            if position % PREFETCH_COMMITS == 0:
                if release:
                    self.release(read)
                read = self.prefetch(
                    blob for c in commits[position:position + PREFETCH_COMMITS]
                    for ch in c.changes for path, blob in ((ch.old_path, ch.old_blob),
                                                           (ch.new_path, ch.new_blob))
                    if blob is not None and path is not None
                    and path.endswith(RECORD_SUFFIXES))
            yield commit
        if release:
            self.release(read)

    # paths -------------------------------------------------------------------------------
    def to_root(self, git_path: str) -> str | None:
        if self.prefix and not git_path.startswith(self.prefix):
            return None
        return git_path[len(self.prefix):]

    def to_git(self, root_path: str) -> str:
        return self.prefix + root_path

    # log -----------------------------------------------------------------------------------
    def log(self, paths: Sequence[str] = (), *, rev: str = "HEAD", first_parent: bool = False,
            no_merges: bool = False, reverse: bool = False, signatures: bool = False,
            raw: bool = True, single: bool = False, topo_order: bool = False) -> list[Commit]:
        """Commits reachable from ``rev`` touching ``paths`` (root-relative; default: the
        whole root), with their changes inside the root — one git process. ``single``:
        just ``rev`` itself (its changes within the root)."""
        fields = [*_FIELDS[:-1], *(["%G?"] if signatures else []), _FIELDS[-1]]
        args = ["log", "-z", "--no-abbrev", "--no-color", "--no-ext-diff", "--no-textconv",
                "--format=%x1e" + "%x1f".join(fields)]
        if raw:
            # --root: the root commit's files as added, whatever log.showRoot says
            args += ["--raw", "-M", "--root"]
        if first_parent:
            # a merge's changes against its first parent: "-m --first-parent" means that on
            # every git version (--diff-merges only exists since 2.31)
            args += ["-m", "--first-parent"]
        elif raw and not no_merges:
            args.append("--diff-merges=first-parent")  # (git >= 2.31)
        if no_merges:
            args.append("--no-merges")
        if topo_order:
            args.append("--topo-order")
        if single:
            args.append("-1")
        if rev.startswith("-"):
            raise GovctlError(f"{rev!r} is not a revision")
        if self.head() is None:
            return []
        # The whole repository's first-parent line needs no pathspec, and git is about
        # twice as fast without one (a pathspec makes it diff every commit twice: once to
        # prune, once for --raw). What the pathspec would prune, commits that change
        # nothing, is dropped below instead: the same commits either way.
        whole = not paths and not self.prefix and first_parent and raw
        git_paths = [self.to_git(p) for p in paths] if paths else [self.prefix or "."]
        args += [rev, "--", *([] if whole else git_paths)]
        commits = [c for c in self._parse_log(self._pieces(*args), signatures)
                   if c.changes or not whole]
        if reverse:
            # reversed here, not by git: git's --reverse holds every commit of the walk in
            # memory before printing the first (about 100 MB more over 50,000 commits)
            commits.reverse()
        return commits

    def _parse_log(self, pieces: Iterable[bytes], signatures: bool) -> Iterator[Commit]:
        share = {}.setdefault  # one object per distinct string of this log
        for chunk in _split_records(pieces):
            header, _, rest = chunk.partition(b"\x00")
            parts = header.decode("utf-8", "replace").split("\x1f")
            nfixed = len(_FIELDS) - 1 + (1 if signatures else 0)
            values, subject = parts[:nfixed], "\x1f".join(parts[nfixed:])
            sha, parents, an, ae, ad, cn, ce, cd = (share(v, v) for v in values[:8])
            signature = share(values[8], values[8]) if signatures else None
            yield Commit(sha, tuple(share(p, p) for p in parents.split()), an, ae, ad, cn, ce,
                         cd, subject.strip(), signature, tuple(self._parse_raw(rest, share)))

    def _parse_raw(self, rest: bytes, share: Callable[[str, str], str]
                   ) -> Iterator[FileChange]:
        tokens = rest.split(b"\x00")
        i = 0
        while i < len(tokens):
            token = tokens[i].lstrip(b"\n")
            i += 1
            if not token.startswith(b":"):
                continue
            old_mode, new_mode, old_sha, new_sha, status = token[1:].decode().split(" ")
            letter = status[0]
            first = os.fsdecode(tokens[i])
            i += 1
            second = None
            if letter in "RC":
                second = os.fsdecode(tokens[i])
                i += 1
            # a gitlink (a submodule, mode 160000) names a commit of another repository,
            # not a file: never read as one (ls-tree's entries leave it out too)
            if old_mode == GITLINK:
                old_sha = NULL_SHA
            if new_mode == GITLINK:
                new_sha = NULL_SHA
            if old_sha == NULL_SHA and new_sha == NULL_SHA:
                continue
            old_path = first if letter != "A" else None
            new_path = (second if second is not None else first) if letter != "D" else None
            old_root = self.to_root(old_path) if old_path else None
            new_root = self.to_root(new_path) if new_path else None
            yield FileChange(
                share(letter, letter),
                share(old_root, old_root) if old_root else None,
                share(new_root, new_root) if new_root else None,
                None if old_sha == NULL_SHA else share(old_sha, old_sha),
                None if new_sha == NULL_SHA else share(new_sha, new_sha),
                share(new_mode, new_mode),
            )

    def dirty(self) -> bool:
        """Uncommitted changes (or untracked files) under the root; never writes the index."""
        out = self._run("status", "--porcelain", "-z", "--untracked-files=normal", "--",
                        self.prefix or ".")
        return bool(out.strip(b"\x00"))

    def signatures(self, shas: set[str]) -> dict[str, str]:
        """sha → git's signature state (%G?) of each commit, in one git process."""
        if not shas:
            return {}
        out = self._run("log", "--no-walk=unsorted", "--format=%H %G?", *sorted(shas), "--")
        states = {}
        for line in out.decode().splitlines():
            sha, _, state = line.partition(" ")
            if sha:
                states[sha] = state.strip() or "N"
        return states

    # trees ---------------------------------------------------------------------------------
    def tree(self, rev: str, paths: Sequence[str] | None = None, sizes: bool = True
             ) -> dict[str, tuple[str, str]]:
        """Root-relative path → (mode, blob sha) of every file under the root at ``rev``
        (or of ``paths`` only). ``sizes``: the blobs' sizes are learnt on the way (``-l``;
        git then reads every blob's header: four times the work, for a caller that reads
        a few of a large tree's files, whose sizes it knows)."""
        where = [self.to_git(p) for p in paths] if paths else [self.prefix or "."]
        out = self._run("ls-tree", "-r", *(["-l"] if sizes else []), "-z", "--full-tree", rev,
                        "--", *where)
        entries: dict[str, tuple[str, str]] = {}
        for line in out.split(b"\x00"):
            if not line:
                continue
            meta, _, path = line.partition(b"\t")
            mode, kind, sha, *size = meta.decode().split()
            rel = self.to_root(os.fsdecode(path))
            if kind == "blob" and rel is not None:
                entries[rel] = (mode, sha)
                if size:
                    self._sizes[sha] = int(size[0])
        return entries

    def tree_changes(self, old: str, new: str) -> list[tuple[str, tuple[str, str] | None]]:
        """(root-relative path, its (mode, blob sha) at ``new``, None when gone) of every
        file under the root that differs between the trees of the commits ``old`` and
        ``new`` — read from the two trees themselves (never from a log), so ``tree(old)``
        with these applied is ``tree(new)``, at the cost of what differs."""
        out = self._run("diff-tree", "-r", "-z", "--no-renames", "--no-abbrev", "--no-color",
                        "--no-ext-diff", "--no-textconv", old, new, "--",
                        *([self.prefix] if self.prefix else []))
        tokens = out.split(b"\x00")
        changes: list[tuple[str, tuple[str, str] | None]] = []
        for meta, path in zip(tokens[0::2], tokens[1::2], strict=False):
            if not meta.startswith(b":"):
                continue
            _old_mode, new_mode, _old_sha, new_sha, _status = meta[1:].decode().split(" ")
            rel = self.to_root(os.fsdecode(path))
            if rel is None:
                continue
            # (a gitlink, mode 160000, is not a file: ls-tree's entries hold blobs only)
            gone = set(new_sha) == {"0"} or not new_mode.startswith(("100", "120"))
            changes.append((rel, None if gone else (new_mode, new_sha)))
        return changes

    def tree_source(self, rev: str) -> GitTreeSource:
        return GitTreeSource(self, self.resolve(rev))


MAX_SYMLINK_HOPS = 8


def resolve_entry(entries: Mapping[str, tuple[str, str]],
                  read: Callable[[str], bytes | None],
                  path: str, visited: list[str] | None = None
                  ) -> tuple[str, tuple[str, str]] | None:
    """(path, (mode, blob sha)) of the regular file ``path`` names in a git tree, following
    symlinks — of the file itself or of a folder on its way — as the file system does, as
    long as they stay inside the root. None when missing, escaping or not a regular file.

    ``visited`` collects every path the answer depends on (each symlink and the final
    path), so a caller can tell whether a change to some path changes what ``path`` reads.
    """
    parts = path.split("/")
    for _hop in range(MAX_SYMLINK_HOPS + 1):
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            entry = entries.get(prefix)
            if entry is None:
                if i == len(parts):
                    if visited is not None:
                        visited.append(prefix)
                    return None
                continue  # a folder: trees are not listed, only what is in them
            mode, sha = entry
            if visited is not None:
                visited.append(prefix)
            if mode == "120000":
                link = read(sha)
                if link is None:
                    return None  # a "symlink" blob over the size limit names no file
                target = link.decode("utf-8", "replace")
                if target.startswith("/"):
                    return None
                joined = [*parts[:i - 1], *target.split("/"), *parts[i:]]
                normal: list[str] = []
                for part in joined:
                    if part == "..":
                        if not normal:
                            return None  # leaves the root
                        normal.pop()
                    elif part not in (".", ""):
                        normal.append(part)
                parts = normal
                break  # start again on the link's target
            if i < len(parts) or not mode.startswith("100"):
                return None  # a file used as a folder, or a submodule
            return prefix, entry
        else:
            return None
    return None  # a symlink loop


def _feed(pipe: Any, payload: bytes) -> None:
    try:
        pipe.write(payload)
        pipe.close()
    except (BrokenPipeError, OSError):  # the reader stopped early (cache full)
        pass


def _split_records(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The records of a log printed with ``--format=%x1e…``, from its output in pieces: what
    follows each record separator up to the next (nothing precedes the first)."""
    tail = b""
    started = False
    for piece in pieces:
        records = (tail + piece).split(b"\x1e")
        tail = records.pop()
        if not started and records:
            records.pop(0)  # (empty: the output starts with a separator)
            started = True
        yield from records
    if started:
        yield tail


class _Batch:
    """A ``git cat-file --batch``/``--batch-check`` process answering ``payload``, fed by
    a thread; ``close()`` ends both (also when the reader stopped early)."""

    def __init__(self, top: Path, command: list[str], payload: bytes) -> None:
        import subprocess
        import threading

        self.proc = subprocess.Popen(command, cwd=top, env=_environment(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.stdout = self.proc.stdout
        self.feeder = threading.Thread(target=_feed, args=(self.proc.stdin, payload),
                                       daemon=True)
        self.feeder.start()

    def close(self) -> None:
        self.proc.kill()
        self.feeder.join()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # (a broken pipe: the feeder's write)
                    pipe.close()


@dataclass(frozen=True)
class BlobChoice:
    """Which record files of a tree a partial load reads: the regular files whose blob is
    in one of ``blobs`` or unknown to ``knows`` (an index that did not read a blob cannot
    rule it out), and every entry that is not a regular file (a symlink is read through)."""

    blobs: tuple[Set[str], ...]
    knows: Callable[[str], bool]


class GitTreeSource(Source):
    """Records as committed at one revision, read with the working tree's loader."""

    def __init__(self, history: GitHistory, sha: str,
                 entries: dict[str, tuple[str, str]] | None = None) -> None:
        self.history = history
        self.sha = sha
        self.entries = entries if entries is not None else history.tree(sha)
        self._records: set[str] | None = None  # the record files' paths
        self._record_paths: list[str] | None = None  # the same, in order
        # for partial loads (BlobChoice): the regular record files by blob, and the files
        # read whatever is asked, with the ``knows`` they were sorted by
        self._by_blob: dict[str, list[str]] = {}
        self._always: tuple[Callable[[str], bool], set[str]] | None = None

    def after(self, sha: str, changes: Iterable[tuple[str, tuple[str, str] | None]]
              ) -> GitTreeSource:
        """The tree of commit ``sha`` from this one and ``history.tree_changes(self.sha,
        sha)``: its entries and what was derived from them updated where they differ, not
        read and derived again (an audit pack's 1,500 approval commits of a 13,000-file
        tree: 45 ms each that way)."""
        entries = dict(self.entries)
        records = set(self._record_set())
        by_blob = dict(self._by_blob)
        always = set(self._always[1]) if self._always is not None else set()
        knows = self._always[0] if self._always is not None else None
        for path, entry in changes:
            before = entries.pop(path, None)
            if entry is not None:
                entries[path] = entry
            if not is_record_path(path):
                continue
            if before is not None:
                records.discard(path)
                always.discard(path)
                rest = [p for p in by_blob.get(before[1], ()) if p != path]  # (lists shared)
                if rest:
                    by_blob[before[1]] = rest
                else:
                    by_blob.pop(before[1], None)
            if entry is not None:
                records.add(path)
                if knows is not None:
                    if entry[0].startswith("100") and knows(entry[1]):
                        by_blob[entry[1]] = [*by_blob.get(entry[1], ()), path]
                    else:
                        always.add(path)
        following = GitTreeSource(self.history, sha, entries)
        following._records = records
        if knows is not None:
            following._by_blob, following._always = by_blob, (knows, always)
        return following

    def _resolve(self, path: str) -> tuple[str, str] | None:
        """(mode, sha) of a regular file, following in-tree symlinks that stay inside."""
        found = resolve_entry(self.entries, self.history.small_blob, path)
        return found[1] if found else None

    @property
    def max_size(self) -> int:
        return self.history.max_file_bytes

    def read(self, path: str) -> bytes | None:
        entry = self._resolve(path)
        return self.history.small_blob(entry[1]) if entry else None

    def _record_set(self) -> set[str]:
        if self._records is None:
            self._records = {path for path in self.entries if is_record_path(path)}
        return self._records

    def _all_record_paths(self) -> list[str]:
        if self._record_paths is None:
            self._record_paths = sorted(self._record_set())
        return self._record_paths

    def _read_always(self, knows: Callable[[str], bool]) -> set[str]:
        """The record files a partial load reads whatever it is after: those not regular
        files, or whose blob ``knows`` says nothing of (the others sorted by blob)."""
        if self._always is None or self._always[0] != knows:
            self._by_blob, always = {}, set()
            for path in self._record_set():
                mode, blob = self.entries[path]
                if mode.startswith("100") and knows(blob):
                    self._by_blob.setdefault(blob, []).append(path)
                else:
                    always.add(path)
            self._always = (knows, always)
        return self._always[1]

    def judged_by(self, knows: Callable[[str], bool]) -> bool:
        """Whether every record file is a regular file whose blob ``knows`` knows."""
        return not self._read_always(knows)

    def _chosen(self, choice: BlobChoice) -> list[str]:
        """The record paths ``choice`` reads, in order — found from its blobs, not by
        testing each of a large tree's paths (1,500 partial loads of 13,000 files each
        were a third of an audit pack's evidence)."""
        chosen = set(self._read_always(choice.knows))
        if sum(len(blobs) for blobs in choice.blobs) < len(self._by_blob):
            for blobs in choice.blobs:
                for blob in blobs:
                    chosen.update(self._by_blob.get(blob, ()))
        else:
            for blob, paths in self._by_blob.items():
                if any(blob in blobs for blobs in choice.blobs):
                    chosen.update(paths)
        return sorted(chosen)

    def record_files(self, excluded: Any, choice: BlobChoice | None = None
                     ) -> Iterator[SourceFile]:
        """``choice``: only the files it reads (a partial load of a large tree reads a few;
        the others cannot hold what the caller reads)."""
        paths = [path for path in (self._all_record_paths() if choice is None
                                   else self._chosen(choice))
                 if not (excluded and excluded.match_file(path))]
        # in one cat-file batch, not a round trip each (symlinks are resolved one by one)
        self.history.prefetch(self.entries[path][1] for path in paths
                              if self.entries[path][0].startswith("100"))
        for path in paths:
            entry = self._resolve(path)
            if entry is None:
                yield SourceFile(path, None, loader.Problem(
                    "GOV004", 1, 1, "symlink resolves outside the governance root; not read",
                    None))
                continue
            size, limit = self.history.size(entry[1]), self.history.max_file_bytes
            if size > limit:  # (known from ls-tree: the blob is not read)
                yield SourceFile(path, None, loader.Problem(
                    "GOV004", 1, 1, f"file is {size:,} bytes, over the {limit:,}-byte limit "
                    "for record files; split it or move data into a referenced file", None))
                continue
            yield SourceFile(path, self.history.blob(entry[1]))

    def _referenced(self, ref: str) -> tuple[str | None, str | None]:
        """(blob sha, None) of a valid file reference, else (None, what is wrong)."""
        problem = normal_form_problem(ref)
        if problem is not None:
            return None, f"file reference {ref!r} {problem}"
        entry = self._resolve(ref)
        if entry is None:
            if ref in self.entries:
                return None, (f"file reference {ref!r} resolves outside the governance root "
                              "(through a symlink)")
            return None, f"file {ref!r} does not exist under the governance root"
        return entry[1], None

    def referenced_size(self, ref: str) -> int | None:
        blob, _ = self._referenced(ref)
        return self.history.size(blob) if blob is not None else None

    def referenced_file(self, ref: str) -> tuple[bytes | None, str | None]:
        blob, problem = self._referenced(ref)
        return (self.history.blob(blob), None) if blob is not None else (None, problem)

    def referenced_sha256(self, ref: str) -> tuple[str | None, str | None]:
        # streamed when large: a referenced file has no size limit (SPEC §1.3), as in
        # the working tree
        blob, problem = self._referenced(ref)
        return (self.history.sha256(blob), None) if blob is not None else (None, problem)
