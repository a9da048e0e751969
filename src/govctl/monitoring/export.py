"""Contracts compiled into their technical controls (SPEC §5): Prometheus alerting rules,
a breach alert and a missing-data alert per signal (the routing that pages each team is
``monitoring.alertmanager``).

The rules are written whole or not at all: when a contract they would compile cannot be
exported validly (GOV045: a window, metric, query or runbook that promtool would reject,
or a link that is not https/http), :func:`prometheus_rules` raises
:class:`UnexportableContracts` naming every such problem, rather than leave out the
signal (an alert silently missing) or write a file promtool rejects as a whole."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from govctl.digest.digester import Digester
from govctl.errors import EXIT_FINDINGS, GovctlError
from govctl.model.dates import utc_date
from govctl.model.durations import format_duration, milliseconds
from govctl.model.escape import printable
from govctl.model.exportable import contract_problems, ends_in_comment
from govctl.model.people import rotation_of
from govctl.model.policy import Policy
from govctl.model.records import is_url
from govctl.model.repository import Repository
from govctl.monitoring.prometheus import default_query
from govctl.monitoring.yardstick import Yardstick, yardsticks
from govctl.rules.decisions import current_approvals

DEFAULT_WINDOW = "1h"
_SHOWN_PROBLEMS = 5  # in the one-line refusal; `govctl validate` lists them all


class UnexportableContracts(GovctlError):
    """`export prometheus-rules` refuses: a contract it would compile has GOV045 problems
    (exit 1, as for findings; nothing is written)."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        super().__init__(
            f"refusing to write alert rules: {len(problems)} problem(s) would make them "
            f"invalid or unsafe (GOV045; run `govctl validate`): {shown}"
            + (f"; and {more} more" if more > 0 else ""), EXIT_FINDINGS)
        self.problems = tuple(problems)


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text)
                   if part)


def alert_name(use_case_id: str, signal: str) -> str:
    """A valid Prometheus alert name ([a-zA-Z_:][a-zA-Z0-9_:]*), unique per use case+signal."""
    return f"Govctl{_camel(use_case_id)}{_camel(signal)}Breach"


def missing_alert_name(use_case_id: str, signal: str) -> str:
    return f"Govctl{_camel(use_case_id)}{_camel(signal)}Missing"


def _plain(text: str) -> str:
    """Record text inside a label or annotation, which Prometheus expands as a Go template:
    ours is data. Each ``{{`` becomes the template action ``{{ "{{" }}``, which prints
    exactly ``{{``, so the alert shows the text as written (a lone ``}}`` is plain text to
    Go templates). Splitting on ``{{`` left to right also covers ``{{{``."""
    return '{{ "{{" }}'.join(text.split("{{"))


def breach_expr(query: str, low: float | None, high: float | None) -> str:
    """Strictly outside the band: the same boundary as `govctl status` and GOV036."""
    if ends_in_comment(query):  # `up # note` would swallow the `) > 3` that follows
        query += "\n"
    parts = []
    if high is not None:
        parts.append(f"({query}) > {_number(high)}")
    if low is not None:
        parts.append(f"({query}) < {_number(low)}")
    return " or ".join(parts)


def missing_expr(query: str) -> str:
    """1 while the query returns no series at all (the `for:` makes it "for 2× the
    window"): `absent` takes any expression, where `absent_over_time` only a selector."""
    if ends_in_comment(query):
        query += "\n"
    return f"absent({query})"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def bound_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"outside [{_number(low)}, {_number(high)}]"
    return f"above {_number(high)}" if high is not None else f"below {_number(low)}"


