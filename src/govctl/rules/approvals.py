"""Approval rules (GOV030-GOV037), checked on each use case's current approval."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from govctl.model.findings import Finding, quote
from govctl.model.graph import developers
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.rules.decisions import expiry, fill_slots, latest_decisions, required_roles, staleness
from govctl.rules.registry import ACTIVE_STATUSES, GATED_STATUSES, Context, check


def _current_pairs(ctx: Context) -> Iterator[tuple[Record, Record]]:
    """(use case, current approval) for every valid use case that is not retired.

    SPEC §1.4 restricts only GOV030, GOV040-GOV042 and GOV060 to approved/production use
    cases: an approval recorded for a use case still in intake is checked like any other.
    A retired system is listed, not gated: its last approval expiring is not an error.
    """
    for use_case in ctx.use_cases(ACTIVE_STATUSES):
        approval = ctx.current.get(use_case.id)
        if approval is not None:
            yield use_case, approval


@check("GOV030")
def missing_approval(ctx: Context) -> Iterator[Finding]:
    latest: dict[str, Record] | None = None  # computed only when a use case lacks approval
    for use_case in ctx.use_cases(GATED_STATUSES):
        if use_case.id in ctx.current:
            continue
        if latest is None:
            latest = latest_decisions(ctx.repo, ctx.today)
        rejected = latest.get(use_case.id)
        # Say which case it is: a rejection needs a new decision, not a first approval.
        why = (f"its latest decision, Approval {rejected.id!r} of {rejected.spec['date']}, "
               "is rejected" if rejected is not None else
               f"no valid Approval dated on or before {ctx.today.isoformat()} names it")
        status = use_case.spec["status"]
        yield ctx.finding("GOV030", use_case, ("spec", "status"),
                          f"UseCase {use_case.id!r} is {status!r} without a current approval "
                          f"({why}); approve it with `govctl approve` or set status: intake")


@check("GOV031", "GOV032")
def stale_approvals(ctx: Context) -> Iterator[Finding]:
    for use_case, approval in _current_pairs(ctx):
        for stale in staleness(ctx.repo, ctx.digester, approval, use_case, ctx.baseline):
            yield replace(ctx.finding(stale.rule, approval, stale.path, stale.message),
                          related=stale.related)


@check("GOV033")
def expired_approvals(ctx: Context) -> Iterator[Finding]:
    # No early return on an invalid Policy: `valid_until` needs no policy, and a schema
    # error in governance.yaml must not hide an expired approval. (An invalid Policy has
    # no tiers, so only the tier's max validity is skipped.)
    for use_case, approval in _current_pairs(ctx):
        expired = expiry(ctx.policy, approval, use_case, ctx.today)
        if expired is not None:
            yield ctx.finding("GOV033", approval, expired.path, expired.message)


@check("GOV034", "GOV035", "GOV037", "GOV038")
def approver_rules(ctx: Context) -> Iterator[Finding]:
    for use_case, approval in _current_pairs(ctx):
        yield from approver_findings(ctx, approval, use_case)


def approver_findings(ctx: Context, approval: Record, use_case: Record) -> Iterator[Finding]:
    """GOV035 (owner approving), GOV037 (unknown person / role not held), GOV038 (not
    independent for the role), GOV034 (roles not filled by the approvers that count). Also
    used by `govctl approve`."""
    repo: Repository = ctx.repo
    owner = use_case.spec["owner"]
    separation = ctx.policy.separation_of_duties
    eligible: list[tuple[str, str]] = []
    for i, entry in enumerate(approval.spec["approvers"]):
        person_id, role = entry["person"], entry["role"]
        person = repo.get("Person", person_id)
        if person is None:
            yield ctx.finding("GOV037", approval, ("spec", "approvers", i, "person"),
                              f"approver {quote(person_id)} is not a known Person")
            continue
        if not person.valid:
            # Its roles cannot be trusted (GOV010 says why, on the Person), so it does not
            # count toward GOV034; say so here too, where `govctl approve` shows it.
            yield ctx.finding(
                "GOV037", approval, ("spec", "approvers", i, "person"),
                f"approver {quote(person_id)} has a Person record that fails its schema (GOV010 "
                f"in {person.file}); it cannot count until that is fixed")
            continue
        name = person.spec["name"]
        held = person.spec.get("roles") or []
        if role not in held:
            yield ctx.finding(
                "GOV037", approval, ("spec", "approvers", i, "role"),
                f"{name} ({person_id}) does not hold role {quote(role)} "
                f"(holds: {', '.join(held) or 'no roles'})")
            continue
        if separation and person_id == owner:
            yield ctx.finding(
                "GOV035", approval, ("spec", "approvers", i, "person"),
                f"separation of duties: {name} ({person_id}) owns UseCase "
                f"{use_case.id!r} and cannot count as its approver")
            continue
        conflict = _not_independent(ctx, use_case, person_id, role)
        if conflict is not None:
            yield ctx.finding(
                "GOV038", approval, ("spec", "approvers", i, "person"),
                f"independence: {name} ({person_id}) {conflict}, so cannot count as "
                f"{quote(role)} for UseCase {use_case.id!r} (Policy independence."
                f"{role}: {', '.join(ctx.policy.independence[role])})")
            continue
        eligible.append((person_id, role))
    if not ctx.policy.valid or use_case.spec["risk"]["tier"] not in ctx.policy.tiers:
        return  # no policy to hold the approvers to (GOV020 names the missing tier)
    required = required_roles(ctx.policy, use_case)
    filled = fill_slots(required, eligible)
    short = [f"{role} needs {n}, has {filled[role]}" for role, n in sorted(required.items())
             if filled[role] < n]
    if short:
        yield ctx.finding(
            "GOV034", approval, ("spec", "approvers"),
            f"approvers do not satisfy the required roles for UseCase {use_case.id!r}: "
            f"{'; '.join(short)} (tier {quote(use_case.spec['risk']['tier'])}"
            f"{_exposure_note(ctx, use_case)}; the owner and unheld roles do not count)",
            at_key=True)


def _not_independent(ctx: Context, use_case: Record, person_id: str, role: str
                     ) -> str | None:
    """Why the person may not be counted in the role (Policy ``independence``), or None.
    Owner, developers and team are read from the records as they are now (SPEC §1.2)."""
    excluded = ctx.policy.independence.get(role, ())
    if "owner" in excluded and person_id == use_case.spec["owner"]:
        return f"owns UseCase {use_case.id!r}"
    if "developers" in excluded:
        built = developers(ctx.repo, use_case.spec["bundle"]).get(person_id)
        if built is not None:
            return f"is a developer of {built}"
    if "team" in excluded:
        team = ctx.repo.get("Team", use_case.spec["team"])
        members = team.spec.get("members") if team is not None else None
        if team is not None and isinstance(members, list) and person_id in members:
            return f"is a member of the owning Team {team.id!r}"
    return None


def _exposure_note(ctx: Context, use_case: Record) -> str:
    exposure = use_case.spec["risk"].get("exposure_usd")
    rules = [r for r in ctx.policy.exposure_rules
             if exposure is not None and exposure >= r.min_usd]
    if not rules:
        return ""
    return f", exposure {exposure:,} USD ≥ {max(r.min_usd for r in rules):,.0f} USD"


@check("GOV036")
def eval_results_breach(ctx: Context) -> Iterator[Finding]:
    for _, approval in _current_pairs(ctx):
        yield from eval_breach_findings(ctx, approval)


def judging(signals: Mapping[str, Mapping[str, Any]], result: str
            ) -> list[tuple[str, Mapping[str, Any]]]:
    """The contract signals that judge an eval result recorded under ``result``: a metric
    name, or a signal name (`govctl approve --eval-result` accepts both)."""
    return [(name, signal) for name, signal in signals.items()
            if signal.get("metric") == result or name == result]


def approved_contract(ctx: Context, approval: Record) -> Record | None:
    """The contract content the approval binds (SPEC §3.3): the record when its digest is
    the bound one, else what the caller's history lookup finds; None when unknown."""
    bound = approval.spec["thresholds"]
    named = ctx.repo.get("ThresholdContract", bound["id"])
    if named is not None and named.valid and ctx.digester.try_contract(named) == bound["digest"]:
        return named
    return ctx.approved(approval) if ctx.approved is not None else None


def eval_breach_findings(ctx: Context, approval: Record) -> Iterator[Finding]:
    # judged against what the approval bound, not a contract edited since (which GOV032
    # reports): a loosening must not excuse, nor a tightening condemn, a past decision
    contract = approved_contract(ctx, approval)
    basis = "as approved"
    if contract is None:  # the approved content is not known: the records' (GOV032 fires)
        contract = ctx.repo.get("ThresholdContract", approval.spec["thresholds"]["id"])
        basis = "in the records (the approved content was not found)"
    results = (approval.spec.get("eval") or {}).get("results") or {}
    if contract is None or not contract.valid:
        return
    for metric, value in results.items():
        for name, signal in judging(contract.spec["signals"], metric):
            low, high = signal.get("min"), signal.get("max")
            if high is not None and value > high:
                bound = f"max {high}"
            elif low is not None and value < low:
                bound = f"min {low}"
            else:
                continue
            yield ctx.finding(
                "GOV036", approval, ("spec", "eval", "results", metric),
                f"eval result {metric} = {value} recorded at approval breaches "
                f"ThresholdContract {contract.id!r} {basis}: signal {name!r} requires "
                f"{bound}")
