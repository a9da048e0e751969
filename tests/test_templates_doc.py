"""docs/templates.md documents the template context as an API: every key of `card` and
`pack`, nested objects included. These tests build the real contexts (a repository with
history, observations, every optional part filled in) and compare their keys with the key
tables of the document, both ways, so the document cannot drift from the code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factory import AS_OF
from tests.history_support import DAVE, commit
from tests.render_support import USE_CASE, build_history, write_observations

DOC = Path(__file__).resolve().parent.parent / "docs" / "templates.md"

# sections documented as "the same shape as" another one
SAME_SHAPE = {
    "card.bundle": "card.bundles[]",
    "card.open_incidents[]": "card.incidents[]",
    "card.last_exercise": "card.exercises[]",
    "card.exercises[].open_gaps[]": "card.exercises[].gaps[]",
    "card.exercises[].participants[]": "card.use_case.owner",
    "card.exercises[].gaps[].owner": "card.use_case.owner",
    "card.use_case.team.members[]": "card.use_case.owner",
    "card.use_case.team.oncall.escalation[]": "card.use_case.owner",
    "pack.use_cases[].approval_timeline[].approvers[]": "card.approval.approvers[]",
    "pack.use_cases[].approval_timeline[].commit": "card.approval.commit",
    "pack.use_cases[].bundle_versions[].commit": "card.approval.commit",
    "pack.use_cases[].threshold_changes[].commit": "card.approval.commit",
}
# sections that list only what they add to another one
EXTENDS = {
    "pack.use_cases[]": "card",
    "pack.use_cases[].incidents[]": "card.incidents[]",
}
# maps whose keys are data (free-form fields, metric names, commit ids), not API
FREE = re.compile(r"\.(params|features|filters|results|threshold|evidence|datasets|old|new)"
                  r"(\[\])*(\.|$)")


def documented() -> dict[str, list[str]]:
    """Section path → the keys its table lists, in order."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    in_fence = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith("#"):
            match = re.fullmatch(r"#{2,4} `((?:card|pack)[a-z_.\[\]]*)`", line.strip())
            current = match.group(1) if match else None
            if current is not None:
                assert current not in sections, f"{current} documented twice"
                sections[current] = []
            continue
        row = re.match(r"\| `([a-z_]+)` \|", line)
        if current is not None and row:
            sections[current].append(row.group(1))
    return sections


def objects_at(root: Any, path: str) -> list[dict[str, Any]]:
    """Every map found at ``path`` (``[]`` goes through every list element)."""
    found = [root]
    for token in path.split("."):
        key, many = (token[:-2], True) if token.endswith("[]") else (token, False)
        step = []
        for obj in found:
            if not isinstance(obj, dict) or obj.get(key) is None:
                continue
            value = obj[key]
            step.extend(value if many else [value])
        found = step
    return [o for o in found if isinstance(o, dict)]


