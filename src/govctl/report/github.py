"""GitHub Actions workflow commands, then the full text report.

GitHub shows at most 10 annotations of each level per step, so the text report follows
the annotations. Paths are relative to the git repository's top (SPEC §2).
"""

from __future__ import annotations

from govctl.history.validation import ValidationResult
from govctl.model.escape import printable
from govctl.model.findings import ERROR
from govctl.report.text import finding_line, summary_line


def _escape_data(text: str) -> str:
    # control characters (an ESC in a file name) are escaped first; then the workflow-command
    # escapes, '%' before the rest so that their own '%' is not escaped twice
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: ValidationResult) -> str:
    lines = []
    for f in result.findings:
        level = "error" if f.severity == ERROR else "warning"
        props = ",".join((
            f"file={_escape_property(result.git_prefix + f.file)}",
            f"line={f.line}",
            f"col={f.column}",
            f"title={_escape_property(f.rule)}",
        ))
        lines.append(f"::{level} {props}::{_escape_data(f'{f.rule} {f.message}')}")
    lines.extend(finding_line(f, result.git_prefix).plain for f in result.findings)
    lines.append(summary_line(result).plain)
    return "\n".join(lines) + "\n"
