"""`govctl audit-pack`: tamper-evident evidence folders (SPEC §4) and `govctl verify`.

A pack is rendered into a temporary folder beside the target and renamed into place only
when complete; the governance repository is never written. A killed run can leave only
hidden ``.<target>.govctl-<host>-<pid>.*`` entries beside the target, which the next run for
that target cleans up (see :func:`recover_interrupted`). ``manifest.json`` lists every
file's sha256 (and, for evidence, the git blob id and commit it was copied from), so
`govctl verify` finds altered, added and removed files — and, with the repository at
hand, a manifest edited to match.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from govctl import __version__
from govctl.approvals import approvals_of
from govctl.diff import LOOSENED, TIGHTENED
from govctl.errors import GovctlError
from govctl.fsutil import flush_file_system, fsync_dir, reason
from govctl.graph import use_case_closure
from govctl.history import Commit, GitHistory
from govctl.paths import is_inside
from govctl.policy import Policy
from govctl.provenance import ProvenanceIndex
from govctl.records import Record, file_references
from govctl.render import render
from govctl.render.context import CONTEXT_VERSION, card_context, person
from govctl.render.mapping import mapping
from govctl.replay import Replay
from govctl.repository import POLICY_FILE, Repository, load_repository
from govctl.timeline import timeline_of
from govctl.timeutil import now, utc_date
from govctl.validation import check_repository

MANIFEST = "manifest.json"

EVIDENCE = "evidence/"
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # git object ids (sha1 or sha256)


@dataclass(frozen=True)
class PackRequest:
    use_cases: tuple[str, ...]
    all: bool
    output: Path
    since: str | None = None
    until: str | None = None
    zip: bool = False
    force: bool = False
    template_dir: Path | None = None


@dataclass(frozen=True)
class PackResult:
    path: Path
    files: int
    use_cases: tuple[str, ...]
    # the manifest vouches for every other file; nothing in the pack vouches for the
    # manifest, so its hash is printed for the user to keep outside the pack
    manifest_sha256: str


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _commit(commit: Commit | None, signatures: Mapping[str, str] | None = None
            ) -> dict[str, Any] | None:
    if commit is None:
        return None
    signature = (signatures or {}).get(commit.sha)
    return {"sha": commit.sha, "short": commit.short, "author": commit.author,
            "email": commit.email, "date": commit.date, "subject": commit.subject,
            "signature": signature, "signed": signature == "G"}


# -- what goes into the pack ------------------------------------------------------------------


@dataclass
class _Shared:
    """Computed once per pack: history questions every use case asks."""

    history: GitHistory
    repo: Repository
    policy: Policy
    findings: list[Any]
    until: str
    since: str | None
    as_of: datetime
    provenance: ProvenanceIndex
    versions: dict[str, list[tuple[Commit, str]]] = field(default_factory=dict)
    in_range: set[str] = field(default_factory=set)
    # file versions parsed by one use case's timeline, reused by the next one's
    parsed: dict[tuple[str, str], Any] = field(default_factory=dict)


def _bundle_versions(history: GitHistory, until: str) -> dict[str, list[tuple[Commit, str]]]:
    """Bundle id → [(first commit, digest)] along the first-parent history up to ``until``."""
    out: dict[str, list[tuple[Commit, str]]] = {}
    for step in Replay(history, until).steps():
        for bundle_id, digest in step.digests.items():
            out.setdefault(bundle_id, []).append((step.commit, digest))
    return out


def _use_case_data(shared: _Shared, use_case: Record) -> dict[str, Any]:
    repo, history = shared.repo, shared.history
    generated = {"at": _iso(now()), "commit": shared.until, "dirty": False,
                 "revision": shared.until}
    card = card_context(repo, shared.policy, use_case, shared.as_of, shared.findings, None,
                        generated)
    approvals = sorted(approvals_of(repo, use_case.id), key=lambda a: (a.spec["date"], a.id))
    decisions = {a.id: shared.provenance.decision(a).commit for a in approvals}
    signatures = history.signatures({c.sha for c in decisions.values() if c is not None})
    if card["approval"] is not None:
        # the pack knows the current approval's commit too (the card computes it only for
        # the working tree): "who approved" comes with the commit that proves it
        card["approval"]["commit"] = _commit(decisions.get(card["approval"]["id"]), signatures)
    timeline_entries = []
    for a in approvals:
        commit = decisions[a.id]
        if shared.since and commit is not None and commit.sha not in shared.in_range:
            continue
        timeline_entries.append({
            "id": a.id, "decision": a.spec["decision"], "date": a.spec["date"],
            "valid_until": a.spec.get("valid_until"), "supersedes": a.spec.get("supersedes"),
            "bundle_digest": a.spec["bundle"]["digest"],
            "contract_digest": a.spec["thresholds"]["digest"],
            # the same shape as card.approval.approvers (docs/templates.md)
            "approvers": [{**person(repo, x["person"]), "role": x["role"]}
                          for x in a.spec["approvers"]],
            "commit": _commit(commit, signatures), "file": a.file,
        })

    closure_bundles = [r.id for r in use_case_closure(repo, use_case) if r.kind == "Bundle"]
    versions = []
    for bundle_id in closure_bundles:
        history_of_bundle = shared.versions.get(bundle_id, [])
        for index, (commit, digest) in enumerate(history_of_bundle):
            in_range = not shared.since or commit.sha in shared.in_range
            # --since restricts the history, but the version that was running when the
            # period began is kept (marked in_range: false) so the period has a start state
            successor = history_of_bundle[index + 1][0] if index + 1 < len(history_of_bundle) \
                else None
            if not in_range and successor is not None and successor.sha not in shared.in_range:
                continue  # replaced before the period began
            versions.append({
                "bundle": bundle_id, "digest": digest, "commit": _commit(commit),
                # every approval of the use case bound to this digest, in the period or
                # not: "none" must mean the version was never approved, not "not lately"
                "approvals": [a.id for a in approvals if a.spec["bundle"]["digest"] == digest],
                "in_range": in_range,
            })

    timeline = timeline_of(history, repo, use_case, rev=shared.until, since=shared.since,
                           parsed=shared.parsed)
    contract_id = use_case.spec["thresholds"]
    threshold_changes = []
    for entry in timeline.entries:
        for change in entry.changes:
            if change.record != f"ThresholdContract/{contract_id}":
                continue
            for f in change.fields:
                threshold_changes.append({"commit": _commit(entry.commit), "path": f.path,
                                          "old": f.old, "new": f.new, "effect": f.effect})
    incidents = []
    for incident in card["incidents"]:
        late = False
        if incident["serious"] and incident["reporting_deadline"]:
            reported = incident["reported_to_authority"]
            late = (reported or utc_date(shared.as_of).isoformat()) > \
                incident["reporting_deadline"]
        incidents.append({**incident, "late": late})
    signals = {s["signal"] for s in (card["contract"] or {}).get("signals", [])}
    return {
        **card,
        "incidents": incidents,
        "approval_timeline": timeline_entries,
        "bundle_versions": versions,
        "threshold_changes": threshold_changes,
        "loosened": sum(1 for t in threshold_changes if t["effect"] == LOOSENED),
        "tightened": sum(1 for t in threshold_changes if t["effect"] == TIGHTENED),
        "missing_signals": [s for s in shared.policy.required_signals if s not in signals],
        "timeline": [e.json() for e in timeline.entries],
    }


def _evidence_paths(repo: Repository, use_case: Record) -> set[str]:
    """Files whose committed bytes are evidence for the use case: its dependency closure,
    the files those records reference, the Policy, and its approvals and incidents."""
    records = use_case_closure(repo, use_case)
    records += [r for r in repo.of_kind("Approval") + repo.of_kind("Incident")
                if r.spec.get("use_case") == use_case.id]
    paths = {r.file for r in records} | {POLICY_FILE}
    for record in records:
        paths.update(ref.target for ref in file_references(record))
    return paths


# -- writing -------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id(data: bytes, length: int = 40) -> str:
    """Git's object id of a blob: sha1, or sha256 in a repository with 64-digit ids."""
    algorithm = hashlib.sha256 if length == 64 else hashlib.sha1
    return algorithm(b"blob %d\0" % len(data) + data).hexdigest()


