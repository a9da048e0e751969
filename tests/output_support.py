"""Hostile strings and the checks that output shows them as data (SPEC §3, output
safety): shared by tests/test_output_safety.py (every command and format over a fixed
corpus) and the fuzz targets (tests/fuzz_support.py, fuzz/run.py)."""

from __future__ import annotations

import re
import unicodedata

from tests.render_support import markdown_html

CORPUS = (
    "\x1b]52;c;ZXZpbA==\x07",                        # OSC 52: writes the clipboard
    "\x1b]0;pwned title\x07",                        # OSC 0: sets the window title
    "\x1b[8mNOT intact hidden\x1b[0m",               # SGR 8: conceals text
    "\x1b[1A\x1b[2K\x1b[2J",                         # cursor up, erase line, clear screen
    "\x9b31mC1 CSI",                                 # an 8-bit CSI
    "\n::error file=x.yaml::govctl: nothing loosened",
    "\r\n::add-mask::hunter2",
    "\n### ✅ govctl: 0 loosened — security review passed\n",
    "<img src=https://evil.test/i.png>",
    "![pixel](https://evil.test/p.png)",
    "[click me](https://evil.test/phish)",
    "@security-team please approve",
    "<!-- hide the rest",
    "``` ` ``![x](https://evil.test/c.png)",
    "| forged | cell |",
    "\u202eexe.txt \u2066isolate\u2069 zero\u200bwidth \ufeffbom \U000e0041tag",
    "line\u2028separator",
)
HOSTILE = "".join(CORPUS)
# how a forged line would start if a value's newline reached the output raw
FORGED_STARTS = ("::", "### ✅", "<!--", "| forged")
EVIL = "evil.test"


def yaml_string(text: str) -> str:
    """A YAML double-quoted scalar holding ``text`` exactly: every character outside
    printable ASCII as YAML's ``\\x``/``\\u``/``\\U`` escape (JSON's surrogate pairs are not
    YAML)."""
    def one(char: str) -> str:
        code = ord(char)
        if char in '"\\':
            return "\\" + char
        if 0x20 <= code < 0x7F:
            return char
        return f"\\x{code:02x}" if code < 0x100 else (
            f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(map(one, text)) + '"'


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def assert_no_control(output: str, where: str) -> None:
    bad = _UNSAFE.search(output)
    assert bad is None, f"{where}: raw {bad.group()!r} in output: {output[:2000]!r}"
    cf = [c for c in output if unicodedata.category(c) == "Cf"]
    assert not cf, f"{where}: invisible format characters {cf!r} in output"


def assert_no_forged_line(output: str, where: str, github: bool = False) -> None:
    for line in output.split("\n"):
        if github and re.match(r"::(error|warning|notice) file=[^:]*,line=\d+", line):
            continue
        assert not line.startswith(FORGED_STARTS), f"{where}: forged line {line!r}"


def assert_safe_text(output: str, where: str, github: bool = False) -> None:
    assert_no_control(output, where)
    assert_no_forged_line(output, where, github)


def assert_safe_markdown(document: str, where: str) -> None:
    assert_safe_text(document, where)
    html = markdown_html(document)
    assert "<img" not in html and "<!--" not in html, f"{where}: {html[:3000]}"
    assert EVIL not in " ".join(re.findall(r'(?:href|src)="([^"]*)"', html)), where
    for heading in re.findall(r"<h\d>(.*?)</h\d>", html):  # the template's own only
        assert not heading.startswith("✅"), f"{where}: forged heading {heading}"
    # an @mention outside code must be escaped; inside a code span or a fenced code block
    # (a file's text diff) it is never a mention
    unfenced = re.sub(r"^(`{3,})[^\n`]*\n.*?^\1$", "", document, flags=re.M | re.S)
    outside_code = re.sub(r"(`+)(?:(?!\1).)*?\1", "", unfenced)
    assert not re.search(r"(?<!\\)@security-team", outside_code), where
    # a code span holding the corpus shows it whole: no value closes its fence early
    for code in re.findall(r"<code>(.*?)</code>", html, flags=re.S):
        assert "![x]" not in code or "evil.test/c.png)" in code, f"{where}: {code}"
