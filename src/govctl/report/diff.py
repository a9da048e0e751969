"""`govctl diff` as text (a terminal) or markdown (a pull-request comment)."""

from __future__ import annotations

from rich.text import Text

from govctl.history.diff import DiffResult, RecordChange
from govctl.model.escape import code_span, markdown_text
from govctl.rules.changes import LOOSENED, REAPPROVAL, TIGHTENED, short

_EFFECT_STYLE = {LOOSENED: "bold red", REAPPROVAL: "bold yellow", TIGHTENED: "green"}
_MARK = {"added": "+", "removed": "-", "modified": "~", "renamed": ">"}


def _label(sha: str) -> str:
    return sha if sha == "WORKTREE" else sha[:12]


def summary(result: DiffResult) -> str:
    n = len(result.changes)
    loosened = sum(1 for c in result.changes if LOOSENED in c.effects)
    reapproval = sum(1 for c in result.changes if REAPPROVAL in c.effects)
    stale = len(result.stale_approvals)  # approvals, not findings (GOV031 and GOV032)
    parts = [f"{n} record{'s' if n != 1 else ''} changed",
             f"{loosened} loosened", f"{reapproval} need re-approval",
             f"{stale} approval{'s' if stale != 1 else ''} made stale",
             f"{len(result.impacts)} new error{'s' if len(result.impacts) != 1 else ''}"]
    return ", ".join(parts)


def render_text(result: DiffResult) -> list[Text]:
    lines = [Text(f"govctl diff {_label(result.base)}..{_label(result.head)}: "
                  f"{summary(result)}", style="bold")]
    for change in _ordered(result.changes):
        head = Text(f"{_MARK[change.change]} {change.ref}  {change.file}")
        if change.old_file:
            head.append(f"  (was {change.old_file})")
        head.append(f"  [{change.change}]")
        lines.append(head)
        for field in change.fields:
            line = Text(f"    {field.path}: {short(field.old)} → {short(field.new)}  ")
            line.append(field.effect, style=_EFFECT_STYLE.get(field.effect, ""))
            lines.append(line)
    if result.impacts:
        lines.append(Text("impacts (new errors this change causes):", style="bold"))
        for f in result.impacts:
            lines.append(Text(f"  {f.file}:{f.line}:{f.column}: {f.rule} {f.severity} "
                              f"{f.message}"))
    if result.unapproved:
        lines.append(Text("left without a good approval at the head of the range: "
                          + ", ".join(result.unapproved), style="bold red"))
    return lines


def _ordered(changes: tuple[RecordChange, ...]) -> list[RecordChange]:
    """Loosened first, then re-approval, then the rest (a reviewer's reading order)."""
    def rank(c: RecordChange) -> int:
        return 0 if LOOSENED in c.effects else 1 if REAPPROVAL in c.effects else 2
    return sorted(changes, key=lambda c: (rank(c), c.kind, c.id))


def _cell(value: object) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return markdown_text(value if number else short(value))


def render_markdown(result: DiffResult) -> str:
    out = [f"### govctl: {summary(result)}", "",
           f"{code_span(_label(result.base))} → {code_span(_label(result.head))}", ""]
    flagged = [(c, f) for c in _ordered(result.changes) for f in c.fields
               if f.effect in (LOOSENED, REAPPROVAL)]
    if flagged:
        out += ["**Needs attention** — loosened controls and changes that need re-approval:", "",
                "| effect | record | field | old | new |", "|---|---|---|---|---|"]
        for change, field in flagged:
            icon = "🔓 loosened" if field.effect == LOOSENED else "🔁 reapproval"
            out.append(f"| {icon} | {code_span(change.ref)} | {code_span(field.path)} | "
                       f"{_cell(field.old)} | {_cell(field.new)} |")
        out.append("")
    if result.impacts:
        out += ["**Impacts** — errors this change causes:", ""]
        for f in result.impacts:
            out.append(f"- {code_span(f.rule)} {code_span(f'{f.file}:{f.line}')} — "
                       f"{markdown_text(f.message)}")
        out.append("")
    if result.unapproved:
        out += ["**Left without a good approval** at the head of the range: "
                + ", ".join(map(code_span, result.unapproved)), ""]
    rest = [(c, f) for c in _ordered(result.changes) for f in c.fields
            if f.effect not in (LOOSENED, REAPPROVAL)]
    whole = [c for c in result.changes if not c.fields or c.change == "renamed"]
    if rest or whole:
        out += ["<details><summary>Other changes</summary>", "",
                "| effect | record | field | old | new |", "|---|---|---|---|---|"]
        for change in whole:
            note = f" (was {code_span(change.old_file)})" if change.old_file else ""
            out.append(f"| {change.change} | {code_span(change.ref)} | {code_span(change.file)}"
                       f"{note} | | |")
        for change, field in rest:
            out.append(f"| {field.effect} | {code_span(change.ref)} | {code_span(field.path)} | "
                       f"{_cell(field.old)} | {_cell(field.new)} |")
        out += ["", "</details>", ""]
    if not result.changes:
        out += ["No record changed.", ""]
    return "\n".join(out)
