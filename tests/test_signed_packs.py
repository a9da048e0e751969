"""Signed audit packs (SPEC §4, issue 16): `audit-pack --sign KEYFILE` signs manifest.json
with `ssh-keygen -Y sign -n govctl-audit-pack` into manifest.json.sig; `verify --expect
SHA256` and `--allowed-signers FILE` tell the pack that was built from one rewritten with
its manifest — which, outside the repository, plain `verify` calls intact (and says
"integrity only: authenticity not checked"). Real ssh-keygen, throwaway keys."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govctl.documents.manifest import git_blob_id
from tests.conftest import CliResult, init_git, require_program
from tests.factory import AS_OF, RepoFactory
from tests.history_support import APPROVAL, BOB, assert_one_line_error, commit
from tests.render_support import listing, run_cli

USE_CASE = "claims-triage"
INTEGRITY_ONLY = "integrity only: authenticity not checked"


@dataclass(frozen=True)
class Key:
    private: Path
    fingerprint: str  # SHA256:…
    allowed: Path  # an allowed-signers file listing this key only


@dataclass(frozen=True)
class Keys:
    bob: Key  # signs the packs
    eve: Key  # someone else
    locked: Path  # a key with a passphrase


def _keygen(*args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([require_program("ssh-keygen"), *args], input=data,
                          capture_output=True, check=True, start_new_session=True)


def _key(folder: Path, name: str, email: str, passphrase: str = "") -> Key:
    private = folder / name
    _keygen("-q", "-t", "ed25519", "-N", passphrase, "-C", email, "-f", str(private))
    public = " ".join(private.with_name(name + ".pub").read_text().split()[:2])
    allowed = folder / f"allowed_signers_{name}"
    # the line the pack's README asks for: `<email> <key>` from the Person record
    allowed.write_text(f"# who may sign audit packs\n{email} {public}\n")
    fingerprint = _keygen("-lf", str(private)).stdout.decode().split()[1]
    return Key(private, fingerprint, allowed)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    require_program("ssh-keygen")
    folder = tmp_path_factory.mktemp("keys")
    locked = _key(folder, "locked", "locked@acme.test", passphrase="correct horse")
    return Keys(_key(folder, "bob", BOB.email), _key(folder, "eve", "eve@evil.test"),
                locked.private)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    factory = RepoFactory(tmp_path_factory.mktemp("signed") / "repo").build()
    init_git(factory.root)
    commit(factory.root, BOB, "2026-10-01T09:00:00Z", "governance records")
    return factory.root


@dataclass(frozen=True)
class Built:
    path: Path
    sha256: str  # the manifest sha256 audit-pack printed
    stdout: str


def _build(repo: Path, out: Path, *args: object) -> Built:
    code, stdout, stderr = run_cli("audit-pack", USE_CASE, "-o", out, "--root", repo,
                                   "--as-of", AS_OF, *args)
    assert code == 0, stderr
    printed = [line.split()[2] for line in stdout.splitlines()
               if line.startswith("manifest sha256 ")]
    assert len(printed) == 1, stdout
    return Built(out, printed[0], stdout)


@pytest.fixture(scope="module", params=["folder", "zip"])
def signed(request: pytest.FixtureRequest, repo: Path, keys: Keys,
           tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A pack signed with Bob's key, as a folder and as a zip (built once each)."""
    out = tmp_path_factory.mktemp("packs") / "pack"
    extra = ("--zip",) if request.param == "zip" else ()
    built = _build(repo, out, "--sign", keys.bob.private, *extra)
    return Built(out.with_name("pack.zip") if extra else out, built.sha256, built.stdout)


