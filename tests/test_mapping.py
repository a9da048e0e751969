"""`mapping.md` of an audit pack (SPEC §4, issue 16): every EU AI Act Annex IV point and
every NIST AI RMF 1.0 category, each once, marked evidenced / partial / gap per use case,
with the pack files that answer it and what would close the rest. The first law is no
false assurance: a status is checked against the files the pack and its manifest hold,
post-market monitoring against `--observations`, incident reporting against the incidents
recorded."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from govctl.documents.mapping import REQUIREMENTS, Held, Own, holdings, mapping, own_records
from govctl.model.repository import WorktreeSource, load_repository
from tests.conftest import commit_all, init_git
from tests.observation_support import AS_OF_TEXT, Row, ago, write_observations
from tests.render_support import (
    SERIOUS_INCIDENT,
    USE_CASE,
    History,
    build_history,
    manifest_of,
    md_rows,
    run_cli,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples"

ANNEX_IV = [f"Annex IV {n}" for n in range(1, 10)] + [f"Annex IV 2({p})" for p in "abcdefgh"]
ARTICLES = [f"Art. {n}" for n in (9, 12, 14, 15, 72, 73)]
NIST_CATEGORIES = ([f"GOVERN {n}" for n in range(1, 7)] + [f"MAP {n}" for n in range(1, 6)]
                   + [f"MEASURE {n}" for n in range(1, 5)]
                   + [f"MANAGE {n}" for n in range(1, 5)])
SUB_POINTS = ["MEASURE 2.1", "MEASURE 2.4", "MANAGE 4.1", "MANAGE 4.3"]
# what only observed values inside the pack evidence
MONITORING = ("Art. 72", "Annex IV 9", "MEASURE 2.4", "MANAGE 4.1")

MARKS = {"✔ evidenced": "evidenced", "◐ partial": "partial", "✖ gap": "gap"}
OTHER_MODEL = """\
apiVersion: govctl/v1
kind: Model
metadata: {id: other-model}
spec: {provider: x, name: other, type: vendor-endpoint, snapshot: s1, training: {summary: t},
       contract: {notice_days: 30}}
"""
INCIDENT_OF_ANOTHER = """\
apiVersion: govctl/v1
kind: Incident
metadata: {id: inc-of-another}
spec: {use_case: doc-summary, detected: 2026-10-16T08:30:00Z, severity: sev3, status: open,
       signal: latency, summary: Not this use case.}
