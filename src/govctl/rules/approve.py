"""`govctl approve`: a new Approval bound to the current bundle, contract and eval digests.

The approval is planned in memory, checked, and written only when nothing blocks it:
errors in the use case's dependency closure (other than GOV030-GOV033, which approving
is meant to fix) or findings the new approval would itself raise (GOV034-GOV037).
Errors elsewhere in the repository do not block: after a model snapshot bump, every
affected use case must be re-approvable on its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl.digest.digester import Digester
from govctl.errors import GovctlError
from govctl.model import loader, schemas, yamlout
from govctl.model.atomic import write_atomic
from govctl.model.dates import add_days, utc_date
from govctl.model.findings import ERROR, WARNING, Finding, apply_severities, sort_key
from govctl.model.graph import use_case_closure
from govctl.model.paths import is_inside
from govctl.model.records import API_VERSION, Record
from govctl.model.repository import WorktreeSource, load_repository
from govctl.model.schemas import suggest
from govctl.rules.approvals import approver_findings, eval_breach_findings
from govctl.rules.decisions import current_approval
from govctl.rules.lifecycle import eval_population_findings
from govctl.rules.registry import Context
from govctl.rules.runner import check_repository

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
FIXES = frozenset(("GOV030", "GOV031", "GOV032", "GOV033"))  # what approving repairs
DECISIONS = ("approved", "conditional", "rejected")


@dataclass(frozen=True)
class ApprovalRequest:
    use_case: str
    approvers: tuple[tuple[str, str], ...]  # (person, role)
    decision: str = "approved"
    valid_days: int | None = None
    conditions: tuple[str, ...] = ()
    eval_results: Mapping[str, float] = field(default_factory=dict)
    supersedes: str | None = None  # None: the current approval, if any
    notes: str | None = None


@dataclass(frozen=True)
class ApprovalPlan:
    file: str  # relative to the root
    record_id: str
    document: Mapping[str, Any]
    text: str
    blocking: tuple[Finding, ...]  # errors in the use case's dependency closure
    own: tuple[Finding, ...]  # errors the new approval itself would raise (not yet a file)
    capped: bool  # valid_until was capped by the tier's max validity
    # what the approver should know before signing: warnings in the closure (an old eval
    # set, a model nearing retirement) and the new approval's own (another population)
    warnings: tuple[Finding, ...] = ()

    @property
    def refused(self) -> bool:
        return bool(self.blocking or self.own)


def parse_approver(text: str) -> tuple[str, str]:
    """``PERSON_ID:ROLE``, checked up front: a name where an id belongs (``'Magnus
    Dahl:risk-officer'``) is a usage error naming the id pattern, never a failed write."""
    person, sep, role = text.partition(":")
    if not sep or not person or not role:
        raise GovctlError(f"--approver {text!r}: expected PERSON_ID:ROLE, e.g. "
                          "bob:risk-officer")
    if _ID.fullmatch(person) is None:
        raise GovctlError(f"--approver {text!r}: {person!r} is not a Person id (lowercase "
                          "letters, digits, '.', '_' or '-', starting with a letter or digit: "
                          f"{_ID.pattern}); give the id of the Person record, not the name")
    if role != role.strip() or any(c.isspace() or c == ":" for c in role):
        raise GovctlError(f"--approver {text!r}: {role!r} is not a role name (no spaces or "
                          "colons)")
    return person, role


def parse_eval_result(text: str) -> tuple[str, float]:
    metric, sep, raw = text.partition("=")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not sep or not metric or not math.isfinite(value):
        raise GovctlError(f"--eval-result {text!r}: expected METRIC=NUMBER, e.g. "
                          "triage_agreement=0.94")
    return metric, value


def _require_text(request: ApprovalRequest) -> None:
    """Command-line text goes into a UTF-8 file: bytes that are not UTF-8 (a shell passes
    them through as surrogates) are a usage error, not a crash while writing."""
    given = [("use case", request.use_case), ("--supersedes", request.supersedes),
             ("--notes", request.notes)]
    given += [("--approver", f"{p}:{r}") for p, r in request.approvers]
    given += [("--condition", c) for c in request.conditions]
    given += [("--eval-result", m) for m in request.eval_results]
    for option, value in given:
        if value is None:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise GovctlError(f"{option} {value!r}: not valid UTF-8 text") from None


def plan_approval(root: Path, request: ApprovalRequest, as_of: datetime) -> ApprovalPlan:
    _require_text(request)
    if request.decision not in DECISIONS:
        raise GovctlError(f"--decision {request.decision!r}: one of {', '.join(DECISIONS)}")
    if request.valid_days is not None and request.valid_days < 1:
        raise GovctlError("--valid-days must be at least 1")
    repo = load_repository(WorktreeSource(root))
    policy, findings = check_repository(repo, as_of)
    use_case = repo.require("UseCase", request.use_case)

    closure = use_case_closure(repo, use_case)
    if repo.policy is not None:
        closure.append(repo.policy)
    refs = {r.ref for r in closure}
    files = {r.file for r in closure}
    blocking = [f for f in findings if f.severity == ERROR and f.rule not in FIXES
                and (f.record in refs or (f.record is None and f.file in files))]
    if blocking or not use_case.valid:
        return ApprovalPlan("", "", {}, "", tuple(sorted(blocking, key=sort_key)), (), False)

    today = utc_date(as_of)
    digester = Digester(repo)
    bundle = repo.get("Bundle", use_case.spec["bundle"])
    contract = repo.get("ThresholdContract", use_case.spec["thresholds"])
    assert bundle is not None and contract is not None  # else GOV020 blocked above
    eval_id = bundle.spec["eval_set"]
    _check_eval_results(request, contract)

    supersedes = request.supersedes
    if supersedes is None:
        current = current_approval(repo, use_case.id, today)
        supersedes = current.id if current is not None else None
    elif repo.get("Approval", supersedes) is None:
        raise GovctlError(f"--supersedes {supersedes!r}: no such Approval"
                          f"{suggest(supersedes, repo.index.get('Approval', {}))}")

    tier = policy.tiers.get(use_case.spec["risk"]["tier"])
    max_days = tier.max_validity_days if tier is not None else None
    days = request.valid_days if request.valid_days is not None else max_days
    capped = max_days is not None and days is not None and days > max_days
    if capped:
        days = max_days

    file, record_id = _free_name(root, repo, use_case.id, today.isoformat())
    spec: dict[str, Any] = {
        "use_case": use_case.id,
        "decision": request.decision,
        "bundle": {"id": bundle.id, "digest": digester.bundle_digest(bundle)},
        "thresholds": {"id": contract.id, "digest": digester.contract_digest(contract)},
        "eval": {"id": eval_id, "digest": digester.eval_digest(eval_id)},
        "population": use_case.spec["population"],
        "approvers": [{"person": p, "role": r} for p, r in request.approvers],
        "date": today.isoformat(),
    }
    if request.eval_results:
        spec["eval"]["results"] = dict(request.eval_results)
    if days is not None:
        spec["valid_until"] = add_days(today, days).isoformat()
    if request.conditions:
        spec["conditions"] = list(request.conditions)
    if supersedes is not None:
        spec["supersedes"] = supersedes
    if request.notes:
        spec["notes"] = request.notes
    document = {"apiVersion": API_VERSION, "kind": "Approval",
                "metadata": {"id": record_id}, "spec": spec}

    # The new approval's own findings, with the policy's severity overrides.
    ctx = Context(repo, policy, as_of, digester)
    record = Record("Approval", record_id, file, 0, 1, document, True)
    mine = apply_severities([*approver_findings(ctx, record, use_case),
                             *eval_breach_findings(ctx, record),
                             *eval_population_findings(ctx, record, use_case)], policy.rules)
    own = [f for f in mine if f.severity == ERROR]
    warnings = [f for f in findings if f.severity == WARNING and f.rule != "GOV061" and (
        f.record in refs or (f.record is None and f.file in files))]
    warnings += [f for f in mine if f.severity == WARNING]

    text = yamlout.dump(document, f"Approval of {use_case.id}, written by `govctl approve`. "
                        "Bound to the digests below:\nany change to the bundle or contract "
                        "makes it stale (GOV031/GOV032).")
    _check_round_trip(text, document)
    return ApprovalPlan(file, record_id, document, text, (), tuple(own), capped,
                        tuple(sorted(warnings, key=sort_key)))


def _check_eval_results(request: ApprovalRequest, contract: Record) -> None:
    """An eval result is recorded under a metric or a signal of the contract it is judged
    against (GOV036): anything else (a typo) would never be checked — a usage error."""
    signals = contract.spec["signals"]
    known = sorted({*signals, *(s["metric"] for s in signals.values())})
    for name in request.eval_results:
        if name not in known:
            raise GovctlError(
                f"--eval-result {name!r}: not a metric or signal of ThresholdContract "
                f"{contract.id!r}{suggest(name, known)} (known: {', '.join(known)}); a result "
                "under another name would never be checked against the contract")


def _free_name(root: Path, repo: Any, use_case_id: str, day: str) -> tuple[str, str]:
    """approvals/<use case>-<date>[-N].yaml whose stem is a free Approval id."""
    # The id becomes part of a file name: checked here, not only by the schema, whose
    # pattern's "$" lets a final newline through under Python's re.search
    if _ID.fullmatch(use_case_id) is None:
        raise GovctlError(f"use case id {use_case_id!r} cannot name an approval file")
    base = f"{use_case_id}-{day}"
    for n in range(1, 1000):
        stem = base if n == 1 else f"{base}-{n}"
        if len(stem) > 128:
            raise GovctlError(f"approval id {stem!r} would be longer than 128 characters; "
                              "use a shorter use case id")
        path = root / "approvals" / f"{stem}.yaml"
        # (a dangling symlink takes the name too: the no-clobber write would refuse it)
        if not (path.exists() or path.is_symlink()) and repo.get("Approval", stem) is None:
            return f"approvals/{stem}.yaml", stem
    raise GovctlError(f"too many approvals of {use_case_id!r} on {day}")


def _check_round_trip(text: str, document: Mapping[str, Any]) -> None:
    result = loader.load_text(text)
    data = result.documents[0].data if result.documents else None
    if result.problems or data != document or schemas.validate("Approval", data):
        raise GovctlError("internal error: the approval would not read back as written; "
                          "nothing was written (please report this)")


def write_approval(root: Path, plan: ApprovalPlan) -> Path:
    if plan.refused:
        raise GovctlError("refused approvals are never written", exit_code=1)
    target = root / plan.file
    # approvals/ may be a symlink in a repository someone else prepared: the approval is
    # written into the governance root, never through a link to somewhere else
    folder = target.parent.resolve()
    if not is_inside(folder, root.resolve()):
        raise GovctlError(f"{target.parent} resolves to {folder}, outside the governance root; "
                          "not writing the approval there")
    if target.exists() or target.is_symlink():
        raise GovctlError(f"{plan.file} appeared while this approval was being prepared "
                          "(another `govctl approve` of the same use case today?); nothing was "
                          "written: run `govctl approve` again, it takes the next free name")
    try:
        write_atomic(target, plan.text.encode("utf-8"), overwrite=False)
    except GovctlError:
        if target.exists() or target.is_symlink():  # lost a race in the last instant
            raise GovctlError(f"{plan.file} appeared while this approval was being written; "
                              "nothing was written: run `govctl approve` again") from None
        raise
    return target
