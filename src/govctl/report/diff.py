"""`govctl diff` as text (a terminal) or markdown (a pull-request comment).

Laid out the way reviewers read Terraform plans in pull requests (Atlantis, tfcmt): a
one-line verdict first — what loosened, what went stale, whom to ask — then sections in
order of what needs a decision, then the details (text diffs, the other changes) folded
away. Every value from the records is escaped (SPEC §3): Markdown text and code spans for
values, fenced code blocks longer than any backtick run for file text, and no HTML but the
template's own ``<details>``/``<summary>``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from rich.text import Text

from govctl.history.diff import DiffResult, Reapproval, RecordChange
from govctl.model.escape import code_block, code_span, markdown_text, printable
from govctl.model.textdiff import TextDiff
from govctl.rules.changes import LOOSENED, REAPPROVAL, TIGHTENED, FieldChange, short

MAX_ROWS = 50  # rows of one Markdown section
MAX_TEXT_DIFFS = 20  # text diffs in one Markdown comment
MAX_COMMENT = 60_000  # characters: GitHub refuses comments over 65,536
_EFFECT_STYLE = {LOOSENED: "bold red", REAPPROVAL: "bold yellow", TIGHTENED: "green"}
_MARK = {"added": "+", "removed": "-", "modified": "~", "renamed": ">"}
_DIFF_STYLE = {"+": "green", "-": "red", "@": "cyan"}


def _label(sha: str) -> str:
    return sha if sha == "WORKTREE" else sha[:12]


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


# -- the verdict ---------------------------------------------------------------------------


def _roles(result: DiffResult) -> list[str]:
    """Every role some use case needs for its re-approval, the largest count asked."""
    needed: dict[str, int] = {}
    for item in result.reapproval:
        for role, n in item.roles:
            needed[role] = max(needed.get(role, 0), n)
    return [role if n == 1 else f"{role} ×{n}" for role, n in sorted(needed.items())]


def needs_decision(result: DiffResult) -> bool:
    """A use case left without a good approval, an approval made stale, or any new error:
    never a ✓ over a change that broke what the approvals rest on."""
    return bool(result.unapproved or result.stale_approvals or result.impacts)


def verdict(result: DiffResult) -> str:
    """``2 controls loosened · 1 approval made stale · re-approval needed from: …``."""
    parts = []
    if result.loosened:
        parts.append(f"{_plural(result.loosened, 'control')} loosened")
    if result.stale_approvals:
        parts.append(f"{_plural(len(result.stale_approvals), 'approval')} made stale")
    if result.reapproval:
        roles = _roles(result)
        parts.append("re-approval needed from: " + ", ".join(roles) if roles else
                     "re-approval needed (the roles cannot be read from the Policy)")
    others = sum(1 for f in result.impacts if f.rule not in ("GOV031", "GOV032"))
    if others:  # (stale approvals are counted above)
        parts.append(_plural(others, "new error"))
    if result.reapproved:
        parts.append("re-approved in this range: " + ", ".join(
            r.use_case for r in result.reapproved))
    if not parts:
        parts.append("no control loosened, nothing to re-approve" if result.changes else
                     "no record changed")
    return " · ".join(parts)


def _mark(result: DiffResult) -> str:
    """Not colour alone: a word-like mark says whether a decision is needed."""
    if needs_decision(result):
        return "✗"
    return "!" if result.loosened else "✓"


def summary(result: DiffResult) -> str:
    n = len(result.changes)
    reapproval = sum(1 for c in result.changes if REAPPROVAL in c.effects)
    parts = [f"{_plural(n, 'record')} changed",
             f"{reapproval} need{'s' if reapproval == 1 else ''} re-approval",
             _plural(len(result.impacts), "new error")]
    return ", ".join(parts)


# -- rows: a component's own changes under it -------------------------------------------------


def _rows(field: FieldChange, within: tuple[str, ...] = ()
          ) -> Iterator[tuple[tuple[str, ...], FieldChange]]:
    """(the components it is inside, the change), a component's own changes after it."""
    yield within, field
    if field.component is not None:
        for inner in field.changes:
            yield from _rows(inner, (*within, field.component))