@pytest.fixture(scope="module")
def signed_zip(repo: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A signed pack built with --zip (for what only a zip can hold)."""
    out = tmp_path_factory.mktemp("zip-packs") / "pack"
    built = _build(repo, out, "--sign", keys.bob.private, "--zip")
    return Built(out.with_name("pack.zip"), built.sha256, built.stdout)


def members(pack: Path) -> dict[str, bytes]:
    if pack.is_dir():
        return listing(pack)
    with zipfile.ZipFile(pack) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}


def copy_of(pack: Path, target_dir: Path,
            edit: Callable[[dict[str, bytes]], None] | None = None) -> Path:
    """The pack (folder or zip, as given) copied with ``edit`` applied to its files."""
    files = members(pack)
    if edit is not None:
        edit(files)
    out = target_dir / pack.name
    if pack.is_dir():
        for name, data in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
    else:
        with zipfile.ZipFile(out, "w") as archive:
            for name, data in files.items():
                archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return out


def verify(govctl: Callable[..., CliResult], pack: Path, *args: object,
           cwd: Path | None = None) -> CliResult:
    result = govctl("verify", pack, *args, cwd=cwd)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result


def verify_json(govctl: Callable[..., CliResult], pack: Path, *args: object,
                cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    result = verify(govctl, pack, *args, "--format", "json", cwd=cwd)
    payload = result.json()
    assert isinstance(payload, dict)
    assert payload["verified"] is (result.code == 0)
    return result.code, payload


def rewrite_evidence(files: dict[str, bytes]) -> None:
    """What issue 16 found: an evidence file rewritten together with its manifest entry —
    sha256, size and git blob id — so that plain verify outside the repository passes."""
    manifest = json.loads(files["manifest.json"])
    name = next(n for n in manifest["files"] if n.endswith("/thresholds/triage.yaml"))
    forged = files[name].replace(b"max: 0.2", b"max: 0.9")
    assert forged != files[name]
    files[name] = forged
    entry = manifest["files"][name]
    entry.update(sha256=hashlib.sha256(forged).hexdigest(), size=len(forged))
    entry["git"]["blob"] = git_blob_id(forged)
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()


# -- building ---------------------------------------------------------------------------------


def test_sign_names_the_key_and_leaves_the_signature_unlisted(signed, keys):
    assert f"with ED25519 key {keys.bob.fingerprint} ({BOB.email}) from {keys.bob.private}" \
        in signed.stdout
    assert "manifest.json and manifest.json.sig" in signed.stdout
    assert f"--allowed-signers allowed_signers --expect {signed.sha256}" in signed.stdout
    files = members(signed.path)
    assert files["manifest.json.sig"].startswith(b"-----BEGIN SSH SIGNATURE-----")
    assert hashlib.sha256(files["manifest.json"]).hexdigest() == signed.sha256
    listed = json.loads(files["manifest.json"])["files"]
    assert set(listed) == set(files) - {"manifest.json", "manifest.json.sig"}
    # the signature is ssh-keygen's own, in govctl's namespace, over these bytes
    sig = signed.path.parent / "check.sig"
    sig.write_bytes(files["manifest.json.sig"])
    checked = _keygen("-Y", "check-novalidate", "-n", "govctl-audit-pack", "-s", str(sig),
                      data=files["manifest.json"])
    assert keys.bob.fingerprint in checked.stdout.decode()


def test_the_readme_says_how_to_verify(signed):
    readme = members(signed.path)["README.md"].decode()
    assert ("govctl verify <this folder or zip> --allowed-signers allowed_signers --expect "
            "<sha256 printed at build>") in readme
    assert "`<email> <key>`" in readme and "`signing_keys`" in readme
    assert "never\n  from this pack" in readme or "never from this pack" in readme
    assert "integrity only:\n  authenticity not checked" in readme
    index = members(signed.path)["index.html"].decode()
    assert "--allowed-signers allowed_signers --expect" in index


# -- verifying ---------------------------------------------------------------------------------


def test_a_signed_pack_verifies_and_names_the_signer(govctl, signed, keys, tmp_path):
    result = verify(govctl, signed.path, "--allowed-signers", keys.bob.allowed)
    assert result.code == 0, result.stdout
    assert "intact and authentic" in result.stdout
    assert (f"signature: good, by {BOB.email} (ED25519 key {keys.bob.fingerprint}, listed "
            f"in {keys.bob.allowed})") in result.stdout
    assert INTEGRITY_ONLY not in result.stdout
    code, payload = verify_json(govctl, signed.path, "--allowed-signers", keys.bob.allowed)
    assert code == 0 and payload["intact"] and payload["authentic"] is True
    assert payload["signature"] == {"file": "manifest.json.sig", "state": "good",
                                    "signer": BOB.email,
                                    "key": f"ED25519 key {keys.bob.fingerprint}",
                                    "problem": None}


@pytest.mark.parametrize("spelling", ["plain", "prefixed", "upper", "upper-prefix"])
def test_the_right_expect_passes(govctl, signed, keys, spelling):
    value = {"plain": signed.sha256, "prefixed": f"sha256:{signed.sha256}",
             "upper": signed.sha256.upper(),
             "upper-prefix": f"SHA256:{signed.sha256.upper()}"}[spelling]
    result = verify(govctl, signed.path, "--expect", value)
    assert result.code == 0, result.stdout
    assert f"manifest sha256 {signed.sha256} (as expected)" in result.stdout
    assert INTEGRITY_ONLY not in result.stdout
    both = verify(govctl, signed.path, "--expect", value, "--allowed-signers",
                  keys.bob.allowed)
    assert both.code == 0 and "intact and authentic" in both.stdout


def test_a_wrong_expect_fails(govctl, signed):
    other = hashlib.sha256(b"another manifest").hexdigest()
    result = verify(govctl, signed.path, "--expect", other)
    assert result.code == 1
    assert f"manifest sha256 {signed.sha256} is NOT the expected {other}" in result.stdout
    assert "intact, but NOT authentic" in result.stdout
    code, payload = verify_json(govctl, signed.path, "--expect", other)
    assert code == 1 and payload["intact"] is True and payload["authentic"] is False
    assert payload["expected_sha256"] == other


@pytest.mark.parametrize("value", ["deadbeef", "sha256:", "md5:" + "a" * 64, "g" * 64,
                                   "a" * 65, "sha256:sha256:" + "a" * 64, ""])
def test_a_malformed_expect_is_a_usage_error(govctl, signed, value):
    assert_one_line_error(verify(govctl, signed.path, "--expect", value), "--expect",
                          "not a sha256")


def test_another_keys_allowed_signers_fails(govctl, signed, keys):
    result = verify(govctl, signed.path, "--allowed-signers", keys.eve.allowed)
    assert result.code == 1
    assert (f"signature: BAD: manifest.json.sig is not a signature by a key in "
            f"{keys.eve.allowed}") in result.stdout
    assert "intact, but NOT authentic" in result.stdout


def test_a_rewritten_manifest_fails_both_checks(govctl, signed, keys, tmp_path):
    forged = copy_of(signed.path, tmp_path, rewrite_evidence)
    # what issue 16 found: plain verify outside the repository cannot tell, and says so
    plain = verify(govctl, forged)
    assert plain.code == 0
    assert plain.stdout.splitlines()[-1] == INTEGRITY_ONLY
    assert "signature: manifest.json.sig NOT checked" in plain.stdout
    # the signature no longer holds for the rewritten manifest
    result = verify(govctl, forged, "--allowed-signers", keys.bob.allowed)
    assert result.code == 1
    assert (f"signature: BAD: manifest.json.sig is not a good signature of this manifest by "
            f"the key {keys.bob.allowed} lists for {BOB.email}") in result.stdout
    # and its hash is not the one printed at build
    expected = verify(govctl, forged, "--expect", signed.sha256)
    assert expected.code == 1 and "is NOT the expected" in expected.stdout


def test_a_removed_signature_fails_when_one_is_required(govctl, signed, keys, tmp_path):
    unsigned = copy_of(signed.path, tmp_path, lambda f: f.pop("manifest.json.sig"))
    result = verify(govctl, unsigned, "--allowed-signers", keys.bob.allowed)
    assert result.code == 1
    assert "signature: MISSING: no manifest.json.sig in the pack" in result.stdout
    code, payload = verify_json(govctl, unsigned, "--allowed-signers", keys.bob.allowed)
    assert code == 1 and payload["signature"]["state"] == "missing"
    # without --allowed-signers nothing is claimed about a signature either way
    plain = verify(govctl, unsigned)
    assert plain.code == 0 and "signature:" not in plain.stdout
    assert plain.stdout.splitlines()[-1] == INTEGRITY_ONLY


def test_a_signature_for_git_is_not_one_for_a_pack(govctl, signed, keys, tmp_path):
    """The same key and the same bytes, signed in git's namespace (a commit signature can
    be made to sign anything): refused."""
    def resign(files: dict[str, bytes]) -> None:
        manifest = tmp_path / "m.json"
        manifest.write_bytes(files["manifest.json"])
        _keygen("-Y", "sign", "-f", str(keys.bob.private), "-n", "git", str(manifest))
        files["manifest.json.sig"] = manifest.with_name("m.json.sig").read_bytes()

    other = tmp_path / "other"
    other.mkdir()
    result = verify(govctl, copy_of(signed.path, other, resign), "--allowed-signers",
                    keys.bob.allowed)
    assert result.code == 1 and "signature: BAD" in result.stdout


def test_a_signature_that_is_not_one_fails(govctl, signed, keys, tmp_path):
    junk = copy_of(signed.path, tmp_path,
                   lambda f: f.update({"manifest.json.sig": b"\x1b]52;c;ZXZpbA==\x07\n"}))
    result = verify(govctl, junk, "--allowed-signers", keys.bob.allowed)
    assert result.code == 1 and "signature: BAD" in result.stdout
    assert "\x1b" not in result.stdout


def test_an_oversized_signature_is_never_handed_to_ssh_keygen(govctl, signed, keys,
                                                              tmp_path):
    big = copy_of(signed.path, tmp_path,
                  lambda f: f.update({"manifest.json.sig": b"A" * (1 << 20)}))
    result = verify(govctl, big, "--allowed-signers", keys.bob.allowed)
    assert result.code == 1
    assert "signature: BAD: manifest.json.sig (larger than" in result.stdout


def test_a_signature_link_is_never_followed(govctl, repo, keys, tmp_path):
    """A folder pack whose manifest.json.sig links to a good signature outside it."""
    built = _build(repo, tmp_path / "pack", "--sign", keys.bob.private)
    outside = tmp_path / "elsewhere.sig"
    shutil.move(built.path / "manifest.json.sig", outside)
    (built.path / "manifest.json.sig").symlink_to(outside)
    code, payload = verify_json(govctl, built.path, "--allowed-signers", keys.bob.allowed)
    assert code == 1 and payload["signature"]["state"] == "bad"
    assert payload["added"] == ["manifest.json.sig (a symbolic link)"]


def test_a_manifest_cannot_list_its_own_signature(govctl, signed, keys, tmp_path):
    def listed(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        sig = files["manifest.json.sig"]
        manifest["files"]["manifest.json.sig"] = {"sha256": hashlib.sha256(sig).hexdigest(),
                                                  "size": len(sig)}
        files["manifest.json"] = json.dumps(manifest).encode()

    code, payload = verify_json(govctl, copy_of(signed.path, tmp_path, listed))
    assert code == 1
    assert payload["altered"] == ["manifest.json.sig (listed in manifest.json, which never "
                                  "lists itself or its signature)"]


def test_without_options_outside_the_repository_integrity_only(govctl, signed):
    result = verify(govctl, signed.path)
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[-1] == INTEGRITY_ONLY
    # a signature in the pack is never implied to have been checked
    assert ("signature: manifest.json.sig NOT checked (give --allowed-signers FILE to check "
            "who signed)") in lines
    assert "authentic" not in result.stdout.replace(INTEGRITY_ONLY, "")
    code, payload = verify_json(govctl, signed.path)
    assert code == 0 and payload["authentic"] is None
    assert payload["signature"]["state"] == "unchecked"


def test_inside_the_repository_the_evidence_is_checked_as_before(govctl, signed, repo):
    result = verify(govctl, signed.path, cwd=repo)
    assert result.code == 0, result.stdout
    assert "evidence checked against the repository" in result.stdout
    assert INTEGRITY_ONLY not in result.stdout


def test_an_unusable_allowed_signers_file_is_a_usage_error(govctl, signed, tmp_path):
    assert_one_line_error(verify(govctl, signed.path, "--allowed-signers",
                                 tmp_path / "missing"), "--allowed-signers", "no such file")
    empty = tmp_path / "allowed_signers"
    empty.write_text("# nobody yet\n\n")
    assert_one_line_error(verify(govctl, signed.path, "--allowed-signers", empty),
                          "lists no signer")
    assert_one_line_error(verify(govctl, signed.path, "--allowed-signers", tmp_path),
                          "not a regular file")


def test_a_wildcard_principal_is_not_presented_as_the_signer(govctl, signed, keys, tmp_path):
    """`*@acme.test <key>` lets the key sign for anyone at acme.test: the signature is by
    the key listed for that pattern, not by someone called "*@acme.test"."""
    allowed = tmp_path / "allowed_signers"
    public = " ".join(keys.bob.private.with_name("bob.pub").read_text().split()[:2])
    allowed.write_text(f"*@acme.test {public}\n")
    result = verify(govctl, signed.path, "--allowed-signers", allowed)
    assert result.code == 0, result.stdout
    assert (f"signature: good, by a key listed for *@acme.test (ED25519 key "
            f"{keys.bob.fingerprint}, listed in {allowed})") in result.stdout


def test_a_bad_signature_names_the_allowed_signers_file_given(govctl, signed, keys, tmp_path):
    """ssh-keygen reads a private copy of the file: its complaints name the user's file."""
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("not a key line\n" + keys.eve.allowed.read_text())
    result = verify(govctl, signed.path, "--allowed-signers", allowed)
    assert result.code == 1
    assert f"(ssh-keygen: {allowed}:1: " in result.stdout, result.stdout
    assert "govctl-signature-" not in result.stdout


