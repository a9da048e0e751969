"""Approval integrity (SPEC §1.2, §2 GOV038, §3 approve / validate --warn / diff --fail-on
unapproved, §3.2, §3.4): one test (or a few) per finding of the issue, over real git
repositories with commits by chosen authors and signers — SSH keys made with ssh-keygen
and OpenPGP keys made with gpg in a throwaway keyring."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, git, init_git, require_program
from tests.factory import AS_OF, BASE_FILES, GUARD_BUNDLE
from tests.history_support import (
    APPROVAL,
    BOB,
    DAVE,
    POLICY,
    Who,
    commit,
    committed,
)

USE_CASE = "claims-triage"
CONTRACT = "thresholds/triage.yaml"


def validate_json(govctl: Any, root: Path, *args: str) -> dict[str, Any]:
    result = govctl("validate", "--root", root, "--format", "json", "--as-of", AS_OF, *args)
    assert result.code in (0, 1), result.stderr
    return result.json()


def rule_messages(payload: dict[str, Any], rule: str) -> list[str]:
    return [f["message"] for f in payload["findings"] if f["rule"] == rule]


# == 1. any edit of an approval's spec needs its approvers ======================================


@pytest.mark.parametrize("old, new", [
    ("date: 2026-10-01", "date: 2026-12-01"),
    ("valid_until: 2027-03-01", "valid_until: 2027-05-01"),
    ("results: {triage_agreement: 0.94}", "results: {triage_agreement: 0.99}"),
])
def test_an_edit_by_a_non_approver_is_gov080_and_loosened(govctl, factory, old, new):
    base = committed(factory, BOB)
    factory.edit(APPROVAL, old, new)
    sha = commit(factory.root, DAVE, "2026-10-05T09:00:00Z", "move the dates")
    payload = validate_json(govctl, factory.root, "--history")
    (message,) = rule_messages(payload, "GOV080")
    assert sha[:7] in message and "Dave Dev" in message
    diff = govctl("diff", base, "HEAD", "--root", factory.root, "--format", "json",
                  "--as-of", AS_OF).json()
    (change,) = diff["changes"]
    assert {f["effect"] for f in change["fields"]} == {"loosened"}


def test_conditions_removed_by_a_non_approver_is_gov080(govctl, factory):
    factory.files[APPROVAL] = factory.files[APPROVAL].replace(
        "  valid_until: 2027-03-01\n",
        "  valid_until: 2027-03-01\n  conditions: [weekly drift review]\n").replace(
        "decision: approved", "decision: conditional")
    committed(factory, BOB)
    factory.edit(APPROVAL, "  conditions: [weekly drift review]\n", "")
    sha = commit(factory.root, DAVE, "2026-10-05T09:00:00Z", "drop the condition")
    (message,) = rule_messages(validate_json(govctl, factory.root, "--history"), "GOV080")
    assert sha[:7] in message


# == 2. signed by key: OpenPGP ==================================================================


@pytest.fixture
def gnupg(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway keyring (short path: gpg-agent's socket name has a length limit)."""
    require_program("gpg")
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ}, capture_output=True)
    subprocess.run(["rm", "-rf", str(home)], check=False)