def _text_diffs(result: DiffResult) -> list[tuple[RecordChange, tuple[str, ...], FieldChange]]:
    """Every text diff once (a component's prompt shows under its agent and under itself:
    the first, in reading order, is kept)."""
    out, seen = [], set()
    for change in _ordered(result.changes):
        for field in change.fields:
            for within, f in _rows(field):
                diff = f.text_diff
                key = (diff.old_path, diff.new_path, diff.lines, diff.note) if diff else None
                if diff is not None and key not in seen:
                    seen.add(key)
                    out.append((change, within, f))
    return out


def _ordered(changes: tuple[RecordChange, ...]) -> list[RecordChange]:
    """Loosened first, then re-approval, then the rest (a reviewer's reading order)."""
    def rank(c: RecordChange) -> int:
        return 0 if LOOSENED in c.effects else 1 if REAPPROVAL in c.effects else 2
    return sorted(changes, key=lambda c: (rank(c), c.kind, c.id))


# -- text -------------------------------------------------------------------------------------


def _diff_lines(diff: TextDiff, indent: str, hint: str) -> list[Text]:
    if diff.note:
        return [Text(f"{indent}({printable(diff.note)})", style="dim")]
    lines = [Text(indent + printable(line), style=_DIFF_STYLE.get(line[:1], ""))
             for line in diff.lines]
    if diff.more:
        lines.append(Text(f"{indent}… {_plural(diff.more, 'more line')}; {hint}", style="dim"))
    return lines


def render_text(result: DiffResult) -> list[Text]:
    lines = [Text(f"govctl diff {_label(result.base)}..{_label(result.head)}: "
                  f"{_mark(result)} {verdict(result)}", style="bold"),
             Text(f"  {summary(result)}")]
    for change in _ordered(result.changes):
        head = Text(f"{_MARK[change.change]} {change.ref}  {change.file}")
        if change.old_file:
            head.append(f"  (was {change.old_file})")
        head.append(f"  [{change.change}]")
        lines.append(head)
        for field in change.fields:
            for within, row in _rows(field):
                indent = "    " + "  " * len(within)
                named = f" (component {row.component})" if row.component else ""
                line = Text(f"{indent}{row.path}{named}: {short(row.old)} → {short(row.new)}  ")
                line.append(row.effect, style=_EFFECT_STYLE.get(row.effect, ""))
                lines.append(line)
                if row.text_diff is not None:
                    lines += _diff_lines(row.text_diff, indent + "  ",
                                         result.git_diff(row.text_diff))
    if result.reapproval:
        lines.append(Text("re-approval needed:", style="bold"))
        for item in result.reapproval:
            roles = ", ".join(r if n == 1 else f"{r} ×{n}" for r, n in item.roles) or \
                "(no roles: the Policy or the use case cannot be read)"
            stale = f"; stale: {', '.join(item.stale)}" if item.stale else ""
            lines.append(Text(f"  {item.use_case}: {roles}{stale}"))
    if result.reapproved:
        lines.append(Text("re-approved in this range:", style="bold"))
        for done in result.reapproved:
            lines.append(Text(f"  {done.use_case}: Approval {done.approval} by "
                              f"{', '.join(done.approvers)}"))
    if result.impacts:
        lines.append(Text("impacts (new errors this change causes):", style="bold"))
        for f in result.impacts:
            lines.append(Text(f"  {f.file}:{f.line}:{f.column}: {f.rule} {f.severity} "
                              f"{f.message}"))
    if result.unapproved:
        lines.append(Text("left without a good approval at the head of the range: "
                          + ", ".join(result.unapproved), style="bold red"))
    return lines


# -- markdown ---------------------------------------------------------------------------------


def _cell(value: object) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return markdown_text(value if number else short(value))


