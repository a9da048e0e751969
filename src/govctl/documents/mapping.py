"""Which files of an audit pack answer which EU AI Act / NIST AI RMF requirement, and what
would close the rest. An interpretation, not legal advice; facts from docs/regulatory.md
(the project's reference, §1.4-§1.6, §2 and §7).

The first law of the product is no false assurance, so a requirement is ``evidenced`` for a
use case only by files *inside the pack*: the records as committed at the use case's
approval commits (``evidence/<commit>/…``), what ``README.md`` computed from git (approval
timeline, bundle versions, threshold changes, incidents, findings) and, with
``--observations``, ``observations/``. Every row names the files it rests on; a row that
names none is a ``gap``. Records are looked up by kind, so a kind the pack starts to hold
(an ``Exercise``, SPEC §1.2) counts as soon as it is in ``evidence/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from govctl.documents.manifest import EVIDENCE
from govctl.model.graph import use_case_closure
from govctl.model.records import file_references
from govctl.model.repository import POLICY_FILE, Repository

UseCaseData = Mapping[str, Any]  # one use case of the pack context

EU = "EU AI Act"
NIST = "NIST AI RMF"
README = "README.md"

EVIDENCED, PARTIAL, GAP = "evidenced", "partial", "gap"


# -- what the pack holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """One file of the pack's ``evidence/``, and a record it holds (or that references it:
    a prompt, a tool schema, an eval data file, a runbook)."""

    path: str  # in the pack: evidence/<commit>/<name>
    commit: str
    name: str  # root-relative, as committed
    kind: str
    record: str  # the record's id
    referenced: bool = False  # the file is referenced by the record, not the record itself


@dataclass(frozen=True)
class Own:
    """A record of a use case's own evidence as committed at one approval commit: all the
    mapping needs of it, kept instead of the repository (a pack may span hundreds of
    approval commits, SPEC §3: 300 MB)."""

    file: str
    kind: str
    id: str
    references: tuple[str, ...] = ()  # the files it references (prompt, schemas, data)


def own_records(repo: Repository, use_case_id: str) -> tuple[Own, ...]:
    """The records of ``repo`` (as committed at an approval commit) that are the use case's
    evidence: its dependency closure there, its approvals, incidents and tabletop
    exercises, and the Policy. Another
    record sharing a file with them — a Model no bundle of it names, another use case's
    approval — is not; nothing is when the use case is not in ``repo``."""
    use_case = repo.get("UseCase", use_case_id)
    if use_case is None:
        return ()
    records = use_case_closure(repo, use_case) + [
        r for kind in ("Approval", "Incident", "Exercise")
        for r in repo.of_use_case(kind, use_case_id)]
    if repo.policy is not None and repo.policy.file == POLICY_FILE:
        records.append(repo.policy)
    return tuple(Own(r.file, r.kind, r.id, tuple(ref.target for ref in file_references(r)))
                 for r in sorted(records, key=lambda r: (r.file, r.doc)))  # (as in the file)


def holdings(present: Mapping[str, Mapping[str, str]],
             wanted: Mapping[str, Mapping[str, Iterable[str]]],
             own: Mapping[str, Mapping[str, Iterable[Own]]]) -> dict[str, tuple[Held, ...]]:
    """Use case id → the evidence files of the pack that are its own, with their kinds.

    ``present`` is commit → {path: blob} of the files the pack copies, ``wanted`` use case →
    commit → the evidence paths of that use case, ``own`` use case → commit → its records
    there (:func:`own_records`). Only ``present`` files are returned: the mapping never
    names a file the pack does not hold.
    """
    out: dict[str, tuple[Held, ...]] = {}
    for use_case, commits in wanted.items():
        held: list[Held] = []
        for sha, paths in commits.items():
            files, records = present.get(sha, {}), own.get(use_case, {}).get(sha, ())
            mine = {p for p in paths if p in files}
            for record in sorted((r for r in records if r.file in mine), key=lambda r: r.file):
                held.append(Held(f"{EVIDENCE}{sha}/{record.file}", sha, record.file,
                                 record.kind, record.id))
                held.extend(Held(f"{EVIDENCE}{sha}/{target}", sha, target, record.kind,
                                 record.id, referenced=True)
                            for target in record.references if target in mine)
        out[use_case] = tuple(dict.fromkeys(held))
    return out


# -- answers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cited:
    """A file of the pack that answers (part of) a requirement."""

    path: str
    what: str


@dataclass(frozen=True)
class Gap:
    missing: str
    close: str  # a record field, a command, or a process outside govctl


@dataclass(frozen=True)
class Answer:
    cited: tuple[Cited, ...] = ()
    gaps: tuple[Gap, ...] = ()

    def __add__(self, other: Answer) -> Answer:
        return Answer(tuple(dict.fromkeys(self.cited + other.cited)),
                      tuple(dict.fromkeys(self.gaps + other.gaps)))


NOTHING = Answer()

# what closes the usual gaps
APPROVE = ("approve it (`govctl approve`) and commit the Approval: a pack holds the records "
           "as committed at the approval commits of its period (see `--since`)")
OBSERVE = "build the pack with `--observations FILE` (the monitoring values at `--as-of`)"
DRILL = "an Exercise record (`govctl drill`)"
REAPPROVE = "re-approve it (`govctl approve`)"
OUTSIDE = "a process outside govctl"


@dataclass(frozen=True)
class View:
    """One use case as the pack holds it."""

    data: UseCaseData
    held: tuple[Held, ...]
    observations: Mapping[str, Any] | None  # pack.observations

    @property
    def id(self) -> str:
        return str(self.data["use_case"]["id"])

    @cached_property  # (asked per held file: a long approval history holds thousands)
    def latest(self) -> str | None:
        """The commit whose records describe the use case: its current approval's, when the
        pack holds it, else the last approval commit it holds."""
        commits = list(dict.fromkeys(h.commit for h in self.held))
        current = ((self.data["approval"] or {}).get("commit") or {}).get("sha")
        if current in commits:
            return str(current)
        return commits[-1] if commits else None

    def records(self, *kinds: str, every: bool = False, referenced: bool = False
                ) -> tuple[Held, ...]:
        """Held files of these kinds: at the latest commit, or ``every`` approval commit;
        the records themselves, or the files they reference."""
        return tuple(h for h in self.held if h.kind in kinds and h.referenced == referenced
                     and (every or h.commit == self.latest))


def _cite(held: Iterable[Held], about: str = "") -> Answer:
    """One citation per file, naming the records in it (people.yaml holds many)."""
    by_path: dict[str, dict[str, list[str]]] = {}
    for h in held:
        by_path.setdefault(h.path, {}).setdefault(h.kind, []).append(h.record)
    return Answer(tuple(
        Cited(path, about + "; ".join(f"{kind} {', '.join(dict.fromkeys(ids))}"
                                      for kind, ids in kinds.items()))
        for path, kinds in by_path.items()))


def described(*kinds: str, every: bool = False) -> Callable[[View], Answer]:
    """The records of these kinds, as committed: at the latest approval commit, or at
    every one (what changed over the lifecycle)."""
    def answer(view: View) -> Answer:
        if not view.held:
            return Answer(gaps=(Gap("no approval of it is committed in this pack, so none of "
                                    "its records is held as committed", APPROVE),))
        found = view.records(*kinds, every=every)
        # what the README says of a record the pack does not hold is not evidence of it
        absent = [k for k in kinds if not any(h.kind == k for h in found)]
        return _cite(found) + Answer(gaps=tuple(
            Gap(f"no {kind} record of it in evidence/", APPROVE) for kind in absent))
    return answer


def referenced(*kinds: str) -> Callable[[View], Answer]:
    """The files records of these kinds reference (prompt, tool schemas, data, runbook)."""
    def answer(view: View) -> Answer:
        return _cite(view.records(*kinds, referenced=True), "referenced by ")
    return answer


def readme(section: str, key: str) -> Callable[[View], Answer]:
    """A section of README.md, computed from git: evidence only when it has entries."""
    def answer(view: View) -> Answer:
        if not view.data[key]:
            return NOTHING
        return Answer((Cited(README, f"{section} of {view.id}"),))
    return answer


def observed(view: View) -> Answer:
    """Performance in production is evidenced only by observed values inside the pack."""
    if view.observations is None or not view.data["observations"]["given"]:
        return Answer(gaps=(Gap("no observed values in this pack", OBSERVE),))
    signals = (view.data["contract"] or {}).get("signals", [])
    judged = {s["signal"]: s for s in signals if s["approved"]}
    if all(s["state"] == "missing" for s in judged.values()):
        # a file that holds nothing of this use case answers nothing for it
        return Answer(gaps=(Gap("no observed value of it in observations/",
                                "observations of its signals in the file given to "
                                "`--observations`"),))
    files = Answer((Cited(view.observations["file"], "observed values"),
                    Cited(view.observations["status"], f"status of {view.id} computed from "
                                                        "them")))
    unobserved = [s for s in view.data["required_signals"]
                  if s not in judged or judged[s]["state"] in ("missing", "stale")]
    gaps = []
    if unobserved:
        gaps.append(Gap(f"no fresh observed value for required signal(s): "
                        f"{', '.join(unobserved)}",
                        "observations of those signals in the file given to `--observations`"))
    if view.data["observations"]["unapproved_digests"]:
        gaps.append(Gap("observations show an unapproved bundle digest serving (GOV085)",
                        "serve the approved bundle, or approve the one that serves "
                        "(`govctl approve`)"))
    return files + Answer(gaps=tuple(gaps))


def approval(view: View) -> Answer:
    state = view.data["approval"]
    if state is None:
        return Answer(gaps=(Gap("no current approval", "an Approval record (`govctl approve`)"),))
    if state["state"] != "current":
        return Answer(gaps=(Gap(f"current approval is {state['state']}", REAPPROVE),))
    return NOTHING


def contract(view: View) -> Answer:
    if view.data["contract"] is None:
        return Answer(gaps=(Gap("no valid threshold contract", "a ThresholdContract record, "
                                "named by the UseCase's `thresholds`"),))
    missing = view.data["missing_signals"]
    if missing:
        return Answer(gaps=(Gap(f"contract lacks required signal(s): {', '.join(missing)}",
                                "those signals in the ThresholdContract, re-approved"),))
    return NOTHING


def signal(*names: str) -> Callable[[View], Answer]:
    def answer(view: View) -> Answer:
        have = {s["signal"] for s in (view.data["contract"] or {}).get("signals", [])}
        missing = [n for n in names if n not in have]
        if not missing:
            return NOTHING
        return Answer(gaps=(Gap(f"no {', '.join(missing)} signal in the contract",
                                "the signal in the ThresholdContract, re-approved"),))
    return answer


def evaluation(view: View) -> Answer:
    evals, state = view.data["eval_sets"], view.data["approval"]
    gaps = []
    if not evals:
        gaps.append(Gap("no evaluation set", "an EvalSet record, named by the Bundle's "
                                             "`eval_set`"))
    elif not any(e["factors"] for e in evals):
        gaps.append(Gap("no evaluation factors: accuracy for specific groups is not "
                        "evidenced", "`factors` in the EvalSet"))
    if state is not None and not state["eval"]["results"]:
        gaps.append(Gap("no evaluation results recorded at approval", "`eval.results` in the "
                        "Approval (`govctl approve --eval-result METRIC=VALUE`)"))
    return Answer(gaps=tuple(gaps))


def tested(view: View) -> Answer:
    """Art. 9(8): tested before release against the prior defined thresholds — the eval
    results recorded at approval, judged by the approved contract."""
    state = view.data["approval"]
    if state is None:
        return NOTHING  # (no approval: its own gap)
    if not state["eval"]["results"]:
        return Answer(gaps=(Gap("no evaluation results recorded at approval", "`eval.results`"
                                " in the Approval (`govctl approve --eval-result METRIC=VALUE`)"),))
    outside = [q["metric"] for q in view.data["quantitative"] if q["ok"] is False]
    if not outside:
        return NOTHING
    return Answer(gaps=(Gap(f"eval result(s) outside the approved thresholds: "
                            f"{', '.join(outside)} (GOV036)", "re-evaluate, or re-approve "
                            "with a contract the results meet (`govctl approve`)"),))


def factors(view: View) -> Answer:
    if any(e["factors"] for e in view.data["eval_sets"]):
        return NOTHING
    return Answer(gaps=(Gap("no evaluation factors: effects on specific groups are not "
                            "evaluated", "`factors` in the EvalSet"),))


def training(view: View) -> Answer:
    missing = [m["name"] for m in view.data["models"] if not m["training"]]
    if not missing:
        return NOTHING
    return Answer(gaps=(Gap(f"no training-data notes for model(s): {', '.join(missing)}",
                            "`training` in the Model (summary, datasets, cutoff)"),))


def fallback(view: View) -> Answer:
    if view.data["use_case"].get("fallback"):
        return NOTHING
    return Answer(gaps=(Gap("no fallback declared", "`fallback` in the UseCase"),))


def oncall(view: View) -> Answer:
    team = view.data["use_case"]["team"]
    if team and team.get("oncall"):
        return NOTHING
    return Answer(gaps=(Gap("no on-call rotation", "`oncall` in the Team"),))


def runbook(view: View) -> Answer:
    if (view.data["contract"] or {}).get("on_breach", {}).get("runbook"):
        return NOTHING
    return Answer(gaps=(Gap("no runbook for a breach", "`on_breach.runbook` in the "
                                                       "ThresholdContract"),))


def out_of_scope(view: View) -> Answer:
    if view.data["use_case"]["out_of_scope"]:
        return NOTHING
    return Answer(gaps=(Gap("no out-of-scope uses recorded", "`out_of_scope` in the "
                                                             "UseCase"),))


def lifecycle(view: View) -> Answer:
    if view.data["bundle_versions"]:
        return NOTHING
    return Answer(gaps=(Gap("no bundle version found in the history", "commit the Bundle "
                                                                      "records"),))


def provenance(view: View) -> Answer:
    # (an approval re-bound in place has a timeline row per version: named once)
    lost = list(dict.fromkeys(a["id"] for a in view.data["approval_timeline"]
                              if a["commit"] is None))
    if not lost:
        return NOTHING
    return Answer(gaps=(Gap(f"approval(s) not found in the git history: {', '.join(lost)}",
                            "commit the Approval records"),))


def signed(view: View) -> Answer:
    """Annex IV 2(g) asks for dated and *signed* test logs: the approval that records the
    results is signed when its commit carries an approver's good signature (SPEC §3.4)."""
    unsigned = list(dict.fromkeys(a["id"] for a in view.data["approval_timeline"]
                                  if a["commit"] is not None and not a["commit"]["signed"]))
    if not unsigned:
        return NOTHING
    return Answer(gaps=(Gap(f"approval commit(s) not signed by an approver: "
                            f"{', '.join(unsigned)}", "approvers sign the approval commits "
                            "(`git commit -S`; Policy `approvals.provenance: signed`)"),))


