"""`govctl status` as a rich table (terminal) or plain lines (piped). Breaches first; every
state is spelled out in words beside its symbol, so colour never carries meaning alone."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from govctl.monitoring.status import SignalStatus, StatusReport, UseCaseStatus

SYMBOL = {"ok": "✔", "breach": "✖", "missing": "?", "stale": "⚠"}
STYLE = {"ok": "green", "breach": "bold red", "missing": "dim", "stale": "yellow",
         "current": "green", "stale-approval": "bold red", "expired": "bold red",
         "none": "bold red"}


def _rank(entry: UseCaseStatus) -> tuple[int, str]:
    states = {s.state for s in entry.signals}
    gated = entry.use_case.spec["status"] in ("approved", "production")
    unapproved = gated and entry.approval.state != "current"  # intake needs no approval
    order = 0 if "breach" in states else 1 if unapproved else (
        2 if states & {"missing", "stale"} else 3)
    return (order, entry.use_case.id)


def ordered(report: StatusReport) -> list[UseCaseStatus]:
    return sorted(report.use_cases, key=_rank)


def threshold(s: SignalStatus) -> str:
    if s.min is not None and s.max is not None:
        return f"{s.min}..{s.max}"
    return f"≤ {s.max}" if s.max is not None else f"≥ {s.min}"


def signal_text(s: SignalStatus) -> Text:
    text = Text()
    text.append(f"{SYMBOL[s.state]} {s.state.upper() if s.state == 'breach' else s.state}",
                style=STYLE[s.state])
    value = "—" if s.value is None else f"{s.value:g}"
    text.append(f" {s.signal} {value} ({threshold(s)})")
    return text


def approval_text(entry: UseCaseStatus) -> Text:
    state = entry.approval.state
    style = STYLE["stale-approval" if state == "stale" else state]
    label = f"{state}"
    if entry.approval.approval is not None:
        label += f" ({entry.approval.approval.id})"
    return Text(label, style=style)


def render_table(report: StatusReport) -> Table:
    table = Table(title=f"govctl status at {report.at:%Y-%m-%d %H:%M} UTC", title_justify="left")
    for column in ("use case", "status", "approval", "owner", "team / on call", "signals"):
        table.add_column(column, overflow="fold")
    for entry in ordered(report):
        uc = entry.use_case
        oncall = entry.oncall
        signals = Text("\n").join(signal_text(s) for s in entry.signals) or Text(
            "no contract", style="red")
        table.add_row(uc.id, uc.spec["status"], approval_text(entry), uc.spec["owner"],
                      f"{uc.spec['team']} / {oncall.get('rotation') if oncall else 'none'}",
                      signals)
    return table


def render_lines(report: StatusReport) -> list[Text]:
    lines = [Text(f"govctl status at {report.at.isoformat()}", style="bold")]
    for entry in ordered(report):
        uc = entry.use_case
        oncall = entry.oncall
        head = Text(f"{uc.id}  {uc.spec['status']}  approval: ")
        head.append_text(approval_text(entry))
        head.append(f"  owner: {uc.spec['owner']}  team: {uc.spec['team']}  on call: "
                    f"{oncall.get('rotation') if oncall else 'none'}")
        lines.append(head)
        if not entry.signals:  # as the table says: an invalid or unknown contract
            lines.append(Text("    no contract", style="red"))
        for s in entry.signals:
            line = Text("    ")
            line.append_text(signal_text(s))
            if s.observed_at is not None:
                line.append(f"  observed {s.observed_at.isoformat()}")
            lines.append(line)
    for f in report.findings:
        lines.append(Text(f"{f.file}:{f.line}:{f.column}: {f.rule} {f.severity} {f.message}",
                          style="bold red"))
    breaches = sum(1 for e in report.use_cases for s in e.signals if s.state == "breach")
    lines.append(Text(f"{len(report.use_cases)} use cases, {breaches} signal(s) in breach, "
                      f"{len(report.findings)} unapproved digest(s) serving"))
    return lines


def summary(report: StatusReport) -> dict[str, Any]:
    return {"use_cases": len(report.use_cases),
            "breaches": sum(1 for e in report.use_cases for s in e.signals
                            if s.state == "breach")}
