"""Text diffs of referenced files (SPEC §3.1 ``text_diff``): correct, and bounded."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from govctl.model.textdiff import (
    MAX_DIFF_LINES,
    first_changed_line,
    text_diff,
)

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply(old: list[str], diff: list[str]) -> list[str]:
    """Apply unified-diff hunks to ``old``, checking every context and removed line."""
    out, i = [], 0
    for k, line in enumerate(diff):
        match = _HUNK.match(line)
        if not match:
            continue
        start, count = int(match.group(1)), int(match.group(2) or 1)
        begin = start - 1 if count else start
        out += old[i:begin]
        i = begin
        for body in diff[k + 1:]:
            if body.startswith("@@"):
                break
            if body[:1] in (" ", "-"):
                assert old[i] == body[1:], (old[i], body)
                i += 1
                if body[0] == " ":
                    out.append(body[1:])
            elif body[:1] == "+":
                out.append(body[1:])
    return out + old[i:]


lines = st.lists(st.sampled_from(["a", "b", "c", "x", "y", "`", "```", ""]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(lines, lines)
def test_the_diff_turns_the_old_text_into_the_new(old: list[str], new: list[str]) -> None:
    a = "".join(f"{line}\n" for line in old).encode()
    b = "".join(f"{line}\n" for line in new).encode()
    diff = text_diff(a, b, "p.md", "p.md")
    if old == new:
        assert diff.note and not diff.lines
        return
    assert diff.lines[:2] == ("--- a/p.md", "+++ b/p.md")
    assert apply(old, list(diff.lines[2:])) == new
    first = diff.first_changed
    assert first == first_changed_line(a, b)
    assert 1 <= first <= max(1, len(new))
    # the first line that differs is the one named (or, lines only removed, the next)
    assert new[:first - 1] == old[:first - 1]


def test_line_ending_only_changes_say_so() -> None:
    diff = text_diff(b"a\nb\n", b"a\r\nb\r\n", "p.md", "p.md")
    assert diff.text() == "only line endings or the final newline differ"
    assert text_diff(b"a\nb", b"a\nb\n", "p", "p").note.startswith("only line endings")


def test_binary_and_unreadable_sides_are_named_not_diffed() -> None:
    assert text_diff(b"a\0b", b"a", "p", "p").text() == "binary file: not shown"
    assert text_diff(b"\xff\xfe", b"a", "p", "p").text() == "binary file: not shown"
    assert text_diff(None, None, "p", "p", unreadable="over the limit").text() == \
        "over the limit"


def test_a_long_diff_is_capped_and_counts_what_it_leaves_out() -> None:
    old = "".join(f"line {i}\n" for i in range(1000)).encode()
    new = "".join(f"line {i}{' changed' if i % 2 else ''}\n" for i in range(1000)).encode()
    diff = text_diff(old, new, "p.md", "p.md")
    assert len(diff.lines) == MAX_DIFF_LINES and diff.more > 1000
    assert diff.text("`git diff A B -- p.md`").endswith(
        f"… {diff.more:,} more lines; `git diff A B -- p.md`")


def test_a_huge_rewrite_is_refused_not_matched() -> None:
    """difflib's matching grows with old × new changed lines: past a budget it says so."""
    old = "".join(f"a{i}\n" for i in range(19_000)).encode()
    new = "".join(f"b{i}\n" for i in range(19_000)).encode()
    diff = text_diff(old, new, "p", "p")
    assert diff.note == "19,000 lines replaced by 19,000: too many to diff here"
    assert diff.first_changed == 1


def test_hunks_keep_the_files_own_line_numbers_after_a_long_common_start() -> None:
    old = "".join(f"{i}\n" for i in range(100)).encode()
    new = old.replace(b"\n50\n", b"\nfifty\n")
    diff = text_diff(old, new, "p", "p")
    assert diff.lines[2] == "@@ -48,7 +48,7 @@"
    assert diff.first_changed == 51
