"""Human-readable findings: ``file:line:col: CODE severity message`` and a summary line."""

from __future__ import annotations

from rich.text import Text

from govctl.findings import ERROR, Finding
from govctl.validation import ValidationResult

_STYLE = {ERROR: "bold red", "warning": "yellow"}


def finding_line(f: Finding, prefix: str = "") -> Text:
    text = Text()
    text.append(f"{prefix}{f.file}:{f.line}:{f.column}:", style="bold")
    text.append(f" {f.rule} ", style="cyan")
    text.append(f.severity, style=_STYLE.get(f.severity, ""))
    text.append(f" {f.message}")
    return text


def summary_line(result: ValidationResult) -> Text:
    errors, warnings = result.errors, result.warnings
    scope = f"{result.records} records in {len(result.files)} files"
    if not errors and not warnings:
        return Text(f"ok: no findings ({scope})", style="green")
    plural = lambda n, word: f"{n} {word}" + ("" if n == 1 else "s")  # noqa: E731
    text = Text()
    text.append(plural(errors, "error"), style="bold red" if errors else "")
    text.append(", ")
    text.append(plural(warnings, "warning"), style="yellow" if warnings else "")
    text.append(f" ({scope})")
    return text


def render(result: ValidationResult) -> list[Text]:
    return [*(finding_line(f) for f in result.findings), summary_line(result)]