def _safe_relative(path: str) -> str:
    """A path from git or a manifest, as a relative path that cannot leave the pack."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or "\\" in path or "\0" in path:
        raise GovctlError(f"refusing an unsafe path {path!r}")
    return path


def build_audit_pack(root: Path, request: PackRequest, as_of: datetime,
                     progress: Callable[[str], None] | None = None) -> PackResult:
    target = request.output
    if request.zip and target.suffix != ".zip":
        target = target.with_name(target.name + ".zip")
    target = target.resolve() if target.exists() else target.parent.resolve() / target.name
    if is_inside(target, root.resolve()):
        raise GovctlError(f"-o {request.output} is inside the governance root; audit packs are "
                          "written outside the repository they document")
    if is_inside(root.resolve(), target):
        # --force moves the old target aside and deletes it: never the repository itself
        raise GovctlError(f"-o {request.output} contains the governance root; audit packs are "
                          "written outside the repository they document")
    restored = any(note.startswith("restored") for note in recover_interrupted(target))
    if _occupied(target) and not request.force:
        again = " (put back after an interrupted --force run)" if restored else ""
        raise GovctlError(f"{target} exists and is not empty{again}; not overwriting "
                          "(use --force)")
    if _occupied(target) and not _is_pack(target):
        # --force replaces an earlier pack; a folder or file that is not one (a typo such as
        # `-o ~`) is never deleted
        raise GovctlError(f"{target} exists and is not an audit pack (no {MANIFEST}); "
                          "refusing to replace it, even with --force")
    if not request.all and not request.use_cases:
        raise GovctlError("name the use cases to pack, or --all")

    with GitHistory(root) as history:
        if history.head() is None:
            raise GovctlError("the repository has no commits; audit packs are built from "
                              "committed history")
        until = history.resolve(request.until or "HEAD")
        since = history.resolve(request.since) if request.since else None
        repo = load_repository(history.tree_source(until))
        policy, findings = check_repository(repo, as_of)
        if request.all:
            chosen = sorted(repo.of_kind("UseCase"), key=lambda r: r.id)
        else:
            chosen = []
            for use_case_id in dict.fromkeys(request.use_cases):
                chosen.append(repo.require("UseCase", use_case_id, valid=True,
                                           where=f" at {until[:12]}"))
        in_range = ({c.sha for c in history.log(rev=f"{since}..{until}", raw=False)}
                    if since else set())
        shared = _Shared(history, repo, policy, findings, until, since, as_of,
                         ProvenanceIndex(history, until), _bundle_versions(history, until),
                         in_range)
        use_cases = []
        evidence: dict[str, set[str]] = {}  # commit sha → paths
        then: dict[str, Repository] = {}  # the repository at each approval commit
        for record in chosen:
            if progress:
                progress(record.id)
            data = _use_case_data(shared, record)
            use_cases.append(data)
            for approval in data["approval_timeline"]:
                if approval["commit"] is not None:
                    sha = approval["commit"]["sha"]
                    evidence.setdefault(sha, set()).update(
                        _evidence_at(history, then, sha, repo, record, approval))

        files = _evidence_blobs(history, evidence)
        context = {
            "pack": {
                "context_version": CONTEXT_VERSION,
                "govctl_version": __version__, "generated_at": _iso(now()),
                "as_of": _iso(as_of), "organization": policy.organization,
                "repository": {"head": history.head(), "until": until, "since": since,
                               "root": history.prefix or "."},
                "use_cases": use_cases,
                "evidence": {sha: sorted(blobs) for sha, blobs in files.items()},
                "mapping": mapping(use_cases),
            }
        }
        return _write_pack(history, target, request, context, files)


def _evidence_at(history: GitHistory, then: dict[str, Repository], sha: str,
                 repo: Repository, use_case: Record, approval: Mapping[str, Any]) -> set[str]:
    """The evidence paths of one approval commit, from the records *as they were then*: a
    prompt file renamed or a record moved later is still found under its old path."""
    if sha not in then:
        then[sha] = load_repository(history.tree_source(sha))
    old = then[sha]
    record = old.get("UseCase", use_case.id)
    # (a use case renamed since falls back to what it names now)
    paths = _evidence_paths(repo, use_case) if record is None else _evidence_paths(old, record)
    held = old.get("Approval", approval["id"])
    paths.add(held.file if held is not None else approval["file"])
    return paths


def _evidence_blobs(history: GitHistory, wanted: Mapping[str, set[str]]
                    ) -> dict[str, dict[str, str]]:
    """Commit sha → {path: blob id} of the wanted paths that exist in that commit as regular
    files. Resolved before rendering, so the documents list exactly what is copied (a file
    added after an approval, or a symlink, is not evidence of that approval)."""
    out: dict[str, dict[str, str]] = {}
    for sha, paths in sorted(wanted.items()):
        tree = history.tree(sha)
        present = {path: tree[path][1] for path in paths
                   if path in tree and tree[path][0].startswith("100")}
        if present:
            out[sha] = dict(sorted(present.items()))
    return out


def _occupied(target: Path) -> bool:
    if target.is_dir():
        return any(target.iterdir())
    return target.exists() or target.is_symlink()


def _is_pack(target: Path) -> bool:
    """An earlier audit pack (folder or zip) that --force may replace."""
    if target.is_symlink():
        return False
    if target.is_dir():
        return (target / MANIFEST).is_file()
    try:
        with zipfile.ZipFile(target) as archive:
            return MANIFEST in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _write_pack(history: GitHistory, target: Path, request: PackRequest,
                context: dict[str, Any], evidence: Mapping[str, Mapping[str, str]]
                ) -> PackResult:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{_scratch_prefix(target)}work.", suffix=".tmp",
                                     dir=target.parent))
    except OSError as exc:
        raise GovctlError(f"cannot write the audit pack {target}: {reason(exc)}") from None
    try:
        folder = work / "pack"
        folder.mkdir()
        # SPEC §4: evidence/ is part of every pack, empty when no approval was committed in
        # the period (every file under it must come from git: verify checks that)
        (folder / "evidence").mkdir()
        for name, template in (("README.md", "pack_readme.md.j2"),
                               ("index.html", "pack_index.html.j2"),
                               ("mapping.md", "pack_mapping.md.j2")):
            _write_file(folder / name, render(template, context, request.template_dir)
                        .encode("utf-8"))
        blobs: dict[str, dict[str, str]] = {}
        for sha, paths in evidence.items():
            for path, blob in paths.items():
                rel = f"{EVIDENCE}{sha}/{_safe_relative(path)}"
                out = folder / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                _write_file(out, history.blob(blob))
                blobs[rel] = {"blob": blob, "commit": sha, "path": path}
        manifest = _manifest(folder, context["pack"], blobs)
        manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        _write_file(folder / MANIFEST, manifest_bytes)
        produced = work / "pack.zip" if request.zip else folder
        if request.zip:
            _zip(folder, produced)
        # on disk before the rename publishes it: a power cut after the rename must not
        # leave an installed pack of empty files
        flush_file_system(work)
        _install(produced, target, request.force)
        # the count `govctl verify` reports: the files the manifest lists (not itself)
        return PackResult(target, len(manifest["files"]),
                          tuple(uc["use_case"]["id"] for uc in context["pack"]["use_cases"]),
                          hashlib.sha256(manifest_bytes).hexdigest())
    except OSError as exc:
        raise GovctlError(f"cannot write the audit pack {target}: {reason(exc)}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)


# -- leftovers of interrupted runs ---------------------------------------------------------------
#
# A run works in hidden entries beside the target, named after the target, this host and
# this process: ".<target>.govctl-<host>-<pid>.work.XXXX.tmp" (the pack being built) and
# ".<target>.govctl-<host>-<pid>.old" (the previous pack, moved aside by --force until the
# new one is in place). Only a SIGKILL or a power cut leaves them behind; the next
# audit-pack run for the same target on the same host removes the work folders of dead
# processes and puts a moved-aside pack back if the new one never arrived (the interrupted
# run is undone), or removes it if the new one did.


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"


def _scratch_prefix(target: Path) -> str:
    return f".{target.name}.govctl-{_host()}-{os.getpid()}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (EPERM: someone else's process, alive)
        return True
    return True


def recover_interrupted(target: Path) -> list[str]:
    """Clean up after runs for ``target`` that were killed on this host; what was done.

    Entries of processes still running (or of other hosts, on a shared file system) are
    never touched: their owner may still be working in them.
    """
    pattern = re.compile(re.escape(f".{target.name}.govctl-{_host()}-") +
                         r"(\d+)\.(work\..+\.tmp|old)")
    done: list[str] = []
    try:
        entries = sorted(target.parent.iterdir()) if target.parent.is_dir() else []
    except OSError:
        return done
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            if match.group(2) == "old" and not (target.exists() or target.is_symlink()):
                os.replace(entry, target)  # the new pack never arrived: undo the run
                done.append(f"restored {target} from an interrupted --force run")
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            done.append(f"removed {entry.name}, left by an interrupted run")
        except OSError:
            continue  # best effort: it is hidden and harmless
    return done


def _manifest(folder: Path, pack: Mapping[str, Any], blobs: Mapping[str, Mapping[str, str]]
              ) -> dict[str, Any]:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        entry: dict[str, Any] = {"sha256": _sha256(path), "size": path.stat().st_size}
        if rel in blobs:
            entry["git"] = dict(blobs[rel])
        files[rel] = entry
    return {
        "version": 1,
        "govctl_version": pack["govctl_version"],
        "generated_at": pack["generated_at"],
        "as_of": pack["as_of"],
        "repository": dict(pack["repository"]),
        "use_cases": [uc["use_case"]["id"] for uc in pack["use_cases"]],
        "files": files,
    }


def _zip(folder: Path, destination: Path) -> None:
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # the evidence folder is there even when empty (SPEC §4 lists it in every pack)
        archive.writestr(zipfile.ZipInfo("evidence/", (1980, 1, 1, 0, 0, 0)), b"")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            # a fixed timestamp keeps the archive reproducible for the same content
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _install(produced: Path, target: Path, force: bool) -> None:
    """Rename the finished pack into place; with --force the old one is moved aside first
    and removed only after the new one is in place."""
    aside = None
    if target.exists() or target.is_symlink():
        if not force and _occupied(target):
            raise GovctlError(f"{target} exists and is not empty; not overwriting (use --force)")
        aside = target.with_name(f"{_scratch_prefix(target)}old")
        os.replace(target, aside)
    try:
        os.replace(produced, target)
    except OSError:
        if aside is not None:
            os.replace(aside, target)
        raise
    fsync_dir(target.parent)
    if aside is not None:
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.unlink(missing_ok=True)


# -- verify ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    altered: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    repository: tuple[str, ...]  # evidence that does not match the repository's blobs
    checked_repository: bool
    files: int
    manifest_sha256: str  # compare with the value printed when the pack was built

    @property
    def intact(self) -> bool:
        return not (self.altered or self.added or self.removed or self.repository)


@dataclass(frozen=True)
class _Member:
    """A file found in a pack: its size, or why it cannot be one of the pack's files."""

    size: int
    problem: str | None = None  # "a symbolic link", … : never read, never trusted