def vendor_terms(view: View) -> Answer:
    gaps = []
    for m in view.data["models"]:
        if m["type"] != "vendor-endpoint":
            continue
        if not m["snapshot"]:
            gaps.append(Gap(f"vendor model {m['name']} has no pinned snapshot",
                            "`snapshot` in the Model"))
        if not any(m["contract"].values()):
            gaps.append(Gap(f"vendor model {m['name']} records no contract terms",
                            "`contract` in the Model (notice_days, reapproval_on_change, "
                            "incident_cooperation)"))
    return Answer(gaps=tuple(gaps))


def tool_permissions(view: View) -> Answer:
    bare = [t["name"] for b in view.data["bundles"] for t in b["tools"] if not t["permissions"]]
    if not bare:
        return NOTHING
    return Answer(gaps=(Gap(f"tool(s) without declared permissions: {', '.join(bare)}",
                            "`tools[].permissions` in the Bundle"),))


def incidents(view: View) -> Answer:
    """The incidents of the use case: README.md lists them all (as of the end of the
    period); evidence/ holds those committed by an approval."""
    found = view.data["incidents"]
    if not found:
        return NOTHING
    return Answer((Cited(README, f"incidents of {view.id}"),)) + _cite(
        view.records("Incident"))


def reporting(view: View) -> Answer:
    """Art. 73 for one use case: no incident recorded is not evidence that reporting works."""
    if not view.data["incidents"]:
        return Answer(gaps=(Gap("no incident recorded: serious-incident reporting is not "
                                "evidenced", "an Incident record when one occurs (with "
                                "`serious` and `reported_to_authority`)"),))
    gaps = []
    for i in view.data["incidents"]:
        if not i["serious"]:
            continue
        if i["late"]:
            gaps.append(Gap(f"serious incident not reported in time: {i['id']} (due "
                            f"{i['reporting_deadline']})", "report it; `reported_to_authority`"
                            " in the Incident"))
        elif not i["reported_to_authority"]:
            gaps.append(Gap(f"serious incident not reported yet: {i['id']} (due "
                            f"{i['reporting_deadline']})", "`reported_to_authority` in the "
                            "Incident once reported"))
    return incidents(view) + Answer(gaps=tuple(gaps))


