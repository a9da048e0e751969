"""`govctl history` and `govctl trace` over real temporary git repositories (SPEC §3,
§3.1): commits by different people on different days, unrelated work in the same repo,
monorepos, repositories that are not git, and the promise to write nothing."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import git, init_git
from tests.factory import AS_OF, GUARD_BUNDLE, RepoFactory
from tests.history_support import (
    APPROVAL,
    APPROVAL_ID,
    BOB,
    BUNDLE,
    CONTRACT,
    DAVE,
    ERIN,
    MODEL,
    PROMPT,
    USE_CASE,
    assert_one_line_error,
    change_of,
    commit,
    committed,
    diff_json,
    digest,
    git_quiet_status,
    sha256_hex,
)

NEW_APPROVAL = "approvals/claims-triage-2026-10-09.yaml"
NEW_APPROVAL_ID = "claims-triage-2026-10-09"

OTHER_FILES = {
    "use-cases/fraud.yaml": """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: fraud-screen}
spec:
  owner: alice
  team: claims-ml
  status: intake
  risk: {tier: limited}
  population: Home-insurance claimants, Nordics
  intended_use: Flag claims for a fraud review.
  bundle: fraud
  thresholds: fraud-contract
""",
    "bundles/fraud.yaml": """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: fraud}
spec:
  class: classical
  model: chat-2026-03
  features: {window_days: 30}
  eval_set: claims-eval
""",
    "thresholds/fraud.yaml": """\
apiVersion: govctl/v1
kind: ThresholdContract
metadata: {id: fraud-contract}
spec:
  signals:
    drift: {metric: fraud_psi, max: 0.2, severity: ticket}
  on_breach: {action: page-only}
