"""`govctl audit-pack`: tamper-evident evidence folders (SPEC §4); ``verify`` checks them.

A pack is rendered into a temporary folder beside the target and renamed into place only
when complete; the governance repository is never written. A killed run can leave only
hidden ``.<target>.govctl-<host>-<pid>.*`` entries beside the target, which the next run for
that target cleans up (see :func:`recover_interrupted`). ``manifest.json`` lists every
file's sha256 (and, for evidence, the git blob id and commit it was copied from), so
`govctl verify` finds altered, added and removed files — and, with the repository at
hand, a manifest edited to match. With ``--sign KEYFILE`` the manifest is signed with
``ssh-keygen -Y sign`` into ``manifest.json.sig`` before the pack is installed (a key that
cannot sign leaves no pack), so a recipient can check who vouches for it.
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import Any

from govctl import __version__
from govctl.documents.context import CONTEXT_VERSION, card_context, commit_json
from govctl.documents.manifest import (
    EVIDENCE,
    MANIFEST,
    MANIFEST_LIMIT,
    ZIP_READ_ERRORS,
    is_govctl_manifest,
)
from govctl.documents.mapping import Own, holdings, mapping, own_records
from govctl.documents.signing import Signer, sign_manifest, signer
from govctl.documents.templating import render_pieces
from govctl.errors import GovctlError
from govctl.history.git import Commit, GitHistory, GitTreeSource
from govctl.history.mentions import MentionIndex, Span, span_of
from govctl.history.provenance import ProvenanceIndex, decision_of
from govctl.history.replay import Replay
from govctl.history.signatures import signatures
from govctl.history.timeline import Parsed, RecentParses, timeline_commits, timeline_of
from govctl.history.validation import check_with_head
from govctl.model.atomic import (
    claim_output,
    flush_file_system,
    fsync_dir,
    output_target,
    reason,
)
from govctl.model.dates import now, utc_date
from govctl.model.graph import closure_repository, use_case_closure
from govctl.model.paths import is_inside
from govctl.model.people import person
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import (
    POLICY_FILE,
    Repository,
    Words,
    exclusions,
    load_repository,
)
from govctl.monitoring.observations import copy_observations
from govctl.monitoring.sources import ObservationSource
from govctl.monitoring.status import StatusReport, build_status
from govctl.rules.changes import LOOSENED, TIGHTENED, field_changes
from govctl.rules.decisions import approvals_of


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
    source: ObservationSource | None = None  # --observations FILE: into observations/
    sign: Path | None = None  # --sign KEYFILE: an SSH key to sign manifest.json with
    pdf: bool = False  # --pdf: index.pdf, index.html as a PDF (documents/pdf.py)


@dataclass(frozen=True)
class PackResult:
    path: Path
    files: int
    use_cases: tuple[str, ...]
    # the manifest vouches for every other file; nothing in the pack vouches for the
    # manifest, so its hash is printed for the user to keep outside the pack
    manifest_sha256: str
    signer: Signer | None = None  # the key that signed manifest.json (--sign)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


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
    # the Person records at ``until``: the keys that say who signed (SPEC §3.4)
    people: list[Record] = field(default_factory=list)
    in_range: set[str] = field(default_factory=set)
    # file versions parsed by one use case's timeline, reused by the next one's
    parsed: Parsed = field(default_factory=RecentParses)
    # the commits every timeline walks: one git log for the pack, not one per use case
    # (each took a second at 5,000 commits: half an hour for 2,000 use cases), indexed:
    # each timeline visits the commits and reads the blobs that may hold its records
    # (every blob for every use case: minutes per hundred use cases)
    span: Span | None = None


def _bundle_versions(history: GitHistory, until: str) -> dict[str, list[tuple[Commit, str]]]:
    """Bundle id → [(first commit, digest)] along the first-parent history up to ``until``."""
    out: dict[str, list[tuple[Commit, str]]] = {}
    for step in Replay(history, until, kinds=frozenset()).steps():
        for bundle_id, digest in step.digests.items():
            out.setdefault(bundle_id, []).append((step.commit, digest))
    return out


def _use_case_data(shared: _Shared, use_case: Record, status: StatusReport) -> dict[str, Any]:
    repo, history = shared.repo, shared.history
    generated = {"at": _iso(now()), "commit": shared.until, "dirty": False,
                 "revision": shared.until}
    card = card_context(repo, shared.policy, use_case, shared.as_of, shared.findings, status,
                        generated)
    if shared.span is None:
        shared.span = span_of(history, timeline_commits(history, shared.until, shared.since))
    timeline = timeline_of(history, repo, use_case, rev=shared.until, since=shared.since,
                           parsed=shared.parsed, span=shared.span)
    approvals = sorted(approvals_of(repo, use_case.id), key=lambda a: (a.spec["date"], a.id))
    # approvals removed since (SPEC §4: every approval record): their versions are rows
    # too, found in git through the use case's history — a decision deleted from the
    # records is still a decision that was in force
    removed = sorted({c.record.split("/", 1)[1] for entry in timeline.entries
                      for c in entry.changes if c.record.startswith("Approval/")}
                     - {a.id for a in approvals})
    shared.provenance.focus([*(a.id for a in approvals), *removed])
    decisions = {a.id: shared.provenance.decision(a).commit for a in approvals}
    approval_versions = {a.id: _versions(shared, a, decisions[a.id]) for a in approvals}
    removed_in: dict[str, Commit] = {}  # approval id → the commit that last removed it
    for entry in timeline.entries:
        for c in entry.changes:
            if c.change == "removed" and c.record.startswith("Approval/"):
                removed_in[c.record.split("/", 1)[1]] = entry.commit
    for approval_id in removed:
        found = [(commit, record) for commit, record in shared.provenance.versions(approval_id)
                 if record.spec.get("use_case") == use_case.id]
        if found:
            approval_versions[approval_id] = list(found)
    checked = signatures(history, shared.people,
                         {c.sha for found in approval_versions.values() for c, _ in found if c})
    by_id = {a.id: a for a in approvals}

    def decided(approval_id: str) -> dict[str, Any] | None:
        commit = decisions.get(approval_id)
        return commit_json(commit, checked.get(commit.sha) if commit else None,
                           by_id.get(approval_id))

    if card["approval"] is not None:
        # the pack knows the current approval's commit too (the card computes it only for
        # the working tree): "who approved" comes with the commit that proves it
        card["approval"]["commit"] = decided(card["approval"]["id"])
    timeline_entries = []
    for approval_id, found in approval_versions.items():
        previous: Record | None = None
        for number, (commit, version) in enumerate(found, 1):
            before, previous = previous, version
            if shared.since and commit is not None and commit.sha not in shared.in_range:
                continue
            # (a removed approval has no current version: every row is "superseded")
            current = approval_id in decisions and _is_current(
                commit, decisions[approval_id], number == len(found))
            row = _timeline_row(
                repo, version, number, before, current,
                commit_json(commit, checked.get(commit.sha) if commit else None, version))
            gone = removed_in.get(approval_id) if approval_id not in decisions else None
            row["removed_in"] = commit_json(gone) if gone is not None else None
            timeline_entries.append(row)
    # oldest first: by the decision's date, then by when each version was committed
    timeline_entries.sort(key=lambda row: (str(row["date"] or ""), row["id"], row["version"]))

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
                "bundle": bundle_id, "digest": digest, "commit": commit_json(commit),
                # every approval of the use case bound to this digest, in the period or
                # not, in any version (one re-bound in place since still approved it):
                # "none" must mean the version was never approved, not "not lately"
                "approvals": sorted({v.id for found in approval_versions.values()
                                     for _, v in found if _bound_bundle(v) == digest}),
                "in_range": in_range,
            })

    contract_id = use_case.spec["thresholds"]
    threshold_changes = []
    for entry in timeline.entries:
        for change in entry.changes:
            if change.record != f"ThresholdContract/{contract_id}":
                continue
            for f in change.fields:
                threshold_changes.append({"commit": commit_json(entry.commit), "path": f.path,
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
        "required_signals": list(shared.policy.required_signals),
        "timeline": [e.json() for e in timeline.entries],
    }


def _versions(shared: _Shared, approval: Record, decided: Commit | None
              ) -> list[tuple[Commit | None, Record]]:
    """Every version of the approval's decision with its commit, oldest first (SPEC §4).
    The current spec is among them with its deciding commit; when history cannot tell
    that commit (None), the current spec is added last, uncommitted as far as is known."""
    found: list[tuple[Commit | None, Record]] = list(shared.provenance.versions(approval.id))
    if decided is not None:
        if all(commit is None or commit.sha != decided.sha for commit, _ in found):
            found.append((decided, approval))
    elif not found or decision_of(found[-1][1].data) != decision_of(approval.data):
        found.append((None, approval))
    return found


def _is_current(commit: Commit | None, decided: Commit | None, last: bool) -> bool:
    """The version the approval has at ``until``: the one its deciding commit made (an
    approval changed A → B → A has two versions with the current spec; the later is it)."""
    if decided is None:
        return last
    return commit is not None and commit.sha == decided.sha


def _bound_bundle(approval: Record) -> Any:
    bound = approval.spec.get("bundle")
    return bound.get("digest") if isinstance(bound, Mapping) else None


def _timeline_row(repo: Repository, version: Record, number: int, before: Record | None,
                  current: bool, commit: dict[str, Any] | None) -> dict[str, Any]:
    """One timeline row: the decision as this version made it, the digests it bound in
    full, and — for a later version of the same id — what it changed (a re-binding)."""
    spec = version.spec
    bound = (("bundle", spec.get("bundle")), ("thresholds", spec.get("thresholds")),
             ("eval", spec.get("eval")))
    digests = {name: value.get("digest") if isinstance(value, Mapping) else None
               for name, value in bound}
    changes = [c.json() for c in field_changes("Approval", before.data, version.data)
               ] if before is not None else []
    return {
        "id": version.id, "version": number,
        "current": current,
        "decision": spec.get("decision"), "date": spec.get("date"),
        "valid_until": spec.get("valid_until"), "supersedes": spec.get("supersedes"),
        "bundle_digest": digests["bundle"], "contract_digest": digests["thresholds"],
        "eval_digest": digests["eval"],
        # the same shape as card.approval.approvers (docs/templates.md)
        "approvers": [{**person(repo, x.get("person")), "role": x.get("role")}
                      for x in spec.get("approvers") or () if isinstance(x, Mapping)],
        "commit": commit, "file": version.file,
        "changes": changes,
        "rebound": any(c["path"].split(".")[0] in ("bundle", "thresholds", "eval")
                       for c in changes),
    }


def _evidence_paths(records: tuple[Own, ...]) -> set[str]:
    """Files whose committed bytes are evidence for a use case: those of its records
    (:func:`own_records`), the files they reference, and the Policy's."""
    return ({POLICY_FILE} | {r.file for r in records}
            | {target for r in records for target in r.references})


