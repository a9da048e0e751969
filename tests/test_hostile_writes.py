"""Writes that cannot be hijacked (SPEC §3 conventions, issue 14): `card -o`, `export -o` and
`audit-pack -o` never write through a symbolic link (dangling or not, with or without
--force), never into the governance repository (also not through a linked folder), and
--force replaces only what govctl itself wrote: a regular file for card/export, a pack
whose manifest.json has govctl's shape for audit-pack — never a folder that merely holds
a file named manifest.json."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from govctl.documents.manifest import is_govctl_manifest
from tests.factory import AS_OF
from tests.history_support import assert_one_line_error, committed

USE_CASE = "claims-triage"
FILE_WRITERS = {
    "card": ("card", USE_CASE, "--as-of", AS_OF),
    "card-html": ("card", USE_CASE, "--format", "html", "--as-of", AS_OF),
    "prometheus-rules": ("export", "prometheus-rules", "--as-of", AS_OF),
    "alertmanager-routes": ("export", "alertmanager-routes"),
}


def tree(folder: Path) -> dict[str, Any]:
    """Everything under ``folder``, links as links (their text), files with their bytes."""
    out: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_file():
            out[rel] = ("file", path.read_bytes(), path.stat().st_ino)
        else:
            out[rel] = ("dir",)
    return out


@pytest.fixture
def repo(factory: Any) -> Path:
    committed(factory)
    return factory.root


# -- card -o / export -o ----------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("writer", FILE_WRITERS)
def test_file_output_never_follows_a_dangling_link(repo, govctl, tmp_path, writer, force):
    """A committed dangling link (docs/card.md -> ~/.bashrc-to-be) would have created the
    file wherever it points."""
    out, victim = tmp_path / "checkout", tmp_path / "victim"
    out.mkdir()
    victim.mkdir()
    link = out / "result.txt"
    link.symlink_to(victim / "created.txt")
    before = tree(tmp_path / "checkout"), tree(victim)
    result = govctl(*FILE_WRITERS[writer], "--root", repo, "-o", link,
                    *(("--force",) if force else ()))
    assert_one_line_error(result, str(link), "symbolic link")
    assert (tree(out), tree(victim)) == before
    assert not (victim / "created.txt").exists()


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("writer", FILE_WRITERS)
def test_file_output_never_replaces_a_links_target(repo, govctl, tmp_path, writer, force):
    """--force used to replace the file the link points at."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    victim.chmod(0o600)
    link = tmp_path / "result.txt"
    link.symlink_to(victim)
    before = victim.read_bytes(), victim.stat().st_ino
    result = govctl(*FILE_WRITERS[writer], "--root", repo, "-o", link,
                    *(("--force",) if force else ()))
    assert_one_line_error(result, str(link), "symbolic link")
    assert (victim.read_bytes(), victim.stat().st_ino) == before
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["victim.txt", "result.txt", "repo"])  # no temporary file left either


@pytest.mark.parametrize("writer", ["card", "prometheus-rules"])
def test_force_replaces_only_a_regular_file(repo, govctl, tmp_path, writer):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep\n")
    for target, fragment in ((fifo, "not a regular file"), (folder, "is a directory")):
        for extra in ((), ("--force",)):
            result = govctl(*FILE_WRITERS[writer], "--root", repo, "-o", target, *extra)
            assert_one_line_error(result, str(target), fragment)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert tree(folder) == {"keep.txt": ("file", b"keep\n", (folder / "keep.txt").stat().st_ino)}


@pytest.mark.parametrize("writer", FILE_WRITERS)
def test_file_output_through_a_linked_folder_into_the_root_is_refused(repo, govctl,
                                                                      tmp_path, writer):
    """`-o outside/docs/x` where outside/docs links into the governance root: the folder is
    resolved before the check, so nothing is written into the repository."""
    (repo / "docs").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "docs").symlink_to(repo / "docs")
    before = tree(repo)
    for extra in ((), ("--force",)):
        result = govctl(*FILE_WRITERS[writer], "--root", repo, "-o",
                        outside / "docs" / "result.txt", *extra)
        assert_one_line_error(result, "inside the governance root")
    assert tree(repo) == before


def test_force_still_replaces_an_earlier_output_file(repo, govctl, tmp_path):
    target = tmp_path / "card.md"
    assert govctl(*FILE_WRITERS["card"], "--root", repo, "-o", target).code == 0
    old_inode = target.stat().st_ino
    result = govctl(*FILE_WRITERS["card-html"], "--root", repo, "-o", target, "--force")
    assert result.code == 0, result.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert target.stat().st_ino != old_inode and not target.is_symlink()


# -- audit-pack -o ------------------------------------------------------------------------------


def pack(govctl: Any, repo: Path, out: Path, *extra: object) -> Any:
    return govctl("audit-pack", USE_CASE, "-o", out, "--root", repo, "--as-of", AS_OF, *extra)


