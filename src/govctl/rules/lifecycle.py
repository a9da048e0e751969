"""Model and evaluation lifecycle (GOV050, GOV051, GOV060, GOV061)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from govctl.model.dates import add_days, parse_date
from govctl.model.findings import Finding, quote
from govctl.model.graph import bundle_closure
from govctl.model.records import Record
from govctl.rules.registry import ACTIVE_STATUSES, GATED_STATUSES, Context, check


def _models_in_use(ctx: Context, statuses: tuple[str, ...]) -> dict[str, list[str]]:
    """Model id → "UseCase u (Bundle a → b)" for every use in the given statuses."""
    uses: dict[str, list[str]] = {}
    for use_case in ctx.use_cases(statuses):
        chain = bundle_closure(ctx.repo, use_case.spec["bundle"])
        for bundle in chain:
            model = bundle.spec.get("model")
            if not isinstance(model, str):  # a malformed bundle (GOV010) names no model
                continue
            via = f"Bundle {bundle.id!r}" if bundle is chain[0] else (
                f"component Bundle {bundle.id!r} of {chain[0].id!r}")
            uses.setdefault(model, []).append(f"UseCase {use_case.id!r} via {via}")
    return uses


@check("GOV050", "GOV051")
def model_lifecycle(ctx: Context) -> Iterator[Finding]:
    in_production = _models_in_use(ctx, ("production",))
    in_use = _models_in_use(ctx, ACTIVE_STATUSES)
    for model_id, uses in sorted(in_use.items()):
        model = ctx.repo.get("Model", model_id)
        if model is None or not model.valid:
            continue
        lifecycle = model.spec.get("lifecycle") or {}
        notice = (model.spec.get("contract") or {}).get(
            "notice_days", ctx.policy.deprecation_notice_days)
        for event in ("deprecation", "retirement"):
            day = parse_date(lifecycle.get(event))
            if day is None:
                continue
            path = ("spec", "lifecycle", event)
            if event == "retirement" and ctx.today >= day and model_id in in_production:
                yield ctx.finding(
                    "GOV051", model, path,
                    f"Model {model_id!r} was retired on {day.isoformat()} and still serves "
                    f"production: {'; '.join(in_production[model_id])}; move to a supported "
                    "model and re-approve")
            elif ctx.today >= add_days(day, -notice):
                when = _relative(day, ctx)
                yield ctx.finding(
                    "GOV050", model, path,
                    f"Model {model_id!r} {event} on {day.isoformat()} ({when}; notice window "
                    f"{notice} days) affects {'; '.join(uses)}")


def _relative(day: date, ctx: Context) -> str:
    delta = (day - ctx.today).days
    if delta > 0:
        return f"in {delta} days"
    return "today" if delta == 0 else f"{-delta} days ago"


def _eval_sets(ctx: Context, use_case: Record) -> list[Record]:
    found: dict[str, Record] = {}
    for bundle in bundle_closure(ctx.repo, use_case.spec["bundle"]):
        eval_set = ctx.repo.get("EvalSet", bundle.spec.get("eval_set"))
        if eval_set is not None and eval_set.valid:
            found.setdefault(eval_set.id, eval_set)
    return list(found.values())


@check("GOV060")
def eval_age(ctx: Context) -> Iterator[Finding]:
    max_age = ctx.policy.eval_max_age_days
    users: dict[str, list[str]] = {}  # eval set id → the gated use cases relying on it
    sets: dict[str, Record] = {}
    for use_case in ctx.use_cases(GATED_STATUSES):
        for eval_set in _eval_sets(ctx, use_case):
            sets.setdefault(eval_set.id, eval_set)
            users.setdefault(eval_set.id, []).append(use_case.id)
    for eval_id, eval_set in sets.items():
        collected = parse_date(eval_set.spec["collected"])
        if collected is None:
            continue
        age = (ctx.today - collected).days
        if age > max_age:
            names = ", ".join(repr(u) for u in users[eval_id])
            yield ctx.finding(
                "GOV060", eval_set, ("spec", "collected"),
                f"EvalSet {eval_id!r} was collected {age} days ago "
                f"({eval_set.spec['collected']}), older than eval_max_age_days {max_age} "
                f"(used by UseCase {names}); collect a fresh evaluation set")


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


@check("GOV061")
def eval_population(ctx: Context) -> Iterator[Finding]:
    # Like the approval rules it follows: every use case but retired ones.
    for use_case in ctx.use_cases(ACTIVE_STATUSES):
        approval = ctx.current.get(use_case.id)
        if approval is not None:
            yield from eval_population_findings(ctx, approval, use_case)


def eval_population_findings(ctx: Context, approval: Record, use_case: Record
                             ) -> Iterator[Finding]:
    """GOV061 for one approval (also for the one `govctl approve` is about to write)."""
    bound = approval.spec.get("eval") or {}
    bundle = ctx.repo.get("Bundle", use_case.spec["bundle"])
    eval_id = bound.get("id") or (bundle.spec.get("eval_set") if bundle else None)
    eval_set = ctx.repo.get("EvalSet", eval_id)
    if eval_set is None or not eval_set.valid:
        return
    population = approval.spec["population"]
    if _normal(eval_set.spec["population"]) != _normal(population):
        yield ctx.finding(
            "GOV061", approval, ("spec", "population"),
            f"approval covers population {quote(population)} but EvalSet {eval_set.id!r} "
            f"sampled {quote(eval_set.spec['population'])}")
