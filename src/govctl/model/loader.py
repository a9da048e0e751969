"""Safe YAML 1.2 (core schema) loading with limits (SPEC §1.1).

PyYAML's loaders implement YAML 1.1 (``no`` is false, dates become ``date``,
duplicate keys silently win, aliases expand without bound). We use only libyaml's
*parser* (C, when available) and build values ourselves from its event stream in one
iterative loop, which gives us in a single pass:

* core-schema scalar resolution (only ``true``/``false`` are booleans, dates stay strings);
* duplicate keys (GOV002), unknown tags (GOV003, never constructed), nesting deeper than
  ``MAX_DEPTH`` (counted through aliases too) and alias expansion beyond ``ALIAS_BUDGET``
  nodes (GOV003);
* non-string keys, merge keys, integers beyond ±(2**53-1) and non-finite floats (GOV010);
* no recursion, so 20,000-deep input cannot exhaust the interpreter's stack, and no
  data deeper than ``MAX_DEPTH`` reaches code that recurses (jsonschema, JSON, JCS).
* at most ``FINDINGS_PER_RULE`` problems per rule and file are kept (SPEC §3); the rest
  are only counted, and one more problem, where the first of them was, says how many.

One problem is reported once: a key already rejected for its tag is not rejected again
for not being a string. A record cut short by a syntax error or a limit keeps what was
read of it (when its envelope was complete), marked broken, so it still exists for
references.

Building from events is also about 2-3× faster than ``yaml.load(CSafeLoader)``.
Node positions are only recorded on request (``with_positions=True``): a finding that
needs a line re-reads its file, so files without findings never pay for positions.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from govctl.model.findings import FINDINGS_PER_RULE, left_out_message

try:  # libyaml's C parser; PyYAML's pure-Python parser has the same event interface
    from yaml.cyaml import CParser as _Parser

    # libyaml's reader reports a forbidden character at its offset in the UTF-8 bytes it
    # was given (marks count characters); PyYAML's own reader counts characters
    _READER_OFFSET_IN_BYTES = True
except ImportError:  # pragma: no cover - exercised only where libyaml is missing
    _READER_OFFSET_IN_BYTES = False
    from yaml.parser import Parser as _ParserBase
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _ParserBase):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _ParserBase.__init__(self)

        def dispose(self) -> None:
            pass


MAX_FILE_SIZE = 5 * 1024 * 1024
MAX_DEPTH = 100
ALIAS_BUDGET = 10_000  # nodes that aliases may add to one document by expansion
# Characters of scalar text that aliases may add to one file by expansion. Counting nodes
# alone lets 10,000 aliases of one 4 MB string through: the data then stands for 40 GB of
# text, which every consumer that writes it out (the JCS of a bundle digest, a finding's
# message, a JSON report) would build in memory. Per file, so that many small documents
# cannot multiply it either.
ALIAS_TEXT_BUDGET = 1_000_000
MAX_SAFE_INTEGER = 2**53 - 1

_STD = "tag:yaml.org,2002:"
_BOM = "\ufeff"
_YAML11_BREAKS = re.compile("[\x85\u2028\u2029]")
_LINE_BREAKS = re.compile("\r\n|\r|\n")

Path = tuple[str | int, ...]
# key line, key column, value line, value column (1-based; key = value for list items/roots)
Position = tuple[int, int, int, int]


@dataclass(frozen=True)
class Problem:
    """A loader-level finding, before it is tied to a file and record."""

    rule: str
    line: int
    column: int
    message: str
    document: int | None  # 0-based document index, None for the whole file
    left_out: int = 0  # > 0: stands for that many problems of its rule left out (see cap)


@dataclass(frozen=True)
class Document:
    index: int  # 0-based position in the file
    line: int  # 1-based position of the document's root node
    column: int
    data: Any
    broken: bool  # a loader problem was found inside this document (or it was cut short)


@dataclass(frozen=True)
class LoadResult:
    documents: tuple[Document, ...]
    problems: tuple[Problem, ...]
    # per document: path → position; only filled when loaded with positions
    positions: tuple[dict[Path, Position], ...] = ()


def display_tag(tag: str) -> str:
    return "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag


# -- YAML 1.2 core schema -----------------------------------------------------------------

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_DEC = re.compile(r"[-+]?[0-9]+\Z")
_INT_OCT = re.compile(r"0o[0-7]+\Z")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)\Z")
_NUMERIC_START = frozenset("0123456789+-.")
_DIGITS = frozenset("0123456789")
_WORD_START = frozenset("tTfFnN~")

_NOT = object()  # "did not resolve as this type"
_RESOLVED_START = _NUMERIC_START | _WORD_START  # plain scalars that may not be strings


# More significant digits than any integer within ±(2**53-1) has. Longer literals are not
# converted: Python refuses int() of strings over 4,300 digits (ValueError), and the value
# is an error anyway, so a representative out-of-range value stands in for it.
_MAX_SAFE_DIGITS = len(str(MAX_SAFE_INTEGER))


def _as_int(text: str) -> Any:
    if _INT_DEC.match(text):
        digits = text.lstrip("+-").lstrip("0")
        value = MAX_SAFE_INTEGER + 1 if len(digits) > _MAX_SAFE_DIGITS else int(digits or "0")
        return -value if text[0] == "-" else value
    if _INT_OCT.match(text):
        return int(text[2:], 8)
    if _INT_HEX.match(text):
        return int(text[2:], 16)
    return _NOT


def _as_float(text: str) -> Any:
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.match(text):
        return math.nan
    return _NOT


def resolve_plain(text: str) -> Any:
    """Value of an untagged plain scalar under the YAML 1.2 core schema."""
    if not text:
        return None
    first = text[0]
    if first in _DIGITS and len(text) < _MAX_SAFE_DIGITS and text.isascii() and text.isdigit():
        return int(text)  # the common case: fewer digits than any unsafe integer has
    if first in _NUMERIC_START:
        value = _as_int(text)
        if value is _NOT:
            value = _as_float(text)
        return text if value is _NOT else value
    if first in _WORD_START:
        if text in _NULLS:
            return None
        return _BOOLS.get(text, text)
    return text


def _construct_tagged(tag: str, text: str) -> Any:
    """Explicit standard tag on a scalar; ``_NOT`` when the text does not fit the tag."""
    name = tag[len(_STD):]
    if name == "str":
        return text
    if name == "int":
        return _as_int(text)
    if name == "float":
        value = _as_float(text)  # decimal integers match the float pattern too
        if value is _NOT:
            value = _as_int(text)  # 0o / 0x integers
            if value is not _NOT:
                try:
                    value = float(value)
                except OverflowError:  # beyond a double: reported as non-finite
                    value = math.inf
        return value
    if name == "bool":
        return _BOOLS.get(text, _NOT)
    if name == "null":
        return None if text in _NULLS else _NOT
    return _NOT


_SCALAR_TAGS = frozenset(_STD + t for t in ("str", "int", "float", "bool", "null"))
_MAP_TAGS = frozenset((None, "!", _STD + "map"))
_SEQ_TAGS = frozenset((None, "!", _STD + "seq"))


# -- decoding ---------------------------------------------------------------------------


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, like every other position) of a byte offset
    whose preceding bytes are valid UTF-8. Lines end at LF, CRLF or a lone CR (YAML 1.2),
    as for every other position."""
    head = raw[:offset]
    line_start = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1
    before = head[line_start:].decode("utf-8", errors="replace")
    if line_start == 0:
        before = before.removeprefix(_BOM)  # positions are counted after the BOM
    column = len(before) + 1
    breaks = head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n")
    return breaks + 1, column


