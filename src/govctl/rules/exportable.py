"""Contracts that cannot be exported validly (GOV045): what `export prometheus-rules`
would refuse, reported by `validate` at the field it is about (``model.exportable``)."""

from __future__ import annotations

from collections.abc import Iterator

from govctl.model.exportable import contract_problems
from govctl.model.findings import Finding
from govctl.rules.registry import Context, check


@check("GOV045")
def exportable_contracts(ctx: Context) -> Iterator[Finding]:
    for contract in ctx.repo.of_kind("ThresholdContract"):
        for problem in contract_problems(contract.spec):
            yield ctx.finding(
                "GOV045", contract, ("spec", *problem.path),
                f"ThresholdContract {contract.id!r} cannot be exported as valid alert rules: "
                f"{problem.message}")