def walk(obj: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, map) for every map in the context, lists written as ``[]``."""
    if isinstance(obj, dict):
        yield path, obj
        for key, value in obj.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(obj, list):
        for item in obj:
            yield from walk(item, f"{path}[]")


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The real `card` and `pack` contexts of a repository with everything filled in."""
    from govctl.documents import audit_pack as auditpack
    from govctl.documents.card import CardRequest, card_data
    from govctl.model.dates import parse_as_of
    from govctl.monitoring.sources import ObservationSource

    base = tmp_path_factory.mktemp("doc")
    history = build_history(base)
    root = history.root
    model = root / "models/chat.yaml"
    model.write_text(model.read_text().replace(
        '  lifecycle: {released: "2026-03-14"}\n',
        '  lifecycle: {released: "2026-03-14", deprecation: "2027-06-01"}\n'
        "  artifact: {uri: s3://models/chat, digest: sha256:" + "a" * 64 + "}\n"
        "  contract: {notice_days: 90, reapproval_on_change: true}\n"
        "  training: {summary: Web text., datasets: [web-2025], cutoff: 2025-12}\n"))
    incident = root / "incidents/2026-11-10.yaml"
    incident.write_text(incident.read_text() + "  actions:\n"
                        "    - {at: 2026-11-10T09:00:00Z, action: switched to fallback, "
                        "by: alice}\n  root_cause: A new region in the traffic.\n")
    (root / "exercises").mkdir(exist_ok=True)
    (root / "exercises/drill.yaml").write_text(
        "apiVersion: govctl/v1\nkind: Exercise\nmetadata: {id: drill-2026-11-12}\nspec:\n"
        f"  use_case: {USE_CASE}\n  date: 2026-11-12\n  scenario: The model fails.\n"
        "  participants: [alice]\n  gaps:\n"
        "    - {step: rollback, summary: No earlier bundle, owner: alice, due: 2026-11-20, "
        "status: open}\n    - {step: customer, summary: Nobody writes, status: closed}\n")
    commit(root, DAVE, "2026-11-20T10:00:00Z", "model details, incident actions")

    # a loosening in the working tree, not re-approved: the card shows it as proposed
    contract = root / "thresholds/triage.yaml"
    contract.write_text(contract.read_text().replace("max: 0.35", "max: 0.5"))

    as_of = parse_as_of(AS_OF)
    observations = write_observations(base, "jsonl")
    with observations.open("a", encoding="utf-8") as rows:  # a misspelt signal: ignored
        rows.write('{"use_case": "claims-triage", "signal": "drfit", "value": 0.1, '
                   '"at": "2026-11-27T10:00:00Z"}\n')
    source = ObservationSource(observations)
    card = card_data(root, CardRequest(USE_CASE, source=source), as_of)

    captured: dict[str, Any] = {}
    original = auditpack._write_pack

    def capture(*args: Any) -> Any:
        # (as given: _write_pack lets the use cases and the mapping go once rendered)
        captured["pack"] = dict(args[3]["pack"])
        return original(*args)

    auditpack._write_pack = capture  # type: ignore[assignment]
    try:
        auditpack.build_audit_pack(root, auditpack.PackRequest(
            (), True, base / "pack", source=source), as_of)
    finally:
        auditpack._write_pack = original  # type: ignore[assignment]
    return {"card": card, "pack": captured["pack"]}


def expected_keys(sections: dict[str, list[str]], path: str) -> set[str]:
    if path in SAME_SHAPE:
        return expected_keys(sections, SAME_SHAPE[path])
    keys = set(sections[path])
    if path in EXTENDS:
        keys |= expected_keys(sections, EXTENDS[path])
    return keys


def test_every_section_of_the_document_is_found_in_the_context(contexts):
    sections = documented()
    assert "card" in sections and "pack" in sections
    for path, keys in sections.items():
        assert keys, f"section {path} has no key table"
        assert len(keys) == len(set(keys)), f"{path} lists a key twice"
        found = objects_at(contexts, path)
        assert found, f"docs/templates.md documents {path}, which the context does not have"


def test_documented_top_level_card_keys_equal_what_card_context_returns(contexts):
    assert set(documented()["card"]) == set(contexts["card"])


def test_documented_top_level_pack_keys_equal_the_pack_context(contexts):
    sections = documented()
    assert set(sections["pack"]) == set(contexts["pack"])
    for use_case in contexts["pack"]["use_cases"]:
        assert expected_keys(sections, "pack.use_cases[]") == set(use_case)


def test_every_documented_object_has_exactly_its_documented_keys(contexts):
    sections = documented()
    for path in [*sections, *SAME_SHAPE]:
        want = expected_keys(sections, path)
        for obj in objects_at(contexts, path):
            assert set(obj) == want, (path, sorted(set(obj) ^ want))


def test_every_object_in_the_context_is_documented(contexts):
    sections = documented()
    known = set(sections) | set(SAME_SHAPE)
    missing = set()
    for top in ("card", "pack"):
        for path, _ in walk(contexts[top], top):
            if FREE.search(path):
                continue
            if path.startswith("pack.use_cases[].") and path not in known:
                path = "card." + path.removeprefix("pack.use_cases[].")
            for alias, same in SAME_SHAPE.items():  # inside an object of the same shape
                if path.startswith(alias + ".") or path.startswith(alias + "[]"):
                    path = same + path[len(alias):]
            if path not in known:
                missing.add(path)
    assert not missing, f"undocumented objects in the template context: {sorted(missing)}"