# -- writing -------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_relative(path: str) -> str:
    """A path from git or a manifest, as a relative path that cannot leave the pack."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or "\\" in path or "\0" in path:
        raise GovctlError(f"refusing an unsafe path {path!r}")
    return path


def build_audit_pack(root: Path, request: PackRequest, as_of: datetime,
                     progress: Callable[[str], None] | None = None) -> PackResult:
    target = output_target(request.output)  # (a link at the target is never followed)
    if request.zip and target.suffix != ".zip" and target.name:
        target = target.with_name(target.name + ".zip")
    if is_inside(target, root.resolve()):
        raise GovctlError(f"-o {request.output} is inside the governance root; audit packs are "
                          "written outside the repository they document")
    if is_inside(root.resolve(), target):
        # --force moves the old target aside and deletes it: never the repository itself
        raise GovctlError(f"-o {request.output} contains the governance root; audit packs are "
                          "written outside the repository they document")
    restored = any(note.startswith("restored") for note in recover_interrupted(target))
    # --force replaces an earlier pack; a folder or file that is not one (a typo such as
    # `-o ~`, a folder that happens to hold a manifest.json) is never deleted
    _claim(target, request.force,
           " (put back after an interrupted --force run)" if restored else "")
    if not request.all and not request.use_cases:
        raise GovctlError("name the use cases to pack, or --all")
    # the key is checked before anything is built (whether it needs a passphrase shows
    # only when it signs, and then no pack is installed either)
    key = signer(request.sign) if request.sign is not None else None

    with GitHistory(root) as history, tempfile.TemporaryDirectory(
            prefix="govctl-observations-") as scratch:
        if history.head() is None:
            raise GovctlError("the repository has no commits; audit packs are built from "
                              "committed history")
        until = history.resolve(request.until or "HEAD")
        since = history.resolve(request.since) if request.since else None
        repo = load_repository(history.tree_source(until))
        policy, findings = check_with_head(repo, as_of)
        if request.all:
            chosen = sorted(repo.of_kind("UseCase"), key=lambda r: r.id)
        else:
            chosen = []
            for use_case_id in dict.fromkeys(request.use_cases):
                chosen.append(repo.require("UseCase", use_case_id, valid=True,
                                           where=f" at {until[:12]}"))
        in_range = ({c.sha for c in history.log(rev=f"{since}..{until}", raw=False)}
                    if since else set())
        observations = _observations_copy(request.source, scratch)
        status = build_status(repo, policy, observations.source, as_of, chosen, root)
        shared = _Shared(history, repo, policy, findings, until, since, as_of,
                         ProvenanceIndex(history, until), _bundle_versions(history, until),
                         in_range=in_range, people=repo.of_kind("Person"))
        # every approval of the pack in one scan of the history, not one scan per use case
        shared.provenance.focus(a.id for record in chosen for a in approvals_of(repo, record.id))
        use_cases = []
        for record in chosen:
            if progress:
                progress(record.id)
            use_cases.append(_use_case_data(shared, record, status))
        evidence = _evidence(history, repo, chosen, use_cases, shared.span)
        # what the timelines shared (the span's index, the approvals' commits, parses) is
        # not needed for the documents: gone before the mapping is built
        del shared

        files = evidence.files
        context = {
            "pack": {
                "context_version": CONTEXT_VERSION,
                "govctl_version": __version__, "generated_at": _iso(now()),
                "as_of": _iso(as_of), "organization": policy.organization,
                "repository": {"head": history.head(), "until": until, "since": since,
                               "root": history.prefix or "."},
                "use_cases": use_cases,
                "evidence": {sha: sorted(blobs) for sha, blobs in files.items()},
                "observations": observations.context,
                "mapping": mapping(use_cases, holdings(files, evidence.wanted, evidence.own),
                                   observations.context),
            }
        }
        del use_cases  # the context holds them alone: _write_pack lets them go once rendered
        return _write_pack(history, target, request, context, files, observations, status,
                           key)


OBSERVATIONS = "observations"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class _ObservationsCopy:
    source: ObservationSource  # what the status is computed from: the copy, or nothing
    copy: Path | None = None
    context: dict[str, Any] | None = None  # pack.observations


def _observations_copy(source: ObservationSource | None, scratch: str) -> _ObservationsCopy:
    """The observations file copied once, outside the pack and the repository; the status
    is computed from the copy and the copy goes into the pack, so what the pack says was
    observed is exactly what it holds."""
    if source is None or source.path is None:
        return _ObservationsCopy(ObservationSource())
    name = source.path.name if _SAFE_NAME.fullmatch(source.path.name) and \
        source.path.name != "status.json" else "observations.txt"
    copy = Path(scratch) / name
    copy_observations(source.path, copy, source.max_bytes)
    return _ObservationsCopy(
        replace(source, path=copy), copy,
        {"file": f"{OBSERVATIONS}/{name}", "status": f"{OBSERVATIONS}/status.json",
         "source": str(source.path), "format": source.fmt})


@dataclass(frozen=True)
class _Evidence:
    """What the pack takes from the approval commits of its timelines."""

    files: dict[str, dict[str, str]]  # commit sha → {path: blob} of the files copied
    wanted: dict[str, dict[str, set[str]]]  # use case → commit sha → its paths
    own: dict[str, dict[str, tuple[Own, ...]]]  # use case → commit sha → its records there


def _evidence(history: GitHistory, repo: Repository, chosen: list[Record],
              use_cases: list[dict[str, Any]], span: Span | None) -> _Evidence:
    """The evidence of every approval commit of the timelines, one commit at a time: the
    records it needs as committed are loaded once (:func:`_records_at`), reduced to its
    paths and records and dropped — 400 versions of one approval must not keep 400
    repositories in memory (SPEC §3)."""
    files: dict[str, dict[str, str]] = {}
    found = _Evidence(files, {}, {})
    mentions = span.mentions if span is not None else None
    order = {commit.sha: position for position, commit in
             enumerate(span.commits if span is not None else ())}
    # commit sha → use case id → (the use case, its timeline rows committed there)
    at: dict[str, dict[str, tuple[Record, list[Mapping[str, Any]]]]] = {}
    for use_case, data in zip(chosen, use_cases, strict=True):
        for row in data["approval_timeline"]:
            if row["commit"] is not None:
                sha = row["commit"]["sha"]
                at.setdefault(sha, {}).setdefault(use_case.id, (use_case, []))[1].append(row)
                # a use case's commits in timeline order: the mapping takes the last held
                # one for its latest
                found.wanted.setdefault(use_case.id, {})[sha] = set()
    source: GitTreeSource | None = None
    # in history's order, each tree from the one before (what differs, from git): most
    # approval commits are a few files apart
    for sha in sorted(at, key=lambda sha: order.get(sha, -1)):
        rows = at[sha]
        # (the sha is a commit's, from the log: not resolved again; and the sizes of its
        # blobs are not asked, the few files read have theirs from the index's reads)
        source = GitTreeSource(history, sha, history.tree(sha, sizes=False)) \
            if source is None else source.after(sha, history.tree_changes(source.sha, sha))
        old = _records_at(source, rows, mentions)
        copied: set[str] = set()
        for use_case, approvals in rows.values():
            paths, own = _evidence_at(old, repo, use_case, approvals)
            copied |= paths
            found.wanted[use_case.id][sha] = paths
            found.own.setdefault(use_case.id, {})[sha] = own
        # resolved before rendering, so the documents list exactly what is copied (a file
        # added after an approval, or a symlink, is not evidence of that approval)
        present = {path: source.entries[path][1] for path in sorted(copied)
                   if path in source.entries and source.entries[path][0].startswith("100")}
        if present:
            files[sha] = present
    return replace(found, files=dict(sorted(files.items())))


def _records_at(source: GitTreeSource,
                rows: Mapping[str, tuple[Record, list[Mapping[str, Any]]]],
                mentions: MentionIndex | None) -> Repository:
    """The records of an approval commit that the evidence of its use cases reads
    (:func:`_evidence_at`): the use cases' closures, their approvals, incidents and
    exercises, the approvals of ``rows`` and the Policy — a partial load
    (``graph.closure_repository``) of the files of the commit's tree that may hold them
    (``mentions`` says so of the blobs it indexed without reading them). A full load of
    each of 1,500 approval commits of a tree of 13,000 files was most of a pack's time."""
    excluded = exclusions(source)

    def load(words: Words) -> Repository:
        if mentions is None:
            return load_repository(source, list(source.record_files(excluded)), words=words)
        return load_repository(source, list(source.record_files(
            excluded, mentions.wanted(words))), words=words, holds=mentions.holds_in(source))

    words = {"Policy", *((kind, use_case_id) for use_case_id in rows
                         for kind in ("Approval", "Incident", "Exercise")),
             *(("Approval", str(row["id"])) for _, approvals in rows.values()
               for row in approvals)}

    def reads_more(words: Words, more: Words) -> bool:
        return mentions is None or mentions.reads_more(source, words, more)

    return closure_repository(load, rows, words, reads_more)


