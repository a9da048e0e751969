"""Rules: small functions from the repository to findings, registered with their codes.

A rule module registers its checks with :func:`check`; :func:`run_checks` runs them
all. Severity overrides from ``Policy.rules`` are applied afterwards, by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from govctl.findings import Finding
from govctl.policy import Policy
from govctl.repository import Repository
from govctl.timeutil import utc_date


@dataclass(frozen=True)
class Context:
    repo: Repository
    policy: Policy
    as_of: datetime  # aware, UTC

    @property
    def today(self) -> date:
        return utc_date(self.as_of)


Check = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class RegisteredCheck:
    codes: tuple[str, ...]
    function: Check


CHECKS: list[RegisteredCheck] = []


def check(*codes: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS.append(RegisteredCheck(codes, function))
        return function

    return register


def run_checks(ctx: Context) -> list[Finding]:
    # Import the rule families so they register (kept here: one place lists them).
    from govctl.rules import references  # noqa: F401

    findings: list[Finding] = []
    for registered in CHECKS:
        findings.extend(registered.function(ctx))
    return findings
