"""`govctl audit-pack` and `govctl verify` (SPEC §4) over a real history: an approval by
Bob, a drift threshold loosened by Erin, a prompt change, a re-approval by `govctl
approve` committed by Carol, incidents. The documents are checked fact by fact against
git; the evidence byte for byte; the manifest against the files; verify against every
kind of tampering, in folders and zips."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import govctl
from tests.conftest import commit_all, git, init_git
from tests.factory import AS_OF
from tests.history_support import assert_one_line_error, git_quiet_status
from tests.render_support import (
    FIRST_APPROVAL,
    FIRST_APPROVAL_FILE,
    MITCHELL_HEADINGS,
    RESOLVED_INCIDENT,
    SECOND_APPROVAL,
    SECOND_APPROVAL_FILE,
    SERIOUS_INCIDENT,
    USE_CASE,
    History,
    Html,
    assert_self_contained,
    author_line,
    build_history,
    git_show,
    listing,
    manifest_of,
    markdown_text,
    md_row,
    md_rows,
    run_cli,
    sha256_file,
)

# the records a claims-triage approval rests on, as evidence (root-relative paths)
CLOSURE = {"governance.yaml", "people.yaml", "teams/claims.yaml", "use-cases/triage.yaml",
           "bundles/triage.yaml", "models/chat.yaml", "evals/claims-eval.yaml",
           "data/claims-eval.jsonl", "thresholds/triage.yaml", "prompts/triage.md",
           "tools/lookup.json", "runbooks/triage.md"}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def built(history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pack of claims-triage at HEAD, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("packs") / "pack"
    code, stdout, stderr = run_cli("audit-pack", USE_CASE, "-o", out, "--root", history.root,
                                   "--as-of", AS_OF)
    assert code == 0, stderr
    assert f"wrote {out}" in stdout
    return out


@pytest.fixture
def pack(built: Path, tmp_path: Path) -> Path:
    """A private copy of the shared pack, for tests that tamper with it."""
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    return copy


def make_pack(govctl: Callable[..., Any], history: History, out: Path, *args: object,
              use_cases: tuple[str, ...] = (USE_CASE,)) -> Path:
    result = govctl("audit-pack", *use_cases, "-o", out, "--root", history.root, "--as-of",
                    AS_OF, *args)
    assert result.code == 0, result.stderr
    return out


def readme(pack: Path) -> str:
    return (pack / "README.md").read_text(encoding="utf-8")


def verify(govctl: Callable[..., Any], pack: Path, *args: object, cwd: Path | None = None
           ) -> Any:
    return govctl("verify", pack, *args, cwd=cwd)


def verify_json(govctl: Callable[..., Any], pack: Path, cwd: Path | None = None
                ) -> dict[str, Any]:
    result = govctl("verify", pack, "--format", "json", cwd=cwd)
    payload = result.json()
    assert isinstance(payload, dict)
    assert payload["intact"] is (result.code == 0)
    return payload


# -- the three answers ------------------------------------------------------------------------


def test_readme_answers_the_three_questions(history, built):
    doc = readme(built)
    text = markdown_text(doc)
    carol = author_line(history.root, history.reapproval)
    # 1. who approved: the re-approval, its approvers, the commit that made it
    assert ("Approval claims-triage-2026-11-05 — approved on 2026-11-05, valid until "
            "2027-05-04, for “Home-insurance claimants, Nordics”: CURRENT.") in text
    assert "Approvers: Bob Risk (risk-officer), Carol Model (model-owner)." in text
    assert (f"Committed in {history.reapproval[:7]} by Carol Model <{carol[1]}> on {carol[2]} "
            "(unsigned).") in text
    assert f"Bound to bundle digest {history.second_digest}." in text
    # 2. the thresholds it is held to
    rows = {r[0]: r for r in md_rows(doc, "signal")}
    assert rows["drift"] == ["drift", "psi", "≤ 0.35", "1d", "ticket", "—", "not observed"]
    assert rows["latency"] == ["latency", "p95_latency_ms", "≤ 2500", "5m", "page", "—",
                               "not observed"]
    assert rows["accuracy_proxy"][2] == "≥ 0.9"
    assert "The contract changed after approval" not in text  # re-approved under it
    # 3. who is on the hook
    assert "Accountable owner: Alice Owner <alice@acme.test>" in text
    assert "on-call rotation claims-ml-primary, pager pagerduty:claims-ml" in text
    assert "On breach: fallback, runbook runbooks/triage.md" in text
    assert "Fallback: Claims go to the human triage queue." in text
    assert f"from commit {history.head}" in text


def test_readme_approval_timeline_comes_from_git(history, built):
    rows = md_rows(readme(built), "date")
    assert len(rows) == 2
    for row, (approval, sha) in zip(rows, history.approval_commits.items(), strict=True):
        name, email, date = author_line(history.root, sha)
        bound = yaml.safe_load(git(history.root, "show", f"{sha}:approvals/{approval}.yaml"))
        digests = (f"bundle {bound['spec']['bundle']['digest']}; "
                   f"contract {bound['spec']['thresholds']['digest']}; "
                   f"eval {bound['spec']['eval']['digest']}")
        assert row == [approval[len("claims-triage-"):], approval, "approved",
                       "Bob Risk (risk-officer), Carol Model (model-owner)", digests, sha[:7],
                       f"{name} <{email}>", date, "unsigned"]
    assert rows[0][6].startswith("Bob Risk")  # Bob committed the first approval
    assert rows[1][6].startswith("Carol Model")  # Carol the re-approval


def test_readme_bundle_versions_threshold_changes_eval_sets_incidents_findings(history,
                                                                                built):
    doc = readme(built)
    text = markdown_text(doc)
    versions = md_rows(doc, "bundle")
    assert versions == [
        ["triage", history.first_digest, history.records[:7],
         author_line(history.root, history.records)[2], FIRST_APPROVAL],
        ["triage", history.second_digest, history.prompt[:7],
         author_line(history.root, history.prompt)[2], SECOND_APPROVAL],
    ]
    # the loosened drift threshold, by Erin, marked as such
    assert "1 loosened, 0 tightened." in text
    erin = author_line(history.root, history.loosen)
    assert md_rows(doc, "commit") == [[history.loosen[:7], erin[0], erin[2],
                                       "signals.drift.max", "0.2", "0.35", "loosened"]]
    assert "**loosened**" in doc
    assert ("claims-eval: Home-insurance claimants, Nordics, collected 2026-09-20, factors "
            "country; digest sha256:") in text
    # incidents, the serious one with its legal deadline (widespread: 2 days) — missed
    assert (f"{SERIOUS_INCIDENT} — sev1, open, detected 2026-11-10T08:00:00Z; serious "
            "(widespread): report due 2026-11-12, reported not yet — LATE. Wrong triage for "
            "a whole region.") in text
    assert f"{RESOLVED_INCIDENT} — sev3, resolved, detected 2026-10-15T08:30:00Z." in text
    # findings open at --until
    assert f"Findings open at {history.head[:12]}" in text
    assert "GOV090 error incidents/2026-11-10.yaml:" in text
    assert text.count("GOV0") == 1  # nothing else is open


def test_index_html_states_the_same_facts_and_is_self_contained(history, built):
    html = (built / "index.html").read_text(encoding="utf-8")
    page = assert_self_contained(html)
    text = page.text
    assert f"from commit {history.head}" in text
    assert "claims-triage-2026-11-05 : approved on 2026-11-05" in text.replace(
        "claims-triage-2026-11-05:", "claims-triage-2026-11-05 :")
    assert "Bob Risk (risk-officer)" in text and "Carol Model (model-owner)" in text
    assert "✔ CURRENT" in text
    timeline = [r for r in page.rows if r and r[0] in ("2026-10-01", "2026-11-05")]
    bound = [r for r in page.rows if r and r[0] == "" and r[1].startswith("bound: ")]
    assert len(bound) == len(timeline)  # the digests each version bound, in full, under it
    assert all("bundle sha256:" in r[1] and "contract sha256:" in r[1] for r in bound)
    assert [(r[1], r[4], r[5].split(" <")[0], r[7]) for r in timeline] == [
        (FIRST_APPROVAL, history.approval[:7], "Bob Risk", "unsigned"),
        (SECOND_APPROVAL, history.reapproval[:7], "Carol Model", "unsigned")]
    versions = [r for r in page.rows if r and r[0] == "triage"]
    assert [(r[1], r[4]) for r in versions] == [(history.first_digest, FIRST_APPROVAL),
                                                (history.second_digest, SECOND_APPROVAL)]
    change = page.row(history.loosen[:7])
    assert change[3:] == ["signals.drift.max", "0.2", "0.35", "loosened"]
    assert "report due 2026-11-12" in text and "✖ LATE" in text
    assert "GOV090" in text
    assert 'href="mapping.md"' in html and 'href="manifest.json"' in html


def test_pack_is_not_a_model_card_but_names_its_sections(built):
    # the pack's README is about governance; the card is separate (govctl card)
    text = readme(built)
    assert not any(f"## {n}. {title}" in text for n, title in enumerate(MITCHELL_HEADINGS, 1))


# -- evidence -----------------------------------------------------------------------------------


def test_evidence_is_every_approval_commit_byte_for_byte(history, built):
    files = listing(built / "evidence")
    by_commit: dict[str, set[str]] = {}
    for name in files:
        sha, _, path = name.partition("/")
        by_commit.setdefault(sha, set()).add(path)
    # exactly the two approval commits; nothing from commits that approved nothing
    assert set(by_commit) == {history.approval, history.reapproval}
    assert by_commit[history.approval] == CLOSURE | {FIRST_APPROVAL_FILE}
    assert by_commit[history.reapproval] == CLOSURE | {FIRST_APPROVAL_FILE,
                                                       SECOND_APPROVAL_FILE,
                                                       "incidents/2026-10-15.yaml"}
    for name, data in files.items():
        sha, _, path = name.partition("/")
        assert data == git_show(history.root, sha, path), name
    # the first approval's evidence has the threshold as approved (0.2), the second 0.35
    assert b"max: 0.2," in files[f"{history.approval}/thresholds/triage.yaml"]
    assert b"max: 0.35," in files[f"{history.reapproval}/thresholds/triage.yaml"]
    text = markdown_text(readme(built))
    # the summary counts what was copied (not what a later commit added)
    assert f"evidence/{history.approval}/: 13 files as committed in " \
           f"{history.approval[:12]}" in text
    assert f"evidence/{history.reapproval}/: 15 files as committed in " \
           f"{history.reapproval[:12]}" in text


def test_manifest_lists_every_file_with_its_real_hash(history, built):
    manifest = manifest_of(built)
    on_disk = {p.relative_to(built).as_posix(): p for p in built.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == set(on_disk) - {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(on_disk[name]), name
        assert entry["size"] == on_disk[name].stat().st_size
        if name.startswith("evidence/"):
            sha, _, path = name.removeprefix("evidence/").partition("/")
            assert entry["git"] == {"blob": git(history.root, "rev-parse", f"{sha}:{path}")
                                    .strip(), "commit": sha, "path": path}
        else:
            assert "git" not in entry
    assert {"README.md", "index.html", "mapping.md"} <= set(manifest["files"])
    assert manifest["repository"] == {"head": history.head, "until": history.head,
                                      "since": None, "root": "."}
    assert manifest["govctl_version"] == govctl.__version__
    assert manifest["use_cases"] == [USE_CASE]
    assert manifest["as_of"].startswith(AS_OF)


def test_mapping_names_annex_iv_articles_nist_and_gaps(built):
    doc = (built / "mapping.md").read_text(encoding="utf-8")
    rows = md_rows(doc, "framework")
    refs = [r[1].split(" — ")[0] for r in rows]
    for point in range(1, 10):
        assert f"Annex IV {point}" in refs
    for article in (9, 12, 14, 15, 72, 73):
        assert f"Art. {article}" in refs
    for function in ("GOVERN", "MAP", "MEASURE", "MANAGE"):
        assert any(ref.startswith(f"{function} ") for ref in refs), function
    status = {r[1].split(" — ")[0]: r[3] for r in rows}
    assert status["Annex IV 8"] == "✖ gap"  # the declaration of conformity is not here
    assert status["Annex IV 7"] == "✖ gap"
    assert status["Art. 73"] == "◐ partial"  # the serious incident was reported late
    # the oversight interface is in the product, not the records (tests/test_mapping.py)
    assert status["Art. 14"] == "◐ partial"
    assert status["MANAGE 1"] == "✔ evidenced"  # the re-approval is current and committed
    text = markdown_text(doc)
    assert "Evidence and gaps, by requirement" in text
    assert f"claims-triage: serious incident not reported in time: {SERIOUS_INCIDENT} " \
        "(due 2026-11-12)" in text
    assert "not legal advice" in text


# -- --since / --until / --all / --zip ----------------------------------------------------------


def test_since_restricts_the_timeline_and_evidence(history, govctl, tmp_path):
    out = make_pack(govctl, history, tmp_path / "since", "--since", history.incident)
    doc = readme(out)
    assert [r[1] for r in md_rows(doc, "date")] == [SECOND_APPROVAL]
    assert {p.name for p in (out / "evidence").iterdir()} == {history.reapproval}
    # the version running when the period began is kept, marked, with its approval
    versions = md_rows(doc, "bundle")
    assert versions[0][1:3] == [history.first_digest, f"{history.records[:7]} (before the "
                                                      "period; running at its start)"]
    assert versions[0][4] == FIRST_APPROVAL
    assert versions[1][1:3] == [history.second_digest, history.prompt[:7]]
    assert md_rows(doc, "commit")[0][-1] == "loosened"  # the loosening is in the period
    assert manifest_of(out)["repository"]["since"] == history.incident
    assert f"(changes since {history.incident})" in markdown_text(doc)

    later = make_pack(govctl, history, tmp_path / "later", "--since", history.reapproval)
    text = markdown_text(readme(later))
    assert "No approval in the period." in text
    assert "No change to the threshold contract in the period." in text
    # SPEC §4: evidence/ is part of every pack: empty when no approval was committed then
    assert (later / "evidence").is_dir() and not any((later / "evidence").iterdir())


def test_until_describes_the_repository_as_it_was(history, govctl, tmp_path):
    out = make_pack(govctl, history, tmp_path / "until", "--until", history.loosen)
    doc = readme(out)
    text = markdown_text(doc)
    assert [r[1] for r in md_rows(doc, "date")] == [FIRST_APPROVAL]
    assert {p.name for p in (out / "evidence").iterdir()} == {history.approval}
    # the loosening made the first approval stale, and the pack says why
    assert "claims-triage-2026-10-01 — approved on 2026-10-01" in text
    assert ": STALE (stale approval: ThresholdContract 'triage-contract' changed since " \
           "approval" in text
    assert "The contract changed after approval claims-triage-2026-10-01" in text
    # judged against what was approved; the loosening is shown, not applied
    assert md_row(doc, "signal", "drift")[2] == \
        "approved ≤ 0.2 · proposed ≤ 0.35 (not approved)"
    assert [r[0] for r in md_rows(doc, "bundle")] == ["triage"]  # the prompt change is later
    assert SERIOUS_INCIDENT not in text and RESOLVED_INCIDENT in text
    manifest = manifest_of(out)
    assert manifest["repository"]["until"] == history.loosen
    assert manifest["repository"]["head"] == history.head
    assert f"from commit {history.loosen}" in text
    html = Html((out / "index.html").read_text(encoding="utf-8")).text
    assert "✖ The contract changed after approval claims-triage-2026-10-01" in html


def test_all_packs_every_use_case(history, govctl, tmp_path):
    out = make_pack(govctl, history, tmp_path / "all", "--all", use_cases=())
    manifest = manifest_of(out)
    assert manifest["use_cases"] == ["claims-triage", "fraud-screen"]
    text = markdown_text(readme(out))
    assert "Use case claims-triage: Claims triage" in text
    assert "Use case fraud-screen: Fraud screening" in text
    assert "No current approval." in text  # fraud-screen is in intake, never approved
    mapping = markdown_text((out / "mapping.md").read_text(encoding="utf-8"))
    assert "fraud-screen: no current approval" in mapping
    assert "for 2 use case(s)" in mapping
    html = Html((out / "index.html").read_text(encoding="utf-8")).text
    assert "Use case fraud-screen : Fraud screening" in html.replace(
        "fraud-screen:", "fraud-screen :")


def test_zip_round_trip(history, govctl, tmp_path, built):
    target = tmp_path / "pack.zip"
    result = govctl("audit-pack", USE_CASE, "-o", target, "--zip", "--root", history.root,
                    "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    assert f"wrote {target}" in result.stdout
    with zipfile.ZipFile(target) as archive:
        assert archive.getinfo("evidence/").is_dir()  # present even when empty
        names = sorted(n for n in archive.namelist() if not n.endswith("/"))
        contents = {n: archive.read(n) for n in names}
    folder = listing(built)
    assert names == sorted(folder)  # the same files as the folder pack
    for name, data in contents.items():
        if name.startswith("evidence/"):
            assert data == folder[name]
    manifest = json.loads(contents["manifest.json"])
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(contents[name]).hexdigest() == entry["sha256"]
    assert verify(govctl, target).code == 0
    assert verify(govctl, target, cwd=history.root).code == 0
    # -o without .zip gets the suffix
    result = govctl("audit-pack", USE_CASE, "-o", tmp_path / "named", "--zip", "--root",
                    history.root, "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    assert (tmp_path / "named.zip").is_file() and not (tmp_path / "named").exists()


# -- refusals ---------------------------------------------------------------------------------


def test_unknown_use_case_is_a_usage_error(history, govctl, tmp_path):
    result = govctl("audit-pack", "claims-triaj", "-o", tmp_path / "p", "--root", history.root)
    assert_one_line_error(result, "unknown use case 'claims-triaj'", "claims-triage")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(("args", "fragment"), [
    (("-o", "OUT"), "name the use cases"),
    ((USE_CASE, "--all", "-o", "OUT"), "not both"),
    ((USE_CASE,), "-o DIR is required"),
    ((USE_CASE, "-o", "OUT", "--since", "no-such-rev"), "no-such-rev"),
    ((USE_CASE, "-o", "OUT", "--until", "no-such-rev"), "no-such-rev"),
])
def test_usage_errors(history, govctl, tmp_path, args, fragment):
    out = tmp_path / "out"
    args = tuple(str(out) if a == "OUT" else a for a in args)
    result = govctl("audit-pack", *args, "--root", history.root)
    assert_one_line_error(result, fragment)
    assert not out.exists()


def test_not_a_git_repository(factory, govctl, tmp_path):
    factory.build()
    result = govctl("audit-pack", USE_CASE, "-o", tmp_path / "p", "--root", factory.root)
    assert_one_line_error(result, "not inside a git repository")
    init_git(factory.root)
    result = govctl("audit-pack", USE_CASE, "-o", tmp_path / "p", "--root", factory.root)
    assert_one_line_error(result, "no commits")
    assert not (tmp_path / "p").exists()


def test_target_inside_the_root_is_refused(history, govctl):
    root = history.root
    status = git_quiet_status(root)
    for target in (root / "pack", root / "docs" / "pack", Path("pack")):
        result = govctl("audit-pack", USE_CASE, "-o", target, "--root", root, cwd=root)
        assert_one_line_error(result, "inside the governance root")
        result = govctl("audit-pack", USE_CASE, "-o", target, "--root", root, "--zip",
                        "--force", cwd=root)
        assert_one_line_error(result, "inside the governance root")
    assert git_quiet_status(root) == status


def test_target_containing_the_root_is_refused_even_with_force(history, govctl):
    parent = history.root.parent
    before = sorted(p.name for p in parent.iterdir())
    result = govctl("audit-pack", USE_CASE, "-o", parent, "--force", "--root", history.root)
    assert_one_line_error(result, "contains the governance root")
    assert sorted(p.name for p in parent.iterdir()) == before
    assert (history.root / "governance.yaml").is_file()


def test_existing_pack_needs_force_and_is_then_replaced(history, govctl, tmp_path):
    out = make_pack(govctl, history, tmp_path / "pack")
    old = listing(out)
    result = govctl("audit-pack", USE_CASE, "-o", out, "--root", history.root)
    assert_one_line_error(result, "not overwriting", "--force")
    assert listing(out) == old  # untouched

    # --force replaces it whole: a file that is not part of a pack does not survive
    (out / "stray.txt").write_text("left over\n")
    result = govctl("audit-pack", USE_CASE, "-o", out, "--force", "--until",
                    history.loosen, "--root", history.root, "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    assert not (out / "stray.txt").exists()
    assert manifest_of(out)["repository"]["until"] == history.loosen
    assert verify(govctl, out).code == 0
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary folder and no moved-aside old pack


def test_force_never_replaces_something_that_is_not_a_pack(history, govctl, tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work\n")
    result = govctl("audit-pack", USE_CASE, "-o", folder, "--force", "--root", history.root)
    assert_one_line_error(result, "not an audit pack")
    assert (folder / "thesis.txt").read_text() == "years of work\n"
    file = tmp_path / "notes.zip"
    file.write_text("not a zip\n")
    result = govctl("audit-pack", USE_CASE, "-o", file, "--zip", "--force", "--root",
                    history.root)
    assert_one_line_error(result, "not an audit pack")
    assert file.read_text() == "not a zip\n"


def test_an_empty_folder_is_a_fine_target(history, govctl, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    make_pack(govctl, history, empty)
    assert (empty / "manifest.json").is_file()


def test_audit_pack_and_verify_write_nothing_into_the_repository(history, govctl, tmp_path):
    root = history.root
    git(root, "status")
    status = git_quiet_status(root)
    files = listing(root)
    out = make_pack(govctl, history, tmp_path / "p")
    make_pack(govctl, history, tmp_path / "p.zip", "--zip")
    make_pack(govctl, history, tmp_path / "q", "--all", use_cases=())
    assert verify(govctl, out, cwd=root).code == 0
    assert verify(govctl, tmp_path / "p.zip", cwd=root).code == 0
    assert git_quiet_status(root) == status
    assert listing(root) == files


def test_a_custom_readme_template(history, govctl, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "pack_readme.md.j2").write_text(
        "{% for uc in pack.use_cases %}{{ uc.use_case.id }} approved by "
        "{{ uc.approval.approvers | map(attribute='name') | join(' and ') }} in "
        "{{ uc.approval.commit.short }}\n{% endfor %}")
    out = make_pack(govctl, history, tmp_path / "p", "--template", templates)
    assert readme(out) == (f"claims\\-triage approved by Bob Risk and Carol Model in "
                           f"{history.reapproval[:7]}\n")  # values escaped (SPEC §3)
    assert "<!DOCTYPE html>" in (out / "index.html").read_text()  # not overridden
    assert verify(govctl, out).code == 0


def test_a_template_escaping_the_sandbox_writes_nothing(history, govctl, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "pack_mapping.md.j2").write_text("{{ pack.__class__.__mro__ }}")
    result = govctl("audit-pack", USE_CASE, "-o", tmp_path / "p", "--template", templates,
                    "--root", history.root)
    assert_one_line_error(result, "pack_mapping.md.j2", "SecurityError")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["templates"]


# -- verify -----------------------------------------------------------------------------------


def test_verify_an_intact_pack(history, govctl, pack):
    result = verify(govctl, pack)
    assert result.code == 0, result.stdout
    assert "intact" in result.stdout and "NOT" not in result.stdout
    assert "evidence not checked against git" in result.stdout
    inside = verify(govctl, pack, cwd=history.root)
    assert inside.code == 0, inside.stdout
    assert "evidence checked against the repository" in inside.stdout
    payload = verify_json(govctl, pack, cwd=history.root)
    manifest_sha256 = sha256_file(pack / "manifest.json")
    assert payload == {"version": 1, "pack": str(pack), "intact": True,
                       "files": len(manifest_of(pack)["files"]), "altered": [], "added": [],
                       "removed": [], "repository": [], "checked_repository": True,
                       "manifest_sha256": manifest_sha256, "expected_sha256": None,
                       "signature": {"file": "manifest.json.sig", "state": "unsigned",
                                     "signer": None, "key": None, "problem": None},
                       "authentic": None, "verified": True}
    assert f"manifest sha256 {manifest_sha256}" in result.stdout


def test_the_manifest_hash_is_printed_to_be_kept_outside_the_pack(history, govctl,
                                                                    tmp_path):
    out = tmp_path / "pack"
    result = govctl("audit-pack", USE_CASE, "-o", out, "--root", history.root)
    assert result.code == 0, result.stderr
    printed = sha256_file(out / "manifest.json")
    assert f"manifest sha256 {printed}" in result.stdout
    # a manifest rewritten to vouch for a forged README passes the manifest check, but
    # not a comparison with the hash printed when the pack was built
    forged = (out / "README.md").read_bytes() + b"\nApproved by the board.\n"
    (out / "README.md").write_bytes(forged)
    manifest = manifest_of(out)
    manifest["files"]["README.md"] = {"sha256": hashlib.sha256(forged).hexdigest(),
                                      "size": len(forged)}
    (out / "manifest.json").write_text(json.dumps(manifest))
    payload = verify_json(govctl, out)
    assert payload["intact"] is True
    assert payload["manifest_sha256"] != printed
    # ... which `--expect` makes (tests/test_signed_packs.py)
    expected = verify(govctl, out, "--expect", printed)
    assert expected.code == 1 and f"is NOT the expected {printed}" in expected.stdout


def test_verify_names_an_altered_byte(govctl, pack):
    data = bytearray((pack / "README.md").read_bytes())
    data[10] ^= 0x01
    (pack / "README.md").write_bytes(bytes(data))
    result = verify(govctl, pack)
    assert result.code == 1
    assert "altered: README.md" in result.stdout
    assert "NOT intact" in result.stdout
    assert verify_json(govctl, pack)["altered"] == ["README.md"]


def test_verify_names_added_removed_and_renamed_files(history, govctl, pack):
    evidence = f"evidence/{history.approval}/people.yaml"
    (pack / evidence).unlink()
    (pack / "notes.txt").write_text("added later\n")
    (pack / "mapping.md").rename(pack / "mapping-v2.md")
    result = verify(govctl, pack)
    assert result.code == 1
    payload = verify_json(govctl, pack)
    assert payload["removed"] == [evidence, "mapping.md"]
    assert payload["added"] == ["mapping-v2.md", "notes.txt"]
    assert payload["altered"] == []
    for line in (f"removed: {evidence}", "removed: mapping.md", "added: notes.txt",
                 "added: mapping-v2.md"):
        assert line in result.stdout


def test_verify_catches_evidence_altered_with_a_matching_manifest(history, govctl, pack):
    name = f"evidence/{history.approval}/thresholds/triage.yaml"
    doctored = (pack / name).read_bytes().replace(b"max: 0.2,", b"max: 0.9,")
    (pack / name).write_bytes(doctored)
    manifest = manifest_of(pack)
    manifest["files"][name]["sha256"] = hashlib.sha256(doctored).hexdigest()
    manifest["files"][name]["size"] = len(doctored)
    (pack / "manifest.json").write_text(json.dumps(manifest))
    # the bytes no longer match the git blob the manifest names: caught without git
    result = verify(govctl, pack)
    assert result.code == 1
    assert f"altered: {name}" in result.stdout

    # the blob id updated as well: only the repository can tell, and it does
    from govctl.documents.manifest import git_blob_id

    manifest["files"][name]["git"]["blob"] = git_blob_id(doctored)
    (pack / "manifest.json").write_text(json.dumps(manifest))
    inside = verify(govctl, pack, cwd=history.root)
    assert inside.code == 1
    payload = verify_json(govctl, pack, cwd=history.root)
    assert payload["repository"] == [f"{name} (differs from thresholds/triage.yaml at "
                                      f"{history.approval[:12]})"]


def test_verify_catches_a_manifest_stripped_of_the_git_origin(history, govctl, pack):
    name = f"evidence/{history.approval}/thresholds/triage.yaml"
    doctored = (pack / name).read_bytes().replace(b"max: 0.2,", b"max: 0.9,")
    (pack / name).write_bytes(doctored)
    manifest = manifest_of(pack)
    manifest["files"][name] = {"sha256": hashlib.sha256(doctored).hexdigest(),
                               "size": len(doctored)}
    (pack / "manifest.json").write_text(json.dumps(manifest))
    for cwd in (None, history.root):
        result = verify(govctl, pack, cwd=cwd)
        assert result.code == 1
        assert f"altered: {name} (manifest entry does not match its git origin)" \
            in result.stdout


def test_verify_catches_evidence_swapped_for_another_committed_file(history, govctl, pack):
    # the second approval's contract replaced by the first one's (a real blob in the
    # repository) and the manifest pointed at it: the path no longer matches the origin
    new = f"evidence/{history.reapproval}/thresholds/triage.yaml"
    old = f"evidence/{history.approval}/thresholds/triage.yaml"
    (pack / new).write_bytes((pack / old).read_bytes())
    manifest = manifest_of(pack)
    manifest["files"][new] = dict(manifest["files"][old])
    (pack / "manifest.json").write_text(json.dumps(manifest))
    result = verify(govctl, pack, cwd=history.root)
    assert result.code == 1
    assert f"altered: {new} (manifest entry does not match its git origin)" in result.stdout


def test_verify_against_another_repository_says_so(history, govctl, pack, factory):
    factory.build()
    init_git(factory.root)
    commit_all(factory.root, "unrelated")
    result = verify(govctl, pack, cwd=factory.root)
    assert result.code == 1
    payload = verify_json(govctl, pack, cwd=factory.root)
    assert any("is not in the repository" in line for line in payload["repository"])


@pytest.mark.parametrize("damage", ["no manifest", "not json", "no files", "bad entry"])
def test_verify_of_something_that_is_not_a_pack(govctl, pack, damage):
    manifest = pack / "manifest.json"
    if damage == "no manifest":
        manifest.unlink()
    elif damage == "not json":
        manifest.write_text("{not json")
    elif damage == "no files":
        manifest.write_text('{"version": 1}')
    else:
        manifest.write_text('{"files": {"README.md": "abc"}}')
    result = verify(govctl, pack)
    assert_one_line_error(result, "manifest.json")


def test_verify_of_nothing(govctl, tmp_path):
    assert_one_line_error(verify(govctl, tmp_path / "missing"), "no such audit pack")
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"PK\x03\x04 not really")
    assert_one_line_error(verify(govctl, bogus), "not an audit pack")


def zip_of(folder: Path, target: Path, edit: Callable[[dict[str, bytes]], None] | None = None,
           extra: list[tuple[str, bytes]] | None = None) -> Path:
    files = listing(folder)
    if edit:
        edit(files)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, data in extra or []:
            archive.writestr(name, data)
    return target


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_verify_zip_variants(history, govctl, pack, tmp_path):
    evidence = f"evidence/{history.reapproval}/{SECOND_APPROVAL_FILE}"
    assert verify(govctl, zip_of(pack, tmp_path / "same.zip")).code == 0

    def alter(files: dict[str, bytes]) -> None:
        files["index.html"] = files["index.html"].replace(b"CURRENT", b"CURRENT!")

    result = verify(govctl, zip_of(pack, tmp_path / "altered.zip", alter))
    assert result.code == 1 and "altered: index.html" in result.stdout

    result = verify(govctl, zip_of(pack, tmp_path / "added.zip",
                                   lambda f: f.update({"evidence/extra.yaml": b"x: 1\n"})))
    assert result.code == 1 and "added: evidence/extra.yaml" in result.stdout

    result = verify(govctl, zip_of(pack, tmp_path / "removed.zip", lambda f: f.pop(evidence)))
    assert result.code == 1 and f"removed: {evidence}" in result.stdout

    def rename(files: dict[str, bytes]) -> None:
        files["README.txt"] = files.pop("README.md")

    payload = verify_json(govctl, zip_of(pack, tmp_path / "renamed.zip", rename))
    assert payload["removed"] == ["README.md"] and payload["added"] == ["README.txt"]

    # a second entry under a name the manifest vouches for
    original = (pack / "README.md").read_bytes()
    result = verify(govctl, zip_of(pack, tmp_path / "duplicate.zip",
                                   extra=[("README.md", original + b"\nforged\n")]))
    assert result.code == 1
    assert "README.md (duplicate entry in the zip)" in result.stdout

    result = verify(govctl, zip_of(pack, tmp_path / "nomanifest.zip",
                                   lambda f: f.pop("manifest.json")))
    assert_one_line_error(result, "no manifest.json")


def test_evidence_is_the_records_as_they_were_at_the_approval(factory, govctl, tmp_path):
    from tests.history_support import DAVE, commit, committed

    first = committed(factory)  # Bob commits the records with the approval
    git(factory.root, "mv", "prompts/triage.md", "prompts/claims.md")
    factory.edit("bundles/triage.yaml", "template: prompts/triage.md",
                 "template: prompts/claims.md")
    commit(factory.root, DAVE, "2026-11-01T10:00:00Z", "rename the prompt")
    out = tmp_path / "pack"
    result = govctl("audit-pack", USE_CASE, "-o", out, "--root", factory.root, "--as-of",
                    AS_OF)
    assert result.code == 0, result.stderr
    evidence = listing(out / "evidence" / first)
    # the prompt the approval was granted for, under the name it had then
    assert evidence["prompts/triage.md"] == git_show(factory.root, first, "prompts/triage.md")
    assert "prompts/claims.md" not in evidence
    assert b"template: prompts/triage.md" in evidence["bundles/triage.yaml"]
    assert verify(govctl, out, cwd=factory.root).code == 0