# -- zip entries that are not files: never read, never trusted --------------------------------


def _relinked(pack: Path, out: Path, changed: str, mode: int) -> Path:
    """The zip ``pack`` rewritten with the entry ``changed`` stored with the Unix file type
    ``mode`` and its true bytes (unzip makes a symbolic link entry a link whose target is
    that text: the folder it unpacks to fails, so must the zip)."""
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            if info.filename == changed:
                entry.create_system = 3
                entry.external_attr = mode << 16
            archive.writestr(entry, source.read(info))
    return out


def _evidence(pack: Path) -> str:
    return next(n for n in members(pack) if n.startswith("evidence/") and n.endswith(APPROVAL))


_LINK = stat.S_IFLNK | 0o777


@pytest.mark.parametrize(("mode", "problem"), [
    (_LINK, "a symbolic link"), (stat.S_IFIFO | 0o644, "a named pipe"),
    (stat.S_IFCHR | 0o644, "a device"), (stat.S_IFDIR | 0o755, "a folder"),
    (stat.S_IFSOCK | 0o644, "a socket")])
def test_a_listed_zip_entry_that_is_not_a_file_fails(govctl, signed_zip, keys, tmp_path,
                                                      mode, problem):
    name = _evidence(signed_zip.path)
    pack = _relinked(signed_zip.path, tmp_path / "pack.zip", name, mode)
    code, payload = verify_json(govctl, pack, "--allowed-signers", keys.bob.allowed,
                                "--expect", signed_zip.sha256)
    assert code == 1
    assert payload["altered"] == [f"{name} ({problem})"]
    assert payload["intact"] is False and payload["signature"]["state"] == "good"
    result = verify(govctl, pack, "--allowed-signers", keys.bob.allowed)
    assert result.code == 1 and f"altered: {name} ({problem})" in result.stdout
    assert "NOT intact" in result.stdout


