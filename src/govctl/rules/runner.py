"""Running every rule over a repository, with the Policy's severity overrides applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.findings import Finding, apply_severities
from govctl.model.policy import Policy, read_policy
from govctl.model.repository import Repository

# the rule families register their checks on import; this is the one place that lists them
from govctl.rules import (  # noqa: F401
    approvals,
    exercises,
    exportable,
    incidents,
    lifecycle,
    operations,
    people,
    receivers,
    references,
    risk,
)
from govctl.rules.registry import CHECKS, Context


def run_checks(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for registered in CHECKS:
        findings.extend(registered.function(ctx))
    return findings


def check_repository(repo: Repository, as_of: datetime, digester: Digester | None = None,
                     baseline: Any = None, approved: Any = None
                     ) -> tuple[Policy, list[Finding]]:
    """All findings of the repository with the Policy's severity overrides applied.

    A ``digester`` passed in keeps the digests computed on the way (for `diff`); a
    ``baseline`` (the records at HEAD) lets GOV031/GOV032 name what changed; ``approved``
    finds the contract an approval bound when the records changed since (GOV036).
    """
    policy = read_policy(repo.policy)
    digester = digester if digester is not None else Digester(repo)
    ctx = Context(repo, policy, as_of, digester, baseline, approved)
    findings = [*repo.findings, *run_checks(ctx)]
    return policy, apply_severities(findings, policy.rules)