def responded(view: View) -> Answer:
    bare = [i["id"] for i in view.data["incidents"] if not i["actions"]]
    if not bare:
        return NOTHING
    return Answer(gaps=(Gap(f"incident(s) without recorded actions: {', '.join(bare)}",
                            "`actions` in the Incident (what was done, when, by whom)"),))


def exercised(view: View) -> Answer:
    """A tabletop drill held for the use case: an Exercise record in the pack."""
    drills = view.records("Exercise", every=True)
    if drills:
        return _cite(drills)
    return Answer(gaps=(Gap("no tabletop exercise in this pack", DRILL),))


def measurement_reviewed(view: View) -> Answer:
    changes = readme("threshold changes", "threshold_changes")(view)
    caught = [i for i in view.data["incidents"] if i["signal"]]
    if changes.cited or caught:
        return changes + (Answer((Cited(README, f"incidents of {view.id} naming the signal "
                                           "that caught them"),)) if caught else NOTHING)
    return Answer(gaps=(Gap("no threshold change and no incident naming a signal: the "
                            "measurements are not shown reviewed", "review the contract (a "
                            "ThresholdContract change, re-approved with `govctl approve`)"),))


def combine(*parts: Callable[[View], Answer]) -> Callable[[View], Answer]:
    def answer(view: View) -> Answer:
        total = NOTHING
        for part in parts:
            total = total + part(view)
        return total
    return answer


