"""Operational readiness of approved/production use cases (GOV040-GOV042)."""

from __future__ import annotations

from collections.abc import Iterator

from govctl.model.findings import Finding
from govctl.rules.registry import GATED_STATUSES, Context, check


@check("GOV040")
def required_signals(ctx: Context) -> Iterator[Finding]:
    reported: set[str] = set()
    for use_case in ctx.use_cases(GATED_STATUSES):
        contract = ctx.repo.get("ThresholdContract", use_case.spec["thresholds"])
        if contract is None or not contract.valid or contract.id in reported:
            continue
        missing = [s for s in ctx.policy.required_signals if s not in contract.spec["signals"]]
        if missing:
            reported.add(contract.id)
            yield ctx.finding(
                "GOV040", contract, ("spec", "signals"),
                f"ThresholdContract {contract.id!r} (used by {use_case.spec['status']} UseCase "
                f"{use_case.id!r}) misses required signal(s): {', '.join(missing)}",
                at_key=True)


@check("GOV041")
def oncall_rotation(ctx: Context) -> Iterator[Finding]:
    reported: set[str] = set()
    for use_case in ctx.use_cases(GATED_STATUSES):
        team = ctx.repo.get("Team", use_case.spec["team"])
        if team is None or not team.valid or team.id in reported:
            continue
        if not (team.spec.get("oncall") or {}).get("rotation"):
            reported.add(team.id)
            yield ctx.finding(
                "GOV041", team, ("spec",),
                f"Team {team.id!r} owns {use_case.spec['status']} UseCase {use_case.id!r} but "
                "has no on-call rotation; add oncall.rotation (who is paged on a breach)",
                at_key=True)


@check("GOV042")
def fallback_declared(ctx: Context) -> Iterator[Finding]:
    for use_case in ctx.use_cases(GATED_STATUSES):
        fallback = use_case.spec.get("fallback")
        if not (isinstance(fallback, str) and fallback.strip()):
            yield ctx.finding(
                "GOV042", use_case, ("spec",),
                f"UseCase {use_case.id!r} declares no fallback: say what happens when it is "
                "switched off", at_key=True)
