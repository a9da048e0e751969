"""`govctl validate --history`: approval provenance (SPEC §3.4, GOV080) over real git
repositories — who committed the decision, across edits, renames and moves, and signed
commits."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_EXTERNAL, git
from tests.factory import AS_OF
from tests.history_support import (
    APPROVAL,
    APPROVAL_ID,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    POLICY,
    Who,
    commit,
    committed,
)

REF = f"Approval/{APPROVAL_ID}"


def gov080(govctl: Any, root: Path, clean: bool = True) -> list[dict[str, Any]]:
    """The GOV080 findings of `validate --history`; ``clean``: and no other finding."""
    result = govctl("validate", "--history", "--root", root, "--format", "json",
                    "--as-of", AS_OF)
    assert result.code in (0, 1), result.stderr
    assert result.stderr == ""
    payload = result.json()
    findings = [f for f in payload["findings"] if f["rule"] == "GOV080"]
    others = [f for f in payload["findings"] if f["rule"] != "GOV080"]
    if clean:  # the factory repository is otherwise clean
        assert others == [], others
        assert result.code == (1 if findings else 0)
    return findings


def only_gov080(govctl: Any, root: Path, clean: bool = True) -> dict[str, Any]:
    findings = gov080(govctl, root, clean)
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding["severity"] == "error"
    assert finding["file"] == APPROVAL
    assert finding["record"] == REF
    return finding


def test_committed_by_an_approver_with_differently_cased_email(govctl, factory):
    committed(factory, Who("Bob Risk", "Bob@ACME.Test"))
    assert gov080(govctl, factory.root) == []


def test_committed_by_the_other_approver(govctl, factory):
    committed(factory, CAROL)
    assert gov080(govctl, factory.root) == []


def test_committed_by_a_non_approver(govctl, factory):
    sha = committed(factory, DAVE, "2026-10-01T09:00:00Z")
    finding = only_gov080(govctl, factory.root)
    assert finding["line"] == factory.line_of(APPROVAL, "approvers:")
    message = finding["message"]
    assert "Dave Dev <dave@acme.test>" in message
    assert sha[:7] in message and "2026-10-01" in message
    # the message names who would have been allowed to commit it
    assert "bob@acme.test" in message and "carol@acme.test" in message


def test_without_history_flag_no_gov080(govctl, factory):
    committed(factory, DAVE)
    result = govctl("validate", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    assert result.code == 0
    assert result.json()["findings"] == []


def test_approvers_changed_later_by_a_non_approver(govctl, factory):
    committed(factory, BOB)
    factory.edit(APPROVAL, "    - {person: carol, role: model-owner}\n",
                 "    - {person: carol, role: model-owner}\n"
                 "    - {person: alice, role: model-owner}\n")
    sha = commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Add approver")
    finding = only_gov080(govctl, factory.root, clean=False)  # alice owns it: GOV035 too
    assert "Dave Dev" in finding["message"] and sha[:7] in finding["message"]


def _rebind_bundle(factory: Any) -> None:
    text = (factory.root / APPROVAL).read_text()
    start = text.index("sha256:", text.index("bundle:"))
    factory.write(APPROVAL, text[:start] + "sha256:" + "0" * 64 + text[start + 71:])


@pytest.mark.parametrize("edit", [
    pytest.param(lambda f: f.edit(APPROVAL, "decision: approved", "decision: conditional"),
                 id="decision"),
    pytest.param(_rebind_bundle, id="bundle-digest"),
    pytest.param(lambda f: f.edit(APPROVAL, "thresholds: {id: triage-contract",
                                  "thresholds: {id: other-contract"), id="thresholds"),
])
def test_decision_or_binding_changed_later_by_a_non_approver(govctl, factory, edit):
    committed(factory, BOB)
    edit(factory)
    sha = commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Edit decision")
    result = govctl("validate", "--history", "--root", factory.root, "--format", "json",
                    "--as-of", AS_OF)
    assert result.code == 1
    mine = [f for f in result.json()["findings"] if f["rule"] == "GOV080"]
    assert len(mine) == 1, mine
    assert sha[:7] in mine[0]["message"] and "Dave Dev" in mine[0]["message"]


def test_comments_and_layout_by_a_non_approver_keep_the_deciding_commit(govctl, factory):
    committed(factory, BOB)
    text = (factory.root / APPROVAL).read_text()
    factory.write(APPROVAL, "# Approved in the October risk committee.\n"
                  + text.replace("  date: 2026-10-01\n", "  date:   2026-10-01   # the day\n"))
    commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Comments and layout")
    assert gov080(govctl, factory.root) == []


@pytest.mark.parametrize("old, new", [
    ("valid_until: 2027-03-01", "valid_until: 2027-03-01\n  notes: Reviewed in October."),
    ("date: 2026-10-01", "date: 2026-10-02"),
    ("results: {triage_agreement: 0.94}", "results: {triage_agreement: 0.99}"),
    ("population: Home-insurance claimants, Nordics", "population: All claimants"),
])
def test_any_spec_edit_by_a_non_approver_is_the_deciding_commit(govctl, factory, old, new):
    """SPEC §3.4: anything in the parsed spec (notes, date, population, eval results), not
    only the decision fields: an approval is a decision already taken."""
    committed(factory, BOB)
    factory.edit(APPROVAL, old, new)
    sha = commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Edit the approval")
    findings = gov080(govctl, factory.root, clean=False)
    assert len(findings) == 1 and sha[:7] in findings[0]["message"], findings
    assert "Dave Dev" in findings[0]["message"]


BROKEN = '  notes: "unclosed\n'  # a YAML syntax error: the approval cannot be read


def _break(factory: Any) -> None:
    factory.edit(APPROVAL, "  date: 2026-10-01\n", "  date: 2026-10-01\n" + BROKEN)


def _fix(factory: Any) -> None:
    factory.edit(APPROVAL, BROKEN, "")


def test_syntax_fix_by_an_approver_does_not_launder_a_decision(govctl, factory):
    """Dave changes the decision in a commit that also breaks the YAML; Bob fixes only the
    syntax. The decision is Dave's."""
    committed(factory, BOB)
    factory.edit(APPROVAL, "decision: approved", "decision: conditional")
    _break(factory)
    sha = commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Conditional (broken)")
    _fix(factory)
    commit(factory.root, BOB, "2026-10-03T09:00:00Z", "Fix YAML")
    finding = only_gov080(govctl, factory.root)
    assert sha[:7] in finding["message"] and "Dave Dev" in finding["message"]


