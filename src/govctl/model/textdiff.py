"""Unified diffs of the text files records reference (a prompt template, a tool schema, a
runbook, an eval file), for pull-request review (SPEC §3.1 ``text_diff``).

Bounded whatever the files hold: each side is read only when it is at most
``MAX_TEXT_BYTES`` (the caller checks the size before reading), a side that is not UTF-8
text is "binary" and not diffed, the lines both sides share at the start and the end are
set aside before matching (difflib's matching grows with the product of the lengths), a
middle too large to match says so, and at most ``MAX_DIFF_LINES`` diff lines are kept —
the rest is counted, so the reader knows how much is left out and where to see it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

MAX_TEXT_BYTES = 1 << 20  # 1 MiB a side: beyond it a diff is no review aid
MAX_DIFF_LINES = 200
MAX_MATCH_WORK = 4_000_000  # changed lines old × new that difflib may match
CONTEXT = 3


@dataclass(frozen=True)
class TextDiff:
    """A unified diff of one referenced file between two revisions, or why there is none."""

    old_path: str | None  # root-relative; None when the file did not exist
    new_path: str | None
    lines: tuple[str, ...] = ()  # unified diff lines (no line ends), at most MAX_DIFF_LINES
    more: int = 0  # diff lines left out after ``lines``
    note: str = ""  # set when not diffed: "binary file", "over 1,048,576 bytes", ...
    first_changed: int | None = None  # first changed line in the new file (1-based)

    def text(self, hint: str = "") -> str:
        """The diff as one string (JSON ``text_diff``): the lines, then how many were left
        out and ``hint`` (the command that shows them all), or the note."""
        if self.note:
            return self.note
        tail = [f"… {self.more:,} more line{'s' if self.more != 1 else ''}"
                + (f"; {hint}" if hint else "")] if self.more else []
        return "\n".join([*self.lines, *tail])


def _text(content: bytes) -> list[str] | None:
    """The lines of UTF-8 text, or None for binary content (a NUL, or not UTF-8)."""
    if b"\0" in content:
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # only \n and \r\n end a line here (str.splitlines would also split on U+2028, VT
    # and FF, which git does not, and the line numbers would disagree with the editor's)
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # the final line end ends a line; it does not begin another
    return lines


def _common(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many lines the two share at the start, and then at the end."""
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def first_changed_line(old: bytes | None, new: bytes | None) -> int:
    """The first line of the new file that differs from the old (where lines were removed,
    the line after them; at most the new file's last line). 1 when it cannot be told."""
    a = _text(old) if old is not None else []
    b = _text(new) if new is not None else []
    if a is None or b is None:
        return 1
    return max(1, min(_common(a, b)[0] + 1, len(b)))


def text_diff(old: bytes | None, new: bytes | None, old_path: str | None,
              new_path: str | None, unreadable: str = "") -> TextDiff:
    """The diff of two versions of a file (``None``: absent on that side). ``unreadable``
    says why a side could not be read (over the size limit), in which case there is no
    diff, only that note."""
    if unreadable:
        return TextDiff(old_path, new_path, note=unreadable)
    a = _text(old) if old is not None else []
    b = _text(new) if new is not None else []
    if a is None or b is None:
        return TextDiff(old_path, new_path, note="binary file: not shown")
    first = first_changed_line(old, new)
    if a == b:
        return TextDiff(old_path, new_path, first_changed=first,
                        note="only line endings or the final newline differ")
    head, tail = _common(a, b)
    if (len(a) - head - tail) * (len(b) - head - tail) > MAX_MATCH_WORK:
        return TextDiff(old_path, new_path, first_changed=first,
                        note=f"{len(a) - head - tail:,} lines replaced by "
                             f"{len(b) - head - tail:,}: too many to diff here")
    # match only the middle, with the context either side; hunk headers are then shifted
    # back to the files' own line numbers
    start = max(0, head - CONTEXT)
    a_end, b_end = len(a) - max(0, tail - CONTEXT), len(b) - max(0, tail - CONTEXT)
    lines = list(difflib.unified_diff(
        a[start:a_end], b[start:b_end], f"a/{old_path}" if old_path else "/dev/null",
        f"b/{new_path}" if new_path else "/dev/null", lineterm="", n=CONTEXT))
    if start:
        lines = [_shift(line, start) if line.startswith("@@") else line for line in lines]
    return TextDiff(old_path, new_path, tuple(lines[:MAX_DIFF_LINES]),
                    max(0, len(lines) - MAX_DIFF_LINES), first_changed=first)


_HUNK = re.compile(r"@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _shift(header: str, by: int) -> str:
    def moved(match: re.Match[str]) -> str:
        old, new = int(match.group(1)), int(match.group(3))
        # a side with no lines names the line before it (0 at the top): shifted the same
        return (f"@@ -{old + by}{match.group(2) or ''} +{new + by}{match.group(4) or ''} @@")
    return _HUNK.sub(moved, header, count=1)
