"""Output safety: text from records, file names, git and monitoring made safe to show.

Everything govctl prints may come from an untrusted pull request, and lands in terminals,
CI logs and PR comments (SPEC §3, conventions). One module decides what is unsafe and how
it is shown, so every writer agrees:

* ``printable`` — one line of text (a finding, an error, a table cell): every control
  character (C0 including newline and tab, DEL, C1), every invisible format character
  (Unicode Cf: bidi overrides and isolates, zero-width characters, the BOM, tag
  characters), the line and paragraph separators, lone surrogates and the non-characters
  U+FFFE/U+FFFF are written as escapes (``\\x1b``, ``\\n``, ``\\u202e``). So nothing an
  input holds can drive a terminal, split a line (a ``::error::`` workflow command needs
  one at column 0), reorder what a reviewer reads, or fail to encode.
* ``terminal_safe`` — a multi-line payload whose own newlines and tabs stay.
* ``markdown_text`` / ``code_span`` — a value interpolated into Markdown: data, never
  markup.
* ``json_safe`` — JSON text whose strings carry no raw C1, DEL or Cf character.
"""

from __future__ import annotations

import re

# Unicode category Cf (format characters), as ranges: a superset of what Unicode 13–15
# assign (tests/test_output_safety.py checks it against the running Python's unicodedata).
# Built from literals, not by scanning unicodedata: that would cost ~0.1 s at every start.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
# the line and paragraph separators, which some viewers break lines at
_SEPARATORS = "\u2028\u2029"
_SURROGATES_AND_NONCHARACTERS = "\ud800-\udfff\ufffe\uffff"

_UNPRINTABLE = re.compile(
    f"[\x00-\x1f\x7f-\x9f{_FORMAT}{_SEPARATORS}{_SURROGATES_AND_NONCHARACTERS}]")
# the same, with newline and tab allowed: a payload's own line structure
_UNSAFE_IN_BLOCK = re.compile(
    f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}{_SEPARATORS}{_SURROGATES_AND_NONCHARACTERS}]")
# what JSON leaves raw inside strings and a terminal or a viewer would still act on
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_FORMAT}{_SEPARATORS}]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    return _NAMED.get(match.group()) or _escape_always(match)


def printable(text: str) -> str:
    """``text`` as one safe line: every unsafe character written as an escape."""
    return _UNPRINTABLE.sub(_escape, text)


def is_printable(text: str) -> bool:
    return _UNPRINTABLE.search(text) is None


def terminal_safe(text: str) -> str:
    """A multi-line payload (Markdown, YAML) for a terminal or a log: its newlines and tabs
    stay, every other unsafe character is escaped. Values inside must already be escaped
    for their format: this cannot tell a value's newline from the payload's own."""
    return _UNSAFE_IN_BLOCK.sub(_escape, text)


def has_control(text: str) -> bool:
    """Whether ``text`` holds anything ``terminal_safe`` would escape."""
    return _UNSAFE_IN_BLOCK.search(text) is not None


def json_safe(text: str) -> str:
    """Serialised JSON with DEL, C1, Cf and the separators as ``\\uXXXX`` escapes: the same
    JSON value, but nothing invisible or terminal-driving on the wire (``json.dumps`` with
    ``ensure_ascii=False`` escapes only C0). Such characters only occur inside strings."""
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character beyond the BMP as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def yaml_safe(text: str) -> str:
    """A serialised YAML double-quoted scalar with DEL, C1, Cf and the separators as YAML
    escapes (``\\x85``, ``\\u202e``, ``\\U000e0041``): YAML reads NEL and the separators as
    line breaks, so written raw they would not read back as the value."""
    return _UNSAFE_IN_JSON.sub(_escape_always, text)


def _escape_always(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


# == Markdown ===================================================================================

_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")  # every ASCII punctuation character


def markdown_text(value: object) -> str:
    """A value as Markdown text, safe anywhere, table cells included: every ASCII
    punctuation character backslash-escaped (so no emphasis, link, image, HTML tag, comment,
    heading, list or table break can start), newlines shown as ``\\n`` and
    every other unsafe character escaped — and those escapes' own backslashes escaped too,
    so they show as written. A number is shown as it is: digits, a sign, a point and an
    exponent cannot form markup."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _PUNCTUATION.sub(r"\\\g<0>", printable(str(value)))


def code_span(value: object) -> str:
    """A value as inline code, shown verbatim: the fence is one backtick longer than the
    longest run inside (so a value cannot close it early), unsafe characters escaped, and a
    pipe escaped (a GFM table cell ends at a pipe even inside code; escaped, it shows as a
    pipe there)."""
    text = printable(str(value)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(lines: list[str], info: str = "") -> list[str]:
    """Lines as a fenced code block, shown verbatim: each line made printable (no control,
    no raw line break inside a value), the fence longer than any backtick run in them (no
    line can close it early). ``info`` is template-authored (``diff``, ``sh``)."""
    shown = [printable(line) for line in lines]
    longest = max((len(run) for line in shown for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *shown, fence]