@dataclass(frozen=True)
class _Hashes:
    sha256: str
    blobs: dict[int, str]  # git blob id by length: 40 (sha1) and 64 (sha256 repositories)


_CHUNK = 1 << 16


def _hash_stream(chunks: Iterator[bytes], size: int) -> _Hashes:
    """sha256 of the bytes and their git blob ids, in one pass without holding the file."""
    header = b"blob %d\0" % size
    plain, sha1, sha256 = hashlib.sha256(), hashlib.sha1(header), hashlib.sha256(header)
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        for digest in (plain, sha1, sha256):
            digest.update(chunk)
    if seen != size:  # changed while being read: no hash can vouch for it
        raise OSError(f"{seen} bytes read, {size} expected")
    return _Hashes(plain.hexdigest(), {40: sha1.hexdigest(), 64: sha256.hexdigest()})


class _PackReader:
    """The files of a pack folder or zip. A pack is untrusted input: nothing is followed
    (symbolic links, devices and pipes are reported, never read), files are hashed as
    streams, and a file is only read when its size is the one the manifest records — so a
    link to /dev/zero or a zip bomb costs nothing."""

    def __init__(self, pack: Path) -> None:
        self.pack = pack
        self.archive: zipfile.ZipFile | None = None
        self.members: dict[str, _Member] = {}
        self._infos: dict[str, zipfile.ZipInfo] = {}
        if pack.is_dir():
            self._scan_folder()
        else:
            self._scan_zip()

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def __enter__(self) -> _PackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _scan_folder(self) -> None:
        kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
                 (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                 (stat.S_ISBLK, "a device"))
        for folder, dirs, files in os.walk(self.pack):  # (os.walk never follows links)
            here = Path(folder)
            for name in sorted([*files, *(d for d in dirs if (here / d).is_symlink())]):
                path = here / name
                st = os.lstat(path)
                rel = path.relative_to(self.pack).as_posix()
                problem = next((what for test, what in kinds if test(st.st_mode)), None)
                if problem is None and not stat.S_ISREG(st.st_mode):
                    problem = "not a regular file"
                self.members[rel] = _Member(st.st_size, problem)

    def _scan_zip(self) -> None:
        try:
            self.archive = zipfile.ZipFile(self.pack)
            for info in self.archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                if name in self.members:
                    # two entries under one name: tools disagree on which one a reader
                    # sees, so the second can never pass as the file the manifest vouches for
                    name = f"{name} (duplicate entry in the zip)"
                self.members[name] = _Member(info.file_size)
                self._infos[name] = info
        # NotImplementedError: zipfile's answer to a compression method it cannot read
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            self.close()
            raise GovctlError(f"{self.pack}: not an audit pack folder or zip ({exc})") from None

    def _chunks(self, name: str) -> Iterator[bytes]:
        if self.archive is None:
            with (self.pack / name).open("rb") as handle:
                yield from iter(lambda: handle.read(_CHUNK), b"")
        else:
            with self.archive.open(self._infos[name]) as handle:
                yield from iter(lambda: handle.read(_CHUNK), b"")

    def hashes(self, name: str) -> _Hashes | str:
        """The file's hashes, or why it could not be read (a reason to call it altered)."""
        try:
            return _hash_stream(self._chunks(name), self.members[name].size)
        except (OSError, zipfile.BadZipFile, ValueError, NotImplementedError, EOFError,
                zlib.error) as exc:
            return f"unreadable: {' '.join(str(exc).split())}"

    def read_manifest(self, limit: int = 64 << 20) -> bytes:
        member = self.members.get(MANIFEST)
        if member is None:
            raise GovctlError(f"{self.pack}: no {MANIFEST}; not an audit pack")
        if member.problem is not None or member.size > limit:
            raise GovctlError(f"{self.pack}/{MANIFEST}: not a govctl manifest "
                              f"({member.problem or 'too large'})")
        try:
            return b"".join(self._chunks(MANIFEST))
        except (OSError, zipfile.BadZipFile, ValueError, NotImplementedError, EOFError,
                zlib.error) as exc:
            raise GovctlError(f"{self.pack}/{MANIFEST}: unreadable ({exc})") from None