def _evidence_at(old: Repository, repo: Repository, use_case: Record,
                 approvals: list[Mapping[str, Any]]) -> tuple[set[str], tuple[Own, ...]]:
    """The evidence paths of the use case at one approval commit, from the records *as they
    were then* (``old``): a prompt file renamed or a record moved later is still found under
    its old path. With them, its records there, which the mapping counts as its evidence."""
    own = own_records(old, use_case.id)
    # (a use case renamed since falls back to what it names now: copied, but not counted)
    paths = _evidence_paths(own if old.get("UseCase", use_case.id) is not None
                            else own_records(repo, use_case.id))
    for approval in approvals:
        held = old.get("Approval", approval["id"])
        paths.add(held.file if held is not None else approval["file"])
    return paths, own


def _claim(target: Path, force: bool, note: str = "") -> Path:
    """SPEC §3: no link, nothing replaced without --force, and with it only a pack."""
    return claim_output(target, force, ours=_is_pack, empty_folder=True, note=note,
                        ours_name=f"an audit pack (a folder or zip whose {MANIFEST} govctl "
                                  "wrote)")


def _is_pack(target: Path) -> bool:
    """An earlier audit pack (folder or zip) that --force may replace: its manifest has
    the shape govctl writes. Read as untrusted input: no link followed, no pipe opened for
    reading, at most MANIFEST_LIMIT bytes."""
    try:
        st = os.lstat(target)
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode):
        raw = _read_regular(target / MANIFEST)
        return raw is not None and is_govctl_manifest(raw)
    if not stat.S_ISREG(st.st_mode):
        return False
    try:
        with zipfile.ZipFile(target) as archive:
            info = archive.getinfo(MANIFEST)
            if info.file_size > MANIFEST_LIMIT:
                return False
            with archive.open(info) as handle:
                raw = handle.read(MANIFEST_LIMIT + 1)
    except (KeyError, *ZIP_READ_ERRORS):
        return False
    return len(raw) <= MANIFEST_LIMIT and is_govctl_manifest(raw)