def browser_extension(folder: Path) -> Path:
    """A folder that holds a manifest.json that govctl did not write."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "background.js").write_text("chrome.runtime.onInstalled;\n")
    (folder / "manifest.json").write_text(json.dumps(
        {"manifest_version": 3, "name": "My extension", "version": "1.0"}))
    return folder


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_audit_pack_never_deletes_a_folder_with_a_foreign_manifest(repo, govctl, tmp_path,
                                                                   force):
    folder = browser_extension(tmp_path / "extension")
    before = tree(folder)
    result = pack(govctl, repo, folder, *(("--force",) if force else ()))
    assert_one_line_error(result, str(folder), "not an audit pack", "even with --force")
    assert tree(folder) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


MANIFEST_NEAR_MISSES = {
    "version-as-text": {"version": "1", "govctl_version": "0.1", "files": {}},
    "version-as-bool": {"version": True, "govctl_version": "0.1", "files": {}},
    "no-govctl-version": {"version": 1, "files": {}},
    "files-as-list": {"version": 1, "govctl_version": "0.1", "files": []},
    "not-an-object": [1, 2, 3],
}


@pytest.mark.parametrize("manifest", MANIFEST_NEAR_MISSES.values(), ids=MANIFEST_NEAR_MISSES)
def test_force_needs_a_manifest_of_govctls_shape(repo, govctl, tmp_path, manifest):
    folder = tmp_path / "almost"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "data.csv").write_text("a,b\n")
    before = tree(folder)
    assert_one_line_error(pack(govctl, repo, folder, "--force"), "not an audit pack")
    assert tree(folder) == before
    assert not is_govctl_manifest(json.dumps(manifest).encode())


def test_force_never_trusts_a_manifest_that_is_a_link(repo, govctl, tmp_path):
    real = pack(govctl, repo, tmp_path / "real")
    assert real.code == 0, real.stderr
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8")
    (folder / "manifest.json").symlink_to(tmp_path / "real" / "manifest.json")
    before = tree(folder)
    assert_one_line_error(pack(govctl, repo, folder, "--force"), "not an audit pack")
    assert tree(folder) == before


def test_zip_force_needs_a_govctl_manifest_inside(repo, govctl, tmp_path):
    archive = tmp_path / "extension.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("manifest.json", json.dumps({"manifest_version": 3, "version": "2"}))
        handle.writestr("src/a.js", "x")
    before = archive.read_bytes()
    result = pack(govctl, repo, archive, "--zip", "--force")
    assert_one_line_error(result, "not an audit pack")
    assert archive.read_bytes() == before


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_audit_pack_never_writes_through_a_link(repo, govctl, tmp_path, as_zip, force):
    """A link to an earlier pack (which --force could replace) and a dangling link are both
    refused: the link stays, what it points at is untouched or never created."""
    name = "pack.zip" if as_zip else "pack"
    extra = (("--zip",) if as_zip else ()) + (("--force",) if force else ())
    earlier = tmp_path / "packs" / name
    earlier.parent.mkdir()
    assert pack(govctl, repo, earlier, *(("--zip",) if as_zip else ())).code == 0
    before = tree(earlier.parent)
    links = tmp_path / "links"
    links.mkdir()
    (links / name).symlink_to(earlier)
    assert_one_line_error(pack(govctl, repo, links / name, *extra), "symbolic link")
    dangling = links / f"dangling-{name}"
    dangling.symlink_to(tmp_path / "nowhere" / name)
    assert_one_line_error(pack(govctl, repo, dangling, *extra), "symbolic link")
    assert tree(earlier.parent) == before
    assert not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in links.iterdir()) == sorted([name, f"dangling-{name}"])


def test_audit_pack_force_still_replaces_its_own_pack(repo, govctl, tmp_path):
    out = tmp_path / "pack"
    assert pack(govctl, repo, out).code == 0
    (out / "stray.txt").write_text("x\n")
    result = pack(govctl, repo, out, "--force")
    assert result.code == 0, result.stderr
    assert not (out / "stray.txt").exists()
    assert govctl("verify", out, cwd=repo).code == 0


def test_audit_pack_through_a_linked_folder_into_the_root_is_refused(repo, govctl, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "docs").symlink_to(repo)
    before = tree(repo)
    for extra in ((), ("--force",), ("--zip", "--force")):
        result = pack(govctl, repo, outside / "docs" / "pack", *extra)
        assert_one_line_error(result, "inside the governance root")
    assert tree(repo) == before


# -- init --force -------------------------------------------------------------------------------


def test_init_force_refuses_a_link_before_writing_anything(govctl, tmp_path):
    """--force adds the scaffold's files over regular files only: a scaffold file that is a
    link is refused up front, so nothing is half-written."""
    target = tmp_path / "gov"
    target.mkdir()
    (target / "mine.txt").write_text("mine\n")
    victim = tmp_path / "victim.yaml"
    victim.write_text("precious\n")
    (target / "people.yaml").symlink_to(victim)
    before = tree(target)
    result = govctl("init", target, "--force")
    assert_one_line_error(result, "people.yaml", "symbolic link")
    assert tree(target) == before
    assert victim.read_text() == "precious\n"
