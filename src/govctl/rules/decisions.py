"""Approvals as decisions: which one is current (SPEC §1.4), whether it still holds,
and whether its approvers fill the roles the policy requires."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.dates import add_days, parse_date
from govctl.model.findings import Related
from govctl.model.policy import Policy, RoleRequirement
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.rules.changes import FieldChange, describe
from govctl.rules.compare import Comparison, Revision, related


def approvals_of(repo: Repository, use_case_id: str) -> list[Record]:
    return repo.of_use_case("Approval", use_case_id)


def latest_decisions(repo: Repository, today: date | None = None) -> dict[str, Record]:
    """Use case id → its latest decision, whatever it decided (SPEC §1.4).

    Among the approvals naming a use case that no other approval supersedes, the latest
    by ``date`` (ties: the greatest id). Approvals dated after ``today`` (``--as-of``) had
    not been made yet and are ignored — and so is what they supersede — so "was this
    approved on the day of the incident?" has the right answer.
    """

    def in_force(approval: Record) -> bool:
        day = parse_date(approval.spec["date"])
        return today is None or day is None or day <= today

    made = [a for a in repo.of_kind("Approval") if in_force(a)]
    # "No *other* Approval supersedes": an approval naming itself does not retire itself.
    superseded = {a.spec.get("supersedes") for a in made if a.spec.get("supersedes") != a.id}
    latest: dict[str, Record] = {}
    for approval in made:
        if approval.id in superseded:
            continue
        use_case = approval.spec["use_case"]
        held = latest.get(use_case)
        if held is None or (approval.spec["date"], approval.id) > (held.spec["date"], held.id):
            latest[use_case] = approval
    return latest


def current_approvals(repo: Repository, today: date | None = None) -> dict[str, Record]:
    """Use case id → its current approval, for every use case that has one (SPEC §1.4):
    its latest decision, unless that decision is ``rejected``."""
    return {uc: a for uc, a in latest_decisions(repo, today).items()
            if a.spec["decision"] != "rejected"}


def current_approval(repo: Repository, use_case_id: str,
                     today: date | None = None) -> Record | None:
    return current_approvals(repo, today).get(use_case_id)


@dataclass(frozen=True)
class Staleness:
    rule: str  # GOV031 or GOV032
    path: tuple[str, ...]  # where in the approval the stale binding is
    message: str
    current_digest: str | None
    # where the records changed since the approved revision (when it could be found)
    related: tuple[Related, ...] = ()


def staleness(repo: Repository, digester: Digester, approval: Record,
              use_case: Record, baseline: Any = None) -> list[Staleness]:
    """Why the approval no longer describes what the use case runs (GOV031/GOV032).
    ``baseline`` (a :class:`govctl.history.baseline.Baseline`) finds the approved revision
    of a record, so the message can name the change and point at it."""
    out: list[Staleness] = []
    spec = approval.spec
    bound_bundle = spec["bundle"]
    if bound_bundle["id"] != use_case.spec["bundle"]:
        out.append(Staleness("GOV031", ("spec", "bundle", "id"),
                             f"stale approval: it approved Bundle {bound_bundle['id']!r}, but "
                             f"UseCase {use_case.id!r} now runs Bundle "
                             f"{use_case.spec['bundle']!r}; re-approve", None))
    else:
        bundle = repo.get("Bundle", bound_bundle["id"])
        # A record failing its schema (GOV010) has no well-defined digest until it is fixed.
        now = digester.try_bundle(bundle) if bundle is not None and bundle.valid else None
        if now is not None and now != bound_bundle["digest"]:
            message, where = _bundle_message(repo, digester, approval, bundle, now, baseline)
            out.append(Staleness("GOV031", ("spec", "bundle", "digest"), message, now, where))
    bound_contract = spec["thresholds"]
    if bound_contract["id"] != use_case.spec["thresholds"]:
        out.append(Staleness("GOV032", ("spec", "thresholds", "id"),
                             f"stale approval: it approved ThresholdContract "
                             f"{bound_contract['id']!r}, but UseCase {use_case.id!r} now uses "
                             f"{use_case.spec['thresholds']!r}; re-approve", None))
    else:
        contract = repo.get("ThresholdContract", bound_contract["id"])
        now = (digester.try_contract(contract) if contract is not None and contract.valid
               else None)
        if now is not None and now != bound_contract["digest"]:
            approved = bound_contract["digest"]
            changes = _since_approval(repo, digester, approval, contract, approved, baseline)
            what = _described(changes) if changes else f"digest now {now}, approved {approved}"
            out.append(Staleness(
                "GOV032", ("spec", "thresholds", "digest"),
                f"stale approval: ThresholdContract {contract.id!r} changed since approval "
                f"({what}); re-approve under the new thresholds or revert", now,
                related(repo, changes, f"makes Approval {approval.id!r} stale: ")))
    return out


def _since_approval(repo: Repository, digester: Digester, approval: Record, record: Record,
                    approved: str, baseline: Any) -> list[FieldChange]:
    """What changed in ``record`` (a Bundle or a ThresholdContract) since the revision
    that had the approved digest, when ``baseline`` finds one; else nothing."""
    found = baseline.find(record.kind, record.id, approved, approval) \
        if baseline is not None else None
    if found is None:
        return []
    then, revision = found
    compare = Comparison(revision, Revision(repo, digester), texts=False)
    if record.kind == "Bundle":
        return compare.bundle(then, record, digest_only=True)
    return compare.contract(then, record, digest_only=True)


def _described(changes: list[FieldChange]) -> str:
    shown = [describe(c) for c in changes[:4]]
    if len(changes) > 4:
        shown.append(f"and {len(changes) - 4} more")
    return "; ".join(shown)


def _bundle_message(repo: Repository, digester: Digester, approval: Record, bundle: Record,
                    now: str, baseline: Any = None) -> tuple[str, tuple[Related, ...]]:
    """Name what changed: against the approved revision when one is found (HEAD before a
    commit, the base of a diff, the commit that made the decision), else what the approval
    itself records (the eval digest), else the inputs the digest covers (`govctl history`
    shows the exact change). With the places the changes are."""
    approved = approval.spec["bundle"]["digest"]
    changed = []
    changes = _since_approval(repo, digester, approval, bundle, approved, baseline)
    if changes:
        changed.append("changed since the approval: " + _described(changes))
    bound_eval = approval.spec.get("eval")
    if not changed and isinstance(bound_eval, Mapping) and \
            bound_eval.get("id") == bundle.spec.get("eval_set"):
        eval_now = digester.try_eval(bound_eval["id"])
        if eval_now is not None and eval_now != bound_eval["digest"]:
            changed.append(f"eval set {bound_eval['id']!r} changed")
    if not changed:
        inputs = ", ".join(i.path for i in digester.bundle_inputs(bundle))
        changed.append("something in its spec or inputs changed"
                       + (f" ({inputs} or the spec itself)" if inputs else "")
                       + "; `govctl history` shows which")
    return (f"stale approval: Bundle {bundle.id!r} digest is now {now}, approved "
            f"{approved}: {'; '.join(changed)}; re-approve with `govctl approve` or revert",
            related(repo, changes, f"makes Approval {approval.id!r} stale: "))


@dataclass(frozen=True)
class Expiry:
    path: tuple[str, ...]  # the approval field that expired it: valid_until or date
    message: str


def expiry(policy: Policy, approval: Record, use_case: Record, today: date) -> Expiry | None:
    """Why the approval has expired on ``today`` (GOV033), or None.

    ``valid_until`` is inclusive; the tier's ``max_validity_days`` counts from ``date``
    (expired when today > date + max_validity_days). An invalid Policy has no tiers, so
    then only ``valid_until`` applies.
    """
    spec = approval.spec
    valid_until = parse_date(spec.get("valid_until"))
    if valid_until is not None and today > valid_until:
        return Expiry(("spec", "valid_until"),
                      f"approval expired: valid_until {spec['valid_until']} has passed")
    tier = policy.tiers.get(use_case.spec["risk"]["tier"])
    approved_on = parse_date(spec["date"])
    if tier is not None and tier.max_validity_days is not None and approved_on is not None:
        ends = add_days(approved_on, tier.max_validity_days)
        if today > ends:
            return Expiry(("spec", "date"),
                          f"approval expired: approved {spec['date']}, and tier {tier.name!r} "
                          f"allows {tier.max_validity_days} days (until {ends.isoformat()})")
    return None


def required_roles(policy: Policy, use_case: Record) -> dict[str, int]:
    """Role → count: the largest count any applicable requirement asks for (SPEC §1.4)."""
    risk = use_case.spec["risk"]
    requirements: list[RoleRequirement] = []
    tier = policy.tiers.get(risk["tier"])
    if tier is not None:
        requirements.extend(tier.approvals)
    exposure = risk.get("exposure_usd")
    if exposure is not None:
        for rule in policy.exposure_rules:
            if exposure >= rule.min_usd:
                requirements.extend(rule.require)
    roles: dict[str, int] = {}
    for req in requirements:
        roles[req.role] = max(roles.get(req.role, 0), req.count)
    return roles


def fill_slots(required: Mapping[str, int],
               approvers: Iterable[tuple[str, str]]) -> dict[str, int]:
    """How many slots of each role the eligible approvers fill.

    ``approvers`` are (person, role) pairs already known to be valid (the person holds
    the role and may approve). Each person fills at most one slot, so a person listed
    under two roles is assigned where it helps most: a maximum bipartite matching.
    """
    approvers = list(approvers)
    # no role can have more slots filled than there are approvers: a count from the
    # records (2**53) must not become that many slots
    slots = [(role, i) for role, n in sorted(required.items())
             for i in range(min(n, len(approvers)))]
    roles_of: dict[str, list[str]] = {}
    for person, role in approvers:
        if role in required and role not in roles_of.setdefault(person, []):
            roles_of[person].append(role)
    owner_of_slot: dict[tuple[str, int], str] = {}

    def assign(person: str, seen: set[tuple[str, int]]) -> bool:
        for slot in slots:
            if slot[0] in roles_of[person] and slot not in seen:
                seen.add(slot)
                holder = owner_of_slot.get(slot)
                if holder is None or assign(holder, seen):
                    owner_of_slot[slot] = person
                    return True
        return False

    for person in roles_of:
        assign(person, set())
    filled: dict[str, int] = dict.fromkeys(required, 0)
    for role, _ in owner_of_slot:
        filled[role] += 1
    return filled
