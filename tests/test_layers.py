"""The folders are the layers: imports point down, and no module imports itself in a
circle (README "Code layout"; tests/layering.py says how imports are read)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from tests.layering import LAYERS, cycles, imports, layer, upward

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "govctl"
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "errors.py"}


def test_imports_point_down_the_layers():
    bad = upward(imports(PACKAGE))
    assert not bad, "imports against the layer order:\n" + "\n".join(map(str, bad))


def test_there_are_no_import_cycles():
    found = cycles(PACKAGE, imports(PACKAGE))
    assert not found, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_the_top_level_holds_only_packages_and_the_named_modules():
    loose = {p.name for p in PACKAGE.iterdir() if p.suffix == ".py"}
    assert loose == TOP_LEVEL_MODULES
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {*LAYERS, "cache"}


def test_package_inits_hold_no_imports():
    """An ``__init__`` runs before every module of its package: code there couples them all."""
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent == PACKAGE:
            continue  # govctl/__init__.py: the version only
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert [type(node).__name__ for node in tree.body] == ["Expr"], init


def test_every_layer_is_imported_somewhere_and_the_checker_sees_lazy_imports():
    """The checker really reads the code: it finds the known lazy import of the cache in
    the repository index, and edges into every layer below cli."""
    edges = imports(PACKAGE)
    assert any(e.importer == "govctl.model.repository" and e.imported == "govctl.cache.parses"
               for e in edges)
    reached = {layer(e.imported) for e in edges}
    assert set(LAYERS[:-1]) <= reached


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "govctl"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_lazy_upward_import_fails(copy: Path):
    _append(copy / "model" / "records.py",
            "\n\ndef _up() -> None:\n    from govctl.report.text import render  # noqa\n")
    bad = upward(imports(copy))
    assert [(e.importer, e.imported) for e in bad] == [
        ("govctl.model.records", "govctl.report.text")]


def test_a_relative_upward_import_fails(copy: Path):
    _append(copy / "digest" / "canonical.py", "\nfrom ..rules import registry  # noqa\n")
    bad = upward(imports(copy))
    assert [(e.importer, e.imported) for e in bad] == [
        ("govctl.digest.canonical", "govctl.rules.registry")]


def test_cache_may_import_only_model(copy: Path):
    _append(copy / "cache" / "store.py", "\nfrom govctl.digest import canonical  # noqa\n")
    assert [(e.importer, e.imported) for e in upward(imports(copy))] == [
        ("govctl.cache.store", "govctl.digest.canonical")]


def test_a_type_checking_import_is_exempt(copy: Path):
    _append(copy / "model" / "records.py",
            "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
            "    from govctl.cli.app import app  # noqa\n")
    assert upward(imports(copy)) == []


def test_a_cycle_fails(copy: Path):
    # history.diff imports rules.changes; the reverse closes a circle (and points up)
    _append(copy / "rules" / "changes.py",
            "\n\ndef _back() -> None:\n    from govctl.history import diff  # noqa\n")
    found = cycles(copy, imports(copy))
    assert any({"govctl.history.diff", "govctl.rules.changes"} <= set(c) for c in found)


def test_a_cycle_within_one_layer_fails(copy: Path):
    # a package __init__ that imports its own modules runs before them: a circle
    _append(copy / "rules" / "__init__.py", "\nfrom govctl.rules import registry  # noqa\n")
    found = cycles(copy, imports(copy))
    assert any({"govctl.rules", "govctl.rules.registry"} <= set(c) for c in found)
    assert upward(imports(copy)) == []  # same layer: only the cycle check sees it


def test_a_new_top_level_module_must_get_a_layer(copy: Path):
    (copy / "helpers.py").write_text("from govctl.model import records  # noqa\n")
    assert [(e.importer, e.imported) for e in upward(imports(copy))] == [
        ("govctl.helpers", "govctl.model.records")]