""",
}


@dataclass(frozen=True)
class Story:
    """The commits of :func:`story`, oldest first."""

    root: Path
    init: str  # Bob: every record, the first approval
    loosen: str  # Dave: drift max 0.2 → 0.3
    other: str  # Erin: another use case (unrelated)
    prompt: str  # Dave: the prompt changes (new digest)
    other_again: str  # Erin: the other use case's contract (unrelated)
    reapprove: str  # Bob: a new approval bound to the new digest
    old_digest: str
    new_digest: str


def story(govctl: Any, factory: RepoFactory) -> Story:
    init = committed(factory, BOB, "2026-10-01T09:00:00Z")
    old_digest = digest(govctl, factory.root, "triage")
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    loosen = commit(factory.root, DAVE, "2026-10-05T10:00:00Z", "Loosen drift")
    for rel, text in OTHER_FILES.items():
        factory.write(rel, text)
    other = commit(factory.root, ERIN, "2026-10-06T11:00:00Z", "Fraud screening")
    factory.edit(PROMPT, "You triage claims.", "You triage home-insurance claims.")
    prompt = commit(factory.root, DAVE, "2026-10-07T12:00:00Z", "Sharper prompt")
    new_digest = digest(govctl, factory.root, "triage")
    factory.edit("thresholds/fraud.yaml", "max: 0.2", "max: 0.4")
    other_again = commit(factory.root, ERIN, "2026-10-08T13:00:00Z", "Fraud drift")
    result = govctl("approve", "claims-triage", "--root", factory.root, "-a", "bob:risk-officer",
                    "-a", "carol:model-owner", "--eval-result", "triage_agreement=0.95",
                    "--as-of", "2026-10-09")
    assert result.code == 0, result.stderr
    assert (factory.root / NEW_APPROVAL).exists()
    reapprove = commit(factory.root, BOB, "2026-10-09T14:00:00Z", "Re-approve triage")
    return Story(factory.root, init, loosen, other, prompt, other_again, reapprove,
                 old_digest, new_digest)


# -- history --------------------------------------------------------------------------------


def _history(govctl: Any, root: Path, use_case: str = "claims-triage",
             cwd: Path | None = None) -> dict[str, Any]:
    result = govctl("history", use_case, "--root", root, "--format", "json", cwd=cwd)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def _summaries(entry: dict[str, Any]) -> dict[str, str]:
    return {c["record"]: c["summary"] for c in entry["changes"]}


def test_history_lists_each_relevant_commit_with_author_date_and_change(govctl, factory):
    s = story(govctl, factory)
    payload = _history(govctl, s.root)
    assert payload["version"] == 1
    assert payload["use_case"] == "claims-triage"
    commits = payload["commits"]
    # oldest first; Erin's commits on the other use case do not appear
    assert [c["sha"] for c in commits] == [s.init, s.loosen, s.prompt, s.reapprove]
    assert [c["author"] for c in commits] == ["Bob Risk", "Dave Dev", "Dave Dev", "Bob Risk"]
    assert [c["email"] for c in commits] == [BOB.email, DAVE.email, DAVE.email, BOB.email]
    assert [c["date"][:10] for c in commits] == ["2026-10-01", "2026-10-05", "2026-10-07",
                                                  "2026-10-09"]
    assert [c["short"] for c in commits] == [c["sha"][:7] for c in commits]
    assert [c["subject"] for c in commits] == ["governance records", "Loosen drift",
                                               "Sharper prompt", "Re-approve triage"]

    first = _summaries(commits[0])
    assert first[f"Approval/{APPROVAL_ID}"].startswith(
        "approved by Bob Risk (risk-officer), Carol Model (model-owner)")
    assert "UseCase/claims-triage" in first

    loosen = commits[1]
    assert _summaries(loosen) == {
        "ThresholdContract/triage-contract": "signals.drift.max 0.2 → 0.3 (loosened)"}
    (change,) = loosen["changes"]
    assert change["change"] == "modified"
    assert change["fields"] == [{"path": "signals.drift.max", "old": 0.2, "new": 0.3,
                                 "effect": "loosened"}]

    prompt = _summaries(commits[2])
    assert list(prompt) == [PROMPT]
    assert "reapproval" in prompt[PROMPT] and "Bundle/triage" in prompt[PROMPT]

    reapproval = _summaries(commits[3])
    assert reapproval[f"Approval/{NEW_APPROVAL_ID}"].startswith(
        "approved by Bob Risk (risk-officer), Carol Model (model-owner)")
    assert s.new_digest[:15] in reapproval[f"Approval/{NEW_APPROVAL_ID}"]


def test_history_finds_a_bundle_whose_id_yaml_folds(govctl, factory):
    """history reads only files that may hold the use case's closure; an id YAML writes
    by folding lines ("tri age" as "tri" and "age" on two lines) is never ruled out."""
    factory.build()
    factory.edit(USE_CASE, "  bundle: triage\n", '  bundle: "tri age"\n')
    factory.edit(BUNDLE, "metadata: {id: triage, title: Claims triage assistant}",
                 "metadata:\n  id: tri\n    age")
    init_git(factory.root)
    committed_at = commit(factory.root, BOB, "2026-10-01T09:00:00Z", "records")
    factory.edit(PROMPT, "You triage claims.", "You triage home-insurance claims.")
    prompt = commit(factory.root, DAVE, "2026-10-07T12:00:00Z", "Sharper prompt")
    payload = _history(govctl, factory.root)
    assert [e["sha"] for e in payload["commits"]] == [committed_at, prompt]
    assert "Bundle/tri age" in _summaries(payload["commits"][0])
    assert PROMPT in _summaries(payload["commits"][1])


def test_history_of_the_other_use_case_shows_only_its_commits(govctl, factory):
    s = story(govctl, factory)
    commits = _history(govctl, s.root, "fraud-screen")["commits"]
    shas = [c["sha"] for c in commits]
    # the shared model, eval set, team and people came in the first commit
    assert shas == [s.init, s.other, s.other_again]
    assert _summaries(commits[2]) == {
        "ThresholdContract/fraud-contract": "signals.drift.max 0.2 → 0.4 (loosened)"}


def test_history_text_output(govctl, factory):
    s = story(govctl, factory)
    result = govctl("history", "claims-triage", "--root", s.root)
    assert result.code == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == "history of UseCase claims-triage: 4 commits"
    assert f"{s.loosen[:7]}  2026-10-05  Dave Dev <dave@acme.test>  Loosen drift" in out
    assert "ThresholdContract/triage-contract: signals.drift.max 0.2 → 0.3 (loosened)" in out
    assert "approved by Bob Risk (risk-officer), Carol Model (model-owner)" in out
    assert s.other[:7] not in out and "Fraud" not in out


def test_history_skips_merge_commits_and_shows_the_branch_commit(govctl, factory):
    committed(factory)
    git(factory.root, "checkout", "-q", "-b", "feature")
    factory.edit(CONTRACT, "window: 5m", "window: 1h")
    side = commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Slower latency window")
    git(factory.root, "checkout", "-q", "main")
    factory.edit("incidents/2026-10-15.yaml", "status: resolved", "status: mitigated")
    commit(factory.root, ERIN, "2026-10-04T09:00:00Z", "Incident status")
    env = {"GIT_AUTHOR_NAME": "Merger", "GIT_AUTHOR_EMAIL": "m@acme.test",
           "GIT_COMMITTER_NAME": "Merger", "GIT_COMMITTER_EMAIL": "m@acme.test",
           "GIT_AUTHOR_DATE": "2026-10-05T09:00:00Z", "GIT_COMMITTER_DATE": "2026-10-05T09:00:00Z"}
    git(factory.root, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature", env=env)
    commits = _history(govctl, factory.root)["commits"]
    authors = [c["author"] for c in commits]
    assert "Merger" not in authors
    window = [c for c in commits if c["sha"] == side]
    assert len(window) == 1
    assert _summaries(window[0]) == {
        "ThresholdContract/triage-contract": "signals.latency.window 5m → 1h (loosened)"}
    assert authors == ["Bob Risk", "Dave Dev", "Erin Other"]


def test_history_follows_a_moved_record_without_a_spurious_entry(govctl, factory):
    committed(factory)
    (factory.root / "contracts").mkdir()
    git(factory.root, "mv", CONTRACT, "contracts/triage.yaml")
    commit(factory.root, ERIN, "2026-10-02T09:00:00Z", "Move contracts")
    factory.edit("contracts/triage.yaml", "max: 0.2,", "max: 0.25,")
    edit = commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Drift")
    commits = _history(govctl, factory.root)["commits"]
    assert [c["author"] for c in commits] == ["Bob Risk", "Dave Dev"]
    assert commits[1]["sha"] == edit
    assert _summaries(commits[1]) == {
        "ThresholdContract/triage-contract": "signals.drift.max 0.2 → 0.25 (loosened)"}


def test_history_of_an_unknown_use_case_exits_2(govctl, factory):
    committed(factory)
    result = govctl("history", "claims-triag", "--root", factory.root)
    assert_one_line_error(result, "claims-triag")


# -- trace ----------------------------------------------------------------------------------


def _trace(govctl: Any, root: Path, value: str, cwd: Path | None = None) -> dict[str, Any]:
    result = govctl("trace", value, "--root", root, "--format", "json", cwd=cwd)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def test_trace_an_old_digest_finds_its_first_commit_and_approval(govctl, factory):
    s = story(govctl, factory)
    payload = _trace(govctl, s.root, s.old_digest)
    assert list(payload) == ["version", "digest", "bundle", "use_case", "matches", "current",
                             "first_commit", "approvals"]
    assert payload["version"] == 1
    assert payload["digest"] == s.old_digest
    assert (payload["bundle"], payload["use_case"]) == ("triage", "claims-triage")
    assert payload["matches"] == [{"bundle": "triage", "use_case": "claims-triage"}]
    assert payload["current"] is False
    assert payload["first_commit"] == {"sha": s.init, "author": "Bob Risk",
                                       "date": "2026-10-01T09:00:00+00:00"}
    (approval,) = payload["approvals"]
    assert approval["id"] == APPROVAL_ID
    assert approval["decision"] == "approved"
    assert [(a["person"], a["role"]) for a in approval["approvers"]] == [
        ("bob", "risk-officer"), ("carol", "model-owner")]
    assert approval["commit"] == {"sha": s.init, "author": "Bob Risk", "email": BOB.email,
                                  "date": "2026-10-01T09:00:00+00:00", "signed": False}


def test_trace_the_current_digest(govctl, factory):
    s = story(govctl, factory)
    payload = _trace(govctl, s.root, s.new_digest)
    assert payload["current"] is True
    assert (payload["bundle"], payload["use_case"]) == ("triage", "claims-triage")
    # introduced by Dave's prompt change, approved in Bob's later commit
    assert payload["first_commit"]["sha"] == s.prompt
    assert payload["first_commit"]["author"] == "Dave Dev"
    (approval,) = payload["approvals"]
    assert approval["id"] == NEW_APPROVAL_ID
    assert approval["commit"]["sha"] == s.reapprove
    assert approval["commit"]["author"] == "Bob Risk"
    assert approval["commit"]["email"] == BOB.email


_SPELLINGS = {"hex escape": lambda kind: f'"\\x{ord(kind[0]):02x}{kind[1:]}"',
              "escaped line break": lambda kind: f'"{kind[:2]}\\\n  {kind[2:]}"'}


@pytest.mark.parametrize("spelling", list(_SPELLINGS))
def test_trace_reads_kinds_spelled_with_escapes(govctl, factory, spelling):
    """trace skips parsing files that cannot hold the kinds it reads; a kind written with
    a double-quoted escape (no literal name in the bytes) is still read."""
    factory.build()
    for rel, kind in ((BUNDLE, "Bundle"), (MODEL, "Model"), (APPROVAL, "Approval"),
                      (USE_CASE, "UseCase")):
        text = (factory.root / rel).read_text()
        assert f"kind: {kind}\n" in text
        shown = _SPELLINGS[spelling](kind)
        (factory.root / rel).write_text(text.replace(f"kind: {kind}\n", f"kind: {shown}\n"))
        assert kind.encode() not in (factory.root / rel).read_bytes()
    old = digest(govctl, factory.root, "triage")
    init_git(factory.root)
    init = commit(factory.root, BOB, "2026-10-01T09:00:00Z", "records")
    factory.edit(PROMPT, "You triage claims.", "You triage home-insurance claims.")
    commit(factory.root, DAVE, "2026-10-07T12:00:00Z", "Sharper prompt")
    payload = _trace(govctl, factory.root, old)
    assert (payload["bundle"], payload["use_case"]) == ("triage", "claims-triage")
    assert payload["current"] is False
    assert payload["first_commit"]["sha"] == init
    assert [a["id"] for a in payload["approvals"]] == [APPROVAL_ID]
    assert payload["approvals"][0]["commit"]["sha"] == init


def test_trace_names_approvers_from_a_people_file_spelling_no_other_kind(govctl, factory):
    """trace reads a few kinds of the working tree; Person is one of them (the approvers'
    names), whatever else the people file spells."""
    factory.build()
    factory.edit("people.yaml", "Carol Model", "Carol Modeller")
    factory.edit("people.yaml", "Carol Modeller", "Carol Mod")
    text = (factory.root / "people.yaml").read_text()
    assert not any(kind in text for kind in ("Bundle", "Model", "EvalSet", "UseCase",
                                             "Approval"))
    init_git(factory.root)
    commit(factory.root, BOB, "2026-10-01T09:00:00Z", "records")
    payload = _trace(govctl, factory.root, digest(govctl, factory.root, "triage"))
    (approval,) = payload["approvals"]
    assert [(a["person"], a.get("name")) for a in approval["approvers"]] == [
        ("bob", "Bob Risk"), ("carol", "Carol Mod")]


def test_trace_accepts_a_digest_without_prefix_and_in_upper_case(govctl, factory):
    s = story(govctl, factory)
    bare = s.old_digest.removeprefix("sha256:")
    assert _trace(govctl, s.root, bare)["digest"] == s.old_digest
    assert _trace(govctl, s.root, bare.upper())["digest"] == s.old_digest


def test_trace_text_output(govctl, factory):
    s = story(govctl, factory)
    result = govctl("trace", s.old_digest, "--root", s.root)
    assert result.code == 0, result.stderr
    out = result.stdout
    assert s.old_digest in out
    assert "claims-triage" in out
    assert "current     no" in out
    assert f"first seen  {s.init[:7]}" in out and "Bob Risk <bob@acme.test>" in out
    assert (f"approval    {APPROVAL_ID}: approved for claims-triage by Bob Risk "
            "(risk-officer), Carol Model (model-owner)") in out
    assert f"committed {s.init[:7]}" in out and "unsigned" in out


def test_trace_of_an_unknown_digest_exits_1(govctl, factory):
    committed(factory)
    result = govctl("trace", "sha256:" + "ab" * 32, "--root", factory.root)
    assert_one_line_error(result, "sha256:" + "ab" * 32, code=1)


@pytest.mark.parametrize("garbage", ["sha256:xyz", "sha256:" + "a" * 63, "md5:" + "a" * 64,
                                     "triage", ""])
def test_trace_of_garbage_exits_2(govctl, factory, garbage):
    committed(factory)
    result = govctl("trace", garbage, "--root", factory.root)
    assert_one_line_error(result, "digest")


def test_trace_of_a_component_digest_has_no_use_case(govctl, factory):
    factory.files["bundles/guard.yaml"] = GUARD_BUNDLE
    factory.files["bundles/agent.yaml"] = """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: agent}
