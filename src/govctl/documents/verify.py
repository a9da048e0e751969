"""`govctl verify PACK`: an audit pack checked against its manifest (SPEC §4) and, with
the repository at hand, its evidence against the git blobs it was copied from.

That is integrity: a pack rewritten together with its manifest passes it. Authenticity
comes from outside the pack: ``--expect SHA256`` (the manifest hash printed when the pack
was built) and ``--allowed-signers FILE`` (``manifest.json.sig`` must be a good SSH
signature by a listed key, see :mod:`govctl.documents.signing`).

A pack is untrusted input: nothing in it is followed or executed, and it is read as
streams whose sizes the manifest must already match.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.documents.manifest import (
    EVIDENCE,
    MANIFEST,
    MANIFEST_LIMIT,
    OBJECT_ID,
    SIGNATURE,
    ZIP_READ_ERRORS,
    name_clashes,
    name_problem,
)
from govctl.documents.signing import (
    BAD,
    MISSING,
    NO_SIGNATURE,
    SIGNATURE_LIMIT,
    UNCHECKED,
    UNSIGNED,
    AllowedSigners,
    SignatureCheck,
    allowed_signers,
    check_signature,
)
from govctl.errors import GovctlError
from govctl.history.git import GitHistory


@dataclass(frozen=True)
class Verification:
    altered: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    repository: tuple[str, ...]  # evidence that does not match the repository's blobs
    checked_repository: bool
    files: int
    manifest_sha256: str  # compare with the value printed when the pack was built
    expected_sha256: str | None = None  # --expect
    signature: SignatureCheck = NO_SIGNATURE

    @property
    def intact(self) -> bool:
        """Every file as the manifest (and, when at hand, the repository) says: integrity."""
        return not (self.altered or self.added or self.removed or self.repository)

    @property
    def expect_matches(self) -> bool | None:
        """None without --expect."""
        if self.expected_sha256 is None:
            return None
        return self.manifest_sha256 == self.expected_sha256

    @property
    def authenticity_checked(self) -> bool:
        """--expect or --allowed-signers was given: something outside the pack vouches."""
        return self.expected_sha256 is not None or self.signature.state not in (UNSIGNED,
                                                                                 UNCHECKED)

    @property
    def authentic(self) -> bool | None:
        """None when not checked; else whether every check asked for passed."""
        if not self.authenticity_checked:
            return None
        return self.expect_matches is not False and self.signature.state not in (BAD, MISSING)

    @property
    def verified(self) -> bool:
        """What the exit status says: intact, and authentic as far as it was asked."""
        return self.intact and self.authentic is not False


_SHA256 = re.compile(r"(?:sha256:)?([0-9a-f]{64})")


def expected_sha256(text: str) -> str:
    """``--expect``'s value as 64 lower-case hex digits: with or without ``sha256:``, in
    either case; anything else is a usage error."""
    match = _SHA256.fullmatch(text.strip().lower())
    if match is None:
        raise GovctlError(f"--expect {text!r} is not a sha256 (64 hex digits, optionally "
                          "prefixed sha256:): give the manifest sha256 `govctl audit-pack` "
                          "printed")
    return match.group(1)


@dataclass(frozen=True)
class _Member:
    """A file found in a pack: its size, or why it cannot be one of the pack's files."""

    size: int
    problem: str | None = None  # "a symbolic link", … : never read, never trusted


@dataclass(frozen=True)
class _Hashes:
    sha256: str
    blobs: dict[int, str]  # git blob id by length: 40 (sha1) and 64 (sha256 repositories)


# what a member of a pack is when it is not a regular file (by its file type): never read
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISDIR, "a folder"))