def _field_cell(within: tuple[str, ...], field: FieldChange) -> str:
    path = " › ".join([*map(code_span, within), code_span(field.path)])
    if field.component is not None:
        path += f" — component {code_span(field.component)}"
    return path


def _table(rows: list[tuple[RecordChange, tuple[str, ...], FieldChange]], effect: bool
           ) -> list[str]:
    head = ["| effect | record | field | old | new |", "|---|---|---|---|---|"] if effect \
        else ["| record | field | old | new |", "|---|---|---|---|"]
    out = list(head)
    for change, within, field in rows[:MAX_ROWS]:
        cells = [code_span(change.ref), _field_cell(within, field), _cell(field.old),
                 _cell(field.new)]
        out.append("| " + " | ".join(([field.effect] if effect else []) + cells) + " |")
    return [*out, "", *_more(len(rows) - MAX_ROWS, "change")]


def _more(left: int, what: str) -> list[str]:
    """The line that says how many rows a section leaves out (a comment has a size
    limit: GitHub's is 65,536 characters)."""
    return [f"… and {_plural(left, what)} more: run `govctl diff` for all of them.", ""] \
        if left > 0 else []


_FILE_KIND = (("prompt.template", "prompt template"), ("on_breach.runbook", "runbook"),
              ("eval_set", "eval data"), ("path", "eval data"))


def _file_kind(path: str) -> str:
    """Template-authored words for a summary line (no record text goes into HTML)."""
    if path.startswith("tools["):
        return "tool schema"
    return next((kind for prefix, kind in _FILE_KIND if path.startswith(prefix)), "file")


def _markdown_diff(result: DiffResult, change: RecordChange, within: tuple[str, ...],
                   field: FieldChange) -> list[str]:
    diff = field.text_diff
    assert diff is not None
    name = diff.new_path or diff.old_path or ""
    out = [f"<details><summary>Text diff of the {_file_kind(field.path)}</summary>", "",
           f"{code_span(name)} — {code_span(change.ref)} {_field_cell(within, field)}", ""]
    if diff.note:
        out += [f"_{markdown_text(diff.note)}_", ""]
    else:
        out += [*code_block(list(diff.lines), "diff"), ""]
        if diff.more:
            out += [f"… {_plural(diff.more, 'more line')}; "
                    f"{code_span(result.git_diff(diff).strip('`'))}", ""]
    return [*out, "</details>", ""]


def _approve_command(item: Reapproval) -> str:
    """The command the approvers run (PERSON: the one who fills the role). A count comes
    from the records: a role asked of many is written a few times, then counted."""
    approvers, more = [], []
    for role, n in item.roles:
        flag = f"--approver {shlex.quote('PERSON:' + role)}"
        approvers += [flag] * min(n, 5)
        if n > 5:
            more.append(f"{n - 5:,} more {role}")
    command = " ".join(["govctl approve", shlex.quote(item.use_case), *approvers])
    return command + (f"  # and {', '.join(more)}" if more else "")