# -- the requirements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    framework: str
    ref: str
    title: str
    evidence: str  # what in a pack answers it, in words
    answer: Callable[[View], Answer] = lambda view: NOTHING
    # what no pack holds (every use case), and what would close it
    outside: tuple[Gap, ...] = ()
    parts: tuple[str, ...] = ()  # refs of sub-points: the point is answered by them too
    parent: str | None = None


def _outside(missing: str, close: str = OUTSIDE) -> tuple[Gap, ...]:
    return (Gap(missing, close),)


OVERSIGHT_OUTSIDE = _outside(
    "the oversight interface and the overseers' ability to interpret, override or reverse "
    "single outputs (Art. 14(1), 14(4)(a)-(d))",
    f"{OUTSIDE}: the product's oversight design and the instructions for use")
SEE_PARTS = "see its sub-points"

REQUIREMENTS: tuple[Requirement, ...] = (
    # EU AI Act Annex IV: the technical documentation (regulatory.md §1.5)
    Requirement(EU, "Annex IV 1", "General description: purpose, provider, versions, "
                "interaction with other systems (1(a)-(c))",
                "UseCase, Bundle and Model records as committed; bundle versions (README.md)",
                combine(described("UseCase", "Bundle", "Model"),
                        readme("bundle versions", "bundle_versions")),
                _outside("release forms, target hardware, product illustrations, user "
                         "interface and instructions for use (1(d)-(h))",
                         f"{OUTSIDE}: the provider's technical file")),
    Requirement(EU, "Annex IV 2", "Development: methods, design, data, oversight, changes, "
                "testing, cybersecurity", SEE_PARTS,
                parts=tuple(f"Annex IV 2({p})" for p in "abcdefgh")),
    Requirement(EU, "Annex IV 2(a)", "Methods and steps of development, incl. third-party "
                "pre-trained systems", "Bundle (class, model, params, retrieval, features) "
                "and Model (provider, snapshot or artifact, training) records",
                combine(described("Bundle", "Model"), training),
                _outside("the development steps themselves (how the model was trained or "
                         "selected, how the prompt and retrieval were tuned)",
                         f"{OUTSIDE}: a development log in the technical file"),
                parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(b)", "Design specifications: general logic, key choices, "
                "trade-offs", "Bundle records and the prompt and tool-schema files they "
                "reference", combine(described("Bundle"), referenced("Bundle")),
                _outside("the rationale for the design choices and trade-offs",
                         f"{OUTSIDE}: a design note in the technical file"),
                parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(c)", "System architecture and computational resources",
                "Bundle composition (components, models, tools)", described("Bundle"),
                _outside("the computational resources used to develop, train, test and "
                         "validate"), parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(d)", "Data requirements: datasheets (provenance, selection, "
                "labelling, cleaning)", "Model `training` notes; EvalSet records (population,"
                " collection date, size) and the data files they digest",
                combine(described("Model", "EvalSet"), referenced("EvalSet"), training),
                _outside("labelling and cleaning methods of the training and test data",
                         f"{OUTSIDE}: datasheets for the data sets"), parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(e)", "Assessment of the human-oversight measures (Art. 14)",
                "Approval records (approvers by name and role), UseCase fallback, Team "
                "on-call, the contract's on-breach action",
                combine(described("Approval", "UseCase", "Team", "ThresholdContract"),
                        approval, fallback, oncall), OVERSIGHT_OUTSIDE, parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(f)", "Pre-determined changes, and how continuous compliance "
                "is kept", "Approvals bind the bundle and contract digests, so any change "
                "needs re-approval; the approval timeline (README.md) shows each",
                combine(described("Approval"), readme("approval timeline",
                                                      "approval_timeline")),
                _outside("a plan of pre-determined changes (e.g. scheduled retraining), if "
                         "there is one", f"{OUTSIDE}; each change is then re-approved "
                         "(`govctl approve`)"), parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(g)", "Validation and testing: data, metrics, dated and "
                "signed test logs", "EvalSet records and data files, eval results in the "
                "Approval, approval commits with their signature state (README.md)",
                combine(described("EvalSet", "Approval"), referenced("EvalSet"),
                        readme("approval timeline", "approval_timeline"), evaluation, signed),
                parent="Annex IV 2"),
    Requirement(EU, "Annex IV 2(h)", "Cybersecurity measures", "the contract's abuse signal; "
                "tool permissions in the Bundle",
                combine(described("ThresholdContract", "Bundle"), signal("abuse")),
                _outside("the cybersecurity measures themselves (access control, hardening, "
                         "defences against poisoning and adversarial inputs)",
                         f"{OUTSIDE}: the security assessment"), parent="Annex IV 2"),
    Requirement(EU, "Annex IV 3", "Monitoring, functioning and control: capabilities and "
                "limits, accuracy for groups and overall, oversight, input data",
                "UseCase (population, out-of-scope uses), ThresholdContract (signals, "
                "on-breach action), EvalSet factors, eval results at approval",
                combine(described("UseCase", "ThresholdContract", "EvalSet"), contract,
                        evaluation),
                _outside("foreseeable unintended outcomes and sources of risk, and input-data"
                         " specifications, beyond what the records hold",
                         f"{OUTSIDE}: the instructions for use")),
    Requirement(EU, "Annex IV 4", "Why the chosen performance metrics are appropriate",
                "ThresholdContract (metric, thresholds, windows) approved by named roles",
                combine(described("ThresholdContract", "Approval"), contract),
                _outside("the rationale for each metric and threshold",
                         f"{OUTSIDE} (e.g. the rationale in the Approval's `notes`)")),
    Requirement(EU, "Annex IV 5", "The risk-management system (Art. 9)",
                "Policy (risk tiers, required approvals, independence, validity), UseCase "
                "risk tier, ThresholdContract and Approval records; findings (README.md)",
                combine(described("Policy", "UseCase", "ThresholdContract", "Approval"),
                        readme("findings", "findings"), contract, approval)),
    Requirement(EU, "Annex IV 6", "Relevant changes made over the lifecycle",
                "approval timeline, bundle versions and threshold changes (README.md, from "
                "git); the records as committed at every approval commit",
                combine(described("UseCase", "Bundle", "ThresholdContract", "Approval",
                                  every=True),
                        readme("approval timeline", "approval_timeline"),
                        readme("bundle versions", "bundle_versions"),
                        readme("threshold changes", "threshold_changes"), lifecycle)),
    Requirement(EU, "Annex IV 7", "Harmonised standards applied, or the other solutions "
                "used", "—", outside=_outside(
                    "the standards applied (e.g. ISO/IEC 42001) or the other solutions used",
                    f"{OUTSIDE}: the provider's technical file")),
    Requirement(EU, "Annex IV 8", "EU declaration of conformity (Art. 47)", "—",
                outside=_outside("the declaration of conformity",
                                 f"{OUTSIDE}: a copy of the signed declaration (Art. 47)")),
    Requirement(EU, "Annex IV 9", "Post-market performance evaluation (Art. 72), incl. the "
                "monitoring plan (Art. 72(3))", "ThresholdContract (the monitoring plan: "
                "alert rules are compiled from it), Team on-call, incidents; observed values"
                " and the status computed from them (observations/)",
                combine(described("ThresholdContract", "Team"), contract, oncall, incidents,
                        observed)),
    # EU AI Act articles (regulatory.md §1.4, §1.6)
    Requirement(EU, "Art. 9", "Risk management; testing against prior defined metrics and "
                "probabilistic thresholds (9(8))", "ThresholdContract thresholds, eval results"
                " at approval against them, Approvals, findings (README.md); tabletop "
                "exercises (Exercise records)",
                combine(described("ThresholdContract", "Approval"),
                        readme("findings", "findings"), contract, approval, tested, exercised),
                _outside("an assessment of foreseeable risks and misuse (9(2)(a)-(b)) beyond "
                         "the risk tier, out-of-scope uses and contract",
                         f"{OUTSIDE}: the risk assessment")),
    Requirement(EU, "Art. 12", "Record-keeping: automatic logging over the lifetime",
                "the approved bundle digest, which logs carry with each inference (`govctl "
                "trace` maps a digest to its approval)", described("Approval"),
                _outside("the logs themselves and their retention (at least 6 months, "
                         "Art. 19 and 26(6))", f"{OUTSIDE}: the serving platform's logs")),
    Requirement(EU, "Art. 14", "Human oversight", "approvers by name and role, separation of "
                "duties, on-breach action, fallback, on-call rotation and escalation",
                combine(described("Approval", "UseCase", "Team", "ThresholdContract"),
                        approval, fallback, oncall), OVERSIGHT_OUTSIDE),
    Requirement(EU, "Art. 15", "Accuracy, robustness (fail-safe plans), cybersecurity",
                "accuracy_proxy, latency, abuse and fallback signals of the contract; the "
                "UseCase fallback",
                combine(described("ThresholdContract", "UseCase"),
                        signal("accuracy_proxy", "latency", "abuse", "fallback"), fallback),
                _outside("defences against data or model poisoning, adversarial examples and "
                         "confidentiality attacks (15(5))",
                         f"{OUTSIDE}: security testing (a red-team EvalSet records its "
                         "results)")),
    Requirement(EU, "Art. 72", "Post-market monitoring", "the contract's signals (drift among"
                " them), incidents, observed values judged against the approved thresholds "
                "(observations/)",
                combine(described("ThresholdContract"), signal("drift"), incidents,
                        observed)),
    Requirement(EU, "Art. 73", "Reporting serious incidents (2/10/15 days)", "Incident "
                "records: detection time, serious kind, reporting deadline, report date "
                "(README.md; evidence/ when committed by an approval)", reporting),
    # NIST AI RMF 1.0: the 19 categories (regulatory.md §2)
    Requirement(NIST, "GOVERN 1", "Policies, processes and procedures; 1.6 inventory; 1.7 "
                "decommissioning", "Policy record; the use cases in this pack with their "
                "status; Model lifecycle dates; findings (README.md)",
                combine(described("Policy", "UseCase", "Model"),
                        readme("findings", "findings")),
                _outside("the register of legal requirements (1.1) and decommissioning "
                         "procedures beyond lifecycle dates (1.7)")),
    Requirement(NIST, "GOVERN 2", "Accountability: roles, responsibilities, training; 2.3 "
                "executive ownership", "UseCase owner, Team, Person roles, approvers and "
                "their roles; commit, author and signature of every approval (README.md)",
                combine(described("UseCase", "Team", "Person", "Approval"),
                        readme("approval timeline", "approval_timeline"), provenance),
                _outside("training of the people involved (2.2)",
                         f"{OUTSIDE}: training records")),
    Requirement(NIST, "GOVERN 3", "Diverse teams inform risk work; 3.2 human-AI oversight "
                "roles", "Team members; the Policy's approval roles and independence rules; "
                "approvers by role", described("Team", "Policy", "Approval"),
                _outside("the diversity of the teams (3.1)")),
    Requirement(NIST, "GOVERN 4", "A culture that considers and communicates risk; 4.3 "
                "incident sharing", "the change history of the records, each commit with its"
                " author (README.md); Incident records",
                combine(readme("approval timeline", "approval_timeline"), incidents),
                _outside("organisational culture and critical thinking (4.1, 4.2)")),
    Requirement(NIST, "GOVERN 5", "Engagement with relevant AI actors and external feedback",
                "—", outside=_outside(
                    "collecting and using feedback from external actors and affected people",
                    f"{OUTSIDE} (feedback that reveals a failure becomes an Incident record)")),
    Requirement(NIST, "GOVERN 6", "Third-party and supply-chain policies; 6.2 contingency "
                "plans", "Model records (provider, snapshot, lifecycle, vendor contract "
                "terms), Bundle tools; UseCase fallback (contingency)",
                combine(described("Model", "Bundle", "UseCase"), vendor_terms, fallback)),
    Requirement(NIST, "MAP 1", "Context: purpose, setting, requirements", "UseCase (intended "
                "use, population, out-of-scope uses, risk tier)",
                combine(described("UseCase"), out_of_scope)),
    Requirement(NIST, "MAP 2", "Categorisation: tasks, methods, knowledge limits", "UseCase "
                "risk tier and Annex III area, Bundle class, Model training notes",
                combine(described("UseCase", "Bundle", "Model"), training)),
    Requirement(NIST, "MAP 3", "Capabilities, usage, benefits and costs against benchmarks",
                "eval results at approval against the contract's thresholds; EvalSet records",
                combine(described("Approval", "EvalSet", "ThresholdContract"), evaluation),
                _outside("the expected benefits and costs (3.1, 3.2)",
                         f"{OUTSIDE}: the business case")),
    Requirement(NIST, "MAP 4", "Risks and benefits of every component, incl. third-party",
                "Bundle composition (components, models, tools and their permissions), Model"
                " records, the files the Bundles reference",
                combine(described("Bundle", "Model"), referenced("Bundle"), tool_permissions)),
    Requirement(NIST, "MAP 5", "Impacts on individuals, groups, organisations and society",
                "UseCase population, risk tier and exposure; EvalSet factors (groups "
                "evaluated separately); incidents",
                combine(described("UseCase", "EvalSet"), factors, incidents),
                _outside("an impact assessment: likelihood and magnitude of each impact (5.1)",
                         f"{OUTSIDE}: the (fundamental-rights) impact assessment")),
    Requirement(NIST, "MEASURE 1", "Appropriate methods and metrics identified and applied",
                "ThresholdContract signals (metric, thresholds, window) covering the Policy's"
                " required signals", combine(described("ThresholdContract", "Policy"),
                                             contract)),
    Requirement(NIST, "MEASURE 2", "Evaluated for trustworthy characteristics", SEE_PARTS,
                outside=_outside("evaluations of safety, security, explainability, privacy, "
                                 "fairness and environmental impact beyond the contract's "
                                 "signals and the eval results (2.2, 2.3, 2.5-2.13)",
                                 f"{OUTSIDE}, or EvalSets and contract signals for them"),
                parts=("MEASURE 2.1", "MEASURE 2.4")),
    Requirement(NIST, "MEASURE 2.1", "Test sets, metrics and tools documented", "EvalSet "
                "records and the data files they digest; eval results in the Approval",
                combine(described("EvalSet", "Approval"), referenced("EvalSet"), evaluation),
                parent="MEASURE 2"),
    Requirement(NIST, "MEASURE 2.4", "Functionality and behaviour monitored in production",
                "the contract's signals judged against observed values (observations/)",
                combine(described("ThresholdContract"), contract, observed),
                parent="MEASURE 2"),
    Requirement(NIST, "MEASURE 3", "Risks tracked over time; 3.3 feedback channels",
                "threshold changes, bundle versions, approval timeline and incidents "
                "(README.md)",
                combine(readme("approval timeline", "approval_timeline"),
                        readme("bundle versions", "bundle_versions"),
                        readme("threshold changes", "threshold_changes"), incidents,
                        lifecycle),
                _outside("feedback channels for users and affected people (3.3)")),
    Requirement(NIST, "MEASURE 4", "Feedback on measurement efficacy gathered and used",
                "threshold changes (README.md, marked loosened/tightened) and incidents "
                "naming the signal that caught them", measurement_reviewed,
                _outside("feedback from experts and users on whether the metrics measure what"
                         " matters (4.2, 4.3)")),
    Requirement(NIST, "MANAGE 1", "Risks prioritised and treated; 1.1 go/no-go decisions",
                "Approval decisions, conditions and their timeline (README.md)",
                combine(described("Approval"), readme("approval timeline",
                                                      "approval_timeline"), approval)),
    Requirement(NIST, "MANAGE 2", "Plans to maximise benefit and minimise harm, incl. human "
                "oversight", "the contract's on-breach action and runbook, UseCase fallback, "
                "Approval conditions",
                combine(described("ThresholdContract", "UseCase", "Approval"),
                        referenced("ThresholdContract"), fallback, runbook)),
    Requirement(NIST, "MANAGE 3", "Third-party risks managed; 3.2 pre-trained models "
                "monitored", "Model records (snapshot, lifecycle dates, vendor contract "
                "terms); the bundle digest binds the model, so a model change needs "
                "re-approval", combine(described("Model", "Bundle"), vendor_terms)),
    Requirement(NIST, "MANAGE 4", "Treatments, recovery and communication documented",
                SEE_PARTS, outside=_outside("measurable improvement activities (4.2)"),
                parts=("MANAGE 4.1", "MANAGE 4.3")),
    Requirement(NIST, "MANAGE 4.1", "Post-deployment monitoring implemented",
                "ThresholdContract, Team on-call, observed values (observations/)",
                combine(described("ThresholdContract", "Team"), contract, oncall, observed),
                parent="MANAGE 4"),
    Requirement(NIST, "MANAGE 4.3", "Incidents and errors communicated; response and "
                "recovery", "Incident records (actions, root cause), the runbook, tabletop "
                "exercises (Exercise records)",
                combine(described("ThresholdContract"), referenced("ThresholdContract"),
                        incidents, responded, runbook, exercised),
                parent="MANAGE 4"),
)


# -- the rows of mapping.md ---------------------------------------------------------------------


def _status(answer: Answer, outside: bool) -> str:
    if not answer.cited:
        return GAP
    return PARTIAL if answer.gaps or outside else EVIDENCED


def _row_status(statuses: list[str], outside: bool) -> str:
    if all(s == GAP for s in statuses):
        return GAP
    return EVIDENCED if all(s == EVIDENCED for s in statuses) and not outside else PARTIAL


def _file_json(cited: Cited) -> dict[str, str]:
    # evidence/<commit>/ is the folder a reader opens: the documents group files by it
    folder, name = "", cited.path
    if cited.path.startswith(EVIDENCE):
        sha, _, name = cited.path.removeprefix(EVIDENCE).partition("/")
        folder = f"{EVIDENCE}{sha}/"
    return {"path": cited.path, "folder": folder, "name": name, "what": cited.what}


def _gap_json(gap: Gap) -> dict[str, str]:
    return {"missing": gap.missing, "close": gap.close}


def mapping(use_cases: list[UseCaseData], held: Mapping[str, tuple[Held, ...]] | None = None,
            observations: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows for the mapping document (docs/templates.md, ``pack.mapping[]``): per
    requirement, per use case, the pack files that answer it and what is missing."""
    views = [View(uc, (held or {}).get(uc["use_case"]["id"], ()), observations)
             for uc in use_cases]
    # one object for each file and gap cited alike: the same file answers many
    # requirements of many use cases (2,000 use cases: 170 MB of equal dicts otherwise)
    shared: dict[tuple[str, ...], dict[str, str]] = {}

    def file_json(cited: Cited) -> dict[str, str]:
        key = ("file", cited.path, cited.what)
        return shared.get(key) or shared.setdefault(key, _file_json(cited))

    def gap_json(gap: Gap) -> dict[str, str]:
        key = ("gap", gap.missing, gap.close)
        return shared.get(key) or shared.setdefault(key, _gap_json(gap))

    # and one list for each list of them cited alike: a use case's requirements are
    # mostly answered by the same files (92,000 lists: 20 MB)
    lists: dict[tuple[int, ...], list[dict[str, str]]] = {}

    def one_list(items: list[dict[str, str]]) -> list[dict[str, str]]:
        return lists.setdefault(tuple(map(id, items)), items)

    by_ref = {r.ref: r for r in REQUIREMENTS}
    rows = []
    for req in REQUIREMENTS:
        # a point with sub-points is answered by them too (and by its own outside parts)
        pieces = [req, *(by_ref[p] for p in req.parts)]
        outside = tuple(dict.fromkeys(g for p in pieces for g in p.outside))
        per_use_case = []
        for view in views:
            answer = NOTHING
            for piece in pieces:
                answer = answer + piece.answer(view)
            per_use_case.append({
                "id": view.id, "status": _status(answer, bool(outside)),
                "files": one_list([file_json(c) for c in answer.cited]),
                "gaps": one_list([gap_json(g) for g in answer.gaps]),
            })
        files = sorted({f["path"] for uc in per_use_case for f in uc["files"]})
        rows.append({
            "framework": req.framework, "ref": req.ref, "title": req.title,
            "parent": req.parent, "parts": list(req.parts),
            "evidence": req.evidence,
            "status": _row_status([uc["status"] for uc in per_use_case], bool(outside)),
            "use_cases": per_use_case, "outside": [_gap_json(g) for g in outside],
            "files": files,
            # one line per gap, as the table shows them
            "gaps": [f"{uc['id']}: {g['missing']}" for uc in per_use_case for g in uc["gaps"]]
            + [f"not in the repository: {g.missing}" for g in outside],
        })
    return rows
