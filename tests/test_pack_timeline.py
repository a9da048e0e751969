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
