"""Risk tiers the policy does not allow (GOV070)."""

from __future__ import annotations

from collections.abc import Iterator

from govctl.model.findings import Finding
from govctl.rules.registry import ACTIVE_STATUSES, Context, check


@check("GOV070")
def prohibited_tier(ctx: Context) -> Iterator[Finding]:
    if not ctx.policy.valid:
        return
    for use_case in ctx.use_cases(ACTIVE_STATUSES):
        tier = ctx.policy.tiers.get(use_case.spec["risk"]["tier"])
        if tier is not None and not tier.allowed:
            yield ctx.finding(
                "GOV070", use_case, ("spec", "risk", "tier"),
                f"UseCase {use_case.id!r} is in risk tier {tier.name!r}, which the policy does "
                "not allow (allowed: false); it may not be built or run")