"""
HEALTHY = {"latency": 900.0, "accuracy_proxy": 0.95, "drift": 0.05, "abuse": 0.001,
           "fallback": 0.1}


# -- reading mapping.md as an auditor would ---------------------------------------------------


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@dataclass
class Entry:
    """One use case under one requirement."""

    status: str
    files: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (missing, closes with)


@dataclass
class Section:
    """One requirement of the "by requirement" part."""

    status: str
    use_cases: dict[str, Entry] = field(default_factory=dict)
    outside: list[tuple[str, str]] = field(default_factory=list)
    has_parts: bool = False


def sections(doc: str) -> dict[str, Section]:
    """Requirement ref → what the document says of it, read from its lines."""
    found: dict[str, Section] = {}
    section: Section | None = None
    entry: Entry | None = None
    for line in doc.splitlines():
        head = re.fullmatch(r"### (?:EU AI Act|NIST AI RMF) (.+): (✔ evidenced|◐ partial|✖ gap)",
                            line)
        if head:
            ref = unescape(head.group(1))
            assert ref not in found, f"{ref} twice"
            section = found[ref] = Section(MARKS[head.group(2)])
            continue
        if section is None:
            continue
        if line.startswith("Over the point and its sub-points"):
            section.has_parts = True
        elif match := re.fullmatch(r"- `([^`]+)`: \**(✔ evidenced|◐ partial|✖ gap)\**", line):
            entry = section.use_cases[match.group(1)] = Entry(MARKS[match.group(2)])
        elif match := re.fullmatch(r"  - in `(evidence/[0-9a-f]+/)`: (.*)", line):
            assert entry is not None
            entry.files += [match.group(1) + name
                            for name in re.findall(r"`([^`]+)` \(", match.group(2))]
        elif match := re.fullmatch(r"  - `([^`]+)`: .*", line):
            assert entry is not None
            entry.files.append(match.group(1))
        elif match := re.fullmatch(r"  - missing: (.*) — closes with: (.*)", line):
            assert entry is not None
            entry.missing.append((unescape(match.group(1)), unescape(match.group(2))))
        elif match := re.fullmatch(r"- not in the repository, for any use case: (.*) — "
                                   r"closes with: (.*)", line):
            section.outside.append((unescape(match.group(1)), unescape(match.group(2))))
    return found


def summary(doc: str) -> dict[str, list[str]]:
    rows = md_rows(doc, "framework")
    refs = [r[1].split(" — ")[0] for r in rows]
    assert len(refs) == len(set(refs)), Counter(refs).most_common(3)
    return dict(zip(refs, rows, strict=True))


def read(pack: Path) -> str:
    return (pack / "mapping.md").read_text(encoding="utf-8")


def missing_of(entry: Entry) -> list[str]:
    return [m for m, _ in entry.missing]


# -- packs ------------------------------------------------------------------------------------


def pack_of(root: Path, out: Path, *args: object) -> Path:
    code, _, stderr = run_cli("audit-pack", *args, "-o", out, "--root", root)
    assert code == 0, stderr
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def history_pack(history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack_of(history.root, tmp_path_factory.mktemp("packs") / "pack", USE_CASE,
                   "--as-of", "2026-11-27")


@pytest.fixture(scope="module")
def example_packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example repository packed as the README shows: bare, and with observations."""
    base = tmp_path_factory.mktemp("example")
    # a committed copy: the checkout may not be a git repository (CI packs `git archive`)
    root = base / "repo"
    shutil.copytree(EXAMPLE / "governance-repo", root)
    init_git(root)
    commit_all(root, "the example records")
    return {
        "bare": pack_of(root, base / "bare", "--all"),
        "observed": pack_of(root, base / "observed", "--all", "--observations",
                            EXAMPLE / "observations" / "northwind-incident.jsonl",
                            "--as-of", "2026-11-27T12:00:00Z"),
    }


def committed(factory: Any, *, without: tuple[str, ...] = ()) -> Path:
    """The factory repository (one use case, its approval and a resolved incident) in one
    commit, less the files named."""
    for rel in without:
        del factory.files[rel]
    root = factory.build().root
    init_git(root)
    commit_all(root, "records and approval", date="2026-10-01T10:00:00Z")
    return root


def healthy_observations(root: Path, folder: Path, **values: float) -> Path:
    approval = yaml.safe_load((root / "approvals/claims-triage-2026-10-01.yaml").read_text())
    digest = approval["spec"]["bundle"]["digest"]
    rows = [Row(signal, value, ago(minutes=1), bundle_digest=digest)
            for signal, value in {**HEALTHY, **values}.items()]
    return write_observations(folder, rows, "jsonl")


# -- every point, once ------------------------------------------------------------------------


def test_every_annex_iv_point_and_nist_category_appears_exactly_once(history_pack):
    doc = read(history_pack)
    expected = ANNEX_IV + ARTICLES + NIST_CATEGORIES + SUB_POINTS
    for refs in (list(summary(doc)), list(sections(doc)), [r.ref for r in REQUIREMENTS]):
        counts = Counter(refs)
        assert set(counts) == set(expected), set(counts) ^ set(expected)
        assert all(n == 1 for n in counts.values()), counts.most_common(3)
    assert len(NIST_CATEGORIES) == 19
    # document order: each point before its sub-points, Annex IV before the articles
    refs = list(summary(doc))
    assert refs.index("Annex IV 2") < refs.index("Annex IV 2(a)") < refs.index("Annex IV 3")
    assert refs.index("MEASURE 2") < refs.index("MEASURE 2.4") < refs.index("MEASURE 3")
    assert refs.index("Annex IV 9") < refs.index("Art. 9") < refs.index("GOVERN 1")