spec:
  class: agentic
  model: chat-2026-03
  components: [guard]
  eval_set: claims-eval
"""
    init = committed(factory)
    old_guard = digest(govctl, factory.root, "guard")
    factory.edit("bundles/guard.yaml", "threshold: 0.5", "threshold: 0.6")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Guard threshold")
    payload = _trace(govctl, factory.root, old_guard)
    assert payload["bundle"] == "guard"
    assert payload["use_case"] is None
    assert payload["matches"] == [{"bundle": "guard", "use_case": None}]
    assert payload["current"] is False
    assert payload["first_commit"]["sha"] == init
    assert payload["approvals"] == []
    now = _trace(govctl, factory.root, digest(govctl, factory.root, "guard"))
    assert now["current"] is True and now["use_case"] is None


def test_trace_two_bundles_with_identical_specs_share_a_digest(govctl, factory):
    factory.files["bundles/triage-copy.yaml"] = factory.files["bundles/triage.yaml"].replace(
        "id: triage,", "id: triage-copy,")
    committed(factory)
    payload = _trace(govctl, factory.root, digest(govctl, factory.root, "triage"))
    assert {m["bundle"] for m in payload["matches"]} == {"triage", "triage-copy"}
    assert {"bundle": "triage", "use_case": "claims-triage"} in payload["matches"]
    assert {"bundle": "triage-copy", "use_case": None} in payload["matches"]


def test_trace_a_digest_of_the_working_tree_only(govctl, factory):
    committed(factory)
    factory.edit(PROMPT, "You triage", "You sort")
    payload = _trace(govctl, factory.root, digest(govctl, factory.root, "triage"))
    assert payload["current"] is True
    assert payload["first_commit"] is None
    assert payload["approvals"] == []


def test_trace_an_approval_edited_in_place_keeps_the_commit_that_bound_it(govctl, factory):
    """An approval rebound in place to a new digest: tracing the old digest shows the
    commit that made the old decision, not the one that rebound it."""
    init = committed(factory)
    old = digest(govctl, factory.root, "triage")
    factory.edit(PROMPT, "You triage", "You sort")
    new = digest(govctl, factory.root, "triage")
    factory.edit(APPROVAL, old, new)
    rebind = commit(factory.root, ERIN, "2026-10-03T09:00:00Z", "Rebind")
    old_trace = _trace(govctl, factory.root, old)
    (approval,) = old_trace["approvals"]
    assert approval["id"] == APPROVAL_ID
    assert approval["commit"]["sha"] == init
    assert approval["commit"]["author"] == "Bob Risk"
    new_trace = _trace(govctl, factory.root, new)
    (approval,) = new_trace["approvals"]
    assert approval["commit"]["sha"] == rebind
    assert approval["commit"]["author"] == ERIN.name


def test_trace_of_a_removed_approval_keeps_its_deciding_commit(govctl, factory):
    init = committed(factory)
    old = digest(govctl, factory.root, "triage")
    factory.edit(APPROVAL, "valid_until: 2027-03-01", "valid_until: 2027-03-01  # reviewed")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "A comment (not a change of spec)")
    factory.remove(APPROVAL)
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Drop approval")
    (approval,) = _trace(govctl, factory.root, old)["approvals"]
    assert approval["id"] == APPROVAL_ID
    assert approval["commit"]["sha"] == init
    assert approval["commit"]["author"] == "Bob Risk"


# -- monorepo ---------------------------------------------------------------------------------


def test_monorepo_root_inside_a_git_repository(govctl, tmp_path):
    top = tmp_path / "mono"
    root = top / "platform" / "governance"
    factory = RepoFactory(root).build()
    (top / "services").mkdir(parents=True)
    (top / "services" / "app.py").write_text("print('hi')\n")
    (top / "README.md").write_text("# mono\n")
    (top / "services" / "config.yaml").write_text("kind: NotARecord\n")
    init_git(top)
    init = commit(top, BOB, "2026-10-01T09:00:00Z", "Everything")
    old = digest(govctl, root, "triage")
    (top / "services" / "app.py").write_text("print('hello')\n")
    (top / "services" / "config.yaml").write_text("kind: StillNotARecord\n")
    outside = commit(top, ERIN, "2026-10-02T09:00:00Z", "App change")
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    factory.edit(PROMPT, "You triage", "You sort")
    loosen = commit(top, DAVE, "2026-10-03T09:00:00Z", "Governance change")

    # diff: root-relative paths, nothing from outside the root
    payload = diff_json(govctl, root, init, cwd=top / "services")
    assert {(c["kind"], c["file"]) for c in payload["changes"]} == {
        ("ThresholdContract", CONTRACT), ("Bundle", "bundles/triage.yaml")}
    assert {(f["rule"], f["file"]) for f in payload["impacts"]} == {
        ("GOV031", APPROVAL), ("GOV032", APPROVAL)}
    assert diff_json(govctl, root, init, outside)["changes"] == []
    # found from inside the root without --root
    result = govctl("diff", init, "--format", "json", "--as-of", AS_OF, cwd=root / "bundles")
    assert result.code == 0, result.stderr
    assert len(result.json()["changes"]) == 2

    # history: the outside commit does not appear; the prompt path is root-relative
    commits = _history(govctl, root)["commits"]
    assert [c["sha"] for c in commits] == [init, loosen]
    assert PROMPT in _summaries(commits[1])

    # trace
    payload = _trace(govctl, root, old)
    assert payload["first_commit"]["sha"] == init
    assert payload["current"] is False
    assert payload["approvals"][0]["commit"]["sha"] == init

    # validate --history: Bob committed the approval; findings are root-relative
    result = govctl("validate", "--history", "--root", root, "--format", "json",
                    "--as-of", AS_OF)
    findings = result.json()["findings"]
    assert [f["rule"] for f in findings if f["rule"] == "GOV080"] == []
    assert {f["file"] for f in findings} == {APPROVAL}


def test_monorepo_provenance_names_the_committer_of_the_approval(govctl, tmp_path):
    top = tmp_path / "mono"
    root = top / "gov"
    RepoFactory(root).build()
    (top / "lib.txt").write_text("x\n")
    init_git(top)
    sha = commit(top, DAVE, "2026-10-01T09:00:00Z", "Everything")
    result = govctl("validate", "--history", "--root", root, "--format", "json",
                    "--as-of", AS_OF)
    assert result.code == 1
    (finding,) = [f for f in result.json()["findings"] if f["rule"] == "GOV080"]
    assert finding["file"] == APPROVAL
    assert "Dave Dev <dave@acme.test>" in finding["message"] and sha[:7] in finding["message"]


# -- not a git repository ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ("diff",), ("diff", "HEAD"), ("history", "claims-triage"), ("trace", "@digest"),
    ("validate", "--history"),
])
def test_not_a_git_repository_exits_2_with_one_line(govctl, factory, command):
    factory.build()
    args = [digest(govctl, factory.root, "triage") if a == "@digest" else a for a in command]
    result = govctl(*args, "--root", factory.root, "--as-of", AS_OF) if command[0] in (
        "diff", "validate") else govctl(*args, "--root", factory.root)
    assert_one_line_error(result, "not inside a git repository")


# -- read-only ---------------------------------------------------------------------------------


def _snapshot(top: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``top`` (``.git`` included) → (size, mtime_ns)."""
    out = {}
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = Path(dirpath) / name
            st = path.lstat()
            out[str(path.relative_to(top))] = (st.st_size, st.st_mtime_ns)
    return out