def test_syntax_fix_by_a_non_approver_keeps_the_approvers_decision(govctl, factory):
    committed(factory, BOB)
    factory.edit(APPROVAL, "decision: approved", "decision: conditional")
    _break(factory)
    commit(factory.root, CAROL, "2026-10-02T09:00:00Z", "Conditional (broken)")
    factory.edit(APPROVAL, '"unclosed', '"now closed"')
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Fix YAML")
    assert gov080(govctl, factory.root) == []


def test_broken_and_fixed_without_a_decision_change(govctl, factory):
    committed(factory, BOB)
    _break(factory)
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Oops")
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Still broken")  # empty commit
    _fix(factory)  # back to exactly the spec Bob committed
    commit(factory.root, ERIN, "2026-10-04T09:00:00Z", "Fix YAML")
    assert gov080(govctl, factory.root) == []


def test_broken_and_fixed_into_new_content_is_the_breakers_decision(govctl, factory):
    """The fix keeps what the broken version added (notes): the spec changed in the
    stretch that Dave began, so the decision is Dave's, not the fixer's."""
    committed(factory, BOB)
    _break(factory)
    sha = commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "Oops")
    factory.edit(APPROVAL, '"unclosed', '"closed"')
    commit(factory.root, BOB, "2026-10-04T09:00:00Z", "Fix YAML")
    finding = only_gov080(govctl, factory.root)
    assert sha[:7] in finding["message"] and "Dave Dev" in finding["message"]


def test_reordered_flow_style_is_not_a_new_decision(govctl, factory):
    committed(factory, BOB)
    text = (factory.root / APPROVAL).read_text().replace(
        "    - {person: bob, role: risk-officer}\n",
        "    - person: bob\n      role: risk-officer\n")
    factory.write(APPROVAL, text)
    commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Block style")
    assert gov080(govctl, factory.root) == []


def test_renamed_by_a_non_approver_keeps_the_approver_commit(govctl, factory):
    committed(factory, BOB)
    (factory.root / "approvals" / "2026").mkdir()
    git(factory.root, "mv", APPROVAL, "approvals/2026/claims-triage.yaml")
    commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Reorganise approvals")
    findings = gov080(govctl, factory.root)
    assert findings == []


def test_moved_into_another_file_by_a_non_approver_keeps_the_approver_commit(govctl, factory):
    """A move git does not detect as a rename (the new file is mostly other content)."""
    committed(factory, BOB)
    record = (factory.root / APPROVAL).read_text()
    factory.remove(APPROVAL)
    padding = "".join(f"# archive note {i}: approvals of the 2026 committee\n"
                      for i in range(60))
    factory.write("archive/approvals-2026.yaml", padding + record)
    sha = commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Archive approvals")
    raw = git(factory.root, "show", "--name-status", "--format=", sha)
    assert raw.startswith("A") or "\nA" in raw, raw  # not seen as a rename by git
    assert gov080(govctl, factory.root) == []