def gpg_key(uid: str) -> str:
    """A new ed25519 signing key for ``uid``; its fingerprint."""
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                    "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True,
                   capture_output=True)
    out = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys", uid],
                         check=True, capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def gpg_commit(root: Path, author: Who, fingerprint: str, date: str, message: str) -> str:
    env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": author.name,
           "GIT_COMMITTER_EMAIL": author.email, "GIT_COMMITTER_DATE": date}
    git(root, "add", "-A")
    git(root, "-c", "gpg.format=openpgp", "-c", f"user.signingkey={fingerprint}", "commit",
        "-q", "-S", "-m", message, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def signed_repo(factory: Any, keys: dict[str, str]) -> Path:
    """The factory under `provenance: signed`, with ``keys`` (person → signing key) in the
    Person records."""
    factory.files[POLICY] = BASE_FILES[POLICY].replace("provenance: author",
                                                       "provenance: signed")
    people = factory.files["people.yaml"]
    for person, key in keys.items():
        people = people.replace(f"metadata: {{id: {person}}}\nspec: {{",
                                f"metadata: {{id: {person}}}\nspec: {{signing_keys: ['{key}'], ")
    factory.files["people.yaml"] = people
    factory.build()
    return init_git(factory.root)


def test_openpgp_a_self_asserted_user_id_proves_nothing(govctl, factory, gnupg):
    """A colleague adds the uncertified user id "Bob Risk <bob@…>" — and one listing
    several emails — to their own key and signs: %G? is G and %GS names Bob, but the
    key is not in Bob's signing_keys. Bob's own key passes."""
    bob = gpg_key("Bob Risk <bob@acme.test>")
    mallory = gpg_key("Mallory <mallory@acme.test>")
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                    "--quick-add-uid", mallory, "Bob Risk <bob@acme.test>, Carol "
                    "<carol@acme.test>"], check=True, capture_output=True)
    root = signed_repo(factory, {"bob": bob})
    forged = gpg_commit(root, BOB, mallory, "2026-10-01T09:00:00Z", "approve (Mallory)")
    status = git(root, "log", "-1", "--format=%G?%x1f%GS", forged).strip().split("\x1f")
    assert status[0] in ("G", "U") and "bob@acme.test" in status[1]
    (message,) = rule_messages(validate_json(govctl, root, "--history"), "GOV080")
    assert "a key in no approver's signing_keys" in message and forged[:7] in message

    factory.edit(APPROVAL, "date: 2026-10-01", "date: 2026-10-02")
    gpg_commit(root, BOB, bob, "2026-10-02T09:00:00Z", "approve (Bob)")
    assert rule_messages(validate_json(govctl, root, "--history"), "GOV080") == []


def test_openpgp_fingerprints_compare_without_case_or_spaces(govctl, factory, gnupg):
    bob = gpg_key("Bob Risk <bob@acme.test>")
    spaced = " ".join(bob.lower()[i:i + 4] for i in range(0, len(bob), 4))
    root = signed_repo(factory, {"bob": spaced.replace(" ", "")})
    gpg_commit(root, BOB, bob, "2026-10-01T09:00:00Z", "approve")
    assert rule_messages(validate_json(govctl, root, "--history"), "GOV080") == []


# == 3. independence (GOV038) ===================================================================

INDEPENDENT = ("  separation_of_duties: true\n",
               "  separation_of_duties: true\n  independence:\n"
               "    risk-officer: [owner, developers]\n"
               "    model-owner: [owner, developers, team]\n")


def test_a_developer_or_team_member_cannot_approve_in_an_independent_role(govctl, factory):
    factory.files[POLICY] = BASE_FILES[POLICY].replace(*INDEPENDENT)
    # Bob (risk-officer) trained the model; Carol (model-owner) sits on the owning team
    factory.files["models/chat.yaml"] = factory.files["models/chat.yaml"].replace(
        "  type: vendor-endpoint\n", "  type: vendor-endpoint\n  developers: [bob]\n")
    factory.build()
    payload = validate_json(govctl, factory.root)
    messages = rule_messages(payload, "GOV038")
    assert any("Bob Risk (bob) is a developer of Model 'chat-2026-03'" in m
               and "'risk-officer'" in m for m in messages), messages
    assert any("Carol Model (carol) is a member of the owning Team 'claims-ml'" in m
               for m in messages), messages
    # neither fills a slot: the roles are now short
    (short,) = rule_messages(payload, "GOV034")
    assert "risk-officer needs 1, has 0" in short and "model-owner needs 1, has 0" in short


def test_developers_count_through_the_component_closure(govctl, factory):
    factory.files[POLICY] = BASE_FILES[POLICY].replace(*INDEPENDENT)
    factory.files["bundles/guard.yaml"] = GUARD_BUNDLE + "  developers: [bob]\n"
    factory.files["bundles/triage.yaml"] = factory.files["bundles/triage.yaml"].replace(
        "  eval_set: claims-eval\n", "  eval_set: claims-eval\n  components: [guard]\n")
    factory.build()
    messages = rule_messages(validate_json(govctl, factory.root), "GOV038")
    assert any("is a developer of Bundle 'guard'" in m for m in messages), messages