def test_history_commands_write_nothing(govctl, factory):
    s = story(govctl, factory)
    root = s.root
    (root / ".gitignore").write_text("*.log\n")
    (root / "debug.log").write_text("ignored\n")
    factory.edit(CONTRACT, "max: 0.3,", "max: 0.35,")  # a dirty work tree
    # a tracked file whose stat no longer matches the index: `git status` without
    # GIT_OPTIONAL_LOCKS=0 would refresh (rewrite) .git/index
    stamp = (root / "people.yaml").stat()
    os.utime(root / "people.yaml", ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 5_000_000_000))
    status = git_quiet_status(root)
    index = (root / ".git" / "index").stat().st_mtime_ns
    before = _snapshot(root)
    runs = [
        ("diff", "--root", root, "--as-of", AS_OF),
        ("diff", s.init, s.reapprove, "--root", root, "--format", "markdown"),
        ("history", "claims-triage", "--root", root),
        ("trace", s.old_digest, "--root", root),
        ("validate", "--history", "--root", root, "--as-of", AS_OF),
    ]
    for args in runs:
        result = govctl(*args)
        assert result.code in (0, 1), (args, result.stderr)
    assert git_quiet_status(root) == status
    assert "!! debug.log" in status
    assert (root / ".git" / "index").stat().st_mtime_ns == index
    assert _snapshot(root) == before
    assert "?? .gitignore" in status
    assert change_of(diff_json(govctl, root, "HEAD"), "ThresholdContract",
                     "triage-contract")["fields"][0]["new"] == 0.35