def test_moved_and_changed_in_one_commit_by_a_non_approver(govctl, factory):
    committed(factory, BOB)
    record = (factory.root / APPROVAL).read_text().replace(
        "    - {person: carol, role: model-owner}\n", "")
    factory.remove(APPROVAL)
    factory.write("approvals/2026/claims-triage.yaml", record)
    sha = commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Move and drop Carol")
    findings = gov080(govctl, factory.root, clean=False)  # GOV034 too
    assert len(findings) == 1
    assert findings[0]["file"] == "approvals/2026/claims-triage.yaml"
    assert sha[:7] in findings[0]["message"]


def test_merge_commit_is_not_the_deciding_commit(govctl, factory):
    """Bob commits the approval on a branch; Dave merges it: Bob's commit decides."""
    record = factory.files.pop(APPROVAL)
    committed(factory, DAVE)
    git(factory.root, "checkout", "-q", "-b", "approval")
    factory.files[APPROVAL] = record
    factory.bind()
    commit(factory.root, BOB, "2026-10-02T09:00:00Z", "Approve triage")
    git(factory.root, "checkout", "-q", "main")
    factory.edit("incidents/2026-10-15.yaml", "status: resolved", "status: mitigated")
    commit(factory.root, DAVE, "2026-10-03T09:00:00Z", "Incident")
    env = {"GIT_AUTHOR_NAME": DAVE.name, "GIT_AUTHOR_EMAIL": DAVE.email,
           "GIT_COMMITTER_NAME": DAVE.name, "GIT_COMMITTER_EMAIL": DAVE.email,
           "GIT_AUTHOR_DATE": "2026-10-04T09:00:00Z", "GIT_COMMITTER_DATE": "2026-10-04T09:00:00Z"}
    git(factory.root, "merge", "-q", "--no-ff", "-m", "Merge approval", "approval", env=env)
    assert gov080(govctl, factory.root) == []


def test_uncommitted_approval(govctl, factory):
    record = factory.files.pop(APPROVAL)
    committed(factory, BOB)
    factory.files[APPROVAL] = record
    factory.bind()
    finding = only_gov080(govctl, factory.root)
    assert "not committed" in finding["message"]


def test_decision_changed_in_the_working_tree_only(govctl, factory):
    committed(factory, BOB)
    factory.edit(APPROVAL, "decision: approved", "decision: conditional")
    finding = only_gov080(govctl, factory.root)
    assert "not committed" in finding["message"]


def test_a_comment_in_the_working_tree_keeps_the_committed_decision(govctl, factory):
    committed(factory, BOB)
    factory.edit(APPROVAL, "valid_until: 2027-03-01", "valid_until: 2027-03-01  # inclusive")
    assert gov080(govctl, factory.root) == []


def test_a_spec_edit_in_the_working_tree_is_not_committed_yet(govctl, factory):
    committed(factory, BOB)
    factory.edit(APPROVAL, "valid_until: 2027-03-01",
                 "valid_until: 2027-03-01\n  notes: draft note")
    finding = only_gov080(govctl, factory.root)
    assert "differs from HEAD's in the working tree" in finding["message"]


def test_provenance_none_checks_nothing(govctl, factory):
    factory.files[POLICY] = factory.files[POLICY].replace("provenance: author",
                                                          "provenance: none")
    committed(factory, DAVE)
    assert gov080(govctl, factory.root) == []


def test_gov080_can_be_turned_off_by_policy_rules(govctl, factory):
    factory.files[POLICY] = factory.files[POLICY].replace(
        "approvals: {provenance: author}\n", "approvals: {provenance: author}\n"
        "  rules: {GOV080: warning}\n")
    committed(factory, DAVE)
    result = govctl("validate", "--history", "--root", factory.root, "--format", "json",
                    "--as-of", AS_OF)
    assert result.code == 0
    (finding,) = result.json()["findings"]
    assert (finding["rule"], finding["severity"]) == ("GOV080", "warning")


def test_signed_mode_with_an_unsigned_approver_commit(govctl, factory):
    factory.files[POLICY] = factory.files[POLICY].replace("provenance: author",
                                                          "provenance: signed")
    sha = committed(factory, BOB)
    finding = only_gov080(govctl, factory.root)
    assert "without a good signature" in finding["message"]
    assert sha[:7] in finding["message"] and "Bob Risk" in finding["message"]


def test_signed_mode_with_a_non_approver_names_the_author_first(govctl, factory):
    factory.files[POLICY] = factory.files[POLICY].replace("provenance: author",
                                                          "provenance: signed")
    committed(factory, DAVE)
    finding = only_gov080(govctl, factory.root)
    assert "Dave Dev" in finding["message"] and "not one of its approvers" in finding["message"]


# -- real SSH signatures -----------------------------------------------------------------------


def _ssh_keygen() -> str:
    path = shutil.which("ssh-keygen")
    if path is None:
        if REQUIRE_EXTERNAL:
            pytest.fail("ssh-keygen is not installed (GOVCTL_REQUIRE_EXTERNAL=1)")
        pytest.skip("ssh-keygen is not installed")
    return path


