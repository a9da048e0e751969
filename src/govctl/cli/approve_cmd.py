"""`govctl approve USE_CASE --approver PERSON:ROLE…`."""

from __future__ import annotations

from typing import Annotated

import typer

from govctl.cli.options import AsOfOption, RootOption, as_of_of, choice, root_of
from govctl.cli.output import print_lines, say, write
from govctl.errors import EXIT_FINDINGS, EXIT_OK


def register(app: typer.Typer) -> None:
    @app.command("approve")
    def approve(
        use_case: Annotated[str, typer.Argument(help="The UseCase's id.", show_default=False)],
        approvers: Annotated[list[str], typer.Option(
            "--approver", "-a", help="PERSON:ROLE, once per approver (e.g. bob:risk-officer).",
            show_default=False)],
        decision: Annotated[str, typer.Option(
            "--decision", help="approved | conditional | rejected.")] = "approved",
        valid_days: Annotated[int | None, typer.Option(
            "--valid-days", help="Days the approval is valid (capped by the tier's "
            "max_validity_days; default: that maximum).", show_default=False)] = None,
        conditions: Annotated[list[str] | None, typer.Option(
            "--condition", help="A condition of the approval (repeatable).",
            show_default=False)] = None,
        eval_results: Annotated[list[str] | None, typer.Option(
            "--eval-result", help="METRIC=VALUE measured at approval (repeatable).",
            show_default=False)] = None,
        supersedes: Annotated[str | None, typer.Option(
            "--supersedes", help="The Approval this one replaces (default: the current one).",
            show_default=False)] = None,
        notes: Annotated[str | None, typer.Option("--notes", help="Free-text notes.",
                                                  show_default=False)] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Print the approval instead of writing it.")] = False,
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """Record an approval bound to the current bundle, contract and eval digests."""
        from govctl.report.text import finding_line
        from govctl.rules.approve import (
            DECISIONS,
            ApprovalRequest,
            parse_approver,
            parse_eval_result,
            plan_approval,
            write_approval,
        )

        request = ApprovalRequest(
            use_case=use_case,
            approvers=tuple(parse_approver(a) for a in approvers),
            decision=choice(decision, DECISIONS, "--decision"),
            valid_days=valid_days,
            conditions=tuple(conditions or ()),
            eval_results=dict(parse_eval_result(e) for e in eval_results or ()),
            supersedes=supersedes,
            notes=notes,
        )
        governance_root = root_of(root)
        plan = plan_approval(governance_root, request, as_of_of(as_of))
        if plan.refused:
            from rich.text import Text

            print_lines([*map(finding_line, plan.blocking),
                         # about the approval that was not written
                         *(Text(f"{f.rule} {f.severity} {f.message}") for f in plan.own)],
                        err=True)
            count = len(plan.blocking) + len(plan.own)
            say(f"govctl: error: not approved: {count} blocking finding(s) for UseCase "
                f"{use_case!r}; nothing was written", err=True)
            return EXIT_FINDINGS
        for finding in plan.warnings:  # before signing: also on --dry-run
            say(f"govctl: warning: {finding_line(finding).plain}", err=True)
        if plan.capped:
            say(f"govctl: warning: --valid-days {valid_days} is more than the tier allows; "
                f"valid until {plan.document['spec']['valid_until']}", err=True)
        if dry_run:
            write(plan.text)
            return EXIT_OK
        path = write_approval(governance_root, plan)
        spec = plan.document["spec"]
        lines = [f"wrote {path.relative_to(governance_root).as_posix()}: Approval "
                 f"{plan.record_id} ({spec['decision']}) of UseCase {use_case}",
                 f"  bundle     {spec['bundle']['id']}  {spec['bundle']['digest']}",
                 f"  thresholds {spec['thresholds']['id']}  {spec['thresholds']['digest']}",
                 f"  eval       {spec['eval']['id']}  {spec['eval']['digest']}"]
        if "valid_until" in spec:
            note = " (capped by the tier's max_validity_days)" if plan.capped else ""
            lines.append(f"  valid until {spec['valid_until']}{note}")
        if "supersedes" in spec:
            lines.append(f"  supersedes {spec['supersedes']}")
        for line in lines:
            say(line)
        return EXIT_OK
