"""Which evidence in an audit pack answers which EU AI Act / NIST AI RMF requirement, and
what the repository does not evidence (gaps). An interpretation, not legal advice; facts
from docs/regulatory.md (the project's reference, §1.4-§1.6, §2 and §7)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

UseCaseData = Mapping[str, Any]  # one use case of the pack context


@dataclass(frozen=True)
class Requirement:
    framework: str  # "EU AI Act" | "NIST AI RMF"
    ref: str
    title: str
    evidence: str  # what in the pack answers it
    # gaps for one use case: () when the records evidence it
    gaps: Callable[[UseCaseData], tuple[str, ...]]
    always_gap: str | None = None  # what records can never show


def _none(_: UseCaseData) -> tuple[str, ...]:
    return ()


def _approval(uc: UseCaseData) -> tuple[str, ...]:
    if uc["approval"] is None:
        return ("no current approval",)
    if uc["approval"]["state"] != "current":
        return (f"current approval is {uc['approval']['state']}",)
    return ()


def _contract(uc: UseCaseData) -> tuple[str, ...]:
    if uc["contract"] is None:
        return ("no valid threshold contract",)
    missing = uc["missing_signals"]
    return (f"contract lacks required signal(s): {', '.join(missing)}",) if missing else ()


def _signal(name: str) -> Callable[[UseCaseData], tuple[str, ...]]:
    def gaps(uc: UseCaseData) -> tuple[str, ...]:
        signals = {s["signal"] for s in (uc["contract"] or {}).get("signals", [])}
        return () if name in signals else (f"no {name} signal in the contract",)
    return gaps


def _evaluation(uc: UseCaseData) -> tuple[str, ...]:
    gaps = []
    if not uc["eval_sets"]:
        gaps.append("no evaluation set")
    if uc["eval_sets"] and not any(e["factors"] for e in uc["eval_sets"]):
        gaps.append("no evaluation factors: accuracy for specific groups is not evidenced")
    if uc["approval"] is not None and not uc["approval"]["eval"]["results"]:
        gaps.append("no evaluation results recorded at approval")
    return tuple(gaps)


def _training(uc: UseCaseData) -> tuple[str, ...]:
    missing = [m["name"] for m in uc["models"] if not m["training"]]
    return (f"no training-data notes for model(s): {', '.join(missing)}",) if missing else ()


def _oversight(uc: UseCaseData) -> tuple[str, ...]:
    gaps = list(_approval(uc))
    if not uc["use_case"].get("fallback"):
        gaps.append("no fallback declared")
    team = uc["use_case"]["team"]
    if not team or not team.get("oncall"):
        gaps.append("no on-call rotation")
    return tuple(gaps)


def _lifecycle(uc: UseCaseData) -> tuple[str, ...]:
    return () if uc["bundle_versions"] else ("no bundle version found in history",)


def _observed(uc: UseCaseData) -> tuple[str, ...]:
    """Performance in production is evidenced only by observed values inside the pack."""
    if not uc["observations"]["given"]:
        return ("no observed values in this pack (build it with --observations FILE)",)
    signals = (uc["contract"] or {}).get("signals", [])
    judged = {s["signal"]: s for s in signals if s["approved"]}
    unobserved = [s for s in uc["required_signals"]
                  if s not in judged or judged[s]["state"] in ("missing", "stale")]
    gaps = []
    if unobserved:
        gaps.append(f"no fresh observed value for required signal(s): {', '.join(unobserved)}")
    if uc["observations"]["unapproved_digests"]:
        gaps.append("observations show an unapproved bundle digest serving (GOV085)")
    return tuple(gaps)


def _monitoring(uc: UseCaseData) -> tuple[str, ...]:
    return _signal("drift")(uc) + _observed(uc)


def _incidents(uc: UseCaseData) -> tuple[str, ...]:
    late = [i["id"] for i in uc["incidents"] if i["serious"] and i["late"]]
    return (f"serious incident(s) not reported in time: {', '.join(late)}",) if late else ()


def _risk_management(uc: UseCaseData) -> tuple[str, ...]:
    return _contract(uc) + _approval(uc)


def _provenance(uc: UseCaseData) -> tuple[str, ...]:
    unsigned = [a["id"] for a in uc["approval_timeline"] if a["commit"] is None]
    return (f"approval(s) not found in git history: {', '.join(unsigned)}",) if unsigned else ()


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("EU AI Act", "Annex IV 1", "General description (purpose, provider, versions, "
                "interaction with other systems)",
                "README: use case, intended use, population; bundle composition, model "
                "identities and digests; evidence/: records as committed", _none,
                "release forms, target hardware, product illustrations and user interface "
                "(1(d)-(g)) and instructions for use (1(h)) are not governance records"),
    Requirement("EU AI Act", "Annex IV 2", "Development: methods, design choices, data, "
                "oversight, validation and testing",
                "bundle versions (prompt, retrieval, tools, params), eval sets with digests, "
                "eval results at approval, approvals and approvers", _evaluation,
                "architecture and compute (2(c)), datasheets (2(d)) and cybersecurity measures "
                "(2(h)) are outside the records"),
    Requirement("EU AI Act", "Annex IV 3", "Monitoring, functioning and control: capabilities, "
                "limits, accuracy for groups, oversight measures",
                "threshold contract per signal, out-of-scope uses, eval factors, on-breach "
                "action and fallback", lambda uc: _contract(uc) + _evaluation(uc)[:2]),
    Requirement("EU AI Act", "Annex IV 4", "Why the chosen performance metrics are appropriate",
                "threshold contract (metric, thresholds, windows) approved by named roles",
                _contract, "the rationale for each metric is not a field of the records"),
    Requirement("EU AI Act", "Annex IV 5", "The risk-management system (Art. 9)",
                "risk tier, policy approval requirements, contract, approvals, findings open at "
                "the end of the period", _risk_management),
    Requirement("EU AI Act", "Annex IV 6", "Relevant changes over the lifecycle",
                "approval timeline, bundle versions with digests, threshold changes marked "
                "loosened/tightened, model lifecycle dates", _lifecycle),
    Requirement("EU AI Act", "Annex IV 7", "Harmonised standards applied", "—", _none,
                "standards applied are not recorded"),
    Requirement("EU AI Act", "Annex IV 8", "EU declaration of conformity (Art. 47)", "—",
                _none, "the declaration of conformity is not part of the repository"),
    Requirement("EU AI Act", "Annex IV 9", "Post-market performance evaluation (Art. 72), "
                "monitoring plan", "threshold contract (the monitoring plan: alert rules are "
                "compiled from it), on-call rotation, incidents, observed values "
                "(observations/)", lambda uc: _contract(uc) + _observed(uc)),
    Requirement("EU AI Act", "Art. 9", "Risk management; testing against prior defined metrics "
                "and probabilistic thresholds (9(8))", "contract thresholds, eval results at "
                "approval vs the contract (GOV036), findings", _risk_management),
    Requirement("EU AI Act", "Art. 12", "Record-keeping (automatic logging)",
                "the bundle digest production logs with every inference "
                "(govctl trace maps it back to the approval)", _none,
                "the inference logs themselves live in the serving platform, not here"),
    Requirement("EU AI Act", "Art. 14", "Human oversight",
                "approvers by name and role, separation of duties, on-breach action, "
                "fallback, on-call rotation and escalation", _oversight),
    Requirement("EU AI Act", "Art. 15", "Accuracy, robustness (fail-safe plans), "
                "cybersecurity", "accuracy_proxy, latency, abuse and fallback signals; "
                "fallback declared", lambda uc: _signal("accuracy_proxy")(uc)
                + _signal("abuse")(uc) + _signal("fallback")(uc)),
    Requirement("EU AI Act", "Art. 72", "Post-market monitoring",
                "drift and other contract signals, incidents, observed values against the "
                "approved thresholds (observations/)", _monitoring),
    Requirement("EU AI Act", "Art. 73", "Reporting serious incidents (2/10/15 days)",
                "incidents with detection time, serious kind, deadline and report date",
                _incidents),
    Requirement("NIST AI RMF", "GOVERN 1", "Policies, processes, inventory", "Policy record, "
                "use case inventory, rule findings", _none),
    Requirement("NIST AI RMF", "GOVERN 2", "Accountability", "accountable owner, team, "
                "approvers and roles; provenance of every approval (commit, author, signature)",
                _provenance),
    Requirement("NIST AI RMF", "GOVERN 6", "Third-party and supply chain", "vendor models with "
                "snapshot, lifecycle dates and vendor contract terms", _none),
    Requirement("NIST AI RMF", "MAP 1", "Context: purpose, setting, requirements",
                "intended use, population, out-of-scope uses, risk tier", _none),
    Requirement("NIST AI RMF", "MAP 2", "Categorisation", "risk tier, Annex III area, class "
                "(classical / generative / agentic)", _none),
    Requirement("NIST AI RMF", "MAP 4", "Risks of components incl. third-party",
                "bundle composition (components, models, tools and permissions)", _none),
    Requirement("NIST AI RMF", "MEASURE 2", "Evaluation; 2.1 test sets and metrics; 2.4 "
                "production monitoring", "eval sets, eval results at approval, threshold "
                "contract, observed values (observations/)",
                lambda uc: _evaluation(uc) + _contract(uc) + _observed(uc)),
    Requirement("NIST AI RMF", "MEASURE 3", "Risks tracked over time", "threshold changes, "
                "bundle versions, incidents", _lifecycle),
    Requirement("NIST AI RMF", "MANAGE 1", "Go / no-go decisions", "approval decisions and "
                "their timeline", _approval),
    Requirement("NIST AI RMF", "MANAGE 4", "Post-deployment monitoring, incident response",
                "on-breach action, runbook, on-call, incidents, observed values "
                "(observations/)", lambda uc: _contract(uc) + _incidents(uc) + _observed(uc)),
)


def mapping(use_cases: list[UseCaseData]) -> list[dict[str, Any]]:
    """Rows for the mapping document: requirement, evidence, status and gaps."""
    rows = []
    for req in REQUIREMENTS:
        gaps: list[str] = []
        for uc in use_cases:
            gaps.extend(f"{uc['use_case']['id']}: {g}" for g in req.gaps(uc))
        if req.always_gap:
            gaps.append(f"not in the repository: {req.always_gap}")
        covered_any = req.evidence != "—"
        status = "gap" if not covered_any else ("partial" if gaps else "evidenced")
        rows.append({"framework": req.framework, "ref": req.ref, "title": req.title,
                     "evidence": req.evidence, "status": status, "gaps": gaps})
    return rows