def test_a_signature_zip_entry_that_is_a_link_is_never_trusted(govctl, signed_zip, keys,
                                                               tmp_path):
    """The zip twin of test_a_signature_link_is_never_followed: the good signature's bytes
    as a symbolic link entry's target text."""
    pack = _relinked(signed_zip.path, tmp_path / "pack.zip", "manifest.json.sig", _LINK)
    code, payload = verify_json(govctl, pack, "--allowed-signers", keys.bob.allowed)
    assert code == 1 and payload["signature"]["state"] == "bad"
    assert payload["signature"]["problem"] == "manifest.json.sig (a symbolic link)"
    assert payload["added"] == ["manifest.json.sig (a symbolic link)"]
    result = verify(govctl, pack, "--allowed-signers", keys.bob.allowed)
    assert result.code == 1 and "intact and authentic" not in result.stdout
    assert "added: manifest.json.sig (a symbolic link)" in result.stdout


def test_a_link_entry_named_like_a_folder_fails(govctl, signed_zip, tmp_path):
    """`evidence/` as a link: unzip would write the evidence wherever it points."""
    pack = _relinked(signed_zip.path, tmp_path / "pack.zip", "evidence/", _LINK)
    code, payload = verify_json(govctl, pack)
    assert code == 1 and payload["added"] == ["evidence/ (a symbolic link)"]