def test_the_summary_and_the_details_agree(history_pack, example_packs):
    for pack in (history_pack, *example_packs.values()):
        doc = read(pack)
        rows, detail = summary(doc), sections(doc)
        use_cases = manifest_of(pack)["use_cases"]
        for ref, row in rows.items():
            assert MARKS[row[3]] == detail[ref].status, ref
            assert list(detail[ref].use_cases) == use_cases, ref


# -- evidenced only by files inside the pack --------------------------------------------------


def test_a_status_rests_only_on_files_the_pack_holds(history_pack, example_packs):
    for pack in (history_pack, *example_packs.values()):
        manifest = manifest_of(pack)["files"]
        for ref, section in sections(read(pack)).items():
            statuses = [e.status for e in section.use_cases.values()]
            if section.status == "evidenced":
                assert set(statuses) == {"evidenced"} and not section.outside, ref
            if section.status == "gap":
                assert set(statuses) == {"gap"}, ref
            if section.has_parts:
                continue  # judged over its sub-points, which name the files
            for use_case, entry in section.use_cases.items():
                where = f"{ref} / {use_case} in {pack.name}"
                # a status other than gap names files, and every file it names is in the
                # pack: on disk and in the manifest (evidence with the blob it came from)
                assert bool(entry.files) == (entry.status != "gap"), where
                if entry.status == "evidenced":
                    assert not entry.missing and not section.outside, where
                for name in entry.files:
                    assert name in manifest and (pack / name).is_file(), (where, name)
                    if name.startswith("evidence/"):
                        sha, _, path = name.removeprefix("evidence/").partition("/")
                        git = manifest[name]["git"]
                        assert (git["commit"], git["path"]) == (sha, path), (where, name)
                for missing, close in entry.missing:
                    assert close, (where, missing)


def test_a_use_case_never_approved_in_the_pack_evidences_no_record(history, tmp_path):
    """With --since after the last approval, the pack holds no record as committed: what
    rests on records is a gap for the use case, and says how to close it."""
    pack = pack_of(history.root, tmp_path / "later", USE_CASE, "--since", history.reapproval,
                   "--as-of", "2026-11-27")
    assert not any((pack / "evidence").iterdir())
    found = sections(read(pack))
    for ref in ("Art. 14", "MAP 1", "Annex IV 2(c)", "MEASURE 2.1"):
        entry = found[ref].use_cases[USE_CASE]
        assert entry.status == "gap" and not entry.files, ref
        assert found[ref].status == "gap"
        (missing, close), *_ = entry.missing
        assert missing == "no approval of it is committed in this pack, so none of its " \
                          "records is held as committed"
        assert "`govctl approve`" in close and "`--since`" in close
    # what README.md computed from git is still there: the serious incident, found late
    art73 = found["Art. 73"].use_cases[USE_CASE]
    assert art73.files == ["README.md"] and art73.status == "partial"


def test_the_example_pack_reads_as_an_auditor_needs(example_packs):
    found = sections(read(example_packs["bare"]))
    # the underwriting triage was never approved: no record of it is in the pack
    triage = found["Annex IV 2(a)"].use_cases["health-underwriting-triage"]
    assert triage.status == "gap"
    # the agent's design: its bundles and the prompt and tool schemas they reference
    agent = found["Annex IV 2(b)"].use_cases["claims-complaints-agent"]
    assert any(f.endswith("/prompts/claims-complaints-agent.md") for f in agent.files)
    assert any(f.endswith("/tools/goodwill-payment.json") for f in agent.files)
    # nothing in the repository answers a declaration of conformity
    assert found["Annex IV 8"].status == "gap"
    assert found["Annex IV 8"].outside[0][1].startswith("a process outside govctl")


# -- post-market monitoring needs observations in the pack ------------------------------------


