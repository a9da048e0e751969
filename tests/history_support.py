"""Helpers for the tests of the commands that read git history (diff, history, trace,
validate --history): people who commit, a committed factory repository, digests."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git, init_git
from tests.factory import AS_OF, RepoFactory

APPROVAL = "approvals/claims-triage-2026-10-01.yaml"
APPROVAL_ID = "claims-triage-2026-10-01"
CONTRACT = "thresholds/triage.yaml"
BUNDLE = "bundles/triage.yaml"
USE_CASE = "use-cases/triage.yaml"
POLICY = "governance.yaml"
MODEL = "models/chat.yaml"
PROMPT = "prompts/triage.md"
EVAL_DATA = "data/claims-eval.jsonl"


@dataclass(frozen=True)
class Who:
    name: str
    email: str


BOB = Who("Bob Risk", "bob@acme.test")  # approver (risk-officer)
CAROL = Who("Carol Model", "carol@acme.test")  # approver (model-owner)
DAVE = Who("Dave Dev", "dave@acme.test")  # not an approver
ERIN = Who("Erin Other", "erin@acme.test")  # not an approver, works on other things


def commit(root: Path, who: Who, date: str, message: str = "change") -> str:
    """Commit everything in the git work tree that holds ``root``; returns the sha."""
    return commit_all(root, message, author=who.name, email=who.email, date=date)


def committed(factory: RepoFactory, who: Who = BOB, date: str = "2026-10-01T09:00:00Z"
              ) -> str:
    """Build the factory repository, ``git init`` it, commit it as ``who``; the sha."""
    factory.build()
    init_git(factory.root)
    return commit(factory.root, who, date, "governance records")


def digest(govctl: Any, root: Path, bundle: str) -> str:
    result = govctl("digest", bundle, "--root", root)
    assert result.code == 0, result.stderr
    value = result.stdout.strip()
    assert value.startswith("sha256:") and len(value) == 71, value
    return value


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_one_line_error(result: Any, *fragments: str, code: int = 2) -> None:
    assert result.code == code, (result.code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("govctl: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def diff_json(govctl: Any, root: Path, *revs: str, cwd: Path | None = None) -> dict[str, Any]:
    result = govctl("diff", *revs, "--root", root, "--format", "json", "--as-of", AS_OF,
                    cwd=cwd)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def change_of(payload: dict[str, Any], kind: str, record_id: str) -> dict[str, Any]:
    found = [c for c in payload["changes"] if (c["kind"], c["id"]) == (kind, record_id)]
    assert len(found) == 1, payload["changes"]
    return found[0]


def field_of(change: dict[str, Any], path: str) -> dict[str, Any]:
    found = [f for f in change["fields"] if f["path"] == path]
    assert len(found) == 1, change["fields"]
    return found[0]


def git_quiet_status(root: Path) -> str:
    """``git status --porcelain --ignored`` without refreshing the index (so the check
    itself does not write what it checks)."""
    proc = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=root,
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    return proc.stdout


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()
