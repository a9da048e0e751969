"""Structural rules: references between records (GOV020), file references (GOV022),
component cycles (GOV023). Duplicate ids (GOV021) are found while indexing."""

from __future__ import annotations

from collections.abc import Iterator

from govctl.model.findings import Finding, quote
from govctl.model.records import Record, file_references, references
from govctl.model.schemas import suggest
from govctl.rules.registry import Context, check


@check("GOV020")
def unknown_references(ctx: Context) -> Iterator[Finding]:
    repo = ctx.repo
    for record in repo.records:
        for ref in references(record):
            if repo.get(ref.kind, ref.target) is None:
                known = repo.index.get(ref.kind, {})
                yield repo.locator.finding(
                    "GOV020", record, ref.path,
                    f"{quote(ref.target)} is not a known {ref.kind}{suggest(ref.target, known)}")
    if not ctx.policy.valid:
        return  # tiers cannot be checked against a policy that does not load
    tiers = ctx.policy.tiers
    for use_case in repo.of_kind("UseCase"):
        tier = use_case.spec["risk"]["tier"]
        if tier not in tiers:
            defined = ", ".join(tiers) or "none"
            yield repo.locator.finding(
                "GOV020", use_case, ("spec", "risk", "tier"),
                f"risk tier {quote(tier)} is not defined in the Policy's risk_tiers "
                f"(defined: {defined}){suggest(tier, tiers)}")


@check("GOV022")
def bad_file_references(ctx: Context) -> Iterator[Finding]:
    repo = ctx.repo
    for record in repo.records:
        for ref in file_references(record):
            _, problem = repo.source.referenced_digest(ref.target)
            if problem is not None:
                yield repo.locator.finding("GOV022", record, ref.path, problem)


@check("GOV023")
def component_cycles(ctx: Context) -> Iterator[Finding]:
    """Depth-first search without recursion; each back edge is one cycle, reported once."""
    repo = ctx.repo
    bundles = {b.id: b for b in repo.of_kind("Bundle", valid_only=False)}

    def components(bundle: Record) -> list[str]:
        items = bundle.spec.get("components")
        return [c for c in items if isinstance(c, str)] if isinstance(items, list) else []

    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    # A bundle listing the same component twice (components: [a, a]) gives two back edges
    # for one cycle: report each cycle once, keyed by its rotation starting at its least id.
    reported: set[tuple[str, ...]] = set()
    for start in sorted(bundles):
        if start in state:
            continue
        path: list[str] = [start]
        stack = [(start, iter(enumerate(components(bundles[start]))))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            for index, child in children:
                if child not in bundles:
                    continue  # GOV020
                if state.get(child) == 1:
                    cycle = [*path[path.index(child):], child]
                    key = _rotated(cycle[:-1])
                    if key in reported:
                        continue
                    reported.add(key)
                    yield repo.locator.finding(
                        "GOV023", bundles[node], ("spec", "components", index),
                        "component cycle: " + " → ".join(cycle))
                elif child not in state:
                    state[child] = 1
                    path.append(child)
                    stack.append((child, iter(enumerate(components(bundles[child])))))
                    break
            else:
                state[node] = 2
                path.pop()
                stack.pop()


def _rotated(nodes: list[str]) -> tuple[str, ...]:
    """The cycle ``nodes`` rotated to start at its least id (one key per cycle)."""
    start = nodes.index(min(nodes))
    return (*nodes[start:], *nodes[:start])