def verify_pack(pack: Path, history: GitHistory | None = None) -> Verification:
    if not pack.exists():
        raise GovctlError(f"{pack}: no such audit pack")
    with _PackReader(pack) as reader:
        raw_manifest = reader.read_manifest()
        members = {k: v for k, v in reader.members.items() if k != MANIFEST}
        try:
            manifest = json.loads(raw_manifest)
            listed: Mapping[str, Any] = manifest["files"]
            if not isinstance(listed, Mapping) or not all(
                    isinstance(e, Mapping) and isinstance(e.get("sha256"), str)
                    and isinstance(e.get("git") or {}, Mapping) for e in listed.values()):
                raise TypeError("files")
        except (ValueError, KeyError, TypeError):
            raise GovctlError(f"{pack}/{MANIFEST}: not a govctl manifest") from None
        altered, repository = [], []
        trees: dict[str, dict[str, tuple[str, str]]] = {}  # one ls-tree per evidence commit
        for name, entry in sorted(listed.items()):
            member = members.get(name)
            if member is None:
                continue
            if member.problem is not None:
                altered.append(f"{name} ({member.problem})")
                continue
            size = entry.get("size")
            if isinstance(size, int) and size != member.size:
                altered.append(name)  # (not even read: the size already tells)
                continue
            hashes = reader.hashes(name)
            if isinstance(hashes, str):
                altered.append(f"{name} ({hashes})")
                continue
            if hashes.sha256 != entry["sha256"]:
                altered.append(name)
                continue
            git = entry.get("git")
            if (git or name.startswith(EVIDENCE)) and not _evidence_entry_consistent(name, git):
                # evidence is always copied from a named blob at evidence/<commit>/<path>,
                # and nothing else has a git origin: an entry without its origin, naming
                # another commit or path, or a git origin on a document, was edited
                altered.append(f"{name} (manifest entry does not match its git origin)")
                continue
            if git and hashes.blobs.get(len(git["blob"])) != git["blob"]:
                altered.append(name)  # bytes and the recorded blob disagree: a doctored manifest
            elif git and history is not None:
                commit = git["commit"]
                try:
                    tree = trees[commit] if commit in trees else trees.setdefault(
                        commit, history.tree(commit))
                except GovctlError:
                    repository.append(f"{name} (commit {commit[:12]} is not in the repository)")
                    continue
                held = tree.get(git["path"])
                if held is None or held[1] != git["blob"]:
                    repository.append(f"{name} (differs from {git['path']} at {commit[:12]})")
    removed = sorted(set(listed) - set(members))
    added = sorted(f"{name} ({member.problem})" if member.problem else name
                   for name, member in members.items() if name not in listed)
    if history is not None:
        recorded = manifest.get("repository")
        head = recorded.get("until") if isinstance(recorded, Mapping) else None
        if isinstance(head, str) and head:
            try:
                history.resolve(head)
            except GovctlError:
                repository.append(f"{MANIFEST} (records commit {head[:12]}, which is not in the "
                                  "repository)")
    return Verification(tuple(altered), tuple(added), tuple(removed), tuple(repository),
                        history is not None, len(listed),
                        hashlib.sha256(raw_manifest).hexdigest())


def _evidence_entry_consistent(name: str, git: Any) -> bool:
    if not isinstance(git, Mapping):
        return False
    commit, path, blob = git.get("commit"), git.get("path"), git.get("blob")
    if not all(isinstance(v, str) for v in (commit, path, blob)):
        return False
    return (_OBJECT_ID.fullmatch(commit) is not None and _OBJECT_ID.fullmatch(blob) is not None
            and name == f"{EVIDENCE}{commit}/{path}")


def verify(pack: Path, root: Path | None) -> Verification:
    """Check the pack against its manifest and, when a governance root in git is at hand,
    its evidence against the repository itself."""
    if root is None:
        return verify_pack(pack)
    with GitHistory(root) as history:
        return verify_pack(pack, history)