# -- symlinked references ------------------------------------------------------------------------


def _symlinked_prompt(factory: RepoFactory, folder: bool) -> None:
    """The bundle's prompt reached through a symlink: of the file, or of its folder."""
    text = factory.files.pop(PROMPT)
    if folder:
        factory.files["shared/prompts/triage.md"] = text
        factory.root.mkdir(parents=True)
        os.symlink("shared/prompts", factory.root / "prompts")
    else:
        factory.files["prompts/versions/v1.md"] = text
        (factory.root / "prompts").mkdir(parents=True)
        os.symlink("versions/v1.md", factory.root / PROMPT)


@pytest.mark.parametrize("folder", [False, True], ids=["file-link", "folder-link"])
def test_symlinked_prompt_is_read_through_in_history(govctl, factory, folder):
    _symlinked_prompt(factory, folder)
    init = committed(factory)
    assert govctl("validate", "--root", factory.root, "--as-of", AS_OF).code == 0
    old = digest(govctl, factory.root, "triage")
    target = factory.root / ("shared/prompts/triage.md" if folder else "prompts/versions/v1.md")
    before = target.read_bytes()
    target.write_bytes(before + b"Be brief.\n")
    edit = commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Edit the shared prompt")
    new = digest(govctl, factory.root, "triage")
    assert new != old
    # trace: the committed digests are found (the link's target is hashed, not the link)
    assert _trace(govctl, factory.root, old)["first_commit"]["sha"] == init
    assert _trace(govctl, factory.root, new)["first_commit"]["sha"] == edit
    # diff between commits: the target's change is the bundle's prompt change
    bundle = change_of(diff_json(govctl, factory.root, init, edit), "Bundle", "triage")
    (field,) = bundle["fields"]
    assert {k: field[k] for k in ("path", "old", "new", "effect")} == {
        "path": "prompt.template.sha256", "old": sha256_hex(before),
        "new": sha256_hex(before + b"Be brief.\n"), "effect": "reapproval"}
    # the text diff reads the link's target too, under the name the bundle references
    assert field["text_diff"].endswith(" Claim: {{claim_text}}\n+Be brief.")