def _kind_problem(mode: int) -> str | None:
    """Why a file of this mode cannot be one of the pack's files (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def _zip_kind_problem(info: zipfile.ZipInfo) -> str | None:
    """The same for a zip member, by the Unix file type in its external attributes, which
    unzip tools honour (a symbolic link entry unpacks as a link to its content's text):
    whatever system the zip claims made it (Info-ZIP takes Unix modes from several, 7-Zip
    writes them beside DOS attributes). A member without a file type is a regular file."""
    mode = info.external_attr >> 16
    return _kind_problem(mode) if stat.S_IFMT(mode) else None


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
    (symbolic links, devices and pipes — in a zip, entries of those file types — are
    reported, never read), files are hashed as streams, and a file is only read when its
    size is the one the manifest records — so a link to /dev/zero or a zip bomb costs
    nothing."""

    def __init__(self, pack: Path) -> None:
        self.pack = pack
        self.archive: zipfile.ZipFile | None = None
        self.members: dict[str, _Member] = {}
        self._infos: dict[str, zipfile.ZipInfo] = {}
        if pack.is_dir():
            self._scan_folder()
        else:
            self._scan_zip()
        self._mark_clashes()

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def __enter__(self) -> _PackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _scan_folder(self) -> None:
        for folder, dirs, files in os.walk(self.pack):  # (os.walk never follows links)
            here = Path(folder)
            for name in sorted([*files, *(d for d in dirs if (here / d).is_symlink())]):
                path = here / name
                st = os.lstat(path)
                rel = path.relative_to(self.pack).as_posix()
                problem = _kind_problem(st.st_mode)
                bad_name = name_problem(rel)
                if bad_name is not None:
                    problem = f"not a normalised relative path: {bad_name}"
                self.members[rel] = _Member(st.st_size, problem)

    def _scan_zip(self) -> None:
        try:
            self.archive = zipfile.ZipFile(self.pack)
            for info in self.archive.infolist():
                # the name as stored (zipfile cuts `filename` at a NUL): SPEC §4 wants a
                # normalised relative path, which an unzip tool puts inside the folder
                raw = info.orig_filename
                bad_name = name_problem(raw[:-1] if info.is_dir() else raw)
                if bad_name is not None:
                    # never opened; named (a folder entry too: unzip creates it)
                    self.members[raw] = _Member(
                        info.file_size, f"not a normalised relative path: {bad_name}")
                    continue
                kind = _zip_kind_problem(info)
                if info.is_dir():
                    if kind in (None, "a folder") and info.file_size == 0:
                        continue  # a folder entry, as zip tools write them
                    # a link or device named like a folder (files unpacked "into" it would
                    # land where it points), or a folder entry holding data
                    self.members[raw] = _Member(info.file_size, kind if kind not in (
                        None, "a folder") else "a folder entry holding data")
                    continue
                name = info.filename
                if name in self.members:
                    # two entries under one name: tools disagree on which one a reader
                    # sees, so the second can never pass as the file the manifest vouches for
                    name = f"{name} (duplicate entry in the zip)"
                self.members[name] = _Member(info.file_size, kind)
                if kind is None:  # (a link, device or folder entry is never read)
                    self._infos[name] = info
        except ZIP_READ_ERRORS as exc:
            self.close()
            raise GovctlError(f"{self.pack}: not an audit pack folder or zip ({exc})") from None

    def _mark_clashes(self) -> None:
        """Two names that differ only by case or Unicode normalisation are one file once
        the pack is unpacked on macOS or Windows: the later one overwrites the earlier,
        so the manifest cannot vouch for what the reader sees. The look-alike (never the
        manifest or its signature) is marked, and so fails as altered or added."""
        clean = [name for name, member in self.members.items() if member.problem is None]
        for name, earlier in name_clashes(clean, first=(MANIFEST, SIGNATURE)).items():
            self.members[name] = _Member(
                self.members[name].size,
                f"the same file as {earlier!r} when unpacked on macOS or Windows: the names "
                "differ only by case or Unicode normalisation")

    def _chunks(self, name: str) -> Iterator[bytes]:
        if self.archive is None:
            with os.fdopen(_open_inside(self.pack, name), "rb") as handle:
                yield from iter(lambda: handle.read(_CHUNK), b"")
        else:
            with self.archive.open(self._infos[name]) as handle:
                yield from iter(lambda: handle.read(_CHUNK), b"")

    def hashes(self, name: str) -> _Hashes | str:
        """The file's hashes, or why it could not be read (a reason to call it altered)."""
        try:
            return _hash_stream(self._chunks(name), self.members[name].size)
        except ZIP_READ_ERRORS as exc:
            return f"unreadable: {' '.join(str(exc).split())}"

    def read(self, name: str, limit: int) -> bytes | str:
        """A small member's bytes (at most ``limit``, whatever its size claims and however
        it grows while read), or why it cannot be read."""
        member = self.members[name]
        if member.problem is not None:
            return member.problem
        if member.size > limit:
            return f"larger than {limit} bytes"
        data = bytearray()
        chunks = self._chunks(name)
        try:
            for chunk in chunks:
                data += chunk
                if len(data) > limit:
                    return f"larger than {limit} bytes"
        except ZIP_READ_ERRORS as exc:
            return f"unreadable: {' '.join(str(exc).split())}"
        finally:
            chunks.close()
        return bytes(data)

    def read_manifest(self) -> bytes:
        if MANIFEST not in self.members:
            raise GovctlError(f"{self.pack}: no {MANIFEST}; not an audit pack")
        data = self.read(MANIFEST, MANIFEST_LIMIT)
        if isinstance(data, str):
            raise GovctlError(f"{self.pack}/{MANIFEST}: not a govctl manifest ({data})")
        return data


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def _open_inside(pack: Path, name: str) -> int:
    """A file of a pack folder opened for reading one folder at a time, following no link
    (one swapped in after the scan included) and opening no pipe: never a path outside."""
    parts = name.split("/")
    fd = os.open(pack, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        handle = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0),
                         dir_fd=fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise OSError(f"{name} is not a regular file")
    return handle


def _json_object(duplicates: list[str]) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)  # json keeps the last: which one would count?
            out[key] = value
        return out

    return pairs


