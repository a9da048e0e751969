"""What a use case depends on: its bundle and components, models, eval sets, contract,
team and people. Cycle-safe (cycles themselves are GOV023)."""

from __future__ import annotations

from collections.abc import Mapping

from govctl.model.records import Record
from govctl.model.repository import Repository


def bundle_closure(repo: Repository, bundle_id: str) -> list[Record]:
    """The bundle and every component below it, each once, in depth-first order."""
    out: list[Record] = []
    seen: set[str] = set()
    stack = [bundle_id]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        bundle = repo.get("Bundle", current)
        if bundle is None:
            continue
        out.append(bundle)
        components = bundle.spec.get("components")
        if isinstance(components, list):
            stack.extend(reversed([c for c in components if isinstance(c, str)]))
    return out


def use_case_closure(repo: Repository, use_case: Record) -> list[Record]:
    """Every record the use case depends on, itself included (no approvals/incidents)."""
    spec = use_case.spec
    found: dict[str, Record] = {use_case.ref: use_case}

    def add(kind: str, record_id: object) -> Record | None:
        record = repo.get(kind, record_id)
        if record is not None:
            found.setdefault(record.ref, record)
        return record

    for bundle in bundle_closure(repo, spec.get("bundle")) if isinstance(
            spec.get("bundle"), str) else []:
        found.setdefault(bundle.ref, bundle)
        add("Model", bundle.spec.get("model"))
        add("EvalSet", bundle.spec.get("eval_set"))
    add("ThresholdContract", spec.get("thresholds"))
    add("Person", spec.get("owner"))
    team = add("Team", spec.get("team"))
    if team is not None:
        members = team.spec.get("members")
        oncall = team.spec.get("oncall")
        escalation = oncall.get("escalation") if isinstance(oncall, Mapping) else None
        for person in [*_ids(members), *_ids(escalation)]:
            add("Person", person)
    return list(found.values())


def developers(repo: Repository, bundle_id: object) -> dict[str, str]:
    """Person id → what they built, over the bundle's whole closure: every Bundle and the
    Model of each (``developers`` fields)."""
    out: dict[str, str] = {}
    if not isinstance(bundle_id, str):
        return out
    for bundle in bundle_closure(repo, bundle_id):
        for person in _ids(bundle.spec.get("developers")):
            out.setdefault(person, f"Bundle {bundle.id!r}")
        model = repo.get("Model", bundle.spec.get("model"))
        if model is not None:
            for person in _ids(model.spec.get("developers")):
                out.setdefault(person, f"Model {model.id!r}")
    return out


def _ids(value: object) -> list[str]:
    # (a record failing its schema still names who built it: they stay excluded)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