# -- shallow clones ----------------------------------------------------------------------------


def _shallow_clone(source: Path, target: Path, depth: int) -> Path:
    subprocess.run(["git", "clone", "-q", "--depth", str(depth), source.as_uri(), str(target)],
                   check=True, capture_output=True)
    return target


def test_shallow_clone_refuses_to_attribute_to_its_cut_off_commit(govctl, factory, tmp_path):
    """With fetch-depth 1 the only commit looks as if it added every record: naming its
    author as the approval's committer (or the digest's introducer) would be wrong."""
    s = story(govctl, factory)
    clone = _shallow_clone(s.root, tmp_path / "clone", 1)
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    for args in (("validate", "--history", "--as-of", AS_OF), ("trace", s.new_digest),
                 ("history", "claims-triage")):
        result = govctl(*args, "--root", clone)
        assert_one_line_error(result, "shallow clone", s.reapprove[:7])
    # diff needs no attribution: it still works where the base revision is present
    payload = diff_json(govctl, clone, "HEAD")
    assert payload["changes"] == []


def test_deep_enough_shallow_clone_works(govctl, factory, tmp_path):
    committed(factory, BOB)
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Drift")
    factory.edit(USE_CASE, "status: production", "status: approved")
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Status")
    # depth 3 reaches the true root commit: git still lists it as shallow, but it has no
    # parents to be missing
    clone = _shallow_clone(factory.root, tmp_path / "clone", 3)
    result = govctl("validate", "--history", "--root", clone, "--format", "json",
                    "--as-of", AS_OF)
    assert [f["rule"] for f in result.json()["findings"] if f["rule"] == "GOV080"] == []
    assert len(_history(govctl, clone)["commits"]) == 3


