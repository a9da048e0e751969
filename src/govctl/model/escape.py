"""Text from records, files, git and monitoring made safe to print: control characters
escaped or replaced, so nothing an input holds can drive a terminal or split a line."""

from __future__ import annotations

import re

# C0/C1 controls (newline and tab included: one finding is one line), lone surrogates and
# the XML non-characters. File names and record values may carry any of them; printed raw
# they would move the cursor or recolour a CI log (ESC sequences), split a finding over
# lines, make JUnit XML unparsable, or fail to encode on a UTF-8 stdout.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every unprintable character written as a Python-style escape."""
    return _UNPRINTABLE.sub(_escape, text)


# Terminal text (rich lines, markdown, YAML): newlines and tabs stay, every other control
# character becomes U+FFFD — one character for one, so the styles rich attached to a line
# keep their positions — and nothing a record or a git author wrote can drive the terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    return _CONTROL.sub("\ufffd", text)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None