def test_post_market_monitoring_flips_with_observations(factory, tmp_path):
    root = committed(factory)
    bare = pack_of(root, tmp_path / "bare", USE_CASE, "--as-of", AS_OF_TEXT)
    doc = read(bare)
    for ref in MONITORING:
        entry = sections(doc)[ref].use_cases[USE_CASE]
        assert entry.status == "partial", ref
        assert summary(doc)[ref][3] == "◐ partial"
        assert ("no observed values in this pack",
                "build the pack with `--observations FILE` (the monitoring values at "
                "`--as-of`)") in entry.missing, ref
        assert not any(f.startswith("observations/") for f in entry.files)
    assert "**No observations are in this pack**" in doc

    source = healthy_observations(root, tmp_path)
    observed = pack_of(root, tmp_path / "observed", USE_CASE, "--as-of", AS_OF_TEXT,
                       "--observations", source)
    doc = read(observed)
    manifest = manifest_of(observed)["files"]
    for ref in MONITORING:
        entry = sections(doc)[ref].use_cases[USE_CASE]
        assert entry.status == "evidenced", (ref, entry.missing)
        assert summary(doc)[ref][3] == "✔ evidenced"
        assert {f"observations/{source.name}", "observations/status.json"} <= set(entry.files)
        assert {f"observations/{source.name}", "observations/status.json"} <= set(manifest)
    assert "No observations are in this pack" not in doc


def test_observations_without_a_fresh_value_of_every_required_signal_stay_partial(
        factory, tmp_path):
    root = committed(factory)
    source = healthy_observations(root, tmp_path)
    lines = source.read_text().splitlines(keepends=True)
    source.write_text("".join(line for line in lines if '"abuse"' not in line))
    pack = pack_of(root, tmp_path / "pack", USE_CASE, "--as-of", AS_OF_TEXT,
                   "--observations", source)
    for ref in MONITORING:
        entry = sections(read(pack))[ref].use_cases[USE_CASE]
        assert entry.status == "partial"
        assert "no fresh observed value for required signal(s): abuse" in missing_of(entry)


# -- incidents ----------------------------------------------------------------------------------


def test_a_use_case_without_incidents_does_not_evidence_incident_reporting(factory, tmp_path):
    root = committed(factory, without=("incidents/2026-10-15.yaml",))
    pack = pack_of(root, tmp_path / "pack", USE_CASE, "--as-of", AS_OF_TEXT)
    found = sections(read(pack))
    art73 = found["Art. 73"]
    assert art73.status == "gap"
    entry = art73.use_cases[USE_CASE]
    assert entry.status == "gap" and entry.files == []
    assert entry.missing == [("no incident recorded: serious-incident reporting is not "
                              "evidenced", "an Incident record when one occurs (with "
                              "`serious` and `reported_to_authority`)")]
    # incident response rests on the runbook, and no drill was held
    response = found["MANAGE 4.3"].use_cases[USE_CASE]
    assert not any("incidents" in f for f in response.files)
    assert "no tabletop exercise in this pack" in missing_of(response)


def test_incidents_in_the_pack_evidence_reporting_and_a_late_report_is_named(
        factory, tmp_path, history_pack):
    root = committed(factory)
    pack = pack_of(root, tmp_path / "pack", USE_CASE, "--as-of", AS_OF_TEXT)
    entry = sections(read(pack))["Art. 73"].use_cases[USE_CASE]
    assert entry.status == "evidenced"  # one incident, not serious: nothing to report
    [sha] = [p.name for p in (pack / "evidence").iterdir()]
    assert entry.files == ["README.md", f"evidence/{sha}/incidents/2026-10-15.yaml"]

    late = sections(read(history_pack))["Art. 73"].use_cases[USE_CASE]
    assert late.status == "partial"
    assert f"serious incident not reported in time: {SERIOUS_INCIDENT} (due 2026-11-12)" \
        in missing_of(late)


# -- exercises ---------------------------------------------------------------------------------