def may_hold(raw: bytes, words: Collection[str | tuple[str, ...]]) -> bool:
    """False only when no YAML reading of ``raw`` can yield one of ``words`` (a kind name,
    an id; a tuple: all of its words, such as a kind and an id) as strings. The loader
    takes UTF-8 alone, where letters, digits and ``._/:@+-`` are written literally, except
    through a double-quoted escape (a backslash); any other character can be produced
    otherwise (a space or line break by folding, ``'`` by ``''``), so a word holding one
    may always be there. Readers that need a few records skip parsing the other files by
    this, without changing what they read. (``words``: hashable, a frozenset or a tuple;
    its spelling in bytes is computed once.)
    """
    spelled = spellings(words)
    return spelled is None or b"\\" in raw or any(all(w in raw for w in alternative)
                                                    for alternative in spelled)


_LITERAL_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:@+-"
_LITERAL = frozenset(_LITERAL_CHARACTERS)
# a longest run of those characters: a word made of them lies inside one where it is written
LITERAL_RUN = re.compile(b"[" + re.escape(_LITERAL_CHARACTERS.encode()) + b"]+")


def is_literal(word: str) -> bool:
    """Whether YAML can write ``word`` only as itself, outside a double-quoted escape."""
    return set(word) <= _LITERAL


