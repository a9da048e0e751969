"""Rich lines made safe for a terminal or a CI log (SPEC §3, output safety).

A reporter builds one ``Text`` per line; whatever a value brought into it (an ESC from a
file name, a newline from a signal name, a bidi override from a title) is written as an
escape here, with the line's styles moved along, so colour stays on the words it was put
on. The unsafe set and the escapes are ``govctl.model.escape``'s.
"""

from __future__ import annotations

from itertools import pairwise

from rich.text import Span, Text

from govctl.model.escape import is_printable, printable


def safe_line(line: Text) -> Text:
    """``line`` with every unsafe character (a newline included: a line is one line)
    escaped; the same object when there is none."""
    plain = line.plain
    if is_printable(plain):
        return line
    cuts = sorted({0, len(plain), *(min(s.start, len(plain)) for s in line.spans),
                   *(min(s.end, len(plain)) for s in line.spans)})
    moved = {0: 0}
    pieces = []
    for start, end in pairwise(cuts):
        pieces.append(printable(plain[start:end]))
        moved[end] = moved[start] + len(pieces[-1])
    safe = line.copy()
    safe.plain = "".join(pieces)
    safe.spans = [Span(moved[min(s.start, len(plain))], moved[min(s.end, len(plain))], s.style)
                  for s in line.spans]
    return safe


def safe_cell(*lines: Text | str) -> Text:
    """A table cell of several lines, each made safe on its own: the cell's line breaks are
    the reporter's, never a value's. Strings are plain text (never rich markup)."""
    return Text("\n").join(safe_line(Text(line) if isinstance(line, str) else line)
                           for line in lines)
