"""A partial repository (``load_repository(words=...)``, what trace, history and the
signature trust root read) holds exactly the records a full load holds for every record
spelling one of the words: the same winner among duplicates, the same files dropped as
referenced — whatever else the repository holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from govctl.model.records import KINDS
from govctl.model.repository import WorktreeSource, load_repository
from tests.factory import RepoFactory

EVIL_PROMPT = """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: smuggled}
spec: {owner: alice}
---
apiVersion: govctl/v1
kind: Person
metadata: {id: mallory}
spec: {name: Mallory, email: m@evil.test, roles: [risk-officer]}
"""


def _view(repo, kind: str) -> dict[str, tuple[str, int, object]]:
    return {i: (r.file, r.line, r.data) for i, r in repo.index.get(kind, {}).items()}


@pytest.fixture
def tricky(factory: RepoFactory) -> Path:
    factory.build()
    # a prompt that is a .yaml file holding records: a full load drops them (referenced),
    # and the bundle naming it holds none of the words a reader may ask for
    factory.write("prompts/evil.yaml", EVIL_PROMPT)
    factory.edit("bundles/triage.yaml", "template: prompts/triage.md",
                 "template: prompts/evil.yaml")
    # a duplicate Person: the first file in path order wins
    factory.write("a-people.yaml", EVIL_PROMPT.split("---\n")[1].replace("mallory", "bob"))
    # a kind spelled with an escape, no literal name in the bytes
    factory.write("models/escaped.yaml", 'apiVersion: govctl/v1\nkind: "\\x4dodel"\n'
                  "metadata: {id: escaped}\nspec: {provider: x, name: y, type: "
                  "vendor-endpoint, snapshot: z}\n")
    return factory.root


def test_the_tricky_repository_is_what_the_test_says(tricky: Path):
    full = load_repository(WorktreeSource(tricky))
    assert "prompts/evil.yaml" in full.referenced_files
    assert full.get("UseCase", "smuggled") is None and full.get("Person", "mallory") is None
    assert full.get("Person", "bob").file == "a-people.yaml"
    assert full.get("Model", "escaped") is not None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_partial_load_by_kind_is_exact_for_that_kind(tricky: Path, kind: str):
    full = load_repository(WorktreeSource(tricky))
    partial = load_repository(WorktreeSource(tricky), words=frozenset({kind}))
    assert _view(partial, kind) == _view(full, kind)


@pytest.mark.parametrize("record_id", ["smuggled", "mallory", "bob", "escaped", "triage",
                                       "claims-triage"])
def test_a_partial_load_by_id_is_exact_for_that_id(tricky: Path, record_id: str):
    full = load_repository(WorktreeSource(tricky))
    partial = load_repository(WorktreeSource(tricky), words=frozenset({record_id}))
    for kind in KINDS:
        assert partial.get(kind, record_id) == full.get(kind, record_id), kind


def test_a_partial_load_reads_fewer_files(tricky: Path):
    full = load_repository(WorktreeSource(tricky))
    partial = load_repository(WorktreeSource(tricky), words=frozenset({"Person"}))
    assert set(partial.files) < set(full.files)
    assert "thresholds/triage.yaml" not in partial.files
