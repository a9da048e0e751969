"""Safe YAML 1.2 (core schema) loading with limits (SPEC §1.1).

PyYAML's loaders implement YAML 1.1 (``no`` is false, dates become ``date``,
duplicate keys silently win, aliases expand without bound). We use only libyaml's
*parser* (C, when available) and build values ourselves from its event stream in one
iterative loop, which gives us in a single pass:

* core-schema scalar resolution (only ``true``/``false`` are booleans, dates stay strings);
* duplicate keys (GOV002), unknown tags (GOV003, never constructed), nesting deeper than
  ``MAX_DEPTH`` and alias expansion beyond ``ALIAS_BUDGET`` nodes (GOV003);
* non-string keys, merge keys, integers beyond ±(2**53-1) and non-finite floats (GOV010);
* no recursion, so 20,000-deep input cannot exhaust the interpreter's stack.

Building from events is also about 2-3× faster than ``yaml.load(CSafeLoader)``.
Node positions are only recorded on request (``with_positions=True``): a finding that
needs a line re-reads its file, so files without findings never pay for positions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

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

try:  # libyaml's C parser; PyYAML's pure-Python parser has the same event interface
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - exercised only where libyaml is missing
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
MAX_SAFE_INTEGER = 2**53 - 1

_STD = "tag:yaml.org,2002:"
_BOM = "\ufeff"

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


@dataclass(frozen=True)
class Document:
    index: int  # 0-based position in the file
    line: int  # 1-based position of the document's root node
    column: int
    data: Any
    broken: bool  # a loader problem was found inside this document


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
_WORD_START = frozenset("tTfFnN~")

_NOT = object()  # "did not resolve as this type"


def _as_int(text: str) -> Any:
    if _INT_DEC.match(text):
        return int(text)
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
        value = _as_int(text)
        return float(value) if value is not _NOT else _as_float(text)
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
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


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
    __slots__ = ("anchor", "column", "is_key", "key", "key_col", "key_line", "key_lines",
                 "line", "obj", "path", "size")

    def __init__(self, obj: Any, line: int, column: int, anchor: str | None, is_key: bool,
                 path: Path) -> None:
        self.obj = obj
        self.line = line
        self.column = column
        self.anchor = anchor
        self.is_key = is_key
        self.path = path
        self.size = 1
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.key_col = 0
        self.key_lines: dict[str, int] | None = {} if type(obj) is dict else None


_NO_KEY = object()  # a mapping frame waiting for a key
_DISCARD = object()  # the next value belongs to a rejected key and is dropped


class _Abort(Exception):
    """Stop reading the file: a limit was exceeded."""


class _Builder:
    def __init__(self, text: str, with_positions: bool) -> None:
        self.text = text
        self.with_positions = with_positions
        self.documents: list[Document] = []
        self.problems: list[Problem] = []
        self.positions: list[dict[Path, Position]] = []
        self.doc_index = -1
        self._reset_document()

    def _reset_document(self) -> None:
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.pending_anchors: set[str] = set()
        self.expanded = 0
        self.broken = False
        self.root: Any = None
        self.root_pos = (1, 1)
        self.doc_positions: dict[Path, Position] = {}

    # problems ---------------------------------------------------------------------------
    def problem(self, rule: str, line: int, column: int, message: str) -> None:
        self.broken = True
        self.problems.append(Problem(rule, line, column, message, max(self.doc_index, 0)))

    # attaching values to their parent -----------------------------------------------------
    def attach(self, value: Any, size: int, line: int, col: int, plain_text: str | None) -> None:
        stack = self.stack
        if not stack:
            self.root = value
            self.root_pos = (line, col)
            if self.with_positions:
                self.doc_positions[()] = (line, col, line, col)
            return
        parent = stack[-1]
        obj = parent.obj
        if type(obj) is list:
            if self.with_positions:
                self.doc_positions[(*parent.path, len(obj))] = (line, col, line, col)
            obj.append(value)
            parent.size += size
            return
        key = parent.key
        if key is _NO_KEY:
            self._take_key(parent, value, line, col, plain_text)
            return
        parent.key = _NO_KEY
        if key is _DISCARD:
            return
        if self.with_positions:
            self.doc_positions[(*parent.path, key)] = (parent.key_line, parent.key_col, line, col)
        obj[key] = value
        parent.size += size

    def _take_key(self, parent: _Frame, key: Any, line: int, col: int,
                  plain_text: str | None) -> None:
        parent.key_line, parent.key_col = line, col
        if type(key) is not str:
            if plain_text is not None:
                message = f"mapping key {plain_text!r} is not a string; quote it"
            else:
                message = "mapping key is a collection; keys must be strings"
            self.problem("GOV010", line, col, message)
            parent.key = _DISCARD
            return
        if plain_text == "<<":
            self.problem("GOV010", line, col,
                         "merge keys (<<) are not supported; write the keys out")
            parent.key = _DISCARD
            return
        key_lines = parent.key_lines
        assert key_lines is not None
        first = key_lines.get(key)
        if first is not None:
            self.problem("GOV002", line, col,
                         f"duplicate key {key!r} (first defined at line {first})")
            parent.key = _DISCARD
            return
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
        line, col = mark.line + 1, mark.column + 1
        tag = ev.tag
        text = ev.value
        plain_text = None
        if tag is None:
            if ev.implicit[0]:
                value = resolve_plain(text)
                plain_text = text
            else:
                value = text
        elif tag == "!":
            value = text
        elif tag in _SCALAR_TAGS:
            value = _construct_tagged(tag, text)
            if value is _NOT:
                self.problem("GOV010", line, col,
                             f"{text!r} cannot be read as {display_tag(tag)}")
                value = None
        else:
            self.problem("GOV003", line, col, _tag_message(tag))
            value = None
        vt = type(value)
        if vt is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                self.problem("GOV010", line, col,
                             f"integer {text} is outside ±(2^53-1); quote it if it is an "
                             "identifier")
        elif vt is float and not math.isfinite(value):
            self.problem("GOV010", line, col,
                         f"non-finite number {text!r} is not allowed; use a finite number")
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (value, 1)
        self.attach(value, 1, line, col, plain_text)

    # collections ----------------------------------------------------------------------------
    def start(self, ev: MappingStartEvent | SequenceStartEvent, is_map: bool) -> None:
        mark = ev.start_mark
        line, col = mark.line + 1, mark.column + 1
        if len(self.stack) >= MAX_DEPTH:
            self.problem("GOV003", line, col,
                         f"nesting deeper than {MAX_DEPTH} levels; flatten the structure")
            raise _Abort
        tag = ev.tag
        if tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
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
            self.anchors[frame.anchor] = (frame.obj, frame.size)
            self.pending_anchors.discard(frame.anchor)
        value: Any = frame.obj
        if frame.is_key:
            value = ("<collection>",)  # any non-string marks the key as rejected
        self.attach(value, frame.size, frame.line, frame.column, None)

    def alias(self, ev: AliasEvent) -> None:
        mark = ev.start_mark
        line, col = mark.line + 1, mark.column + 1
        anchor = ev.anchor
        found = self.anchors.get(anchor)
        if found is None:
            if anchor in self.pending_anchors:
                self.problem("GOV003", line, col,
                             f"alias *{anchor} refers to the collection that contains it")
            else:
                self.problem("GOV001", line, col, f"alias *{anchor} has no anchor &{anchor}")
            self.attach(None, 1, line, col, None)
            return
        value, size = found
        self.expanded += size
        if self.expanded > ALIAS_BUDGET:
            self.problem("GOV003", line, col,
                         f"aliases expand this document beyond {ALIAS_BUDGET:,} nodes "
                         "(possible alias bomb); write the values out")
            raise _Abort
        self.attach(value, size, line, col, None)

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
        except _Abort:
            pass
        except yaml.YAMLError as exc:
            line, col, message = _syntax_error(exc, self.text)
            # libyaml stops at its own flow-depth limit before we see the events: for
            # SPEC §1.1 that is deep nesting (GOV003), not a syntax error.
            rule = "GOV003" if "maximum nesting depth" in message else "GOV001"
            if rule == "GOV003":
                message = f"nesting deeper than {MAX_DEPTH} levels; flatten the structure"
            self.problems.append(Problem(rule, line, col, message, max(self.doc_index, 0)))
        finally:
            if parser is not None:
                parser.dispose()

    def _loop(self, parser: Any) -> None:
        get_event = parser.get_event
        scalar, start, end, alias = self.scalar, self.start, self.end, self.alias
        while True:
            ev = get_event()
            if ev is None:
                return
            cls = ev.__class__
            if cls is ScalarEvent:
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
        before = text[:position]
        line = before.count("\n") + 1
        col = position - (before.rfind("\n") + 1) + 1
        char = getattr(exc, "character", "")
        code = ord(char) if isinstance(char, str) and len(char) == 1 else char
        shown = f"#x{code:04x}" if isinstance(code, int) else str(code)
        return line, col, f"YAML syntax error: special character {shown} is not allowed"
    return 1, 1, f"YAML syntax error: {exc}"


# -- public API ---------------------------------------------------------------------------


def load_text(text: str, with_positions: bool = False) -> LoadResult:
    builder = _Builder(text, with_positions)
    builder.run()
    return LoadResult(tuple(builder.documents), tuple(builder.problems),
                      tuple(builder.positions))


def load_bytes(raw: bytes, max_size: int = MAX_FILE_SIZE,
               with_positions: bool = False) -> LoadResult:
    decoded = decode(raw, max_size)
    if isinstance(decoded, Problem):
        return LoadResult((), (decoded,))
    return load_text(decoded, with_positions)


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