@pytest.mark.parametrize("mode", [stat.S_IFREG | 0o644, 0o644, 0])
def test_zip_entries_stored_as_regular_files_pass(govctl, signed_zip, keys, tmp_path, mode):
    pack = _relinked(signed_zip.path, tmp_path / "pack.zip", _evidence(signed_zip.path), mode)
    assert verify(govctl, pack, "--allowed-signers", keys.bob.allowed).code == 0


# -- programs are never taken from the current folder -----------------------------------------


def _fake_program(folder: Path, name: str) -> Path:
    """An executable ``folder/name`` that would vouch for anything (ssh-keygen's "Good"
    line, also taken for a principal) and leaves a marker when it runs."""
    marker = folder.parent / f"{folder.name}-{name}-ran"
    program = folder / name
    program.write_text(f"#!/bin/sh\ntouch '{marker}'\n"
                       "echo 'Good \"govctl-audit-pack\" signature for x with ED25519 key "
                       "SHA256:fake'\n")
    program.chmod(0o755)
    return marker


@pytest.mark.parametrize("entry", ["dot", "empty first", "empty inside", "relative"])
def test_ssh_keygen_in_the_current_folder_is_never_run(govctl, signed, keys, tmp_path,
                                                        monkeypatch, entry):
    """`govctl verify .` inside an unpacked hostile pack that ships an `ssh-keygen`, with a
    PATH whose entries reach the current folder: the forged pack still fails."""
    forged = copy_of(signed.path, tmp_path, rewrite_evidence)
    here = tmp_path / "hostile"
    (here / "bin").mkdir(parents=True)
    markers = [_fake_program(here, "ssh-keygen"), _fake_program(here / "bin", "ssh-keygen")]
    real = os.environ.get("PATH", os.defpath)
    monkeypatch.setenv("PATH", {"dot": f".:{real}", "empty first": f":{real}",
                                "empty inside": f"{tmp_path / 'none'}::{real}",
                                "relative": f"bin:{real}"}[entry])
    code, payload = verify_json(govctl, forged, "--allowed-signers", keys.bob.allowed,
                                cwd=here)
    assert code == 1 and payload["signature"]["state"] == "bad"
    assert not any(marker.exists() for marker in markers)