# -- broken YAML in history ---------------------------------------------------------------------


@pytest.mark.parametrize("breakage", [
    pytest.param(("metadata: {id: triage-contract}", "metadata: {id: triage-contract"),
                 id="envelope-broken"),
    pytest.param(("  on_breach: {action: fallback", "  on_breach: {action: [fallback"),
                 id="cut-short-late"),
])
def test_history_compares_a_record_across_a_commit_that_broke_its_file(govctl, factory,
                                                                       breakage):
    """A contract broken in one commit and fixed, loosened, in the next: the loosening is
    shown against the last readable version, not hidden as "removed" then "added"."""
    committed(factory)
    factory.edit(CONTRACT, *breakage)
    broke = commit(factory.root, ERIN, "2026-10-02T09:00:00Z", "Oops")
    factory.edit(CONTRACT, breakage[1], breakage[0])
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.4,")
    fixed = commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Fix and loosen")
    commits = {c["sha"]: c for c in _history(govctl, factory.root)["commits"]}
    (broken,) = commits[broke]["changes"]
    assert broken["change"] == "unreadable"
    assert "cannot be read in thresholds/triage.yaml" in broken["summary"]
    (restored,) = commits[fixed]["changes"]
    assert restored["record"] == "ThresholdContract/triage-contract"
    assert restored["change"] == "restored"
    assert restored["fields"] == [{"path": "signals.drift.max", "old": 0.2, "new": 0.4,
                                   "effect": "loosened"}]
    assert "signals.drift.max 0.2 → 0.4 (loosened)" in restored["summary"]


def test_history_compares_a_deleted_and_recreated_record(govctl, factory):
    committed(factory)
    text = (factory.root / CONTRACT).read_text()
    factory.remove(CONTRACT)
    commit(factory.root, ERIN, "2026-10-02T09:00:00Z", "Remove contract")
    factory.write("contracts/triage.yaml", text.replace("window: 1d, severity: ticket",
                                                        "window: 1w, severity: ticket"))
    back = commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Contract again")
    commits = {c["sha"]: c for c in _history(govctl, factory.root)["commits"]}
    (restored,) = commits[back]["changes"]
    assert restored["change"] == "restored"
    assert restored["fields"] == [{"path": "signals.drift.window", "old": "1d", "new": "1w",
                                   "effect": "loosened"}]


# -- merges ------------------------------------------------------------------------------------


