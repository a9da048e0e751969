"""What a use case depends on: its bundle and components, models, eval sets, contract,
team and people. Cycle-safe (cycles themselves are GOV023)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from govctl.model.records import Record
from govctl.model.repository import Repository, Words


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


class _Asking:
    """A repository that notes every id asked of it (the closure's ids, found or not)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.asked: set[tuple[str, str]] = set()

    def get(self, kind: str, record_id: Any) -> Record | None:
        if isinstance(record_id, str):
            self.asked.add((kind, record_id))
        return self.repo.get(kind, record_id)


def closure_repository(load: Callable[[Words], Repository], use_case_ids: Iterable[str],
                       words: Iterable[str | tuple[str, ...]] = (),
                       reads_more: Callable[[Words, Words], bool] | None = None
                       ) -> Repository:
    """A partial repository (``load``: ``load_repository`` with ``words``) holding the use
    cases, their dependency closures and ``words``, without parsing the rest: the files
    that may spell a use case's id or the ids its closure asks for, until it asks for
    nothing new. Exact for those records (a record's file spells its kind and its id); a
    use case that is not there is simply not in it. Every record read is asked for by its
    kind and id too: a duplicate of it in a file that spells neither the words nor the
    closure (an incident of another use case, first by path, with the same id) wins in a
    full load, so it must be read here as well. ``reads_more(words, more)``: False when
    ``load`` would read no other file for ``more`` than for ``words`` (then the same
    repository: not loaded again)."""
    use_case_ids = list(use_case_ids)
    wanted: set[str | tuple[str, ...]] = {*words, *(("UseCase", i) for i in use_case_ids)}
    while True:
        repo = load(frozenset(wanted))
        asking = _Asking(repo)
        for use_case_id in use_case_ids:
            use_case = repo.get("UseCase", use_case_id)
            if use_case is not None:
                use_case_closure(asking, use_case)  # type: ignore[arg-type]
        if not asking.asked <= wanted:
            wanted |= asking.asked
            continue
        found = {(r.kind, r.id) for r in repo.records
                 if isinstance(r.id, str) and isinstance(r.kind, str)} - wanted
        if not found or (reads_more is not None
                         and not reads_more(frozenset(wanted), frozenset(wanted | found))):
            return repo
        wanted |= found