def render_markdown(result: DiffResult) -> str:
    mark = "❌" if needs_decision(result) else "⚠️" if result.loosened else "✅"
    blocks = [[f"### {mark} govctl: {markdown_text(verdict(result))}", "",
               f"{code_span(_label(result.base))} → {code_span(_label(result.head))} · "
               f"{markdown_text(summary(result))}", ""]]
    if result.reapproval:
        block = ["#### Re-approval needed", "",
                 "| use case | approvers the Policy requires | made stale |", "|---|---|---|"]
        for item in result.reapproval[:MAX_ROWS]:
            roles = ", ".join(code_span(r) + (f" ×{n:,}" if n > 1 else "")
                              for r, n in item.roles) or "_unknown: fix the Policy or use case_"
            stale = ", ".join(map(code_span, item.stale)) or "—"
            block.append(f"| {code_span(item.use_case)} | {roles} | {stale} |")
        block += ["", *_more(len(result.reapproval) - MAX_ROWS, "use case")]
        commands = [_approve_command(item) for item in result.reapproval[:MAX_ROWS]]
        block += ["Re-approve in this pull request (the approvers commit it), or revert "
                  "the change:", "", *code_block(commands, "sh"), ""]
        blocks.append(block)
    if result.reapproved:
        block = ["#### Re-approved in this range", ""]
        for done in result.reapproved[:MAX_ROWS]:
            block.append(f"- {code_span(done.use_case)}: Approval {code_span(done.approval)} "
                         "by " + ", ".join(map(markdown_text, done.approvers)))
        blocks.append([*block, "", *_more(len(result.reapproved) - MAX_ROWS, "use case")])
    rows = [(c, within, f) for c in _ordered(result.changes) for field in c.fields
            for within, f in _rows(field)]
    loosened = [r for r in rows if r[2].effect == LOOSENED]
    if loosened:
        blocks.append(["#### 🔓 Loosened controls", "", *_table(loosened, effect=False)])
    reapproval = [r for r in rows if r[2].effect == REAPPROVAL]
    if reapproval:
        blocks.append(["#### 🔁 Changes that need re-approval", "",
                       *_table(reapproval, effect=False)])
    diffs = _text_diffs(result)
    blocks += [_markdown_diff(result, *d) for d in diffs[:MAX_TEXT_DIFFS]]
    if len(diffs) > MAX_TEXT_DIFFS:
        blocks.append(_more(len(diffs) - MAX_TEXT_DIFFS, "text diff"))
    if result.impacts:
        block = ["#### Impacts — errors this change causes", ""]
        for f in result.impacts[:MAX_ROWS]:
            block.append(f"- {code_span(f.rule)} {code_span(f'{f.file}:{f.line}')} — "
                         f"{markdown_text(f.message)}")
        blocks.append([*block, "", *_more(len(result.impacts) - MAX_ROWS, "error")])
    if result.unapproved:
        shown = ", ".join(map(code_span, result.unapproved[:MAX_ROWS]))
        left = len(result.unapproved) - MAX_ROWS
        blocks.append(["**Left without a good approval** at the head of the range: " + shown
                       + (f" and {left:,} more" if left > 0 else ""), ""])
    rest = [r for r in rows if r[2].effect not in (LOOSENED, REAPPROVAL)]
    whole = [c for c in result.changes if not c.fields or c.change == "renamed"]
    if rest or whole:
        block = ["<details><summary>Other changes</summary>", "",
                 "| effect | record | field | old | new |", "|---|---|---|---|---|"]
        for change in whole[:MAX_ROWS]:
            note = f" (was {code_span(change.old_file)})" if change.old_file else ""
            block.append(f"| {change.change} | {code_span(change.ref)} | "
                         f"{code_span(change.file)}{note} | | |")
        for change, within, field in rest[:MAX_ROWS]:
            block.append(f"| {field.effect} | {code_span(change.ref)} | "
                         f"{_field_cell(within, field)} | {_cell(field.old)} | "
                         f"{_cell(field.new)} |")
        left = max(0, len(whole) - MAX_ROWS) + max(0, len(rest) - MAX_ROWS)
        blocks.append([*block, "", *_more(left, "change"), "</details>", ""])
    if not result.changes:
        blocks.append(["No record changed.", ""])
    return _within_limit(blocks)


def _within_limit(blocks: list[list[str]]) -> str:
    """Whole blocks (a block never ends inside a code fence or a ``<details>``) until the
    comment would pass ``MAX_COMMENT`` characters, then one line saying so."""
    out: list[str] = []
    size = 0
    for i, block in enumerate(blocks):
        text = "\n".join(block)
        if size + len(text) > MAX_COMMENT and i > 0:
            out.append(f"… {_plural(len(blocks) - i, 'more section')} left out to keep this "
                       "comment within GitHub's size limit: run `govctl diff` for all of it.")
            out.append("")
            break
        out += block
        size += len(text) + 1
    return "\n".join(out)
