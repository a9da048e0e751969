"""Forgery and tamper evidence (SECURITY.md): who really made an approval's deciding commit
(GOV080, SPEC §3.4) — with real SSH-signed commits — and what `govctl verify` catches in
an audit pack that was altered, extended, pruned, renamed or re-manifested, inside and
outside the repository. Where govctl cannot tell, the test says so and pins the behaviour
down, so the limit documented in SECURITY.md stays true."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govctl.documents.manifest import git_blob_id
from tests.conftest import REQUIRE_EXTERNAL, git, init_git, require_program
from tests.factory import AS_OF, BASE_FILES
from tests.history_support import (
    APPROVAL,
    APPROVAL_ID,
    BOB,
    CAROL,
    DAVE,
    POLICY,
    Who,
    commit,
    committed,
)

USE_CASE = "claims-triage"
FORGED = "approvals/claims-triage-2026-11-01.yaml"
FORGED_ID = "claims-triage-2026-11-01"
EVE = Who("Eve Outsider", "eve@elsewhere.test")  # her key is trusted by no one


def gov080(govctl: Any, root: Path) -> dict[str, dict[str, Any]]:
    """record → GOV080 finding of `validate --history` (the run itself must succeed)."""
    result = govctl("validate", "--history", "--root", root, "--format", "json", "--as-of",
                    AS_OF)
    assert result.code in (0, 1), result.stderr
    assert result.stderr == ""
    return {f["record"]: f for f in result.json()["findings"] if f["rule"] == "GOV080"}


def signed_policy(factory: Any) -> None:
    factory.files[POLICY] = BASE_FILES[POLICY].replace("provenance: author",
                                                       "provenance: signed")


# -- SSH signing ------------------------------------------------------------------------------


def _git_version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    return tuple(int(n) for n in re.findall(r"\d+", out)[:3])


@dataclass(frozen=True)
class Keys:
    private: dict[str, Path]  # email → private key file
    public: dict[str, str]  # email → public key line
    allowed: Path  # a local allowed-signers file: Bob, Carol and Dave (not Eve)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    keygen = require_program("ssh-keygen")
    require_program("git")
    if _git_version() < (2, 34):
        message = "git signs with SSH keys since 2.34"
        if REQUIRE_EXTERNAL:
            pytest.fail(f"{message} (GOVCTL_REQUIRE_EXTERNAL=1: .ci/run must install it)")
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("keys")
    private, public, lines = {}, {}, []
    for who in (BOB, CAROL, DAVE, EVE):
        key = folder / who.email.split("@")[0]
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", who.email, "-f",
                        str(key)], check=True, capture_output=True)
        private[who.email] = key
        public[who.email] = key.with_suffix(".pub").read_text().strip()
        if who is not EVE:
            lines.append(f"{who.email} {public[who.email]}")
    allowed = folder / "allowed_signers"
    allowed.write_text("\n".join(lines) + "\n")
    return Keys(private, public, allowed)


def signing_repo(factory: Any, keys: Keys) -> Path:
    """The factory repository under `provenance: signed`, git-initialised. The Person
    records hold the keys of Bob, Carol and Dave (Dave is an employee, not an approver; Eve
    has no Person record): they, not the local git configuration, are the trust root. The
    local allowed-signers file only lets the tests read `git log %G?` themselves."""
    signed_policy(factory)
    people = factory.files["people.yaml"]
    for who in (BOB, CAROL):
        people = people.replace(f"email: {who.email},",
                                f"email: {who.email}, signing_keys: ['{keys.public[who.email]}'],")
    people += ("---\napiVersion: govctl/v1\nkind: Person\nmetadata: {id: dave}\n"
               f"spec: {{name: Dave Dev, email: {DAVE.email}, "
               f"signing_keys: ['{keys.public[DAVE.email]}']}}\n")
    factory.files["people.yaml"] = people
    factory.build()
    root = init_git(factory.root)
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "gpg.ssh.allowedSignersFile", str(keys.allowed))
    return root


def signed_commit(root: Path, author: Who, key: Path, date: str, message: str) -> str:
    """Commit everything as ``author``, signed with ``key`` (whoever's it is)."""
    env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": author.name,
           "GIT_COMMITTER_EMAIL": author.email, "GIT_COMMITTER_DATE": date}
    git(root, "add", "-A")
    git(root, "-c", f"user.signingkey={key}", "commit", "-q", "-S", "-m", message, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def signature(root: Path, sha: str) -> tuple[str, str]:
    state, _, signer = git(root, "log", "-1", "--format=%G?%x1f%GS", sha).strip() \
        .partition("\x1f")
    return state, signer


def test_signed_by_the_approver_passes(factory, govctl, keys):
    root = signing_repo(factory, keys)
    sha = signed_commit(root, BOB, keys.private[BOB.email], "2026-10-01T09:00:00Z", "approve")
    assert signature(root, sha) == ("G", BOB.email)
    assert gov080(govctl, root) == {}


def test_signed_by_another_approver_than_the_author_passes(factory, govctl, keys):
    """Carol commits Bob's patch and signs it: both are approvers of it."""
    root = signing_repo(factory, keys)
    sha = signed_commit(root, BOB, keys.private[CAROL.email], "2026-10-01T09:00:00Z", "approve")
    assert signature(root, sha) == ("G", CAROL.email)
    assert gov080(govctl, root) == {}


def test_unsigned_approver_commit_is_gov080(factory, govctl, keys):
    root = signing_repo(factory, keys)
    sha = commit(root, BOB, "2026-10-01T09:00:00Z", "approve, unsigned")
    finding = gov080(govctl, root)[f"Approval/{APPROVAL_ID}"]
    assert "without a good signature (unsigned: %G? = N)" in finding["message"]
    assert sha[:7] in finding["message"] and "Bob Risk" in finding["message"]


def test_signed_by_a_key_in_no_person_record_is_gov080(factory, govctl, keys):
    """Eve signs as Bob with a key of her own, which no Person record holds."""
    root = signing_repo(factory, keys)
    sha = signed_commit(root, BOB, keys.private[EVE.email], "2026-10-01T09:00:00Z", "approve")
    state, _ = signature(root, sha)
    assert state != "G"
    finding = gov080(govctl, root)[f"Approval/{APPROVAL_ID}"]
    assert "signed by a key in no approver's signing_keys" in finding["message"]
    assert sha[:7] in finding["message"]


def test_signed_by_a_trusted_non_approver_posing_as_the_approver_is_gov080(factory, govctl,
                                                                         keys):
    """Dave's key is trusted (he is an employee), so git calls his signature good (G) —
    on a commit whose author he set to Bob. The signer, not the author line, says who
    made it: GOV080, naming Dave as the signer."""
    root = signing_repo(factory, keys)
    sha = signed_commit(root, BOB, keys.private[DAVE.email], "2026-10-01T09:00:00Z",
                        "approve (really Dave)")
    assert signature(root, sha) == ("G", DAVE.email)
    finding = gov080(govctl, root)[f"Approval/{APPROVAL_ID}"]
    message = finding["message"]
    assert "but signed by Person 'dave''s key" in message
    assert sha[:7] in message and "bob@acme.test" in message


def test_signed_decision_edited_later_unsigned_by_a_non_approver(factory, govctl, keys):
    root = signing_repo(factory, keys)
    signed_commit(root, BOB, keys.private[BOB.email], "2026-10-01T09:00:00Z", "approve")
    factory.edit(APPROVAL, "    - {person: carol, role: model-owner}\n", "")
    sha = commit(root, DAVE, "2026-10-05T09:00:00Z", "drop Carol")
    finding = gov080(govctl, root)[f"Approval/{APPROVAL_ID}"]
    assert "Dave Dev <dave@acme.test>" in finding["message"] and sha[:7] in finding["message"]


# -- author mode: the editor is named; a forged author email is the documented limit -----------


def test_approver_list_edited_later_by_a_non_approver_names_the_editor(factory, govctl):
    committed(factory, BOB)
    factory.edit(APPROVAL, "    - {person: carol, role: model-owner}\n", "")
    sha = commit(factory.root, DAVE, "2026-10-05T09:00:00Z", "drop Carol")
    finding = gov080(govctl, factory.root)[f"Approval/{APPROVAL_ID}"]
    message = finding["message"]
    assert f"committed in {sha[:7]} by Dave Dev <dave@acme.test> on 2026-10-05" in message
    assert "not one of its approvers" in message
    assert finding["file"] == APPROVAL
    assert finding["line"] == factory.line_of(APPROVAL, "approvers:")


def forged_approval(factory: Any) -> str:
    """A second approval, naming Bob and Carol, as Dave would write it by hand."""
    text = (factory.root / APPROVAL).read_text()
    text = text.replace(APPROVAL_ID, FORGED_ID).replace("date: 2026-10-01", "date: 2026-11-01")
    text = text.replace("  valid_until: 2027-03-01\n",
                        f"  valid_until: 2027-03-01\n  supersedes: {APPROVAL_ID}\n")
    return text


def test_approval_added_by_a_non_approver_naming_real_approvers(factory, govctl):
    committed(factory, BOB)
    factory.write(FORGED, forged_approval(factory))
    sha = commit(factory.root, DAVE, "2026-11-01T09:00:00Z", "approve again (forged)")
    findings = gov080(govctl, factory.root)
    assert set(findings) == {f"Approval/{FORGED_ID}"}  # Bob's own approval stays fine
    message = findings[f"Approval/{FORGED_ID}"]["message"]
    assert f"{sha[:7]} by Dave Dev <dave@acme.test>" in message
    assert "Bob Risk <bob@acme.test>" in message and "Carol Model <carol@acme.test>" in message


def test_forged_author_email_passes_author_mode_but_not_signed_mode(factory, govctl, keys):
    """The limit SECURITY.md states: an author email is free text. Dave committing as
    `Bob <bob@acme.test>` passes `provenance: author`; `signed` catches it."""
    committed(factory, BOB)
    factory.write(FORGED, forged_approval(factory))
    commit(factory.root, BOB, "2026-11-01T09:00:00Z", "really Dave, posing as Bob")
    assert gov080(govctl, factory.root) == {}  # undetectable from the author line alone

    factory.edit(POLICY, "provenance: author", "provenance: signed")
    git(factory.root, "config", "gpg.format", "ssh")
    git(factory.root, "config", "gpg.ssh.allowedSignersFile", str(keys.allowed))
    findings = gov080(govctl, factory.root)
    assert f"Approval/{FORGED_ID}" in findings
    assert "without a good signature" in findings[f"Approval/{FORGED_ID}"]["message"]


# -- audit packs: verify ------------------------------------------------------------------------


@dataclass(frozen=True)
class Packed:
    root: Path
    pack: Path
    approval: str  # the approval commit (Bob's)
    printed: str  # the manifest sha256 audit-pack printed


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Packed:
    from tests.factory import RepoFactory
    from tests.render_support import run_cli

    base = tmp_path_factory.mktemp("forgery")
    factory = RepoFactory(base / "repo")
    sha = committed(factory, BOB)
    code, out, err = run_cli("audit-pack", USE_CASE, "-o", base / "pack", "--root",
                             factory.root, "--as-of", AS_OF)
    assert code == 0, err
    printed = re.search(r"manifest sha256 ([0-9a-f]{64})", out)
    assert printed is not None, out
    return Packed(factory.root, base / "pack", sha, printed.group(1))


@pytest.fixture
def pack(packed: Packed, tmp_path: Path) -> Path:
    copy = tmp_path / "pack"
    shutil.copytree(packed.pack, copy, symlinks=True)
    return copy


def manifest(pack: Path) -> dict[str, Any]:
    data = json.loads((pack / "manifest.json").read_text())
    assert isinstance(data, dict)
    return data


def save(pack: Path, data: dict[str, Any]) -> None:
    (pack / "manifest.json").write_text(json.dumps(data, indent=2))


def verify(govctl: Any, pack: Path, cwd: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """(the text run, the json payload) of `govctl verify`."""
    text = govctl("verify", pack, cwd=cwd)
    payload = govctl("verify", pack, "--format", "json", cwd=cwd).json()
    assert payload["intact"] is (text.code == 0)
    assert "Traceback" not in text.stderr
    return text, payload


def evidence_name(packed: Packed, path: str = "thresholds/triage.yaml") -> str:
    return f"evidence/{packed.approval}/{path}"


def test_the_pristine_pack_verifies_inside_and_outside(packed, govctl, pack):
    for cwd in (None, packed.root):
        text, payload = verify(govctl, pack, cwd)
        assert text.code == 0, text.stdout
        assert payload["manifest_sha256"] == packed.printed
        assert payload["checked_repository"] is (cwd is not None)


@pytest.mark.parametrize("target", ["README.md", "index.html", "mapping.md", "evidence"])
def test_an_altered_file_is_named(packed, govctl, pack, target):
    name = evidence_name(packed) if target == "evidence" else target
    data = bytearray((pack / name).read_bytes())
    data[len(data) // 2] ^= 0x20
    (pack / name).write_bytes(bytes(data))
    for cwd in (None, packed.root):
        text, payload = verify(govctl, pack, cwd)
        assert text.code == 1
        assert payload["altered"] == [name]
        assert f"altered: {name}" in text.stdout and "NOT intact" in text.stdout


def test_added_removed_and_renamed_files_are_named(packed, govctl, pack):
    removed = evidence_name(packed, "people.yaml")
    (pack / removed).unlink()
    added = f"evidence/{packed.approval}/approvals/claims-triage-2026-12-01.yaml"
    (pack / added).write_text("a forged approval\n")
    (pack / "mapping.md").rename(pack / "mapping.txt")
    text, payload = verify(govctl, pack)
    assert text.code == 1
    assert payload["removed"] == sorted([removed, "mapping.md"])
    assert payload["added"] == sorted([added, "mapping.txt"])
    for line in (f"removed: {removed}", f"added: {added}", "removed: mapping.md",
                 "added: mapping.txt"):
        assert line in text.stdout


def test_evidence_altered_with_its_sha256_recomputed(packed, govctl, pack):
    """The manifest's sha256 edited to match: the git blob id it also records does not."""
    name = evidence_name(packed)
    doctored = (pack / name).read_bytes().replace(b"max: 0.2,", b"max: 0.9,")
    (pack / name).write_bytes(doctored)
    data = manifest(pack)
    data["files"][name].update(sha256=hashlib.sha256(doctored).hexdigest(), size=len(doctored))
    save(pack, data)
    for cwd in (None, packed.root):
        text, payload = verify(govctl, pack, cwd)
        assert text.code == 1
        assert payload["altered"] == [name]


def test_evidence_altered_with_sha256_and_blob_id_recomputed(packed, govctl, pack):
    """Everything in the pack made consistent. Inside the repository the blob is compared
    with git and the forgery shows. Outside, verify cannot know — and says the evidence
    was not checked against git; only the manifest hash printed at build time differs."""
    name = evidence_name(packed)
    doctored = (pack / name).read_bytes().replace(b"max: 0.2,", b"max: 0.9,")
    (pack / name).write_bytes(doctored)
    data = manifest(pack)
    data["files"][name].update(sha256=hashlib.sha256(doctored).hexdigest(), size=len(doctored))
    data["files"][name]["git"]["blob"] = git_blob_id(doctored)
    save(pack, data)

    inside, payload = verify(govctl, pack, packed.root)
    assert inside.code == 1
    assert payload["repository"] == [f"{name} (differs from thresholds/triage.yaml at "
                                      f"{packed.approval[:12]})"]
    assert f"not in the repository: {name}" in inside.stdout

    outside, payload = verify(govctl, pack)
    assert outside.code == 0  # NOT detectable without the repository
    assert "evidence not checked against git" in outside.stdout
    assert payload["checked_repository"] is False
    assert payload["manifest_sha256"] != packed.printed  # only the printed hash tells
    assert f"manifest sha256 {payload['manifest_sha256']}" in outside.stdout


def test_a_document_rewritten_with_its_manifest_entry(packed, govctl, pack):
    """README/index/mapping have no git origin: a consistent rewrite of one is caught by
    nothing but the manifest hash printed when the pack was built (SECURITY.md)."""
    forged = (pack / "README.md").read_bytes() + b"\nApproved unanimously by the board.\n"
    (pack / "README.md").write_bytes(forged)
    data = manifest(pack)
    data["files"]["README.md"] = {"sha256": hashlib.sha256(forged).hexdigest(),
                                  "size": len(forged)}
    save(pack, data)
    for cwd in (None, packed.root):
        text, payload = verify(govctl, pack, cwd)
        assert text.code == 0
        assert payload["manifest_sha256"] != packed.printed


def test_evidence_removed_together_with_its_manifest_entry(packed, govctl, pack):
    """An omission made consistent: verify checks what the pack holds, not what it should
    hold (rebuilding the pack from the repository and comparing is the way to know)."""
    name = evidence_name(packed)
    (pack / name).unlink()
    data = manifest(pack)
    del data["files"][name]
    save(pack, data)
    for cwd in (None, packed.root):
        text, payload = verify(govctl, pack, cwd)
        assert text.code == 0
        assert payload["manifest_sha256"] != packed.printed


def test_a_git_origin_forged_onto_a_document_is_refused(packed, govctl, pack):
    """Only evidence has a git origin; one on README.md (naming, say, an option instead of
    a commit) is a doctored manifest and never reaches git."""
    readme = (pack / "README.md").read_bytes()
    data = manifest(pack)
    data["files"]["README.md"]["git"] = {"blob": git_blob_id(readme), "commit": "--output=x",
                                         "path": "README.md"}
    save(pack, data)
    text, payload = verify(govctl, pack, packed.root)
    assert text.code == 1
    assert payload["altered"] == ["README.md (manifest entry does not match its git origin)"]
    assert not (packed.root / "x").exists()


def test_evidence_moved_to_another_commit_folder(packed, govctl, pack):
    name = evidence_name(packed)
    fake_commit = "f" * 40
    moved = f"evidence/{fake_commit}/thresholds/triage.yaml"
    (pack / moved).parent.mkdir(parents=True)
    (pack / name).rename(pack / moved)
    data = manifest(pack)
    entry = data["files"].pop(name)
    entry["git"]["commit"] = fake_commit
    data["files"][moved] = entry
    save(pack, data)
    outside, _ = verify(govctl, pack)
    assert outside.code == 0  # self-consistent: only the repository knows the commit
    inside, payload = verify(govctl, pack, packed.root)
    assert inside.code == 1
    assert payload["repository"] == [f"{moved} (commit {fake_commit[:12]} is not in the "
                                     "repository)"]


def test_links_and_special_files_in_a_pack_are_reported_not_followed(packed, govctl, pack,
                                                                     tmp_path):
    """A pack is untrusted input: README.md replaced by a link to /dev/zero must not be
    read (it would never end), and a link added or a pipe is named."""
    import os

    (pack / "README.md").unlink()
    (pack / "README.md").symlink_to("/dev/zero")
    outside_file = tmp_path / "secret.txt"
    outside_file.write_text("not part of the pack\n")
    (pack / "notes.md").symlink_to(outside_file)
    os.mkfifo(pack / "pipe")
    text, payload = verify(govctl, pack)
    assert text.code == 1
    assert payload["altered"] == ["README.md (a symbolic link)"]
    assert payload["added"] == ["notes.md (a symbolic link)", "pipe (a named pipe)"]


def test_a_manifest_that_is_a_link_is_not_a_pack(govctl, pack, tmp_path):
    real = tmp_path / "manifest.json"
    shutil.move(pack / "manifest.json", real)
    (pack / "manifest.json").symlink_to(real)
    result = govctl("verify", pack)
    assert result.code == 2
    assert result.stderr.startswith("govctl: error: ") and "a symbolic link" in result.stderr


def test_an_oversized_zip_entry_is_not_read(packed, govctl, pack, tmp_path, monkeypatch):
    """A zip entry whose size is not the manifest's is altered without being inflated (a
    zip bomb in place of a document costs nothing)."""
    from govctl.documents import verify as pack_verify

    target = tmp_path / "bomb.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(pack.rglob("*")):
            if path.is_file():
                name = path.relative_to(pack).as_posix()
                data = b"\0" * (32 << 20) if name == "index.html" else path.read_bytes()
                archive.writestr(name, data)
    hashed: list[str] = []
    real = pack_verify._PackReader.hashes

    def spy(self: Any, name: str) -> Any:
        hashed.append(name)
        return real(self, name)

    monkeypatch.setattr(pack_verify._PackReader, "hashes", spy)
    text, payload = verify(govctl, target)
    assert text.code == 1
    assert payload["altered"] == ["index.html"]
    assert "index.html" not in hashed and "README.md" in hashed