def _signature(reader: _PackReader, manifest: bytes, allowed: AllowedSigners | None
               ) -> SignatureCheck:
    """The pack's manifest.json.sig checked against ``allowed`` — read from the pack as
    untrusted input (no link followed, at most SIGNATURE_LIMIT bytes) and checked against
    the manifest bytes verify hashed — or only noted when nobody asked."""
    if SIGNATURE not in reader.members:
        if allowed is None:
            return NO_SIGNATURE
        return SignatureCheck(MISSING, problem=f"no {SIGNATURE} in the pack: it is not signed")
    if allowed is None:
        return SignatureCheck(UNCHECKED)
    data = reader.read(SIGNATURE, SIGNATURE_LIMIT)
    if isinstance(data, str):
        return SignatureCheck(BAD, problem=f"{SIGNATURE} ({data})")
    return check_signature(manifest, data, allowed)


def verify_pack(pack: Path, history: GitHistory | None = None, expect: str | None = None,
                allowed: AllowedSigners | None = None) -> Verification:
    """``expect``: the manifest's sha256 as :func:`expected_sha256` returns it; ``allowed``:
    the signers whose good signature the pack must carry."""
    if not pack.exists():
        raise GovctlError(f"{pack}: no such audit pack")
    with _PackReader(pack) as reader:
        raw_manifest = reader.read_manifest()
        # the signature is not in the manifest (it is made from it); one that is not a
        # plain file, or a look-alike of another name, is reported as added
        members = {k: v for k, v in reader.members.items()
                   if k != MANIFEST and not (k == SIGNATURE and v.problem is None)}
        duplicates: list[str] = []
        try:
            manifest = json.loads(raw_manifest, object_pairs_hook=_json_object(duplicates))
            listed: Mapping[str, Any] = manifest["files"]
            if not isinstance(listed, Mapping) or not all(
                    isinstance(e, Mapping) and isinstance(e.get("sha256"), str)
                    and isinstance(e.get("git") or {}, Mapping) for e in listed.values()):
                raise TypeError("files")
        except (ValueError, KeyError, TypeError, RecursionError):
            raise GovctlError(f"{pack}/{MANIFEST}: not a govctl manifest") from None
        signature = _signature(reader, raw_manifest, allowed)
        altered = [f"{MANIFEST} (names {key!r} twice)" for key in sorted(set(duplicates))]
        repository: list[str] = []
        unsafe = {name: f"manifest entry is not a normalised relative path: {problem}"
                  for name in listed if (problem := name_problem(name))}
        for name in {MANIFEST, SIGNATURE} & set(listed):
            # govctl never lists them: the manifest cannot vouch for itself, nor for the
            # signature made from it
            unsafe[name] = f"listed in {MANIFEST}, which never lists itself or its signature"
        for name, problem in sorted(unsafe.items()):
            # SPEC §4: such an entry fails, and is never looked up or opened
            altered.append(f"{name} ({problem})")
        trees: dict[str, dict[str, tuple[str, str]]] = {}  # one ls-tree per evidence commit
        for name, entry in sorted(listed.items()):
            if name in unsafe:
                continue
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
    removed = sorted(set(listed) - set(members) - set(unsafe))
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
                        hashlib.sha256(raw_manifest).hexdigest(), expect, signature)


def _evidence_entry_consistent(name: str, git: Any) -> bool:
    if not isinstance(git, Mapping):
        return False
    commit, path, blob = git.get("commit"), git.get("path"), git.get("blob")
    if not all(isinstance(v, str) for v in (commit, path, blob)):
        return False
    return (OBJECT_ID.fullmatch(commit) is not None and OBJECT_ID.fullmatch(blob) is not None
            and name == f"{EVIDENCE}{commit}/{path}")


def verify(pack: Path, root: Path | None, expect: str | None = None,
           signers: Path | None = None) -> Verification:
    """Check the pack against its manifest and, when a governance root in git is at hand,
    its evidence against the repository itself; with ``expect`` (a sha256 from
    :func:`expected_sha256`) its manifest's hash, with ``signers`` (an allowed-signers
    file) its signature."""
    allowed = allowed_signers(signers) if signers is not None else None
    if root is None:
        return verify_pack(pack, None, expect, allowed)
    with GitHistory(root) as history:
        return verify_pack(pack, history, expect, allowed)
