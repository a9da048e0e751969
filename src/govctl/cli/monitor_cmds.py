"""`govctl status`, `govctl explain`, `govctl export …`: monitoring and response."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govctl.cli.options import (
    AsOfOption,
    ForceOption,
    MaxObservationsBytesOption,
    ObservationsFormatOption,
    ObservationsOption,
    OutputOption,
    PrometheusOption,
    PrometheusTimeoutOption,
    RootOption,
    as_of_of,
    choice,
    gates,
    root_of,
    source_of,
)
from govctl.cli.output import print_lines, say, stdout_console, write
from govctl.cli.render_cmds import outside_root
from govctl.errors import EXIT_FINDINGS, EXIT_OK
from govctl.monitoring.limits import MAX_OBSERVATION_BYTES, PROMETHEUS_TIMEOUT


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        observations: ObservationsOption = None,
        observations_format: ObservationsFormatOption = None,
        max_observations_bytes: MaxObservationsBytesOption = MAX_OBSERVATION_BYTES,
        prometheus: PrometheusOption = None,
        prometheus_timeout: PrometheusTimeoutOption = PROMETHEUS_TIMEOUT,
        use_case: Annotated[list[str] | None, typer.Option(
            "--use-case", help="Only these use cases (repeatable).", show_default=False)] = None,
        team: Annotated[list[str] | None, typer.Option(
            "--team", help="Only use cases of these teams (repeatable).",
            show_default=False)] = None,
        tier: Annotated[list[str] | None, typer.Option(
            "--tier", help="Only use cases in these risk tiers (repeatable).",
            show_default=False)] = None,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="text | json.")] = "text",
        fail_on: Annotated[list[str] | None, typer.Option(
            "--fail-on", help="Exit 1 on breach | missing | unapproved (repeatable: any "
            "gate trips).", show_default=False)] = None,
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """Every use case: verdict, approval, owner, on-call, each signal vs its threshold."""
        from govctl.monitoring.status import StatusRequest, status_of

        fmt = choice(output_format, ("text", "json"), "--format")
        chosen = gates(fail_on, ("breach", "missing", "unapproved"))
        source = source_of(observations, observations_format, max_observations_bytes,
                           prometheus, prometheus_timeout)
        report = status_of(root_of(root), as_of_of(as_of), StatusRequest(
            tuple(use_case or ()), tuple(team or ()), tuple(tier or ()), source))
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(report.json()))
        else:
            from govctl.report import status as status_report

            console = stdout_console()
            if console.is_terminal:
                console.print(status_report.render_table(report))
                print_lines(status_report.render_notes(report))
            else:
                print_lines(status_report.render_lines(report))
        return EXIT_FINDINGS if any(report.trips(g) for g in chosen) else EXIT_OK

    @app.command("coverage")
    def coverage(
        observations: ObservationsOption = None,
        observations_format: ObservationsFormatOption = None,
        max_observations_bytes: MaxObservationsBytesOption = MAX_OBSERVATION_BYTES,
        prometheus: PrometheusOption = None,
        prometheus_timeout: PrometheusTimeoutOption = PROMETHEUS_TIMEOUT,
        output_format: Annotated[str, typer.Option(
            "--format", "-f", help="text | json | markdown.")] = "text",
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """Governance coverage of in-flight use cases against Policy coverage.min.

        Each control present, missing or not applicable per use case, and the covered
        share (exit 1 below the minimum)."""
        from govctl.monitoring.coverage import coverage_of

        fmt = choice(output_format, ("text", "json", "markdown"), "--format")
        source = source_of(observations, observations_format, max_observations_bytes,
                           prometheus, prometheus_timeout)
        report = coverage_of(root_of(root), as_of_of(as_of), source)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(report.json()))
        elif fmt == "markdown":
            from govctl.report.coverage import render_markdown

            write(render_markdown(report))
        else:
            from govctl.report import coverage as coverage_report

            console = stdout_console()
            if console.is_terminal:
                console.print(coverage_report.render_table(report))
                print_lines(coverage_report.render_notes(report))
            else:
                print_lines(coverage_report.render_lines(report))
        return EXIT_FINDINGS if report.below_minimum else EXIT_OK

    @app.command("explain")
    def explain(
        use_case: Annotated[str, typer.Argument(help="The UseCase's id.", show_default=False)],
        observations: ObservationsOption = None,
        observations_format: ObservationsFormatOption = None,
        max_observations_bytes: MaxObservationsBytesOption = MAX_OBSERVATION_BYTES,
        prometheus: PrometheusOption = None,
        prometheus_timeout: PrometheusTimeoutOption = PROMETHEUS_TIMEOUT,
        output_format: Annotated[str, typer.Option("--format", "-f",
                                                   help="text | json.")] = "text",
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """The three answers: who approved it, how it performs, who is on the hook."""
        from govctl.monitoring.explain import explain as run_explain

        fmt = choice(output_format, ("text", "json"), "--format")
        source = source_of(observations, observations_format, max_observations_bytes,
                           prometheus, prometheus_timeout)
        result = run_explain(root_of(root), use_case, as_of_of(as_of), source)
        if fmt == "json":
            from govctl.report.json import dumps

            write(dumps(result.json()))
        else:
            from govctl.report.explain import render_text

            print_lines(render_text(result))
        return EXIT_OK

    export = typer.Typer(help="Compile contracts into monitoring configuration.",
                         no_args_is_help=True)
    app.add_typer(export, name="export")

    def _write(text: str, output: Path | None, force: bool, root: Path) -> None:
        if output is None:
            write(text)
            return
        from govctl.model.atomic import write_atomic

        target = outside_root(output, root, "-o", force)
        write_atomic(target, text.encode("utf-8"), overwrite=force)
        say(f"wrote {output}", err=True)

    @export.command("prometheus-rules")
    def prometheus_rules(
        output: OutputOption = None,
        force: ForceOption = False,
        runbook_base: Annotated[str | None, typer.Option(
            "--runbook-base", help="URL prefix for runbooks that are files in the repository.",
            show_default=False)] = None,
        root: RootOption = None,
        as_of: AsOfOption = None,
    ) -> int:
        """Prometheus alerting rules: one group per use case, one alert per signal."""
        from govctl.model.policy import read_policy
        from govctl.model.repository import WorktreeSource, load_repository
        from govctl.monitoring.export import dump, prometheus_rules

        governance_root = root_of(root)
        moment = as_of_of(as_of)
        repo = load_repository(WorktreeSource(governance_root))
        policy = read_policy(repo.policy)  # the rules are `validate`'s job, not needed here
        rules = prometheus_rules(repo, policy, moment, runbook_base, governance_root)
        _write(dump(rules, "Generated by `govctl export prometheus-rules` from the threshold "
                           "contracts.\nDo not edit: change the contract and regenerate."),
               output, force, governance_root)
        return EXIT_OK

    @export.command("alertmanager-routes")
    def alertmanager_routes(
        output: OutputOption = None,
        force: ForceOption = False,
        routes_only: Annotated[bool, typer.Option(
            "--routes-only", help="One route (matching govctl's alerts) and its receivers, "
            "to nest under the root route of an existing Alertmanager configuration.")] = False,
        root: RootOption = None,
    ) -> int:
        """An Alertmanager configuration: each team's page and ticket alerts to its
        receivers (Team oncall.receiver / ticket_receiver)."""
        from govctl.model.repository import WorktreeSource, load_repository
        from govctl.monitoring.alertmanager import alertmanager_config
        from govctl.monitoring.export import dump

        governance_root = root_of(root)
        repo = load_repository(WorktreeSource(governance_root))
        config = alertmanager_config(repo, routes_only)
        header = ("Generated by `govctl export alertmanager-routes` from the Team records.\n"
                  "Do not edit: change the team's oncall.receiver and regenerate.")
        if routes_only:
            header += ("\nNest `route` first under your root route's `routes` and append "
                       "`receivers` to yours (README: Monitoring).")
        _write(dump(config.document, header), output, force, governance_root)
        for gap in config.gaps:
            say(f"warning: {gap}", err=True)
        return EXIT_OK
