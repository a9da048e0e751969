"""Rules: small functions from the repository to findings, registered with their codes.

A rule module registers its checks with :func:`check`; :func:`run_checks` runs them
all. Severity overrides from ``Policy.rules`` are applied afterwards, by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from govctl.approvals import current_approvals
from govctl.digest import Digester
from govctl.findings import Finding
from govctl.policy import Policy
from govctl.records import Record
from govctl.repository import Repository
from govctl.timeutil import utc_date

GATED_STATUSES = ("approved", "production")  # SPEC §1.4: GOV030, GOV040-GOV042, GOV060
ACTIVE_STATUSES = ("intake", "approved", "production")  # all but retired


@dataclass(frozen=True)
class Context:
    repo: Repository
    policy: Policy
    as_of: datetime  # aware, UTC
    digester: Digester
    baseline: Any = None  # HeadBaseline: the records at HEAD, loaded only when needed

    @property
    def today(self) -> date:
        return utc_date(self.as_of)

    @cached_property
    def current(self) -> dict[str, Record]:
        """Use case id → current approval (SPEC §1.4), as of ``today``."""
        return current_approvals(self.repo, self.today)

    def use_cases(self, statuses: tuple[str, ...] | None = None) -> Iterator[Record]:
        for use_case in self.repo.of_kind("UseCase"):
            if statuses is None or use_case.spec["status"] in statuses:
                yield use_case

    def finding(self, rule: str, record: Record, path: tuple[str | int, ...], message: str,
                at_key: bool = False) -> Finding:
        return self.repo.locator.finding(rule, record, path, message, at_key=at_key)


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
    from govctl.rules import (  # noqa: F401
        approvals,
        incidents,
        lifecycle,
        operations,
        references,
        risk,
    )

    findings: list[Finding] = []
    for registered in CHECKS:
        findings.extend(registered.function(ctx))
    return findings