def test_malformed_developers_are_a_schema_finding_not_a_crash(govctl, factory):
    # found by the fuzzer: a flow sequence holding a mapping reached a dict key
    factory.files[POLICY] = BASE_FILES[POLICY].replace(*INDEPENDENT)
    factory.files["models/chat.yaml"] = factory.files["models/chat.yaml"].replace(
        "  type: vendor-endpoint\n",
        "  type: vendor-endpoint\n  developers: [bob, tools): not independent]\n")
    factory.build()
    payload = validate_json(govctl, factory.root)
    assert any(f["rule"] == "GOV010" and f["file"] == "models/chat.yaml"
               for f in payload["findings"]), payload["findings"]
    # the string entries still count: Bob stays excluded from risk-officer
    assert any("Bob Risk (bob) is a developer" in m
               for m in rule_messages(payload, "GOV038"))


def test_without_independence_nothing_changes(govctl, factory):
    factory.files["models/chat.yaml"] = factory.files["models/chat.yaml"].replace(
        "  type: vendor-endpoint\n", "  type: vendor-endpoint\n  developers: [bob]\n")
    factory.build()
    assert validate_json(govctl, factory.root)["findings"] == []


def test_init_writes_the_independence_defaults(govctl, tmp_path):
    assert govctl("init", tmp_path / "new").code == 0
    text = (tmp_path / "new" / "governance.yaml").read_text()
    assert "    model-validator: [owner, developers, team]\n" in text
    assert "    risk-officer: [owner, developers]\n" in text


def test_a_signing_key_on_two_persons_is_gov010(govctl, factory):
    key = "A" * 40
    factory.files["people.yaml"] = factory.files["people.yaml"].replace(
        "spec: {name: Bob Risk,", f"spec: {{signing_keys: ['{key}'], name: Bob Risk,").replace(
        "spec: {name: Carol Model,", f"spec: {{signing_keys: ['{key.lower()}'], "
                                     "name: Carol Model,")
    factory.build()
    (message,) = rule_messages(validate_json(govctl, factory.root), "GOV010")
    assert "is already Person 'bob''s" in message


# == 4, 5. approve =============================================================================


def approve(govctl: Any, root: Path, *args: str) -> Any:
    return govctl("approve", USE_CASE, "--root", root, "--as-of", AS_OF, *args)


def test_an_approver_given_by_name_is_a_usage_error_naming_the_id_pattern(govctl, factory):
    factory.build()
    result = approve(govctl, factory.root, "-a", "Magnus Dahl:risk-officer",
                     "-a", "carol:model-owner")
    assert result.code == 2
    assert "'Magnus Dahl' is not a Person id" in result.stderr
    assert "internal error" not in result.stderr


def test_eval_results_are_checked_against_the_contract(govctl, factory):
    factory.build()
    typo = approve(govctl, factory.root, "-a", "bob:risk-officer", "-a", "carol:model-owner",
                   "--eval-result", "triage_agrement=0.95", "--dry-run")
    assert typo.code == 2 and "did you mean 'triage_agreement'" in typo.stderr
    # a signal name is accepted, and then judged (GOV036) like its metric
    by_signal = approve(govctl, factory.root, "-a", "bob:risk-officer", "-a",
                        "carol:model-owner", "--eval-result", "accuracy_proxy=0.31",
                        "--dry-run")
    assert by_signal.code == 1
    assert "GOV036" in by_signal.stderr and "requires min 0.9" in by_signal.stderr


def test_warnings_are_printed_also_on_a_dry_run(govctl, factory):
    factory.build()
    result = govctl("approve", USE_CASE, "--root", factory.root, "--as-of", "2028-11-27",
                    "-a", "bob:risk-officer", "-a", "carol:model-owner", "--valid-days",
                    "9999", "--dry-run")
    assert result.code == 0, result.stderr
    assert "GOV060 warning EvalSet 'claims-eval' was collected" in result.stderr
    assert "--valid-days 9999 is more than the tier allows" in result.stderr
    assert 'valid_until: "2029-05-26"' in result.stdout  # (180 days, the tier's maximum)


