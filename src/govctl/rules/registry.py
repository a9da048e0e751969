"""The rule registry: what a check sees (:class:`Context`) and how it registers.

A rule module registers its checks with :func:`check`; ``rules.runner`` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from govctl.digest.digester import Digester
from govctl.model.dates import utc_date
from govctl.model.findings import Finding
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.rules.decisions import current_approvals

GATED_STATUSES = ("approved", "production")  # SPEC §1.4: GOV030, GOV040-GOV042, GOV060
ACTIVE_STATUSES = ("intake", "approved", "production")  # all but retired


@dataclass(frozen=True)
class Context:
    repo: Repository
    policy: Policy
    as_of: datetime  # aware, UTC
    digester: Digester
    # finds the approved revision of a record (history.baseline.Baseline), loaded only when
    # a stale approval needs explaining; passed in by the caller, so rules stay free of git
    baseline: Any = None
    # the approved content of contracts whose records changed since (history.contracts:
    # ``approved(approval) -> Record | None``); None: only the records in hand are known
    approved: Any = None

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
