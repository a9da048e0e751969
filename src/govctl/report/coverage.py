"""`govctl coverage` as a rich table (terminal), plain lines (piped) or Markdown (a weekly
report). Each control is ✓ present, ✗ missing or – not applicable, and the legend and the
summary say it in words, so neither colour nor a symbol carries meaning alone."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from govctl.model.escape import code_span, markdown_text
from govctl.monitoring.coverage import CONTROL_MEANING, CONTROLS, CoverageReport
from govctl.report.terminal import safe_cell

MARK = {True: "✓", False: "✗", None: "–"}
STYLE = {True: "green", False: "bold red", None: "dim"}


def _controls(report: CoverageReport) -> tuple[str, ...]:
    # `observed` is a column only when observations were given (else n/a everywhere)
    return CONTROLS if report.observed else tuple(c for c in CONTROLS if c != "observed")


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def summary(report: CoverageReport) -> str:
    verdict = "BELOW the minimum" if report.below_minimum else "meets the minimum"
    return (f"{report.covered} of {report.in_flight} in-flight use case(s) fully covered: "
            f"{_percent(report.share)} ({report.share:.3f}), {verdict} of "
            f"{_percent(report.min)} ({report.min:g})")


def legend() -> str:
    return "✓ present · ✗ missing · – not applicable"


def render_table(report: CoverageReport) -> Table:
    table = Table(title=f"govctl coverage at {report.at:%Y-%m-%d %H:%M} UTC",
                  title_justify="left", caption=legend(), caption_justify="left")
    table.add_column("use case", overflow="fold")
    table.add_column("status / tier", overflow="fold")
    for control in _controls(report):
        table.add_column(control, justify="center")
    table.add_column("covered", justify="center")
    for entry in report.use_cases:
        cells = [Text(MARK[entry.controls[c]], style=STYLE[entry.controls[c]])
                 for c in _controls(report)]
        covered = Text("yes" if entry.covered else "NO",
                       style="green" if entry.covered else "bold red")
        table.add_row(safe_cell(entry.id), safe_cell(f"{entry.status} / {entry.tier}"),
                      *cells, covered)
    return table


def render_notes(report: CoverageReport) -> list[Text]:
    lines = []
    for entry in report.use_cases:
        if entry.problem:
            lines.append(Text(f"{entry.id}: {entry.problem}", style="bold red"))
        for control in entry.missing if not entry.problem else ():
            lines.append(Text(f"{entry.id}: {control} missing — {CONTROL_MEANING[control]}",
                              style="yellow"))
    if not report.observed:
        lines.append(Text("the observed control is not checked: add --observations FILE or "
                          "--prometheus URL to ask whether every model is within its "
                          "contract right now", style="dim"))
    lines.append(Text(summary(report),
                      style="bold red" if report.below_minimum else "bold green"))
    return [safe_cell(line) for line in lines]


def render_lines(report: CoverageReport) -> list[Text]:
    lines = [Text(f"govctl coverage at {report.at.isoformat()}  ({legend()})", style="bold")]
    for entry in report.use_cases:
        line = Text(f"{entry.id}  {entry.status} / {entry.tier}  ")
        line.append("covered" if entry.covered else "NOT covered",
                    style="green" if entry.covered else "bold red")
        line.append("  " + " ".join(f"{c} {MARK[entry.controls[c]]}"
                                    for c in _controls(report)))
        lines.append(safe_cell(line))
    return lines + render_notes(report)


def render_markdown(report: CoverageReport) -> str:
    controls = _controls(report)
    head = ["use case", "status", "tier", *controls, "covered"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in report.use_cases:
        cells = [code_span(entry.id), markdown_text(str(entry.status)),
                 markdown_text(str(entry.tier)),
                 *(MARK[entry.controls[c]] for c in controls),
                 "yes" if entry.covered else "**no**"]
        rows.append("| " + " | ".join(cells) + " |")
    missing = [f"- {code_span(entry.id)}: "
               + (markdown_text(entry.problem) if entry.problem else
                  "; ".join(f"**{c}** — {CONTROL_MEANING[c]}" for c in entry.missing))
               for entry in report.use_cases if not entry.covered]
    parts = [f"## Governance coverage at {report.at:%Y-%m-%d %H:%M} UTC", "",
             ("❌ " if report.below_minimum else "✅ ") + summary(report) + ".", "",
             *rows, "", legend() + ("" if report.observed else
                                    " · `observed` not checked (no observations given)")]
    if missing:
        parts += ["", "### Missing", "", *missing]
    return "\n".join(parts) + "\n"