# == 7. diff --fail-on unapproved ================================================================


def loosen(root: Path) -> None:
    path = root / CONTRACT
    path.write_text(path.read_text().replace("max: 0.2,", "max: 0.5,"))


def reapprove(govctl: Any, root: Path, *approvers: str) -> None:
    args = [a for person in approvers for a in ("-a", person)]
    result = govctl("approve", USE_CASE, "--root", root, "--as-of", "2026-11-20", *args)
    assert result.code == 0, result.stderr


def gate(govctl: Any, root: Path, base: str, *gates: str) -> int:
    args = [a for g in gates for a in ("--fail-on", g)]
    return govctl("diff", base, "HEAD", "--root", root, "--as-of", AS_OF, *args).code


def test_unapproved_trips_on_a_loosening_without_reapproval(govctl, factory):
    base = committed(factory, BOB)
    loosen(factory.root)
    commit(factory.root, DAVE, "2026-11-19T09:00:00Z", "loosen drift")
    assert gate(govctl, factory.root, base, "unapproved") == 1
    assert gate(govctl, factory.root, base, "loosened") == 1


def test_unapproved_passes_a_loosening_reapproved_by_its_approvers(govctl, factory):
    base = committed(factory, BOB)
    loosen(factory.root)
    commit(factory.root, DAVE, "2026-11-19T09:00:00Z", "loosen drift")
    reapprove(govctl, factory.root, "bob:risk-officer", "carol:model-owner")
    commit(factory.root, BOB, "2026-11-20T09:00:00Z", "re-approve")
    assert gate(govctl, factory.root, base, "unapproved") == 0
    assert gate(govctl, factory.root, base, "loosened") == 1  # still a loosening: it says so


def test_unapproved_trips_on_a_reapproval_by_the_wrong_roles(govctl, factory):
    base = committed(factory, BOB)
    loosen(factory.root)
    commit(factory.root, DAVE, "2026-11-19T09:00:00Z", "loosen drift")
    approval = factory.root / "approvals" / f"{USE_CASE}-2026-11-20.yaml"
    reapprove(govctl, factory.root, "bob:risk-officer", "carol:model-owner")
    # the use case's owner in Carol's place: separation of duties (GOV035, then GOV034)
    approval.write_text(approval.read_text().replace("carol, role: model-owner",
                                                     "alice, role: model-owner"))
    commit(factory.root, BOB, "2026-11-20T09:00:00Z", "re-approve (owner approving)")
    assert gate(govctl, factory.root, base, "unapproved") == 1


def test_unapproved_trips_on_a_reapproval_committed_by_a_non_approver(govctl, factory):
    base = committed(factory, BOB)
    loosen(factory.root)
    reapprove(govctl, factory.root, "bob:risk-officer", "carol:model-owner")
    commit(factory.root, DAVE, "2026-11-20T09:00:00Z", "loosen and re-approve myself")
    assert gate(govctl, factory.root, base, "unapproved") == 1


def test_a_swapped_metric_or_a_constant_query_is_loosened(govctl, factory):
    base = committed(factory, BOB)
    path = factory.root / CONTRACT
    path.write_text(path.read_text().replace("drift: {metric: psi,",
                                             "drift: {metric: psi, query: vector(0),"))
    commit(factory.root, DAVE, "2026-11-19T09:00:00Z", "silence drift")
    assert gate(govctl, factory.root, base, "loosened") == 1



def _committed_example(tmp_path: Path) -> Path:
    """The example repository, committed once: "records"."""
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "governance-repo",
                    root)
    init_git(root)
    commit_all(root, "records")
    return root