def use_case_data(use_case: str = "uc") -> dict[str, Any]:
    """A pack context entry with what the mapping reads: an approved, monitored use case."""
    signals = [{"signal": s, "approved": True, "state": "ok"} for s in HEALTHY]
    return {
        "use_case": {"id": use_case, "team": {"oncall": {"rotation": "r"}},
                     "fallback": "humans", "out_of_scope": ["x"]},
        "approval": {"state": "current", "eval": {"results": {"m": 1}},
                     "commit": {"sha": "a" * 40}},
        "contract": {"signals": signals, "on_breach": {"runbook": "runbooks/r.md"}},
        "missing_signals": [], "required_signals": list(HEALTHY),
        "eval_sets": [{"factors": ["country"]}], "models": [], "bundles": [],
        "bundle_versions": [{}], "approval_timeline": [], "threshold_changes": [],
        "incidents": [], "findings": [], "quantitative": [],
        "observations": {"given": True, "unapproved_digests": []},
    }


def held(*kinds: str, use_case: str = "uc") -> tuple[Held, ...]:
    sha = "a" * 40
    return tuple(Held(f"evidence/{sha}/{kind.lower()}s/{use_case}.yaml", sha,
                      f"{kind.lower()}s/{use_case}.yaml", kind, use_case) for kind in kinds)


def test_an_exercise_in_the_pack_counts_for_art_9_and_manage_4():
    """No Exercise record exists yet (SPEC §1.2); the mapping looks records up by kind, so
    one in evidence/ counts as soon as the pack holds it."""
    records = ("UseCase", "ThresholdContract", "Approval", "Policy", "Team")
    observations = {"file": "observations/o.jsonl", "status": "observations/status.json"}

    def rows(*kinds: str) -> dict[str, dict[str, Any]]:
        return {r["ref"]: r["use_cases"][0]
                for r in mapping([use_case_data()], {"uc": held(*kinds)}, observations)}

    before = rows(*records)
    for ref in ("Art. 9", "MANAGE 4.3", "MANAGE 4"):
        assert {"missing": "no tabletop exercise in this pack",
                "close": "an Exercise record (`govctl drill`)"} in before[ref]["gaps"], ref
    after = rows(*records, "Exercise")
    drill = "evidence/" + "a" * 40 + "/exercises/uc.yaml"
    for ref in ("Art. 9", "MANAGE 4.3"):
        assert drill in [f["path"] for f in after[ref]["files"]], ref
        assert not any("exercise" in g["missing"] for g in after[ref]["gaps"]), ref
    assert after["MANAGE 4.3"]["status"] == "evidenced"
    assert before["MANAGE 4.3"]["status"] == "partial"
    assert after["Art. 9"]["status"] == "partial"  # the risk assessment is outside govctl


def test_the_pack_holds_for_a_use_case_only_its_own_records_in_the_files_it_copies():
    """``holdings`` names a record only in a file the pack holds, with the files it
    references that the pack holds too."""
    sha, name = "b" * 40, "exercises/drills.yaml"
    own = {"uc": {sha: (Own(name, "Exercise", "drill-uc", ("runbooks/r.md", "gone.md")),
                        Own("exercises/gone.yaml", "Exercise", "drill-gone"))}}
    found = holdings({sha: {name: "blob", "runbooks/r.md": "blob2"}},
                     {"uc": {sha: {name, "runbooks/r.md", "exercises/gone.yaml"}}}, own)
    assert found == {"uc": (
        Held(f"evidence/{sha}/{name}", sha, name, "Exercise", "drill-uc"),
        Held(f"evidence/{sha}/runbooks/r.md", sha, "runbooks/r.md", "Exercise", "drill-uc",
             referenced=True))}