def test_ssh_keygen_only_in_the_current_folder_is_not_found(govctl, signed, keys, tmp_path,
                                                            monkeypatch):
    here = tmp_path / "hostile"
    here.mkdir()
    marker = _fake_program(here, "ssh-keygen")
    monkeypatch.setenv("PATH", ".")
    assert_one_line_error(verify(govctl, signed.path, "--allowed-signers", keys.bob.allowed,
                                 cwd=here), "needs ssh-keygen", "not in a folder on PATH")
    assert not marker.exists()


def test_git_and_ssh_keygen_in_the_repository_folder_are_never_run(signed, keys, repo,
                                                                   tmp_path):
    """A fresh process (GitPython runs git as it is imported) in a repository whose work
    tree ships `git` and `ssh-keygen`, with `.` and an empty entry on PATH: verify checks
    the evidence with the real git, and the signature with the real ssh-keygen."""
    work = tmp_path / "work"
    shutil.copytree(repo, work, symlinks=True)
    markers = [_fake_program(work, "git"), _fake_program(work, "ssh-keygen")]
    env = {k: v for k, v in os.environ.items() if k != "GIT_PYTHON_GIT_EXECUTABLE"}
    env["PATH"] = f":.:{env.get('PATH', os.defpath)}"
    proc = subprocess.run([sys.executable, "-m", "govctl", "verify", str(signed.path),
                           "--allowed-signers", str(keys.eve.allowed), "--format", "json"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["checked_repository"] is True and payload["intact"] is True
    assert payload["signature"]["state"] == "bad"
    assert not any(marker.exists() for marker in markers)


# -- keys that cannot sign: exit 2, and nothing written ---------------------------------------


def _assert_nothing_written(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [], list(folder.iterdir())


@pytest.mark.parametrize("zip_it", [False, True], ids=["folder", "zip"])
def test_sign_with_a_missing_key(govctl, repo, tmp_path, zip_it):
    out = tmp_path / "out"
    out.mkdir()
    result = govctl("audit-pack", USE_CASE, "-o", out / "pack", "--root", repo, "--sign",
                    tmp_path / "no-such-key", *(["--zip"] if zip_it else []))
    assert_one_line_error(result, "--sign", "no such key file")
    _assert_nothing_written(out)


@pytest.mark.parametrize("zip_it", [False, True], ids=["folder", "zip"])
def test_sign_with_a_key_that_needs_a_passphrase(govctl, repo, keys, tmp_path, monkeypatch,
                                                 zip_it):
    """ssh-keygen runs without a terminal and without askpass: it cannot prompt, so the
    run fails at once — after the pack was built, which then is never installed."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")  # (no askpass program is ever started)
    monkeypatch.setenv("SSH_ASKPASS", str(tmp_path / "askpass-would-run"))
    out = tmp_path / "out"
    out.mkdir()
    result = govctl("audit-pack", USE_CASE, "-o", out / "pack", "--root", repo, "--sign",
                    keys.locked, *(["--zip"] if zip_it else []))
    assert_one_line_error(result, "--sign", "needs a passphrase", "ssh-add")
    _assert_nothing_written(out)


def test_a_key_with_a_passphrase_signs_from_ssh_agent(govctl, repo, keys, tmp_path,
                                                     monkeypatch):
    """As git signs commits: the key's passphrase was given to ssh-agent once."""
    agent_program, add = require_program("ssh-agent"), require_program("ssh-add")
    folder = Path(tempfile.mkdtemp(prefix="govctl-agent-"))  # (a short socket path)
    socket = folder / "agent.sock"
    agent = subprocess.Popen([agent_program, "-D", "-a", str(socket)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        askpass = tmp_path / "askpass"
        askpass.write_text("#!/bin/sh\necho 'correct horse'\n")
        askpass.chmod(0o700)
        subprocess.run([add, str(keys.locked)], stdin=subprocess.DEVNULL, capture_output=True,
                       check=True, env={**os.environ, "SSH_AUTH_SOCK": str(socket),
                                        "SSH_ASKPASS": str(askpass),
                                        "SSH_ASKPASS_REQUIRE": "force"})
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket))
        built = _build(repo, tmp_path / "pack", "--sign", keys.locked)
    finally:
        agent.terminate()
        agent.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)
    fingerprint = _keygen("-lf", str(keys.locked)).stdout.decode().split()[1]
    assert f"ED25519 key {fingerprint}" in built.stdout
    public = " ".join(keys.locked.with_name("locked.pub").read_text().split()[:2])
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"locked@acme.test {public}\n")
    result = verify(govctl, built.path, "--allowed-signers", allowed)
    assert result.code == 0 and "signature: good, by locked@acme.test" in result.stdout


@pytest.mark.parametrize("what", ["folder", "not a key", "public key only"])
def test_sign_with_something_that_is_not_a_usable_key(govctl, repo, keys, tmp_path,
                                                      monkeypatch, what):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    key = tmp_path / "key"
    if what == "folder":
        key.mkdir()
    elif what == "not a key":
        key.write_text("hello\n")
    else:  # signing needs the private key (or ssh-agent holding it)
        key.write_text(keys.bob.private.with_name("bob.pub").read_text())
    out = tmp_path / "out"
    out.mkdir()
    result = govctl("audit-pack", USE_CASE, "-o", out / "pack", "--root", repo, "--sign", key)
    assert_one_line_error(result, "--sign")
    _assert_nothing_written(out)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads any file")
def test_sign_with_an_unreadable_key(govctl, repo, keys, tmp_path):
    key = tmp_path / "key"
    shutil.copy(keys.bob.private, key)
    key.chmod(0)
    out = tmp_path / "out"
    out.mkdir()
    result = govctl("audit-pack", USE_CASE, "-o", out / "pack", "--root", repo, "--sign", key)
    assert_one_line_error(result, "--sign", "cannot read the key")
    _assert_nothing_written(out)


def test_the_key_path_never_reaches_a_shell(govctl, repo, keys, tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    key = folder / "k; touch pwned $(touch pwned2)"
    shutil.copy(keys.bob.private, key)
    key.chmod(0o600)
    built = _build(repo, tmp_path / "pack", "--sign", key)
    assert keys.bob.fingerprint in built.stdout
    assert not any(p.name.startswith("pwned") for p in Path.cwd().iterdir())
    assert not any(p.name.startswith("pwned") for p in folder.iterdir())
    assert verify(govctl, built.path, "--allowed-signers", keys.bob.allowed).code == 0


def test_force_replaces_a_signed_pack_with_an_unsigned_one(govctl, repo, keys, tmp_path):
    out = tmp_path / "pack"
    _build(repo, out, "--sign", keys.bob.private)
    assert (out / "manifest.json.sig").exists()
    _build(repo, out, "--force")
    assert not (out / "manifest.json.sig").exists()
    assert verify(govctl, out, "--allowed-signers", keys.bob.allowed).code == 1


def test_evidence_of_the_approval_is_in_the_signed_pack(signed):
    """(the rewrite above edits real evidence, not a file the pack happens not to hold)"""
    assert any(name.endswith(APPROVAL) for name in members(signed.path))
