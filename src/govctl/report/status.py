"""`govctl status` as a rich table (terminal) or plain lines (piped). Worst verdict first;
every verdict and state is spelled out in words beside its symbol, so colour never
carries meaning alone. Thresholds are the approved ones; a value the working tree
proposes is shown beside it, marked as not approved."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from govctl.monitoring.status import VERDICTS, SignalStatus, StatusReport, UseCaseStatus
from govctl.report.terminal import safe_cell

SYMBOL = {"ok": "✔", "breach": "✖", "missing": "?", "stale": "⚠"}
STYLE = {"ok": "green", "breach": "bold red", "missing": "dim", "stale": "yellow",
         "current": "green", "stale-approval": "bold red", "expired": "bold red",
         "none": "bold red"}
VERDICT_SYMBOL = {"unapproved-serving": "✖", "no-approval": "✖", "expired": "✖",
                  "stale": "✖", "breach": "✖", "missing": "?", "unobserved": "?",
                  "conditional": "◐", "current": "✔"}
VERDICT_STYLE = {"unapproved-serving": "bold red", "no-approval": "bold red",
                 "expired": "bold red", "stale": "bold red", "breach": "bold red",
                 "missing": "yellow", "unobserved": "yellow", "conditional": "cyan",
                 "current": "green"}


def verdict_text(verdict: str) -> Text:
    word = verdict.upper() if VERDICTS.index(verdict) < VERDICTS.index("missing") else verdict
    return Text(f"{VERDICT_SYMBOL[verdict]} {word}", style=VERDICT_STYLE[verdict])


def ordered(report: StatusReport) -> list[UseCaseStatus]:
    return sorted(report.use_cases, key=lambda e: (VERDICTS.index(e.verdict), e.use_case.id))


def _bounds(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    if high is not None:
        return f"≤ {high}"
    return f"≥ {low}" if low is not None else "no bounds"


def threshold(s: SignalStatus) -> str:
    """``≤ 0.2``, or ``approved ≤ 0.2 · proposed ≤ 0.5 (not approved)``."""
    if not s.approved:
        working = s.proposed.working if s.proposed is not None else None
        bounds = _bounds(working.get("min"), working.get("max")) if working else "?"
        return f"proposed {bounds}, not approved: nothing judges it"
    approved = _bounds(s.min, s.max)
    if s.proposed is None:
        return approved
    working = s.proposed.working
    if working is None:
        return f"approved {approved} · removed in the working tree (not approved)"
    changed = [f"{k} {working.get(k)}" for k in ("metric", "query", "window", "severity")
               if (s.proposed.approved or {}).get(k) != working.get(k)]
    proposed = " ".join([_bounds(working.get("min"), working.get("max")), *changed])
    return f"approved {approved} · proposed {proposed} (not approved)"


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
        decision = entry.approval.decision
        label += f" ({entry.approval.approval.id}" + (
            f", {decision}" if decision != "approved" else "") + ")"
    return Text(label, style=style)


def _details(entry: UseCaseStatus) -> list[Text]:
    """What the signal lines do not say: conditions, why the yardstick is the working
    tree, open incidents."""
    out = []
    if entry.problem:
        out.append(Text(entry.problem, style="bold red"))
    for name in entry.required_absent:
        out.append(Text(f"? required signal {name}: not in the approved contract, so nothing "
                        "observes it", style="yellow"))
    for condition in entry.approval.conditions:
        out.append(Text(f"condition: {condition}", style="cyan"))
    if entry.yardstick.note:
        out.append(Text(f"thresholds: {entry.yardstick.note}", style="yellow"))
    elif entry.yardstick.basis == "working-tree" and entry.approval.approval is None:
        out.append(Text("thresholds: the working tree's (no current approval)", style="dim"))
    if entry.incidents_open:
        out.append(Text(f"{entry.incidents_open} open incident(s)", style="yellow"))
    return out


def render_table(report: StatusReport) -> Table:
    table = Table(title=f"govctl status at {report.at:%Y-%m-%d %H:%M} UTC", title_justify="left")
    for column in ("use case", "verdict", "approval", "owner", "team / on call", "signals"):
        table.add_column(column, overflow="fold")
    for entry in ordered(report):
        uc = entry.use_case
        oncall = entry.oncall
        lines = [signal_text(s) for s in entry.signals] or (
            [] if entry.problem else [Text("no contract", style="red")])
        lines += _details(entry)
        # every cell a Text made safe line by line: never rich markup, never a value's
        # escape sequence or line break (SPEC §3, output safety)
        table.add_row(safe_cell(uc.id, str(uc.spec.get("status"))),
                      safe_cell(verdict_text(entry.verdict)), safe_cell(approval_text(entry)),
                      safe_cell(str(uc.spec.get("owner"))),
                      safe_cell(f"{uc.spec.get('team')} / "
                                f"{oncall.get('rotation') if oncall else 'none'}"),
                      safe_cell(*lines))
    return table


def render_notes(report: StatusReport) -> list[Text]:
    """What follows the table or the lines: ignored rows, findings, the summary."""
    lines = []
    if not report.observed:
        lines.append(Text("no observations given: no verdict is better than 'unobserved' "
                          "(add --observations FILE or --prometheus URL)", style="yellow"))
    if report.ignored:
        total = sum(i.rows for i in report.ignored) + report.ignored_unlisted
        pairs = ", ".join(f"{i.use_case}/{i.signal} ({i.rows})" for i in report.ignored[:10])
        more = len(report.ignored) - 10
        lines.append(Text(
            f"warning: {total} observation row(s) ignored, no contract signal judges them: "
            f"{pairs}" + (f" and {more} more pair(s)" if more > 0 else "")
            + (f", plus {report.ignored_unlisted} row(s) of unlisted pairs"
               if report.ignored_unlisted else ""), style="bold yellow"))
    for f in report.findings:
        lines.append(Text(f"{f.file}:{f.line}:{f.column}: {f.rule} {f.severity} {f.message}",
                          style="bold red"))
    counts = {v: sum(1 for e in report.use_cases if e.verdict == v) for v in VERDICTS}
    shown = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    lines.append(Text(f"{len(report.use_cases)} use cases: {shown or 'none'}"))
    return lines


def render_lines(report: StatusReport) -> list[Text]:
    lines = [Text(f"govctl status at {report.at.isoformat()}", style="bold")]
    for entry in ordered(report):
        uc = entry.use_case
        oncall = entry.oncall
        head = Text(f"{uc.id}  {uc.spec.get('status')}  ")
        head.append_text(verdict_text(entry.verdict))
        head.append("  approval: ")
        head.append_text(approval_text(entry))
        head.append(f"  owner: {uc.spec.get('owner')}  team: {uc.spec.get('team')}  on call: "
                    f"{oncall.get('rotation') if oncall else 'none'}")
        lines.append(head)
        if not entry.signals and entry.problem is None:  # an invalid or unknown contract
            lines.append(Text("    no contract", style="red"))
        for s in entry.signals:
            line = Text("    ")
            line.append_text(signal_text(s))
            if s.observed_at is not None:
                line.append(f"  observed {s.observed_at.isoformat()}")
            lines.append(line)
        for detail in _details(entry):
            lines.append(Text("    ").append_text(detail))
    return lines + render_notes(report)
