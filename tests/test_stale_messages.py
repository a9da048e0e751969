"""GOV031/GOV032 name what changed since the approval when HEAD still matches it."""

from __future__ import annotations

from tests.conftest import commit_all, init_git
from tests.factory import AS_OF


def findings(govctl, root):
    result = govctl("validate", "--root", root, "--as-of", AS_OF, "--format", "json")
    return {f["rule"]: f["message"] for f in result.json()["findings"]}


def test_uncommitted_changes_are_named(factory, govctl):
    factory.build()
    init_git(factory.root)
    commit_all(factory.root, "records", author="Bob Risk", email="bob@acme.test")
    factory.edit("prompts/triage.md", "You triage claims.", "You triage every claim.")
    factory.edit("thresholds/triage.yaml", "max: 0.2,", "max: 0.3,")
    factory.edit("bundles/triage.yaml", "temperature: 0.0", "temperature: 0.7")
    messages = findings(govctl, factory.root)
    assert "changed since the approval" in messages["GOV031"]
    assert "prompt.template.sha256" in messages["GOV031"]
    assert "params.temperature 0.0 → 0.7 (reapproval)" in messages["GOV031"]
    assert "signals.drift.max 0.2 → 0.3 (loosened)" in messages["GOV032"]


def test_a_model_snapshot_bump_is_named(factory, govctl):
    factory.build()
    init_git(factory.root)
    commit_all(factory.root, "records", author="Bob Risk", email="bob@acme.test")
    factory.edit("models/chat.yaml", "snapshot: vendor-chat-2026-03-14",
                 "snapshot: vendor-chat-2026-06-01")
    message = findings(govctl, factory.root)["GOV031"]
    assert "model.snapshot vendor-chat-2026-03-14 → vendor-chat-2026-06-01" in message


def test_without_git_the_inputs_are_listed(factory, govctl):
    factory.build()
    factory.edit("prompts/triage.md", "You triage claims.", "You triage every claim.")
    message = findings(govctl, factory.root)["GOV031"]
    assert "prompt.template" in message and "changed since the approval" not in message


def _loaded_revisions(monkeypatch) -> list[str]:
    from govctl.history import baseline

    loaded: list[str] = []
    original = baseline.Baseline._load

    def spy(self, sha):
        loaded.append(sha)
        return original(self, sha)

    monkeypatch.setattr(baseline.Baseline, "_load", spy)
    return loaded


def test_committed_changes_are_named_from_the_deciding_commit(factory, govctl, monkeypatch):
    """CI: the work tree is HEAD, so HEAD is not read again; the approval's deciding commit
    still has the approved records, and what changed since is named."""
    factory.build()
    init_git(factory.root)
    approved = commit_all(factory.root, "records", author="Bob Risk", email="bob@acme.test")
    factory.edit("thresholds/triage.yaml", "max: 0.2,", "max: 0.3,")
    factory.edit("models/chat.yaml", "snapshot: vendor-chat-2026-03-14",
                 "snapshot: vendor-chat-2026-06-01")
    commit_all(factory.root, "Loosen drift, new snapshot", date="2026-02-01T12:00:00Z")
    loaded = _loaded_revisions(monkeypatch)
    messages = findings(govctl, factory.root)
    assert "signals.drift.max 0.2 → 0.3 (loosened)" in messages["GOV032"]
    assert "model.snapshot vendor-chat-2026-03-14 → vendor-chat-2026-06-01" in \
        messages["GOV031"]
    assert loaded == [approved]  # the deciding commit, once; never the clean HEAD


def test_a_dirty_work_tree_reads_head_first(factory, govctl, monkeypatch):
    factory.build()
    init_git(factory.root)
    head = commit_all(factory.root, "records", author="Bob Risk", email="bob@acme.test")
    factory.edit("thresholds/triage.yaml", "max: 0.2,", "max: 0.3,")
    loaded = _loaded_revisions(monkeypatch)
    assert "signals.drift.max 0.2 → 0.3 (loosened)" in findings(govctl, factory.root)["GOV032"]
    assert loaded == [head]