def test_deciding_commits_are_the_same_with_one_pass_for_many_approvals(tmp_path) -> None:
    # ProvenanceIndex.focus() keeps, per approval, only the commits whose changed files
    # mention it; the answer must be the one the full walk gives: over edits in place,
    # a move to another file and commits that touch other approvals only
    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex
    from govctl.model.repository import WorktreeSource, load_repository

    root = _committed_example(tmp_path)
    first = sorted((root / "approvals").glob("*.yaml"))
    text = first[0].read_text()
    assert '  valid_until: "2027' in text
    first[0].write_text(text.replace('  valid_until: "2027', '  valid_until: "2028', 1))
    commit_all(root, "edit one approval in place", author="Someone Else",
               email="else@example.test")
    first[1].rename(root / "approvals" / "moved.yaml")
    commit_all(root, "move another")
    approvals = load_repository(WorktreeSource(root)).of_kind("Approval")
    assert len(approvals) > 2
    with GitHistory(root) as history:
        walked = {a.id: ProvenanceIndex(history).decision(a) for a in approvals}
        focused_index = ProvenanceIndex(history)
        focused_index.focus(a.id for a in approvals)
        focused = {a.id: focused_index.decision(a) for a in approvals}
    assert focused == walked
    subjects = {d.commit.subject for d in walked.values()}
    assert "edit one approval in place" in subjects and "records" in subjects


def test_a_decision_whose_id_is_written_with_an_escape_is_still_found(tmp_path) -> None:
    # YAML can spell an id with a double-quoted escape: the commit that wrote the decision
    # that way decided it, and the one-pass search must not skip it for an older commit
    # that happened to hold the same spec (attributing the decision to its author)
    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex
    from govctl.model.repository import WorktreeSource, load_repository

    root = _committed_example(tmp_path)
    path = sorted((root / "approvals").glob("*.yaml"))[0]
    original = path.read_text()
    path.write_text(original.replace('  valid_until: "2027', '  valid_until: "2028', 1))
    commit_all(root, "extend it")
    approval_id = next(line.split(":", 1)[1].strip() for line in original.splitlines()
                       if line.strip().startswith("id:"))
    escaped = approval_id.replace("-", "\\x2d", 1)
    assert escaped != approval_id
    respelled = f'id: "{escaped}"'
    path.write_text(path.read_text().replace(f"id: {approval_id}", respelled, 1))
    commit_all(root, "respell the id")  # the same decision: no version, no decider
    path.write_text(original.replace(f"id: {approval_id}", respelled, 1))
    commit_all(root, "back, spelled with an escape", author="Someone Else",
               email="else@example.test")  # neither side spells the id literally
    approvals = load_repository(WorktreeSource(root)).of_kind("Approval")
    assert approval_id in {a.id for a in approvals}
    with GitHistory(root) as history:
        focused_index = ProvenanceIndex(history)
        focused_index.focus(a.id for a in approvals)
        focused = {a.id: focused_index.decision(a) for a in approvals}
        walked = {a.id: ProvenanceIndex(history).decision(a) for a in approvals}
    assert focused == walked
    assert focused[approval_id].commit.subject == "back, spelled with an escape"


def test_a_moved_approval_is_found_at_head_when_its_id_is_written_with_an_escape(tmp_path
                                                                                ) -> None:
    # an approval moved to another file and not committed yet is looked for in HEAD's
    # files; one spelling its id with an escape holds it as surely as a literal one
    from govctl.history.git import GitHistory
    from govctl.history.provenance import ProvenanceIndex
    from govctl.model.repository import WorktreeSource, load_repository

    root = _committed_example(tmp_path)
    path = sorted((root / "approvals").glob("*.yaml"))[0]
    original = path.read_text()
    approval_id = next(line.split(":", 1)[1].strip() for line in original.splitlines()
                       if line.strip().startswith("id:"))
    escaped = approval_id.replace("-", "\\x2d", 1)
    assert escaped != approval_id
    path.write_text(original.replace(f"id: {approval_id}", f'id: "{escaped}"', 1))
    commit_all(root, "spelled with an escape")
    path.rename(path.with_name("moved.yaml"))  # not committed
    approval = load_repository(WorktreeSource(root)).get("Approval", approval_id)
    assert approval is not None and approval.file.endswith("moved.yaml")
    with GitHistory(root) as history:
        decision = ProvenanceIndex(history).decision(approval)
    assert decision.commit is not None and decision.commit.subject == "records"