def _git_version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    numbers = re.findall(r"\d+", out)[:3]
    return tuple(int(n) for n in numbers)


def _signing_setup(root: Path, tmp: Path, who: Any) -> str:
    """A throwaway ed25519 key signing ``who``'s commits; returns its public key. The
    repository's config trusts it for `git log %G?`; govctl trusts only Person records."""
    keygen = _ssh_keygen()
    if _git_version() < (2, 34):
        pytest.skip("git signs with SSH keys since 2.34")
    key = tmp / "signing_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", who.email, "-f", str(key)],
                   check=True, capture_output=True)
    public = (tmp / "signing_key.pub").read_text().strip()
    allowed = tmp / "allowed_signers"
    allowed.write_text(f"{who.email} {public}\n")
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingkey", str(key))
    git(root, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    return public


def _signed_commit(root: Path, who: Any, date: str, message: str) -> str:
    env = {"GIT_AUTHOR_NAME": who.name, "GIT_AUTHOR_EMAIL": who.email, "GIT_AUTHOR_DATE": date,
           "GIT_COMMITTER_NAME": who.name, "GIT_COMMITTER_EMAIL": who.email,
           "GIT_COMMITTER_DATE": date}
    git(root, "add", "-A")
    git(root, "commit", "-q", "-S", "-m", message, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def test_signed_mode_with_a_good_ssh_signature(govctl, factory, tmp_path):
    factory.files[POLICY] = factory.files[POLICY].replace("provenance: author",
                                                          "provenance: signed")
    factory.build()
    git(factory.root, "init", "-q", "-b", "main")
    public = _signing_setup(factory.root, tmp_path, BOB)
    factory.edit("people.yaml", "email: bob@acme.test, roles: [risk-officer]",
                 f"email: bob@acme.test, roles: [risk-officer], signing_keys: ['{public}']")
    sha = _signed_commit(factory.root, BOB, "2026-10-01T09:00:00Z", "Signed approval")
    assert git(factory.root, "log", "-1", "--format=%G?", sha).strip() == "G"
    assert gov080(govctl, factory.root) == []
    # trace reports the signature too
    digest = govctl("digest", "triage", "--root", factory.root).stdout.strip()
    payload = govctl("trace", digest, "--root", factory.root, "--format", "json").json()
    assert payload["approvals"][0]["commit"]["signed"] is True
    # an unsigned comment afterwards does not matter; an unsigned decision does
    factory.edit(APPROVAL, "valid_until: 2027-03-01", "valid_until: 2027-03-01  # inclusive")
    commit(factory.root, BOB, "2026-10-02T09:00:00Z", "Comment")
    assert gov080(govctl, factory.root) == []
    factory.edit(APPROVAL, "decision: approved", "decision: conditional")
    unsigned = commit(factory.root, BOB, "2026-10-03T09:00:00Z", "Conditional")
    (finding,) = gov080(govctl, factory.root)
    assert unsigned[:7] in finding["message"] and "%G? = N" in finding["message"]


def test_moved_in_the_working_tree_keeps_the_committed_decision(govctl, factory):
    committed(factory, BOB)
    record = (factory.root / APPROVAL).read_text()
    factory.remove(APPROVAL)
    factory.write("approvals/2026/claims-triage.yaml", record)
    assert gov080(govctl, factory.root) == []


def test_moved_and_changed_in_the_working_tree_is_uncommitted(govctl, factory):
    committed(factory, BOB)
    record = (factory.root / APPROVAL).read_text().replace("decision: approved",
                                                           "decision: conditional")
    factory.remove(APPROVAL)
    factory.write("approvals/2026/claims-triage.yaml", record)
    (finding,) = gov080(govctl, factory.root)
    assert finding["file"] == "approvals/2026/claims-triage.yaml"
    assert "not committed" in finding["message"]


def test_reordering_keys_and_approvers_is_not_a_new_decision(govctl, factory):
    committed(factory, BOB)
    text = (factory.root / APPROVAL).read_text()
    text = text.replace("    - {person: bob, role: risk-officer}\n"
                        "    - {person: carol, role: model-owner}\n",
                        "    - {role: model-owner, person: carol}\n"
                        "    - {role: risk-officer, person: bob}\n")
    start = text.index("  bundle: {id: triage, digest: ")
    end = text.index("\n", start)
    digest_value = text[start:end].split("digest: ")[1].rstrip("}")
    text = text[:start] + f"  bundle: {{digest: {digest_value}, id: triage}}" + text[end:]
    factory.write(APPROVAL, text)
    commit(factory.root, DAVE, "2026-10-04T09:00:00Z", "Formatter")
    assert gov080(govctl, factory.root) == []