def _read_regular(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MANIFEST_LIMIT:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(MANIFEST_LIMIT + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return raw if len(raw) <= MANIFEST_LIMIT else None


def _write_pack(history: GitHistory, target: Path, request: PackRequest,
                context: dict[str, Any], evidence: Mapping[str, Mapping[str, str]],
                observations: _ObservationsCopy, status: StatusReport,
                key: Signer | None = None) -> PackResult:
    """The pack, written beside ``target`` and installed there. ``context`` is consumed:
    its ``pack.use_cases`` and ``pack.mapping`` are let go once the documents are
    rendered."""
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
            _write_pieces(folder / name, render_pieces(template, context,
                                                       request.template_dir))
        if request.pdf:  # listed in the manifest like every file of the pack
            from govctl.documents.pdf import PDF, html_to_pdf

            _write_file(folder / PDF, html_to_pdf((folder / "index.html").read_text("utf-8")))
        # rendered: what the documents were made from goes before the evidence is copied
        # and the manifest made (2,000 use cases and their mapping rows: 130 MB)
        pack = context["pack"]
        use_case_ids = tuple(uc["use_case"]["id"] for uc in pack["use_cases"])
        pack["use_cases"] = pack["mapping"] = None
        if observations.copy is not None:
            # the file as judged, and the status computed from it (SPEC §4)
            (folder / OBSERVATIONS).mkdir()
            shutil.copyfile(observations.copy, folder / observations.context["file"])
            _write_file(folder / observations.context["status"],
                        (json.dumps(status.json(), indent=2, ensure_ascii=False) + "\n")
                        .encode("utf-8"))
        blobs: dict[str, dict[str, str]] = {}
        for sha, paths in evidence.items():
            for path, blob in paths.items():
                rel = f"{EVIDENCE}{sha}/{_safe_relative(path)}"
                out = folder / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                if history.too_large(blob):  # copied as a stream, never held whole
                    with out.open("wb") as handle:
                        for block in history.stream(blob):
                            handle.write(block)
                else:
                    _write_file(out, history.blob(blob))
                blobs[rel] = {"blob": blob, "commit": sha, "path": path}
        manifest = _manifest(folder, pack, use_case_ids, blobs)
        # written as encoded, a piece at a time: for 29,000 files the whole text and its
        # bytes were the pack's peak memory
        _write_pieces(folder / MANIFEST, chain(
            json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(manifest), ["\n"]))
        manifest_sha256 = _sha256(folder / MANIFEST)
        if key is not None:
            # manifest.json.sig: the one file the manifest does not list (SPEC §4)
            sign_manifest(key, folder / MANIFEST)
        produced = work / "pack.zip" if request.zip else folder
        if request.zip:
            _zip(folder, produced)
        # on disk before the rename publishes it: a power cut after the rename must not
        # leave an installed pack of empty files
        flush_file_system(work)
        _install(produced, target, request.force)
        # the count `govctl verify` reports: the files the manifest lists (not itself)
        return PackResult(target, len(manifest["files"]), use_case_ids, manifest_sha256,
                          key)
    except OSError as exc:
        raise GovctlError(f"cannot write the audit pack {target}: {reason(exc)}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)


def _write_pieces(path: Path, pieces: Iterable[str]) -> None:
    """Text written as UTF-8 as it is produced, a megabyte at a time."""
    with path.open("wb") as handle:
        held: list[str] = []
        size = 0
        for piece in pieces:
            held.append(piece)
            size += len(piece)
            if size >= 1 << 20:
                handle.write("".join(held).encode("utf-8"))
                held, size = [], 0
        handle.write("".join(held).encode("utf-8"))


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


def _manifest(folder: Path, pack: Mapping[str, Any], use_case_ids: Iterable[str],
              blobs: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    files = {}
    for rel in _files_under(folder):
        path = folder / rel
        entry: dict[str, Any] = {"sha256": _sha256(path), "size": path.stat().st_size}
        if rel in blobs:
            entry["git"] = blobs[rel]
        files[rel] = entry
    return {
        "version": 1,
        "govctl_version": pack["govctl_version"],
        "generated_at": pack["generated_at"],
        "as_of": pack["as_of"],
        "repository": dict(pack["repository"]),
        "use_cases": list(use_case_ids),
        "files": files,
    }


def _files_under(folder: Path) -> list[str]:
    """The relative paths of the files under ``folder``, in the order of their parts (as
    ``sorted(folder.rglob("*"))``), without a Path object each (29,000 of them)."""
    found = []
    for top, folders, names in os.walk(folder):
        folders.sort()
        base = os.path.relpath(top, folder)
        for name in names:
            if os.path.isfile(os.path.join(top, name)):
                found.append(name if base == "." else f"{base}/{name}")
    return sorted(found, key=lambda rel: rel.split("/"))


def _zip(folder: Path, destination: Path) -> None:
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # the evidence folder is there even when empty (SPEC §4 lists it in every pack)
        archive.writestr(zipfile.ZipInfo("evidence/", (1980, 1, 1, 0, 0, 0)), b"")
        for rel in _files_under(folder):
            # a fixed timestamp keeps the archive reproducible for the same content
            info = zipfile.ZipInfo(rel, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (folder / rel).read_bytes())


def _install(produced: Path, target: Path, force: bool) -> None:
    """Rename the finished pack into place; with --force the old one is moved aside first
    and removed only after the new one is in place."""
    aside = None
    if os.path.lexists(target):
        _claim(target, force)  # again: what --force moves aside (and deletes) is a pack
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