def _merge(root: Path, branch: str, date: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Merge Bot", "GIT_AUTHOR_EMAIL": "bot@acme.test",
           "GIT_COMMITTER_NAME": "Merge Bot", "GIT_COMMITTER_EMAIL": "bot@acme.test",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git(root, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def test_trace_names_the_branch_commit_not_the_merge(govctl, factory):
    committed(factory)
    git(factory.root, "checkout", "-q", "-b", "feature")
    factory.edit(PROMPT, "You triage", "You sort")
    introduced = commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Prompt")
    factory.edit("incidents/2026-10-15.yaml", "status: resolved", "status: mitigated")
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Unrelated on the branch")
    git(factory.root, "checkout", "-q", "main")
    factory.edit(USE_CASE, "status: production", "status: approved")
    commit(factory.root, ERIN, "2026-10-04T09:00:00Z", "Main moves on")
    merge = _merge(factory.root, "feature", "2026-10-05T09:00:00Z")
    payload = _trace(govctl, factory.root, digest(govctl, factory.root, "triage"))
    assert payload["first_commit"]["sha"] == introduced != merge
    assert payload["first_commit"]["author"] == "Dave Dev"


def test_trace_follows_nested_merges(govctl, factory):
    committed(factory)
    git(factory.root, "checkout", "-q", "-b", "feature")
    git(factory.root, "checkout", "-q", "-b", "topic")
    factory.edit(PROMPT, "You triage", "You sort")
    introduced = commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Prompt on topic")
    git(factory.root, "checkout", "-q", "feature")
    factory.edit("incidents/2026-10-15.yaml", "status: resolved", "status: mitigated")
    commit(factory.root, ERIN, "2026-10-03T09:00:00Z", "Feature work")
    _merge(factory.root, "topic", "2026-10-04T09:00:00Z")
    git(factory.root, "checkout", "-q", "main")
    factory.edit(USE_CASE, "status: production", "status: approved")
    commit(factory.root, ERIN, "2026-10-05T09:00:00Z", "Main moves on")
    _merge(factory.root, "feature", "2026-10-06T09:00:00Z")
    payload = _trace(govctl, factory.root, digest(govctl, factory.root, "triage"))
    assert payload["first_commit"]["sha"] == introduced


def test_long_history_is_read_in_batches_and_stays_exact(govctl, factory):
    """Enough commits for blobs to be prefetched in one cat-file batch."""
    init = committed(factory)
    digests = [digest(govctl, factory.root, "triage")]
    for i in range(1, 41):
        text = (factory.root / CONTRACT).read_text()
        start = text.index("drift: {metric: psi, max: ") + len("drift: {metric: psi, max: ")
        end = text.index(",", start)
        factory.write(CONTRACT, text[:start] + f"{0.2 + i / 1000:.3f}" + text[end:])
        if i % 10 == 0:
            factory.write(PROMPT, f"You triage claims ({i}).\nClaim: {{{{claim_text}}}}\n")
        commit(factory.root, DAVE, f"2026-10-{2 + i // 2:02d}T{i % 2 + 9:02d}:00:00Z",
               f"step {i}")
        if i % 10 == 0:
            digests.append(digest(govctl, factory.root, "triage"))
    commits = _history(govctl, factory.root)["commits"]
    assert len(commits) == 41
    assert commits[0]["sha"] == init
    last = _summaries(commits[-1])
    assert last["ThresholdContract/triage-contract"] == \
        "signals.drift.max 0.239 → 0.24 (loosened)"
    assert PROMPT in last
    for i, value in enumerate(digests):
        payload = _trace(govctl, factory.root, value)
        assert payload["current"] is (i == len(digests) - 1)
        assert payload["first_commit"]["sha"] == (init if i == 0 else
                                                  commits[10 * i]["sha"])


def test_prefetch_reads_the_same_bytes_as_cat_file(factory):
    from govctl.history.git import GitHistory

    committed(factory)
    for i in range(40):
        factory.write(f"notes/n{i}.yaml", f"# note {i}\n" * (i + 1))
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "notes")
    with GitHistory(factory.root) as history:
        tree = history.tree("HEAD")
        shas = [sha for _mode, sha in tree.values()]
        history.prefetch([*shas, None, "0" * 40])  # unknown ids are skipped
        assert set(shas) <= set(history._blobs)
        for path, (_mode, sha) in tree.items():
            assert history.blob(sha) == (factory.root / path).read_bytes(), path


def test_focus_reads_the_changed_blobs_in_batches_and_finds_the_mentions(factory,
                                                                         monkeypatch):
    import git as gitpython

    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex

    committed(factory)
    for i in range(40):  # 40 commits, each adding a file; every fourth names the approval
        body = "claims-triage-2026-10-01" if i % 4 == 0 else "something else"
        factory.write(f"notes/n{i}.yaml", f"# note {i}: {body}\n")
        commit(factory.root, DAVE, f"2026-10-{2 + i // 2:02d}T{i % 2 + 9:02d}:00:00Z",
               f"note {i}")
    single: list[str] = []
    original = gitpython.cmd.Git.get_object_data
    monkeypatch.setattr(gitpython.cmd.Git, "get_object_data",
                        lambda self, ref: single.append(ref) or original(self, ref))
    with GitHistory(factory.root) as history:
        index = ProvenanceIndex(history, "HEAD")
        index.focus(["claims-triage-2026-10-01"])
        assert single == []  # every blob came through the batched prefetch
        notes = {c.subject for c in index._relevant["claims-triage-2026-10-01"]
                 if c.subject.startswith("note")}
        assert notes == {f"note {i}" for i in range(0, 40, 4)}
        assert history._blobs == {}  # released once scanned
        # blobs someone else read before stay held (an audit pack's next use case)
        held = [ch.new_blob for c in index.commits for ch in c.changes if ch.new_blob][:40]
        history.prefetch(held)
        assert set(held) <= set(history._blobs)
        index.focus(["claims-triage"])
        assert set(held) <= set(history._blobs)


@given(records=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\x1e", b"")),
                        max_size=8),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
@settings(max_examples=300, deadline=None)
def test_the_log_read_in_pieces_splits_into_the_same_records(records, cuts):
    """However git's output is cut into pieces, the streamed log reads the same commits."""
    from govctl.history.git import _split_records

    out = b"".join(b"\x1e" + r for r in records)
    edges = sorted({c for c in cuts if 0 < c < len(out)})
    pieces = [out[a:b] for a, b in zip([0, *edges], [*edges, len(out)], strict=True)]
    assert list(_split_records(pieces)) == records


def test_a_history_git_cannot_read_to_the_end_is_an_error_not_a_shorter_history(
        govctl, factory):
    """A repository whose oldest tree is gone: git log fails after printing the newer
    commits; govctl must not take what it read for the whole history."""
    committed(factory)
    first_tree = git(factory.root, "rev-parse", "HEAD^{tree}").strip()
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    commit(factory.root, DAVE, "2026-10-05T10:00:00Z", "Loosen drift")
    factory.edit(CONTRACT, "max: 0.3,", "max: 0.25,")
    commit(factory.root, DAVE, "2026-10-06T10:00:00Z", "Tighten drift")
    objects = factory.root / ".git" / "objects"
    (objects / first_tree[:2] / first_tree[2:]).unlink()  # (loose: never packed here)
    result = govctl("history", "claims-triage", "--root", factory.root)
    assert result.code == 2
    assert "git log failed" in result.stderr
    assert "Traceback" not in result.stderr
