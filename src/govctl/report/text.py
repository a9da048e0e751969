"""Human-readable findings: ``file:line:col: CODE severity message`` and a summary line."""

from __future__ import annotations

from rich.text import Text

from govctl.history.validation import ValidationResult
from govctl.model.escape import printable
from govctl.model.findings import ERROR, Finding

_STYLE = {ERROR: "bold red", "warning": "yellow"}


def finding_line(f: Finding, prefix: str = "") -> Text:
    text = Text()
    text.append(f"{printable(prefix + f.file)}:{f.line}:{f.column}:", style="bold")
    text.append(f" {f.rule} ", style="cyan")
    text.append(f.severity, style=_STYLE.get(f.severity, ""))
    text.append(f" {printable(f.message)}")
    return text


def related_lines(f: Finding, prefix: str = "") -> list[Text]:
    """The places a finding is about besides its own (SPEC §2 ``related``), one line each,
    under the finding: for a stale approval, the changed line that made it stale."""
    out = []
    for r in f.related:
        text = Text("    ↳ ")
        text.append(f"{printable(prefix + r.file)}:{r.line}:{r.column}:", style="bold")
        text.append(f" {printable(r.message)}")
        out.append(text)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_line(result: ValidationResult) -> Text:
    errors, warnings = result.errors, result.warnings
    # with PATHs the files are those reported on, while the records are the whole root's
    scope = f"{_plural(result.records, 'record')} in {_plural(len(result.files), 'file')}"
    if not errors and not warnings:
        return Text(f"ok: no findings ({scope})", style="green")
    text = Text()
    text.append(_plural(errors, "error"), style="bold red" if errors else "")
    text.append(", ")
    text.append(_plural(warnings, "warning"), style="yellow" if warnings else "")
    text.append(f" ({scope})")
    return text


def render(result: ValidationResult) -> list[Text]:
    lines = []
    for f in result.findings:
        lines.append(finding_line(f))
        lines.extend(related_lines(f))
    return [*lines, summary_line(result)]
