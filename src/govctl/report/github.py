"""GitHub Actions workflow commands, then the full text report.

GitHub shows at most 10 annotations of each level per step, so the text report follows
the annotations. Paths are relative to the git repository's top (SPEC §2).
"""

from __future__ import annotations

from govctl.history.validation import ValidationResult
from govctl.model.escape import printable
from govctl.model.findings import ERROR
from govctl.report.text import finding_line, related_lines, summary_line


def _escape_data(text: str) -> str:
    # control characters (an ESC in a file name) are escaped first; then the workflow-command
    # escapes, '%' before the rest so that their own '%' is not escaped twice
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, file: str, line: int, column: int, title: str, message: str
                ) -> str:
    props = ",".join((f"file={_escape_property(file)}", f"line={line}", f"col={column}",
                      f"title={_escape_property(title)}"))
    return f"::{level} {props}::{_escape_data(message)}"


RELATED_PER_FINDING = 3


def render(result: ValidationResult) -> str:
    lines = []
    annotated: set[tuple[str, str, int]] = set()
    for f in result.findings:
        level = "error" if f.severity == ERROR else "warning"
        lines.append(_annotation(level, result.git_prefix + f.file, f.line, f.column, f.rule,
                                 f"{f.rule} {f.message}"))
        # the line that made it so (a stale approval: the prompt edit), annotated too, so
        # the reviewer sees it where the change is — a few per finding and each line once
        # (GitHub shows ten annotations of a level per step)
        for r in f.related[:RELATED_PER_FINDING]:
            if (f.rule, r.file, r.line) in annotated:
                continue
            annotated.add((f.rule, r.file, r.line))
            lines.append(_annotation(level, result.git_prefix + r.file, r.line, r.column,
                                     f"{f.rule} (related)", f"{f.rule} {r.message}"))
    for f in result.findings:
        lines.append(finding_line(f, result.git_prefix).plain)
        lines.extend(t.plain for t in related_lines(f, result.git_prefix))
    lines.append(summary_line(result).plain)
    return "\n".join(lines) + "\n"