def prometheus_rules(repo: Repository, policy: Policy, as_of: datetime,
                     runbook_base: str | None = None, root: Path | None = None
                     ) -> dict[str, Any]:
    """The alert rules encode each use case's approved contract (SPEC §3.3, §5), so the
    alerts and `govctl status` agree; ``root`` lets that content come from git history."""
    digester = Digester(repo)
    current = current_approvals(repo, utc_date(as_of))
    use_cases = [u for u in sorted(repo.of_kind("UseCase"), key=lambda r: r.id)
                 if u.spec["status"] != "retired"]
    sticks = yardsticks(repo, digester, use_cases, current, root)
    _refuse_unexportable(sticks[u.id] for u in use_cases)
    groups = []
    for use_case in use_cases:
        stick = sticks[use_case.id]
        if not stick.signals or stick.on_breach is None:
            continue
        team = repo.get("Team", use_case.spec["team"])
        rotation = rotation_of(team) or "none"
        approval = current.get(use_case.id)
        bundle = repo.get("Bundle", use_case.spec["bundle"])
        digest = approval.spec["bundle"]["digest"] if approval is not None else (
            digester.try_bundle(bundle) if bundle is not None else None)
        runbook = _runbook(stick.on_breach, runbook_base)
        labels = {
            "use_case": use_case.id,
            "team": use_case.spec["team"],
            "rotation": rotation,
            "approval": approval.id if approval is not None else "none",
            "bundle_digest": digest or "unknown",
        }
        # SPEC §5 lists runbook_url among the annotations: present even when the
        # contract names no runbook (empty), so routing templates can rely on it
        runbook_url = _plain(runbook) if runbook else ""
        rules = []
        for name, signal in stick.signals.items():
            query = signal.get("query") or default_query(signal["metric"], use_case.id)
            low, high = signal.get("min"), signal.get("max")
            window = signal.get("window", DEFAULT_WINDOW)
            silence = format_duration(2 * (milliseconds(window) or 0))
            subject = f"{use_case.id}: {name} ({signal['metric']})"
            summary = (_plain(f"{subject} is ")
                       + "{{ $value }}"  # Prometheus fills in the value
                       + _plain(f", {bound_text(low, high)} for {window}; on breach: "
                                f"{stick.on_breach['action']}"))
            rules.append(_rule(
                alert_name(use_case.id, name), breach_expr(query, low, high), window,
                {**labels, "signal": name, "severity": signal["severity"],
                 "signal_state": "breach"}, summary, runbook_url))
            # the exporter died, the label changed, the job was renamed: without this
            # alert a signal that stops reporting is silent forever (SPEC §5)
            rules.append(_rule(
                missing_alert_name(use_case.id, name), missing_expr(query), silence,
                {**labels, "signal": name, "severity": "ticket", "signal_state": "missing"},
                _plain(f"{subject} has returned no data for {silence}: it cannot be "
                       "judged against its approved threshold"), runbook_url))
        groups.append({"name": f"govctl-{use_case.id}", "rules": rules})
    return {"groups": groups}


def _rule(alert: str, expr: str, duration: str, labels: Mapping[str, str], summary: str,
          runbook_url: str) -> dict[str, Any]:
    # label values are Go templates too: a rotation or signal name is data
    return {"alert": alert, "expr": expr, "for": duration,
            "labels": {key: _plain(value) for key, value in labels.items()},
            "annotations": {"summary": summary, "runbook_url": runbook_url}}


def _refuse_unexportable(sticks: Iterable[Yardstick]) -> None:
    """Raise :class:`UnexportableContracts` when any contract content the rules would
    compile (the approved one: it may come from git history) has a GOV045 problem."""
    problems: list[str] = []
    seen: set[tuple[str | None, str | None]] = set()
    for stick in sticks:
        if not stick.signals or stick.on_breach is None or (
                (stick.contract_id, stick.source) in seen):
            continue
        seen.add((stick.contract_id, stick.source))
        where = f"ThresholdContract {stick.contract_id!r} ({printable(stick.source or '?')})"
        problems += [f"{where} {p.message}" for p in contract_problems(
            {"signals": stick.signals, "on_breach": stick.on_breach})]
    if problems:
        raise UnexportableContracts(problems)


def _runbook(on_breach: Mapping[str, Any], base: str | None) -> str | None:
    runbook = on_breach.get("runbook")
    if not isinstance(runbook, str):
        return None
    if is_url(runbook) or base is None:
        return runbook
    return f"{base.rstrip('/')}/{runbook}"


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: two teams sharing one receiver body get two copies, as a
    person would write them (and as every YAML reader understands)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(document: dict[str, Any], header: str) -> str:
    body = yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True,
                     width=100, default_flow_style=False)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
