"""The template context of a model card: one function builds it, from records, history
and observations. It is a stable API for custom templates (``--template DIR``); see
docs/templates.md for its shape. Everything in it is plain data (dicts, lists, strings,
numbers, None): templates never reach into govctl objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from govctl import __version__
from govctl.digest.digester import Digester
from govctl.history.signatures import Signature, signed_by_approver
from govctl.model.dates import utc_date
from govctl.model.findings import Finding
from govctl.model.graph import bundle_closure, use_case_closure
from govctl.model.people import person, team
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.monitoring.status import (
    VERDICT_LEVEL,
    VERDICT_MEANING,
    SignalStatus,
    StatusReport,
    breaches,
)
from govctl.rules.approvals import judging
from govctl.rules.decisions import approvals_of
from govctl.rules.incidents import reporting_deadline

CONTEXT_VERSION = 1
VERDICT_LABEL = {"unapproved-serving": "✖ UNAPPROVED BUNDLE SERVING",
                 "no-approval": "✖ NO CURRENT APPROVAL", "expired": "✖ APPROVAL EXPIRED",
                 "stale": "✖ APPROVAL STALE", "breach": "✖ BREACH",
                 "missing": "? SIGNAL MISSING", "unobserved": "? UNOBSERVED",
                 "conditional": "◐ CONDITIONAL", "current": "✔ CURRENT"}

MITCHELL_SECTIONS = (
    ("model-details", "Model details"),
    ("intended-use", "Intended use"),
    ("factors", "Factors"),
    ("metrics", "Metrics"),
    ("evaluation-data", "Evaluation data"),
    ("training-data", "Training data"),
    ("quantitative-analyses", "Quantitative analyses"),
    ("ethical-considerations", "Ethical considerations"),
    ("caveats-and-recommendations", "Caveats and recommendations"),
)


def _iso(moment: datetime | None) -> str | None:
    # whole seconds, as everywhere in the documents: "--as-of 2026-11-27" is the end of
    # that day, which would otherwise show as 23:59:59.999999Z
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def _keys(value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """A record sub-object with every documented key present (None when not written).

    Templates run with ``StrictUndefined`` so that a typo in a custom template fails loudly;
    the price is that an optional key the record leaves out must still exist in the
    context, or ``{% if x.optional %}`` raises instead of being false.
    """
    data = dict(value) if isinstance(value, Mapping) else {}
    return {**{key: None for key in keys}, **data}


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """A list field of a record that may fail its schema (a number where a list belongs
    shows as nothing; the record's GOV010 finding says why)."""
    return list(value) if isinstance(value, list) else []


def _optional(value: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """Like :func:`_keys`, but None when the record has no such sub-object at all."""
    return _keys(value, keys) if isinstance(value, Mapping) and value else None


RETRIEVAL_KEYS = ("index", "embedding_model", "top_k", "corpus_snapshot", "filters")
TOOL_KEYS = ("name", "version", "schema", "permissions")
PROMPT_KEYS = ("template", "variables")
ARTIFACT_KEYS = ("uri", "digest")
LIFECYCLE_KEYS = ("released", "deprecation", "retirement")
VENDOR_CONTRACT_KEYS = ("notice_days", "reapproval_on_change", "incident_cooperation")
TRAINING_KEYS = ("summary", "datasets", "cutoff")
ON_BREACH_KEYS = ("action", "runbook")
ACTION_KEYS = ("at", "action", "by")


def model(record: Record, used_by: list[str]) -> dict[str, Any]:
    spec = record.spec
    return {"id": record.id, "title": record.title, "provider": spec["provider"],
            "name": spec["name"], "type": spec["type"], "snapshot": spec.get("snapshot"),
            "artifact": _optional(spec.get("artifact"), ARTIFACT_KEYS),
            "lifecycle": _keys(spec.get("lifecycle"), LIFECYCLE_KEYS),
            "contract": _keys(spec.get("contract"), VENDOR_CONTRACT_KEYS),
            # None when the Model says nothing of its training data: the card says so
            "training": _optional(spec.get("training"), TRAINING_KEYS), "used_by": used_by}


def eval_set(digester: Digester, record: Record) -> dict[str, Any]:
    spec = record.spec
    return {"id": record.id, "title": record.title, "population": spec["population"],
            "collected": spec["collected"], "size": spec.get("size"),
            "factors": list(spec.get("factors") or []), "path": spec.get("path"),
            "uri": spec.get("uri"), "digest": digester.try_eval(record.id)}


def bundle(digester: Digester, record: Record, depth: int) -> dict[str, Any]:
    # .get, not []: an invalid Bundle (say, without eval_set) is still shown, with its
    # GOV010 finding among the card's findings, instead of failing the whole card
    spec = record.spec
    prompt = spec.get("prompt")
    return {
        "id": record.id, "title": record.title, "class": spec.get("class"), "depth": depth,
        "digest": digester.try_bundle(record) if record.valid else None,
        "model": spec.get("model"), "eval_set": spec.get("eval_set"),
        "params": _mapping(spec.get("params")),
        "prompt": _optional(prompt, PROMPT_KEYS),
        "retrieval": _optional(spec.get("retrieval"), RETRIEVAL_KEYS),
        "tools": [_keys(t, TOOL_KEYS) for t in _list(spec.get("tools"))],
        "features": _mapping(spec.get("features")) or None,
        "components": [c for c in _list(spec.get("components")) if isinstance(c, str)],
    }


def commit_json(commit: Any, signature: Signature | None = None,
                approval: Record | None = None) -> dict[str, Any] | None:
    """A commit in a document (docs/templates.md: ``card.approval.commit``). ``signed`` is
    SPEC §3.4's: a good signature by a key of one of the approval's approvers."""
    if commit is None:
        return None
    return {"sha": commit.sha, "short": commit.short, "author": commit.author,
            "email": commit.email, "date": commit.date, "subject": commit.subject,
            "signature": signature.state if signature is not None else None,
            "signed": approval is not None and signed_by_approver(signature, approval)}


def finding(f: Finding) -> dict[str, Any]:
    # the same keys for every finding (a template can rely on them): related always a list
    return {**f.to_json(), "related": [r.to_json() for r in f.related]}


def signal(s: SignalStatus) -> dict[str, Any]:
    """A signal judged against the approved contract, with what the working tree proposes."""
    proposed = None
    if s.proposed is not None:
        working = s.proposed.working
        proposed = {"removed": True, "min": None, "max": None, "metric": None,
                    "window": None} if working is None else {
            "removed": False, "min": working.get("min"), "max": working.get("max"),
            "metric": working.get("metric"), "window": working.get("window")}
    return {**s.json(), "min": s.min, "max": s.max, "window": s.window,
            "severity": s.severity, "query": s.query, "approved": s.approved,
            "required": s.required, "proposed": proposed}


def _digest_now(repo: Repository, digester: Digester, use_case: Record) -> str | None:
    contract = repo.get("ThresholdContract", use_case.spec.get("thresholds"))
    return digester.try_contract(contract) if contract is not None and contract.valid else None


def _title(repo: Repository, contract_id: str | None) -> str | None:
    record = repo.get("ThresholdContract", contract_id)
    return record.title if record is not None else None


def card_context(repo: Repository, policy: Policy, use_case: Record, as_of: datetime,
                 findings: list[Finding], status: StatusReport,
                 generated: Mapping[str, Any], approval_commit: Mapping[str, Any] | None = None,
                 ) -> dict[str, Any]:
    """Everything a model card template may use (see docs/templates.md). ``status`` is the
    use case's `govctl status` (its verdict, approved thresholds and observations)."""
    digester = Digester(repo)
    entry = next(u for u in status.use_cases if u.use_case.id == use_case.id)
    stick = entry.yardstick
    spec = use_case.spec
    closure = use_case_closure(repo, use_case)
    refs = {r.ref for r in closure}

    chain = bundle_closure(repo, spec["bundle"])
    depth_of = {spec["bundle"]: 0}
    for b in chain:
        for c in _list(b.spec.get("components")):
            if isinstance(c, str):
                depth_of.setdefault(c, depth_of.get(b.id, 0) + 1)
    bundles = [bundle(digester, b, depth_of.get(b.id, 0)) for b in chain]
    models: dict[str, dict[str, Any]] = {}
    evals: dict[str, dict[str, Any]] = {}
    for b in chain:
        m = repo.get("Model", b.spec.get("model"))
        if m is not None and m.valid:
            models.setdefault(m.id, model(m, []))["used_by"].append(b.id)
        e = repo.get("EvalSet", b.spec.get("eval_set"))
        if e is not None and e.valid:
            evals.setdefault(e.id, eval_set(digester, e))

    contract_ctx = None
    if stick.signals or stick.unapproved:
        contract_ctx = {
            "id": stick.contract_id, "title": _title(repo, stick.contract_id),
            "digest": stick.digest, "basis": stick.basis, "note": stick.note,
            # the use case's contract in the records: differs from `digest` when a change
            # awaits re-approval (the thresholds above are then the approved ones)
            "digest_now": _digest_now(repo, digester, use_case),
            "on_breach": _keys(stick.on_breach, ON_BREACH_KEYS),
            "signals": [signal(s) for s in entry.signals],
        }

    state = entry.approval
    approval_ctx = None
    if state.approval is not None:
        a = state.approval.spec
        results = dict((a.get("eval") or {}).get("results") or {})
        approval_ctx = {
            "id": state.approval.id, "decision": a["decision"], "date": a["date"],
            "valid_until": a.get("valid_until"), "population": a["population"],
            "approvers": [{**person(repo, x["person"]), "role": x["role"]}
                          for x in a["approvers"]],
            "conditions": list(a.get("conditions") or []), "notes": a.get("notes"),
            "bundle_digest": a["bundle"]["digest"], "contract_digest": a["thresholds"]["digest"],
            "eval": {"id": (a.get("eval") or {}).get("id"),
                     "digest": (a.get("eval") or {}).get("digest"), "results": results},
            "supersedes": a.get("supersedes"), "state": state.state,
            "expired": state.expired,
            "reasons": list(state.reasons), "commit": dict(approval_commit) if approval_commit
            else None,
        }

    quantitative = []
    if approval_ctx and stick.signals:
        for metric, value in approval_ctx["eval"]["results"].items():
            for name, s in judging(stick.signals, metric) or [(None, {})]:
                low, high = s.get("min"), s.get("max")
                # None: no approved signal judges this result (not "within contract")
                ok = None if name is None else not breaches(value, low, high)
                quantitative.append({"metric": metric, "value": value, "signal": name,
                                     "min": low, "max": high, "ok": ok})

    incidents = []
    for incident in sorted(repo.of_use_case("Incident", use_case.id),
                           key=lambda r: r.spec["detected"], reverse=True):
        i = incident.spec
        deadline = reporting_deadline(incident) if i.get("serious") else None
        incidents.append({
            "id": incident.id, "detected": i["detected"], "severity": i["severity"],
            "status": i["status"], "summary": i.get("summary"), "signal": i.get("signal"),
            "serious": bool(i.get("serious")), "serious_kind": i.get("serious_kind"),
            "reported_to_authority": i.get("reported_to_authority"),
            "reporting_deadline": deadline.isoformat() if deadline else None,
            "root_cause": i.get("root_cause"), "bundle_digest": i.get("bundle_digest"),
            "actions": [_keys(x, ACTION_KEYS) for x in i.get("actions") or []],
        })

    today = utc_date(as_of)
    exercises = []
    for exercise in sorted(repo.of_use_case("Exercise", use_case.id),
                           key=lambda r: (r.spec["date"], r.id), reverse=True):
        x = exercise.spec
        gaps = [{"step": g["step"], "summary": g["summary"], "status": g["status"],
                 "owner": person(repo, g["owner"]) if g.get("owner") else None,
                 "due": g.get("due"),
                 "overdue": g["status"] == "open" and g.get("due") is not None
                 and g["due"] < today.isoformat()}
                for g in x.get("gaps") or []]
        exercises.append({"id": exercise.id, "date": x["date"], "scenario": x["scenario"],
                          "participants": [person(repo, p) for p in x["participants"]],
                          "held": x["date"] <= today.isoformat(), "gaps": gaps,
                          "open_gaps": [g for g in gaps if g["status"] == "open"]})
    held = [x for x in exercises if x["held"]]

    history = [{"id": a.id, "decision": a.spec["decision"], "date": a.spec["date"],
                "current": state.approval is not None and a.id == state.approval.id}
               for a in sorted(approvals_of(repo, use_case.id),
                               key=lambda r: (r.spec["date"], r.id), reverse=True)]
    # findings about what the card shows: its dependency closure, every Approval and
    # Incident naming the use case — valid or not, since an invalid record is left out of
    # the lists above and would otherwise vanish without a word — and file-level problems
    # (a YAML syntax error has no record: it may be an incident of this use case)
    naming = {r.ref for kind in ("Approval", "Incident", "Exercise")
              for r in repo.of_use_case(kind, use_case.id, valid_only=False)}
    related = [finding(f) for f in findings
               if f.record is None or f.record in refs or f.record in naming]
    risk = spec["risk"]
    tier = policy.tiers.get(risk["tier"])
    return {
        "context_version": CONTEXT_VERSION,
        "govctl_version": __version__,
        "generated": dict(generated),
        "as_of": _iso(as_of),
        "organization": policy.organization,
        "sections": [{"anchor": a, "title": t} for a, t in MITCHELL_SECTIONS],
        "use_case": {
            "id": use_case.id, "title": use_case.title or use_case.id,
            "status": spec["status"], "population": spec["population"],
            "intended_use": spec["intended_use"],
            "out_of_scope": list(spec.get("out_of_scope") or []),
            "fallback": spec.get("fallback"),
            "risk": {"tier": risk["tier"], "category": risk.get("category"),
                     "exposure_usd": risk.get("exposure_usd"),
                     "annex_iii": risk.get("annex_iii"),
                     "max_validity_days": tier.max_validity_days if tier else None},
            "owner": person(repo, spec["owner"]),
            "team": team(repo, spec["team"]),
            "file": use_case.file,
        },
        "bundle": bundles[0] if bundles else None,
        "bundles": bundles,
        "models": list(models.values()),
        "eval_sets": list(evals.values()),
        "contract": contract_ctx,
        "verdict": entry.verdict,
        "verdict_detail": {"level": VERDICT_LEVEL[entry.verdict],
                           "label": VERDICT_LABEL[entry.verdict],
                           "meaning": VERDICT_MEANING[entry.verdict]},
        "serving_approved": entry.serving_approved,
        "observations": {"given": status.observed,
                         "breaches": sum(1 for s in entry.signals if s.state == "breach"),
                         # every key present (templates run with StrictUndefined)
                         "ignored": [{**i.json(), "metric": i.metric}
                                     for i in status.ignored],
                         "unapproved_digests": [f.message for f in status.findings
                                                if f.record == use_case.ref]},
        "approval": approval_ctx,
        "approvals": history,
        "quantitative": quantitative,
        "incidents": incidents,
        "open_incidents": [i for i in incidents if i["status"] != "resolved"],
        # tabletop drills, latest first; the last one held on or before as_of
        "exercises": exercises,
        "last_exercise": held[0] if held else None,
        "findings": related,
    }