def test_a_use_cases_evidence_is_its_closure_and_its_own_approvals_incidents_and_policy(
        factory):
    """A record sharing a file with the use case's records is not its evidence because of
    that: another use case's incident, a Model no bundle of it names."""
    factory.files["incidents/2026-10-15.yaml"] += "---\n" + INCIDENT_OF_ANOTHER
    factory.files["bundles/triage.yaml"] += "---\n" + OTHER_MODEL
    repo = load_repository(WorktreeSource(factory.build().root))
    own = {(o.kind, o.id): o for o in own_records(repo, USE_CASE)}
    assert set(own) == {
        ("UseCase", USE_CASE), ("Bundle", "triage"), ("Model", "chat-2026-03"),
        ("EvalSet", "claims-eval"), ("ThresholdContract", "triage-contract"),
        ("Team", "claims-ml"), ("Person", "alice"), ("Person", "carol"),
        ("Approval", "claims-triage-2026-10-01"), ("Incident", "inc-2026-10-15"),
        ("Policy", "acme-policy")}
    assert own[("Bundle", "triage")].references == ("prompts/triage.md", "tools/lookup.json")
    # a use case not in the repository as committed has nothing of its own there
    assert own_records(repo, "renamed-since") == ()


def test_another_record_in_the_bundles_file_never_evidences_a_missing_model(factory,
                                                                            tmp_path):
    """The bundle names a model that does not exist (GOV020); a Model of another name in
    the bundle's file is no evidence of it: the points resting on Model records are not
    evidenced, and the other model is named nowhere."""
    root = factory.build().root  # (approved as it was: a digest needs the model)
    bundle = root / "bundles/triage.yaml"
    bundle.write_text(bundle.read_text().replace("model: chat-2026-03", "model: ghost-model")
                      + "---\n" + OTHER_MODEL)
    (root / "models/chat.yaml").unlink()
    init_git(root)
    commit_all(root, "records and approval", date="2026-10-01T10:00:00Z")
    pack = pack_of(root, tmp_path / "pack", USE_CASE, "--as-of", AS_OF_TEXT)
    doc = read(pack)
    assert "other\\-model" not in doc and "other-model" not in doc
    found = sections(doc)
    for ref in ("MAP 2", "GOVERN 6", "MANAGE 3", "Annex IV 2(a)"):
        entry = found[ref].use_cases[USE_CASE]
        assert entry.status != "evidenced", ref
        assert "no Model record of it in evidence/" in missing_of(entry), ref
    bundle = found["MAP 4"].use_cases[USE_CASE]  # the bundle itself still counts
    assert any(f.endswith("/bundles/triage.yaml") for f in bundle.files)


def test_nothing_held_is_a_gap_whatever_the_records_say():
    """A use case whose records look perfect, but with nothing of it in the pack."""
    for row in mapping([use_case_data()], {}, None):
        entry = row["use_cases"][0]
        # what README.md computed from git is in the pack; no record is
        assert {f["path"] for f in entry["files"]} <= {"README.md"}, row["ref"]
        assert row["status"] != "evidenced", row["ref"]
        if not entry["files"]:
            assert entry["status"] == "gap" and row["status"] == "gap", row["ref"]


# -- record text stays data -------------------------------------------------------------------


def test_record_text_in_the_mapping_is_escaped(factory, tmp_path):
    hostile = "vendor | chat *x* <b>bold</b> [l](http://e.test) `tick`"
    factory.files["models/chat.yaml"] = factory.files["models/chat.yaml"].replace(
        "name: vendor-chat", f"name: {json.dumps(hostile)}")  # (JSON is YAML)
    root = committed(factory)
    pack = pack_of(root, tmp_path / "pack", USE_CASE, "--as-of", AS_OF_TEXT)
    doc = read(pack)
    assert "<b>" not in doc and "](http" not in doc
    assert r"vendor \| chat \*x\* \<b\>bold\<\/b\>" in doc  # (escape.markdown_text)
    # the table keeps its five cells, and the reader sees the name as written
    row = summary(doc)["MAP 2"]
    assert len(row) == 5
    assert f"{USE_CASE}: no training-data notes for model(s): {hostile}" in row[4]
    entry = sections(doc)["MAP 2"].use_cases[USE_CASE]
    assert f"no training-data notes for model(s): {hostile}" in missing_of(entry)