@functools.lru_cache(maxsize=32)
def spellings(words: Collection[str | tuple[str, ...]]
             ) -> tuple[tuple[bytes, ...], ...] | None:
    """Each word's bytes; None when one holds a character YAML can write otherwise."""
    alternatives = [(word,) if isinstance(word, str) else word for word in words]
    if not all(is_literal(w) for alternative in alternatives for w in alternative):
        return None
    return tuple(tuple(w.encode("utf-8") for w in alternative) for alternative in alternatives)


def decode(raw: bytes, max_size: int = MAX_FILE_SIZE) -> str | Problem:
    """UTF-8 text without BOM, or a GOV004 problem (too large, not UTF-8)."""
    if len(raw) > max_size:
        return Problem(
            "GOV004", 1, 1,
            f"file is {len(raw):,} bytes, over the {max_size:,}-byte limit for record files; "
            "split it or move data into a referenced file",
            None,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        return Problem(
            "GOV004", line, col,
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            None,
        )
    if text.startswith(_BOM):
        text = text[1:]
    return text


# -- the builder --------------------------------------------------------------------------


class _Frame:
    __slots__ = ("anchor", "chars", "column", "height", "is_key", "key", "key_col",
                 "key_line", "key_lines", "line", "obj", "path", "size")

    def __init__(self, obj: Any, line: int, column: int, anchor: str | None, is_key: bool,
                 path: Path) -> None:
        self.obj = obj
        self.line = line
        self.column = column
        self.anchor = anchor
        self.is_key = is_key
        self.path = path
        self.size = 1
        self.chars = 0  # characters of scalar text below (keys included)
        # levels of collections from this one down (1 for a collection of scalars): an
        # alias inserts its anchor's whole height, so depth is checked on aliases too
        self.height = 1
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.key_col = 0
        self.key_lines: dict[str, int] | None = {} if type(obj) is dict else None


_ENVELOPE_KEYS = frozenset(("apiVersion", "kind", "metadata"))
_NO_KEY = object()  # a mapping frame waiting for a key
_DISCARD = object()  # the next value belongs to a rejected key and is dropped
_COLLECTION_KEY = object()  # a mapping or sequence used as a key (always rejected)


class _Abort(Exception):
    """Stop reading the file: a limit was exceeded."""


class _Found(Exception):
    """Stop reading the file: every position asked for (``targets``) is known."""


class _Builder:
    def __init__(self, text: str, with_positions: bool,
                 wanted: frozenset[Path] | set[Path] | None = None) -> None:
        self.text = text
        self.with_positions = with_positions
        self.wanted = wanted  # record only these paths' positions (None: every node's)
        self.remaining: set[tuple[int, Path]] | None = None  # see load_text(targets=)
        self.documents: list[Document] = []
        self.problems: list[Problem] = []
        self.positions: list[dict[Path, Position]] = []
        self.doc_index = -1
        # character index where libyaml gave up on its own nesting limit (see run())
        self.libyaml_depth_index: int | None = None
        self.expanded_chars = 0  # for ALIAS_TEXT_BUDGET: per file, never reset
        # SPEC §3: at most FINDINGS_PER_RULE problems of a rule per file are kept; past that
        # they are only counted (a 5 MiB file of one repeated key would otherwise build
        # 870,000 problems), and finish() adds one that stands for them
        self.per_rule: dict[str, int] = {}
        self.left_out: dict[str, Problem] = {}  # rule → the first problem left out
        # libyaml (YAML 1.1) also ends lines at NEL, LS and PS; editors, git, GitHub and
        # YAML 1.2 do not. When the text has one, every position is recomputed from the
        # character index against the offsets of the YAML 1.2 line breaks (LF, CRLF, CR).
        self.recount = bool(_YAML11_BREAKS.search(text))
        # libyaml also pretends a text that does not end with a line break has one at the
        # end, so a mark at the end of such a text (an unclosed "{") would name a line
        # after the last one: positions at or past ``eof_index`` are recomputed as well.
        ends_in_break = not text or text[-1] in "\r\n"
        self.eof_index = float("inf") if ends_in_break or self.recount else len(text)
        self.line_breaks: list[int] | None = None  # computed on first use
        self._reset_document()

    def _reset_document(self) -> None:
        self.stack: list[_Frame] = []
        # anchor → (value, nodes it stands for, collection height, characters of its text)
        self.anchors: dict[str, tuple[Any, int, int, int]] = {}
        self.pending_anchors: set[str] = set()
        self.expanded = 0
        self.broken = False
        self.root: Any = None
        self.root_pos = (1, 1)
        self.doc_positions: dict[Path, Position] = {}

    def position_of(self, index: int) -> tuple[int, int]:
        """1-based line and column of a character index, counting YAML 1.2 line breaks."""
        breaks = self.line_breaks
        if breaks is None:
            # the offset of each break's last character (the LF of a CRLF)
            breaks = self.line_breaks = [m.end() - 1 for m in _LINE_BREAKS.finditer(self.text)]
        index = min(index, len(self.text))
        before = bisect.bisect_left(breaks, index)
        line_start = breaks[before - 1] + 1 if before else 0
        return before + 1, index - line_start + 1

    def mark_position(self, mark: Any) -> tuple[int, int]:
        """1-based line and column of a libyaml mark (see ``recount`` and ``eof_index``)."""
        if self.recount or mark.index >= self.eof_index:
            return self.position_of(mark.index)
        return mark.line + 1, mark.column + 1

    # problems ---------------------------------------------------------------------------
    def problem(self, rule: str, line: int, column: int, message: str) -> None:
        self.broken = True
        seen = self.per_rule.get(rule, 0) + 1
        self.per_rule[rule] = seen
        if seen <= FINDINGS_PER_RULE:
            self.problems.append(Problem(rule, line, column, message, max(self.doc_index, 0)))
        elif seen == FINDINGS_PER_RULE + 1:
            self.left_out[rule] = Problem(rule, line, column, "", max(self.doc_index, 0))

    def capped(self, rule: str) -> bool:
        """Problems of ``rule`` are only counted from now on (their message is not used)."""
        return self.per_rule.get(rule, 0) >= FINDINGS_PER_RULE

    def finish(self) -> None:
        """One problem per rule standing for the problems left out, where the first was."""
        for rule, first in self.left_out.items():
            count = self.per_rule[rule] - FINDINGS_PER_RULE
            self.problems.append(Problem(rule, first.line, first.column,
                                         left_out_message(rule, count), first.document,
                                         count))
        self.left_out = {}

    def too_deep(self, line: int, column: int, through: str = "") -> NoReturn:
        self.problem("GOV003", line, column,
                     f"nesting deeper than {MAX_DEPTH} levels{through}; flatten the structure")
        raise _Abort

    # attaching values to their parent -----------------------------------------------------
    def attach(self, value: Any, size: int, line: int, col: int, text: str | None = None,
               plain: bool = False, reported: bool = False, chars: int = 0) -> None:
        """Put a finished node into its parent.

        ``text`` is a scalar's source text (for messages about keys), ``plain`` whether it
        was an untagged plain scalar (only a plain ``<<`` is a merge key), ``reported``
        whether a problem was already raised for this node (a key is then dropped
        without a second, cascading problem), ``chars`` the characters of scalar text the
        node holds (for ``ALIAS_TEXT_BUDGET``).
        """
        stack = self.stack
        if not stack:
            self.root = value
            self.root_pos = (line, col)
            if self.with_positions:
                self.doc_positions[()] = (line, col, line, col)
                if self.remaining:
                    self._found(())
            return
        parent = stack[-1]
        parent.chars += chars
        obj = parent.obj
        if type(obj) is list:
            if self.with_positions:
                at = (*parent.path, len(obj))
                if self.wanted is None or at in self.wanted:
                    self.doc_positions[at] = (line, col, line, col)
                    if self.remaining:
                        self._found(at)
            obj.append(value)
            parent.size += size
            return
        key = parent.key
        if key is _NO_KEY:
            self._take_key(parent, value, line, col, text, plain, reported)
            return
        parent.key = _NO_KEY
        if key is _DISCARD:
            return
        if self.with_positions:
            at = (*parent.path, key)
            if self.wanted is None or at in self.wanted:
                self.doc_positions[at] = (parent.key_line, parent.key_col, line, col)
                if self.remaining:
                    self._found(at)
        obj[key] = value
        parent.size += size

    def _found(self, at: Path) -> None:
        remaining = self.remaining
        assert remaining is not None
        remaining.discard((max(self.doc_index, 0), at))
        if not remaining:
            raise _Found

    def _take_key(self, parent: _Frame, key: Any, line: int, col: int, text: str | None,
                  plain: bool, reported: bool) -> None:
        parent.key_line, parent.key_col = line, col
        if type(key) is not str:
            parent.key = _DISCARD
            if reported:
                return
            if key is _COLLECTION_KEY or isinstance(key, (dict, list)):
                message = "mapping key is a collection; keys must be strings"
            elif text == "":
                message = "mapping key is empty (null); keys must be strings"
            elif text is not None:
                message = f"mapping key {_clip(text)!r} is not a string; quote it"
            else:
                message = "mapping key is not a string (an alias to a non-string); keys " \
                          "must be strings"
            self.problem("GOV010", line, col, message)
            return
        if plain and key == "<<":
            self.problem("GOV010", line, col,
                         "merge keys (<<) are not supported; write the keys out")
            parent.key = _DISCARD
            return
        key_lines = parent.key_lines
        assert key_lines is not None
        first = key_lines.get(key)
        if first is not None:
            # (past the cap only counted: no message built for each of 870,000 repeats)
            self.problem("GOV002", line, col, "" if self.capped("GOV002") else
                         f"duplicate key {_clip(key)!r} (first defined at line {first})")
            parent.key = _DISCARD
            return
        key = _shared_key(key)
        key_lines[key] = line
        parent.key = key

    def child_path(self) -> Path:
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if type(parent.obj) is list:
            return (*parent.path, len(parent.obj))
        key = parent.key
        if key is _NO_KEY or key is _DISCARD:
            return (*parent.path, "?")
        return (*parent.path, key)

    # scalars ------------------------------------------------------------------------------
    def scalar(self, ev: ScalarEvent) -> None:
        mark = ev.start_mark
        if self.recount or mark.index >= self.eof_index:  # (mark_position, inlined)
            line, col = self.position_of(mark.index)
        else:
            line, col = mark.line + 1, mark.column + 1
        tag = ev.tag
        text = ev.value
        plain = False
        reported = False
        if tag is None:
            if ev.implicit[0]:
                value = resolve_plain(text)
                plain = True
            else:
                value = text
        elif tag == "!":
            value = text
        elif tag in _SCALAR_TAGS:
            value = _construct_tagged(tag, text)
            if value is _NOT:
                self.problem("GOV010", line, col,
                             f"{_clip(text)!r} cannot be read as {display_tag(tag)}")
                value = None
                reported = True
        else:
            # never constructed: the text is dropped, whatever the tag names
            self.problem("GOV003", line, col, _tag_message(tag))
            value = None
            reported = True
        vt = type(value)
        if vt is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                self.problem("GOV010", line, col,
                             f"integer {_clip(text)} is outside ±(2^53-1); quote it if it is "
                             "an identifier")
                reported = True
        elif vt is float and not math.isfinite(value):
            if _INF.match(text) or _NAN.match(text):
                message = f"non-finite number {text!r} is not allowed; use a finite number"
            else:
                message = (f"number {_clip(text)!r} is too large for a 64-bit float (it would "
                           "read as infinity); use a smaller number or quote it")
            self.problem("GOV010", line, col, message)
            reported = True
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (value, 1, 0, len(text))
        self.attach(value, 1, line, col, text, plain, reported, len(text))

    # collections ----------------------------------------------------------------------------
    def start(self, ev: MappingStartEvent | SequenceStartEvent, is_map: bool) -> None:
        mark = ev.start_mark
        line, col = self.mark_position(mark)
        if len(self.stack) >= MAX_DEPTH:
            self.too_deep(line, col)
        tag = ev.tag
        if tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
            if tag in _SCALAR_TAGS or tag in _MAP_TAGS or tag in _SEQ_TAGS:
                shown = "a mapping" if is_map else "a sequence"
                self.problem("GOV003", line, col,
                             f"tag {display_tag(tag or '')} cannot be used on {shown}; "
                             "remove the tag")
            else:
                self.problem("GOV003", line, col, _tag_message(tag))
        is_key = bool(self.stack) and type(self.stack[-1].obj) is dict \
            and self.stack[-1].key is _NO_KEY
        path = self.child_path() if self.with_positions else ()
        if ev.anchor is not None:
            self.pending_anchors.add(ev.anchor)
        self.stack.append(_Frame({} if is_map else [], line, col, ev.anchor, is_key, path))

    def end(self) -> None:
        frame = self.stack.pop()
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.obj, frame.size, frame.height, frame.chars)
            self.pending_anchors.discard(frame.anchor)
        if self.stack:
            parent = self.stack[-1]
            if frame.height >= parent.height:
                parent.height = frame.height + 1
        value: Any = _COLLECTION_KEY if frame.is_key else frame.obj
        self.attach(value, frame.size, frame.line, frame.column, chars=frame.chars)

    def alias(self, ev: AliasEvent) -> None:
        mark = ev.start_mark
        line, col = self.mark_position(mark)
        anchor = ev.anchor
        found = self.anchors.get(anchor)
        if found is None:
            if anchor in self.pending_anchors:
                self.problem("GOV003", line, col,
                             f"alias *{anchor} refers to the collection that contains it")
            else:
                self.problem("GOV001", line, col, f"alias *{anchor} has no anchor &{anchor}")
            self.attach(None, 1, line, col, reported=True)
            return
        value, size, height, chars = found
        self.expanded += size
        if self.expanded > ALIAS_BUDGET:
            self.problem("GOV003", line, col,
                         f"aliases expand this document beyond {ALIAS_BUDGET:,} nodes "
                         "(possible alias bomb); write the values out")
            raise _Abort
        self.expanded_chars += chars
        if self.expanded_chars > ALIAS_TEXT_BUDGET:
            self.problem("GOV003", line, col,
                         f"aliases expand this file by more than {ALIAS_TEXT_BUDGET:,} "
                         "characters of text (possible alias bomb); write the values out")
            raise _Abort
        if height:
            # the aliased collection lands below the open ones: a chain of aliases could
            # otherwise build data thousands of levels deep from a shallow-looking file
            if len(self.stack) + height > MAX_DEPTH:
                self.too_deep(line, col, f" (through alias *{anchor})")
            if self.stack:
                parent = self.stack[-1]
                if height >= parent.height:
                    parent.height = height + 1
        self.attach(value, size, line, col, chars=chars)

    # documents ----------------------------------------------------------------------------
    def document_start(self) -> None:
        self.doc_index += 1
        self._reset_document()

    def document_end(self) -> None:
        line, col = self.root_pos
        self.documents.append(Document(self.doc_index, line, col, self.root, self.broken))
        if self.with_positions:
            self.positions.append(self.doc_positions)

    def run(self) -> None:
        parser = None
        try:
            parser = _Parser(self.text)  # the pure-Python reader checks characters here
            self._loop(parser)
        except _Found:  # (positions only: what was asked for is known)
            if len(self.positions) <= self.doc_index:
                self.positions.append(self.doc_positions)
        except _Abort:
            self._salvage()
        except yaml.YAMLError as exc:
            line, col, message = _syntax_error(exc, self.text)
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            if isinstance(getattr(mark, "index", None), int):
                line, col = self.mark_position(mark)
            # libyaml stops at its own nesting limit (1,000) before we see the events: its
            # scanner reads ahead up to ~1,024 characters in flow context. For SPEC §1.1 that
            # is deep nesting (GOV003), not a syntax error; load_text() then re-reads the
            # text up to that point to find the node at level MAX_DEPTH + 1.
            rule = "GOV001"
            if "maximum nesting depth" in message:
                rule = "GOV003"
                message = f"nesting deeper than {MAX_DEPTH} levels; flatten the structure"
                mark = getattr(exc, "problem_mark", None)
                index = getattr(mark, "index", None)
                if isinstance(index, int) and 0 < index <= len(self.text):
                    self.libyaml_depth_index = index
            self.problems.append(Problem(rule, line, col, message, max(self.doc_index, 0)))
            self._salvage()
        finally:
            if parser is not None:
                parser.dispose()
            self.finish()

    def _salvage(self) -> None:
        """Keep what was read of a record that stopped half-way, marked broken.

        Its envelope usually comes first, so the record still exists for references: a
        syntax error late in one file is then reported once, not also as GOV020 in every
        file that names the record. A fragment without a complete envelope identifies
        nothing and would only add "missing kind" noise, so it is dropped.
        """
        if not self.stack or self.doc_index < 0:
            return
        root = self.stack[0]
        if type(root.obj) is not dict or not _ENVELOPE_KEYS.issubset(root.obj):
            return
        self.broken = True
        self.documents.append(Document(self.doc_index, root.line, root.column, root.obj, True))
        if self.with_positions:
            self.doc_positions[()] = (root.line, root.column, root.line, root.column)
            self.positions.append(self.doc_positions)

    def _loop(self, parser: Any) -> None:
        get_event = parser.get_event
        scalar, start, end, alias = self.scalar, self.start, self.end, self.alias
        # The fast path below handles, without calls, the most frequent scalars when no
        # position is recorded or recounted: untagged, without anchor, and a quoted string,
        # a plain string or a small decimal integer (nothing that can raise a problem),
        # as the item of a sequence, a new string key, the value of a key, or the value
        # of a rejected key (a duplicate), dropped. It does exactly what scalar() and
        # attach() would; anything else goes through them.
        fast = not self.with_positions and not self.recount
        eof = self.eof_index
        while True:
            ev = get_event()
            if ev is None:
                return
            cls = ev.__class__
            if cls is ScalarEvent:
                if fast and ev.tag is None and ev.anchor is None and self.stack:
                    text = ev.value
                    plain = ev.implicit[0]
                    value: Any = _NOT
                    if not plain:
                        value = text
                    elif text:
                        if text[0] not in _RESOLVED_START:
                            value = text
                        elif (text[0] in _DIGITS and len(text) < _MAX_SAFE_DIGITS
                              and text.isascii() and text.isdigit()):
                            value = int(text)
                    if value is not _NOT:
                        parent = self.stack[-1]
                        key = parent.key
                        if key is _NO_KEY:
                            key_lines = parent.key_lines
                            if key_lines is None:  # an item of a sequence
                                parent.chars += len(text)
                                parent.obj.append(value)
                                parent.size += 1
                                continue
                            mark = ev.start_mark
                            if type(value) is str and value and mark.index < eof and not (
                                    plain and value == "<<"):
                                line = mark.line + 1
                                parent.chars += len(text)
                                first = key_lines.get(value)
                                if first is None:
                                    value = _shared_key(value)
                                    key_lines[value] = line
                                    parent.key = value
                                    parent.key_line, parent.key_col = line, mark.column + 1
                                else:
                                    self._take_key(parent, value, line, mark.column + 1,
                                                   text, False, False)
                                continue
                        else:  # the value of a key
                            parent.chars += len(text)
                            parent.key = _NO_KEY
                            if key is not _DISCARD:
                                parent.obj[key] = value
                                parent.size += 1
                            continue
                scalar(ev)
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                end()
            elif cls is MappingStartEvent:
                start(ev, True)
            elif cls is SequenceStartEvent:
                start(ev, False)
            elif cls is AliasEvent:
                alias(ev)
            elif cls is DocumentStartEvent:
                self.document_start()
            elif cls is DocumentEndEvent:
                self.document_end()


