"""The audit pack's approval timeline has one row per version of each approval (SPEC §4,
issue 16): an approval re-bound in place — the same id, bound to a new bundle digest in a
later commit — keeps its first binding, that binding's commit and its evidence."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.factory import AS_OF
from tests.history_support import APPROVAL, APPROVAL_ID, BOB, CAROL, PROMPT, commit, committed
from tests.render_support import md_rows


def _rebound(govctl, factory) -> tuple[str, str, str, str]:
    """(first commit, re-binding commit, old digest, new digest)."""
    first = committed(factory)
    old = yaml.safe_load((factory.root / APPROVAL).read_text())["spec"]["bundle"]["digest"]
    factory.edit(PROMPT, "You triage claims.", "You triage claims with care.")
    new = govctl("digest", "triage", "--root", factory.root).stdout.strip()
    assert new.startswith("sha256:") and new != old
    factory.edit(APPROVAL, old, new)  # the same approval id, bound to the new digest
    second = commit(factory.root, CAROL, "2026-11-02T09:00:00Z", "re-bind the approval")
    return first, second, old, new


def test_a_rebound_approval_keeps_both_bindings_and_both_evidence_folders(
        govctl, factory, tmp_path: Path):
    first, second, old, new = _rebound(govctl, factory)
    out = tmp_path / "pack"
    built = govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                   "--as-of", AS_OF)
    assert built.code == 0, built.stderr
    readme = (out / "README.md").read_text()
    rows = [r for r in md_rows(readme, "date") if r[1].startswith(APPROVAL_ID)]
    assert [(r[1], r[5]) for r in rows] == [
        (f"{APPROVAL_ID} — superseded in place", first[:7]),
        (f"{APPROVAL_ID} (version 2)", second[:7])]
    assert rows[0][4].startswith(f"bundle {old}; ") and rows[1][4].startswith(f"bundle {new}; ")
    assert rows[0][6].startswith("Bob Risk") and rows[1][6].startswith("Carol Model")
    assert "**Re-bound in place**" in readme
    assert (f"- `{APPROVAL_ID}`: `bundle.digest` `{old}` → `{new}`, by Carol Model in "
            f"`{second[:7]}`") in readme
    # evidence: the approval as each version committed it
    for sha, digest in ((first, old), (second, new)):
        held = yaml.safe_load((out / "evidence" / sha / APPROVAL).read_text())
        assert held["spec"]["bundle"]["digest"] == digest
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"evidence/{first}/{APPROVAL}" in manifest["files"]
    assert f"evidence/{second}/{APPROVAL}" in manifest["files"]
    assert f"evidence/{first}/{PROMPT}" in manifest["files"]  # the prompt as first approved
    html = (out / "index.html").read_text()
    assert html.count(old) >= 1 and "superseded in place" in html and "Re-bound in place" in html
    verified = govctl("verify", out, "--root", factory.root)
    assert verified.code == 0, verified.stdout + verified.stderr


def test_since_keeps_only_the_versions_committed_in_the_period(govctl, factory,
                                                                tmp_path: Path):
    first, second, _, _ = _rebound(govctl, factory)
    out = tmp_path / "pack"
    built = govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                   "--as-of", AS_OF, "--since", first)
    assert built.code == 0, built.stderr
    rows = [r for r in md_rows((out / "README.md").read_text(), "date")
            if r[1].startswith(APPROVAL_ID)]
    assert [r[5] for r in rows] == [second[:7]]
    assert not (out / "evidence" / first).exists()


def test_an_unchanged_approval_is_one_row(govctl, factory, tmp_path: Path):
    committed(factory)
    factory.edit("people.yaml", "name: Bob Risk", "name: Bob Risk-Officer")
    commit(factory.root, BOB, "2026-10-02T09:00:00Z", "a name")  # not the approval
    out = tmp_path / "pack"
    assert govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                  "--as-of", AS_OF).code == 0
    rows = [r for r in md_rows((out / "README.md").read_text(), "date")
            if r[1].startswith(APPROVAL_ID)]
    assert [r[1] for r in rows] == [APPROVAL_ID]
    assert "Re-bound in place" not in (out / "README.md").read_text()


def _rows_of(out: Path) -> list[list[str]]:
    return [r for r in md_rows((out / "README.md").read_text(), "date")
            if r[1].startswith(APPROVAL_ID)]


def _valid_until(factory, old: str, new: str) -> None:
    factory.edit(APPROVAL, f"valid_until: {old}", f"valid_until: {new}")


def test_a_version_made_on_a_side_branch_is_kept_after_the_merge(govctl, factory,
                                                                 tmp_path: Path):
    """The merge keeps the main line's spec; the side branch's version was still a version
    (in force on that branch, and in evidence), so the timeline has all three."""
    from tests.conftest import git

    first = committed(factory)
    git(factory.root, "checkout", "-q", "-b", "side")
    _valid_until(factory, "2027-03-01", "2027-02-01")
    side = commit(factory.root, CAROL, "2026-10-02T09:00:00Z", "side: shorter")
    git(factory.root, "checkout", "-q", "main")
    _valid_until(factory, "2027-03-01", "2027-01-15")
    main = commit(factory.root, BOB, "2026-10-03T09:00:00Z", "main: shorter still")
    git(factory.root, "merge", "-q", "-s", "ours", "--no-edit", "side",
        env={"GIT_AUTHOR_DATE": "2026-10-04T09:00:00Z",
             "GIT_COMMITTER_DATE": "2026-10-04T09:00:00Z"})
    out = tmp_path / "pack"
    built = govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                   "--as-of", AS_OF)
    assert built.code == 0, built.stderr
    rows = _rows_of(out)
    assert [r[5] for r in rows] == [first[:7], side[:7], main[:7]]
    assert [r[1].endswith("superseded in place") for r in rows] == [True, True, False]
    for sha in (first, side, main):
        assert (out / "evidence" / sha / APPROVAL).is_file()


def test_a_version_reached_through_a_broken_file_keeps_its_own_commit(govctl, factory,
                                                                      tmp_path: Path):
    """C1 V1; C2 breaks the YAML while changing it; C3 fixes it (V2); C4 V3; C5 back to V2.
    V2 was in force from C2 — not only from C5 — and both are rows."""
    c1 = committed(factory)
    text = (factory.root / APPROVAL).read_text()
    factory.write(APPROVAL, text.replace("valid_until: 2027-03-01", "valid_until: 2027-02-01")
                  + "  broken: [\n")
    c2 = commit(factory.root, BOB, "2026-10-02T09:00:00Z", "V2, broken")
    factory.write(APPROVAL, text.replace("valid_until: 2027-03-01", "valid_until: 2027-02-01"))
    commit(factory.root, BOB, "2026-10-03T09:00:00Z", "fix the syntax")
    _valid_until(factory, "2027-02-01", "2027-01-01")
    c4 = commit(factory.root, BOB, "2026-10-04T09:00:00Z", "V3")
    _valid_until(factory, "2027-01-01", "2027-02-01")
    c5 = commit(factory.root, BOB, "2026-10-05T09:00:00Z", "back to V2")
    out = tmp_path / "pack"
    built = govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                   "--as-of", AS_OF)
    assert built.code == 0, built.stderr
    rows = _rows_of(out)
    assert [r[5] for r in rows] == [c1[:7], c2[:7], c4[:7], c5[:7]]
    # only the last is the approval as it is now (C2's has the same spec, but was changed)
    assert [r[1].endswith("superseded in place") for r in rows] == [True, True, True, False]


def test_a_removed_approval_keeps_its_rows(govctl, factory, tmp_path: Path):
    """SPEC §4: every approval record — one deleted since was still a decision in force."""
    committed(factory)
    approved = govctl("approve", "claims-triage", "--approver", "bob:risk-officer",
                      "--approver", "carol:model-owner", "--root", factory.root,
                      "--as-of", "2026-11-01")
    assert approved.code == 0, approved.stderr
    made = commit(factory.root, BOB, "2026-11-01T09:00:00Z", "re-approve")
    factory.remove("approvals/claims-triage-2026-11-01.yaml")
    gone = commit(factory.root, BOB, "2026-11-02T09:00:00Z", "delete the re-approval")
    out = tmp_path / "pack"
    assert govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                  "--as-of", AS_OF).code == 0
    rows = [r for r in md_rows((out / "README.md").read_text(), "date")
            if r[1].startswith("claims-triage-2026-11-01")]
    assert [(r[1], r[5]) for r in rows] == [
        (f"claims-triage-2026-11-01 — removed in {gone[:7]}", made[:7])]
    assert (out / "evidence" / made / "approvals/claims-triage-2026-11-01.yaml").is_file()


def _packed(govctl, factory, tmp_path: Path) -> Path:
    """claims-triage's audit pack as of AS_OF (it must build)."""
    out = tmp_path / "pack"
    result = govctl("audit-pack", "claims-triage", "-o", out, "--root", factory.root,
                    "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    return out


def test_an_approval_removed_from_a_file_that_still_parses_is_removed_not_unreadable(
        govctl, factory, tmp_path: Path) -> None:
    """A version that loads cleanly and no longer holds the approval removed it, even when
    it may spell the id (a backslash anywhere may be an escape): "unreadable" would hide
    the removal ("superseded in place" instead of "removed in")."""
    committed(factory)
    path = "approvals/claims-triage-2026-10-01.yaml"
    incident = (
        "apiVersion: govctl/v1\nkind: Incident\nmetadata: {id: inc-2026-10-20}\nspec:\n"
        "  use_case: claims-triage\n  detected: 2026-10-20T08:30:00Z\n  severity: sev3\n"
        "  status: resolved\n  signal: latency\n  summary: \"slow path C:\\\\temp\"\n")
    text = (factory.root / path).read_text()
    (factory.root / path).write_text(text + "---\n" + incident)
    commit(factory.root, CAROL, "2026-10-20T09:00:00Z", "add an incident")
    (factory.root / path).write_text(incident)
    gone = commit(factory.root, CAROL, "2026-10-21T09:00:00Z", "remove the approval")
    out = _packed(govctl, factory, tmp_path)
    rows = [r[1] for r in md_rows((out / "README.md").read_text(), "date")
            if r[1].startswith(APPROVAL_ID)]
    assert rows == [f"{APPROVAL_ID} — removed in {gone[:7]}"]


def test_evidence_counts_the_records_a_full_load_would(govctl, factory, tmp_path: Path
                                                        ) -> None:
    """An approval commit's records are loaded partially, from the files that may hold
    the use case's; a duplicate id in a file that names another use case (first by path:
    it wins, GOV021) must be read too, or the use case's own copy would count as its
    evidence where a full load gives it none."""
    factory.files["incidents/0-other.yaml"] = (
        "apiVersion: govctl/v1\nkind: Incident\nmetadata: {id: inc-2026-10-15}\nspec:\n"
        "  use_case: someone-else\n  detected: 2026-10-14T08:30:00Z\n  severity: sev3\n"
        "  status: resolved\n  signal: latency\n  summary: p95 latency above 2.5 s.\n")
    made = committed(factory)
    assert (factory.root / "incidents" / "2026-10-15.yaml").is_file()
    factory.remove("incidents/0-other.yaml")
    commit(factory.root, CAROL, "2026-10-20T09:00:00Z", "drop the duplicate")
    out = _packed(govctl, factory, tmp_path)
    held = out / "evidence" / made
    assert (held / APPROVAL).is_file()
    assert not (held / "incidents" / "2026-10-15.yaml").exists()


def test_a_file_holding_one_record_twice_can_be_deleted(govctl, factory, tmp_path: Path
                                                         ) -> None:
    """The history replay counts each time a file holds a record (GOV021 duplicates in one
    file); deleting the file forgets it every time — it raised KeyError, an internal error
    for every history command over that commit."""
    model = ("apiVersion: govctl/v1\nkind: Model\nmetadata: {id: model-twice}\n"
             "spec: {provider: x, name: m, type: vendor-endpoint, snapshot: s}\n")
    factory.files["models/twice.yaml"] = model + "---\n" + model
    committed(factory)
    factory.remove("models/twice.yaml")
    commit(factory.root, CAROL, "2026-10-20T09:00:00Z", "drop the file")
    out = _packed(govctl, factory, tmp_path)
    assert (out / "manifest.json").is_file()


def test_every_use_case_of_a_pack_walks_one_log(govctl, factory, tmp_path: Path,
                                                monkeypatch):
    """The commits of the timelines are asked of git once per pack, not once per use case
    (a second each at 5,000 commits), and each use case's timeline is still its own."""
    from govctl.documents import audit_pack

    first, second, _, _ = _rebound(govctl, factory)
    text = (factory.root / "use-cases/triage.yaml").read_text()
    factory.write("use-cases/triage-2.yaml",
                  text.replace("id: claims-triage", "id: claims-triage-2"))
    third = commit(factory.root, BOB, "2026-11-03T09:00:00Z", "a second use case")
    asked: list[tuple] = []
    commits_of = audit_pack.timeline_commits
    monkeypatch.setattr(audit_pack, "timeline_commits",
                        lambda *a: asked.append(a) or commits_of(*a))
    shas: dict[str, list[str]] = {}
    timeline_of = audit_pack.timeline_of

    def recording(history, repo, use_case, **kwargs):
        found = timeline_of(history, repo, use_case, **kwargs)
        shas[use_case.id] = [entry.commit.sha for entry in found.entries]
        return found

    monkeypatch.setattr(audit_pack, "timeline_of", recording)
    out = tmp_path / "pack"
    built = govctl("audit-pack", "claims-triage", "claims-triage-2", "-o", out,
                   "--root", factory.root, "--as-of", AS_OF)
    assert built.code == 0, built.stderr
    assert len(asked) == 1
    assert shas["claims-triage"] == [first, second]
    assert shas["claims-triage-2"] == [first, second, third]  # (the same bundle, its own use case)


def test_the_parses_shared_by_a_packs_timelines_keep_the_recently_used() -> None:
    # what every use case reads stays (it is read again by each); a use case's own files
    # go once enough others were read after them: memory bounded, not one entry per version
    from govctl.history.timeline import RecentParses

    parses = RecentParses(size=2)
    parses[("people.yaml", "b1")] = {}
    parses[("use-cases/a.yaml", "b2")] = {}
    assert parses[("people.yaml", "b1")] == {}  # read again: now the most recent
    parses[("use-cases/b.yaml", "b3")] = {}
    assert list(parses) == [("people.yaml", "b1"), ("use-cases/b.yaml", "b3")]
    assert ("use-cases/a.yaml", "b2") not in parses