def _shared_key(key: str) -> str:
    """One string object for every mapping key spelled alike (``spec``, ``metadata``, ``id``:
    10,000 records repeat a few dozen keys, which took a quarter of their memory)."""
    return sys.intern(key) if len(key) <= 64 else key


def _clip(text: str, limit: int = 40) -> str:
    """Source text short enough to quote in a message."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _tag_message(tag: str | None) -> str:
    shown = display_tag(tag or "")
    return (f"unsupported tag {shown}: only the standard tags !!str !!int !!float !!bool "
            "!!null !!map !!seq are read; remove the tag")


def _syntax_error(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {problem}"
        if context:
            message += f" ({context})"
        return mark.line + 1, mark.column + 1, message
    position = getattr(exc, "position", None)  # ReaderError: a character YAML forbids
    if isinstance(position, int):
        if _READER_OFFSET_IN_BYTES:
            # a byte offset: every multi-byte character before it (an accented name, an
            # emoji) would otherwise push the position lines or columns too far
            position = len(text.encode("utf-8", "surrogatepass")[:position]
                           .decode("utf-8", "ignore"))
        before = text[:position]
        breaks = [m.end() for m in _LINE_BREAKS.finditer(before)]
        line = len(breaks) + 1
        col = position - (breaks[-1] if breaks else 0) + 1
        char = getattr(exc, "character", "")
        code = ord(char) if isinstance(char, str) and len(char) == 1 else char
        shown = f"#x{code:04x}" if isinstance(code, int) else str(code)
        return line, col, f"YAML syntax error: special character {shown} is not allowed"
    return 1, 1, f"YAML syntax error: {exc}"


# -- public API ---------------------------------------------------------------------------


def load_text(text: str, with_positions: bool = False,
              wanted: frozenset[Path] | set[Path] | None = None,
              targets: set[tuple[int, Path]] | None = None) -> LoadResult:
    """``wanted``: with positions, record only those of these paths (a file of a million
    nodes would otherwise hold a position for each; the root's is always kept). Give every
    ancestor of a path too: :func:`locate` falls back to them. ``targets``: (document,
    path) pairs; reading stops once each has its position (the positions are then all the
    result is good for: documents and problems are those read so far)."""
    builder = _Builder(text, with_positions, wanted)
    if targets and with_positions:
        builder.remaining = set(targets)
    builder.run()
    if builder.libyaml_depth_index is not None:
        # The prefix ends inside the over-deep collection, within libyaml's own limit, so
        # the builder meets level MAX_DEPTH + 1 and reports that node. Anything else (a
        # syntax error at the cut first) keeps libyaml's position.
        retry = _Builder(text[:builder.libyaml_depth_index], with_positions, wanted)
        retry.run()
        last = retry.problems[-1] if retry.problems else None
        if (last is not None and last.rule == "GOV003" and last.message.startswith("nesting")
                and retry.libyaml_depth_index is None):
            builder = retry
    return LoadResult(tuple(builder.documents), tuple(builder.problems),
                      tuple(builder.positions))


def load_bytes(raw: bytes, max_size: int = MAX_FILE_SIZE,
               with_positions: bool = False,
               wanted: frozenset[Path] | set[Path] | None = None,
               targets: set[tuple[int, Path]] | None = None) -> LoadResult:
    decoded = decode(raw, max_size)
    if isinstance(decoded, Problem):
        return LoadResult((), (decoded,))
    return load_text(decoded, with_positions, wanted, targets)


def locate(positions: dict[Path, Position], path: Path, at_key: bool = False) -> tuple[int, int]:
    """Position of the node at ``path``, or of its nearest recorded ancestor."""
    probe = tuple(path)
    while True:
        pos = positions.get(probe)
        if pos is not None:
            return (pos[0], pos[1]) if at_key else (pos[2], pos[3])
        if not probe:
            return (1, 1)
        probe = probe[:-1]
        at_key = True  # a missing node is reported where its parent is named


def loads_cleanly(raw: bytes) -> bool:
    """The file version loads without a YAML error, a bad encoding or being too large
    (GOV001, GOV003, GOV004): a record missing from it was removed, not lost to a broken
    file (a record's id in a comment, or a backslash anywhere, is not a broken file)."""
    return not any(p.rule in ("GOV001", "GOV003", "GOV004") for p in load_bytes(raw).problems)
