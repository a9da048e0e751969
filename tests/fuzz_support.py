"""Generators and invariants shared by ``tests/test_fuzz.py`` and the long campaign
``fuzz/run.py``.

Two input families:

* YAML text built from a grammar (block and flow collections, scalars of every core-schema
  type and their look-alikes, anchors and aliases, merge keys, standard, unsafe and custom
  tags, document markers), then roughened at the text level (NUL bytes, tabs, a BOM,
  CRLF or lone-CR line endings, YAML 1.1 line breaks, deep nesting, stray syntax);
* mutated copies of the example repository's records (byte flips, deletions, insertions
  of YAML snippets).

The invariants are the ones every input must keep, whatever it is: the loader never
raises, every problem names a catalogued rule and a line inside the text; `validate`
exits 0 or 1 with JSON whose findings name a catalogued rule, a file and a line inside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from govctl.model import loader
from govctl.model.findings import RULES

EXAMPLE_REPO = Path(__file__).resolve().parent.parent / "examples" / "governance-repo"
AS_OF = "2026-11-27"
MAX_MESSAGE = 2000  # characters of one finding's message
MAX_RECORD_NAME = len("ThresholdContract/") + 128
# Rules (in src/govctl/rules/, owned elsewhere) whose messages still quote
# record text whole; reported, to be emptied when they clip. The loader's alias text budget
# already bounds what they can repeat, so this is message hygiene, no longer amplification.
UNCLIPPED_RULES: frozenset[str] = frozenset()  # every rule clips record text now


# -- a YAML grammar -----------------------------------------------------------------------

_WORDS = ("a", "b", "id", "kind", "spec", "metadata", "apiVersion", "name", "value",
          "threshhold", "x y", "ünï", "emoji🙂", "k-1", "k.2", "k_3")
_KEY_SPECIALS = ("<<", "'<<'", '"<<"', "1", "-1", "0x1F", "1.5", "true", "no", "null", "~",
                 "''", '""', "!!str 5", "!!int 5", "? complex", "[a, b]", "{a: b}", "*k",
                 "!custom k", "!!python/name:os.system")
_SCALARS = (
    # core-schema values and YAML 1.1 look-alikes
    "true", "False", "TRUE", "yes", "no", "on", "Off", "y", "n", "null", "Null", "~", "",
    "0", "-0", "+12", "007", "0o17", "0o8", "0x1f", "0xG", "1_000", "1.5", ".5", "5.",
    "1e3", "-1E-3", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "1e400", "-1e400",
    "9007199254740991", "9007199254740992", "-9007199254740992", "1" * 100, "1" * 5000,
    "0x" + "f" * 40, "0o" + "7" * 40, "2026-11-27", "2026-11-27T08:00:00Z", "12:30:00",
    "sha256:" + "a" * 64, "https://example.test/x?a=1#frag",
    # quoting and escapes
    "'single ''quoted'''", '"double \\"quoted\\""', '"\\x00\\t\\u263a\\U0001F600"',
    '"\\N\\_\\L\\P"', '"bad \\q escape"', "'unterminated", '"unterminated',
    # block scalars
    "|\n  literal\n  text\n", ">-\n  folded\n  text\n", "|+\n\n", "|2\n   x\n",
    # templating and markup that must stay text
    "'{{ 7*7 }}'", "'{% for x in y %}{{ x }}{% endfor %}'", "'<script>alert(1)</script>'",
    "$(touch y)", "a;rm -rf x", "../../etc/passwd", "~/secret", "/etc/passwd",
    # odd characters
    "tab\there", "nul\x00here", "bell\x07", "del\x7f", "nel\x85x", "ls\u2028x", "ps\u2029x",
    "bom\ufeffmid", "surrogate\ud800", "lone\rcr",
)
_TAGS = ("!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!binary",
         "!!timestamp", "!!set", "!!omap", "!!python/object:os.system",
         '!!python/object/apply:os.system ["touch PWNED"]', "!!python/name:os.system",
         "!!python/module:os", "!custom", "!", "!<tag:yaml.org,2002:str>",
         "!<tag:example.com,2000:app/x>", "!e!local")
_SNIPPETS = ("---\n", "...\n", "--- !!map\n", "%YAML 1.2\n---\n", "%YAML 1.1\n", "%TAG !e! "
             "tag:example.com,2000:app/\n", "&a ", "*a", "*undefined", "<<: *a\n", "? ",
             ": ", "- ", "-\n", "[", "]", "{", "}", ",", "#", "'", '"', "|", ">", "!", "!!",
             "&", "*", "%", "@", "`", "\t", "\x00", "\r", "\n", "\r\n", "\ufeff", "\x85",
             "\u2028", "  ", "key: value\n", "a: &x [1, 2]\nb: *x\n",
             "!!python/object/apply:os.system ['touch PWNED']", "!custom x",
             "{a: 1, a: 2}", "[" * 60, "]" * 60, "x: " + "[" * 150 + "]" * 150 + "\n")


@st.composite
def _anchor(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)):
        return ""
    return "&" + draw(st.sampled_from(("a", "b", "k", "x"))) + " "


@st.composite
def _tag(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 6)):
        return ""
    return draw(st.sampled_from(_TAGS)) + " "


def _scalar() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(_SCALARS),
        st.sampled_from(_WORDS),
        st.integers(-(2**60), 2**60).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=12).map(json.dumps),
        st.sampled_from(("a", "b", "k", "x")).map(lambda a: "*" + a),
    ).map(lambda text: ("scalar", text))


def _key() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(_WORDS), st.sampled_from(_WORDS),
                     st.sampled_from(_KEY_SPECIALS))


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    props = st.tuples(_anchor(), _tag())
    return st.one_of(
        st.tuples(st.just("map"), st.booleans(), props,
                  st.lists(st.tuples(_key(), children), max_size=5)),
        st.tuples(st.just("seq"), st.booleans(), props, st.lists(children, max_size=5)),
    )


def yaml_trees() -> st.SearchStrategy[Any]:
    return st.recursive(_scalar(), _extend, max_leaves=40)


def _flow(node: Any) -> str:
    kind = node[0]
    if kind == "scalar":
        text = node[1]
        return text if "\n" not in text else json.dumps(text)
    _, _, (anchor, tag), items = node
    if kind == "map":
        body = ", ".join(f"{k}: {_flow(v)}" for k, v in items)
        return f"{anchor}{tag}{{{body}}}"
    return f"{anchor}{tag}[{', '.join(_flow(v) for v in items)}]"


def _block(node: Any, indent: int) -> str:
    """Text after a ``key:`` or ``-`` indicator (starting with a space or a line break)."""
    kind = node[0]
    if kind == "scalar":
        text = node[1]
        if "\n" in text and text[:1] in "|>":  # indent the block scalar's body
            head, _, body = text.partition("\n")
            pad = " " * (indent + 2)
            return " " + head + "\n" + "".join(pad + line + "\n"
                                               for line in body.splitlines())
        return " " + text + "\n"
    block, (anchor, tag), items = node[1], node[2], node[3]
    if not block or not items:
        return " " + _flow(node) + "\n"
    pad = " " * (indent + 2)
    lines = [" " + (anchor + tag).rstrip() + "\n" if anchor or tag else "\n"]
    if kind == "map":
        lines.extend(f"{pad}{k}:{_block(v, indent + 2)}" for k, v in items)
    else:
        lines.extend(f"{pad}-{_block(v, indent + 2)}" for v in items)
    return "".join(lines)


def render(node: Any) -> str:
    kind = node[0]
    if kind == "scalar" or not node[1] or not node[3]:
        return _flow(node) + "\n"
    return _block(node, -2).lstrip(" \n") if not (node[2][0] or node[2][1]) \
        else _block(node, -2).lstrip(" ")


def _deep(depth: int, flow: bool) -> str:
    if flow:
        return "[" * depth + "]" * depth + "\n"
    return "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "k: v\n"


@st.composite
def yaml_documents(draw: st.DrawFn, max_depth: int = 400) -> str:
    """YAML text: one or more generated documents, then roughened at the text level."""
    docs = draw(st.lists(yaml_trees().map(render), min_size=1, max_size=3))
    markers = [draw(st.sampled_from(("---\n", "--- ", "", "...\n---\n"))) for _ in docs]
    text = "".join(m + d for m, d in zip(markers, docs, strict=True))
    if draw(st.integers(0, 9)) == 0:
        text += _deep(draw(st.integers(90, max_depth)), draw(st.booleans()))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(_SNIPPETS)) + text[at:]
    ending = draw(st.sampled_from(("\n", "\n", "\n", "\r\n", "\r", "\x85", "\u2028")))
    if ending != "\n":
        text = text.replace("\n", ending)
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text


def yaml_bytes() -> st.SearchStrategy[bytes]:
    """Mostly generated documents in UTF-8, sometimes other encodings or raw bytes."""
    return st.one_of(
        yaml_documents().map(lambda t: t.encode("utf-8", "surrogatepass")),
        yaml_documents().map(lambda t: t.encode("utf-8", "surrogatepass")),
        yaml_documents().map(lambda t: t.encode("utf-8", "surrogatepass")),
        yaml_documents().map(lambda t: _encode_other(t)),
        st.binary(max_size=200),
    )


def _encode_other(text: str) -> bytes:
    clean = text.encode("utf-8", "replace").decode("utf-8")
    return clean.encode("utf-16")  # with a BOM: not UTF-8


# -- invariants -----------------------------------------------------------------------------


def line_count(raw: bytes) -> int:
    """Lines of ``raw`` under any convention govctl might count by: YAML's breaks (LF, CRLF,
    lone CR) and the YAML 1.1 breaks (NEL, LS, PS) — an upper bound for a position."""
    text = raw.decode("utf-8", "replace")
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    breaks += text.count("\x85") + text.count("\u2028") + text.count("\u2029")
    return breaks + 1


def check_load_result(raw: bytes, result: loader.LoadResult) -> None:
    """What every load result must satisfy (raises AssertionError otherwise)."""
    lines = line_count(raw)
    for p in result.problems:
        assert p.rule in RULES, p
        assert p.rule in ("GOV001", "GOV002", "GOV003", "GOV004", "GOV010"), p
        assert 1 <= p.line <= lines, (p, lines)
        assert p.column >= 1, p
        assert p.message and "\n" not in p.message, p
    for doc in result.documents:
        assert 1 <= doc.line <= lines, (doc.line, lines)
        if not doc.broken:  # a broken document may keep the rejected value it was read with
            _check_plain_data(doc.data, 0)
    if result.documents and not result.problems:
        json.dumps([d.data for d in result.documents], allow_nan=False)


def _check_plain_data(value: Any, depth: int) -> None:
    """Only JSON data of bounded depth, bounded integers and finite floats leave the loader.
    Iterative: a crafted value must not be able to blow this check's own stack."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        assert level <= loader.MAX_DEPTH + 1, "data deeper than the nesting limit"
        kind = type(item)
        if kind is dict:
            assert all(type(k) is str for k in item), item.keys()
            stack.extend((v, level + 1) for v in item.values())
        elif kind is list:
            stack.extend((v, level + 1) for v in item)
        elif kind is int:
            assert abs(item) <= loader.MAX_SAFE_INTEGER
        elif kind is float:
            assert item == item and item not in (float("inf"), float("-inf"))
        else:
            assert item is None or kind in (str, bool), kind


def signature(result: loader.LoadResult) -> tuple[object, ...]:
    """What a load result says, positions included (values by repr: NaN != NaN)."""
    return (tuple((p.rule, p.line, p.column) for p in result.problems),
            repr([(d.index, d.line, d.column, d.broken, d.data) for d in result.documents]))


def check_metamorphic(raw: bytes) -> None:
    """LF, CRLF and lone CR are all YAML 1.2 line breaks, and a BOM is no content: the
    same text written with any of them reads the same, with the same positions."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    if any(c in text for c in "\r\x85\u2028\u2029"):  # already mixed: nothing to compare
        return
    text = text.removeprefix("\ufeff")
    expected = signature(loader.load_text(text))
    for variant in (text.replace("\n", "\r\n"), text.replace("\n", "\r")):
        assert signature(loader.load_bytes(variant.encode())) == expected
    assert signature(loader.load_bytes(b"\xef\xbb\xbf" + text.encode())) == expected


def check_load(raw: bytes) -> loader.LoadResult:
    result = loader.load_bytes(raw)
    check_load_result(raw, result)
    positioned = loader.load_bytes(raw, with_positions=True)
    # positions are an observation, never a change of outcome
    assert positioned.problems == result.problems
    assert [d.data for d in positioned.documents] == [d.data for d in result.documents]
    return result


# -- mutations of the example repository ----------------------------------------------------


def example_records() -> list[str]:
    return sorted(p.relative_to(EXAMPLE_REPO).as_posix()
                  for p in EXAMPLE_REPO.rglob("*.yaml") if not p.name.startswith("."))


_INSERTS = (
    *(s.encode("utf-8", "surrogatepass") for s in _SNIPPETS),
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\n  extra: 1\n", b"\n- item\n",
    b" &anchor", b" *anchor", b" !!python/object/apply:os.system ['touch PWNED']",
    b"\n<<: {a: 1}\n", b"\n1: numeric key\n", b" .nan", b" 1e999", b" " + b"9" * 30,
    b"../../etc", b"/etc/passwd", b"{{ 7*7 }}", b"<script>",
    # long text, for findings that would quote it whole (output amplification)
    b"k" * 3000 + b": 1\n", b"v" * 3000, b" &long " + b"w" * 3000, b" *long",
)


# "key: value" on one line, or a flow "key: value" / list item: the value's span
_VALUE = re.compile(rb"(?:: |- |\[|, )(?!&|\*|!|\||>)"  # after an indicator, no node props
                    rb"([^\s\[\]{},#'\"][^\n,\]}#]*?)"  # a plain scalar
                    rb"(?=[ \t]*(?:$|,|\]|}|#))", re.MULTILINE)
_VALUES = (b"", b"null", b"true", b"false", b"0", b"-1", b"1.5", b"1e308", b"-0.0",
           b"9007199254740991", b"2026-02-30", b"2026-11-27", b"9999-12-31", b"0001-01-01",
           b"2026-11-27T25:00:00Z", b"[]", b"{}", b"[a, b]", b"{a: 1}", b"'../../etc'",
           b"'$(touch y)'", b"/etc/passwd", b"'{{ 7*7 }}'", b"'<script>x</script>'",
           b"sha256:" + b"0" * 64, b"sha256:" + b"F" * 64, b"x" * 3000, b"'" + b"y" * 3000 + b"'",
           b"high", b"prohibited", b"production", b"retired", b"rejected", b"page-only",
           b"signed", b"none", b"artifact", b"agentic", b"death", b"sev1", b"off")


def value_spans(data: bytes) -> list[tuple[int, int]]:
    return [m.span(1) for m in _VALUE.finditer(data)]


@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few byte flips, deletions and insertions, or with values
    replaced (by hostile values or by other values of the same file: a reference then
    names another record), which keeps the YAML valid and reaches the rules."""
    data = bytearray(original)
    if draw(st.booleans()):
        spans = value_spans(original)
        if spans:
            values = [original[a:b] for a, b in spans]
            for _ in range(draw(st.integers(1, 3))):
                spans = value_spans(bytes(data))
                if not spans:
                    break
                start, end = draw(st.sampled_from(spans))
                new = draw(st.one_of(st.sampled_from(_VALUES), st.sampled_from(values)))
                data[start:end] = new
            return bytes(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "delete", "insert", "insert", "duplicate")))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "delete":
            data[at:at + draw(st.integers(1, 40))] = b""
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(_INSERTS))
        else:  # duplicate a line: duplicate keys, duplicate documents
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end + 1
            data[end:end] = data[start:end]
    return bytes(data)


def check_validate_output(code: int, stdout: str, stderr: str, root: Path) -> dict[str, Any]:
    """The invariants of one `govctl validate --format json` run over a mutated repo."""
    assert code in (0, 1), f"exit {code}: {stderr}"
    payload = json.loads(stdout)
    assert payload["version"] == 1
    findings = payload["findings"]
    for f in findings:
        assert f["rule"] in RULES, f
        assert f["file"], f
        path = root / f["file"]
        assert path.exists() or path.is_symlink(), f
        lines = line_count(path.read_bytes()) if path.is_file() else 1
        assert 1 <= f["line"] <= lines + 1, (f, lines)
        assert f["column"] >= 1, f
        assert f["severity"] in ("error", "warning"), f
        # a finding quotes what it is about, clipped: record text may be megabytes long,
        # and aliases may repeat it in thousands of findings
        if f["rule"] not in UNCLIPPED_RULES:
            assert len(f["message"]) <= MAX_MESSAGE, (f["rule"], f["file"], f["line"],
                                                      len(f["message"]), f["message"][:200])
        assert f["record"] is None or len(f["record"]) <= MAX_RECORD_NAME, f["record"][:300]
    errors = sum(1 for f in findings if f["severity"] == "error")
    assert payload["summary"]["errors"] == errors
    assert (code == 1) == (errors > 0), (code, errors)
    return payload


Runner = Callable[..., Any]


# -- observation files ----------------------------------------------------------------------

OBSERVATION_EXAMPLES = EXAMPLE_REPO.parent / "observations"
_OBS_SNIPPETS = (b"\x00", b"\r", b"\r\n", b"\n", b"\xff", b"\xc3(", b"\x85", "\u2028".encode(),
                 b"\x0b", b"\x0c", b"\x1c", b",", b'"', b"{", b"}", b"=", b"# EOF\n",
                 b"# TYPE x gauge\n", b"NaN", b"+Inf", b"1e999", b" 1e400", b'"value": "x"',
                 b'"at": "not a time"', b'"at": "2026-13-45T99:00:00Z"', b"[]", b"null",
                 b'{"use_case": "u", "signal": "s", "value": 1}\n', b'x{use_case="u"} 1\n',
                 b"use_case,signal,value\n", b"\xef\xbb\xbf", b"9" * 400)


def observation_texts() -> st.SearchStrategy[tuple[str, bytes]]:
    """(file suffix, bytes): mutated example observation files and plain garbage."""
    examples = {p.suffix: p.read_bytes() for p in OBSERVATION_EXAMPLES.iterdir()
                if p.suffix in (".jsonl", ".prom")}
    csv_text = b"use_case,signal,metric,value,at\nu,s,m,0.5,2026-11-27T06:00:00Z\n"
    om_text = (b'# TYPE m gauge\nm{use_case="u",signal="s"} 0.5 1795780200\n# EOF\n')
    seeds = [(".jsonl", examples[".jsonl"]), (".prom", examples[".prom"]), (".csv", csv_text),
             (".om", om_text), (".txt", examples[".jsonl"]), (".txt", csv_text),
             (".txt", om_text), (".txt", examples[".prom"])]

    @st.composite
    def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
        suffix, data = draw(st.sampled_from(seeds))
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(("flip", "delete", "insert", "insert")))
            if op == "flip" and data:
                data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
            elif op == "delete":
                data[at:at + draw(st.integers(1, 30))] = b""
            else:
                data[at:at] = draw(st.sampled_from(_OBS_SNIPPETS))
        if draw(st.integers(0, 5)) == 0:
            data = bytearray(bytes(data).replace(b"\n", draw(st.sampled_from((b"\r", b"\r\n")))))
        return suffix, bytes(data)

    garbage = st.tuples(st.sampled_from((".jsonl", ".csv", ".prom", ".om", ".txt")),
                        st.binary(max_size=300))
    return st.one_of(mutated(), mutated(), mutated(), garbage)


def check_observations(path: Path, raw: bytes, fmt: str | None = None) -> None:
    """Loading an observation file either works or is one GovctlError naming file:line
    (a line of the file) — never another exception."""
    from govctl.errors import GovctlError
    from govctl.monitoring.observations import load_observations

    path.write_bytes(raw)
    try:
        loaded = load_observations(path, fmt)
    except GovctlError as exc:
        message = exc.message
        assert "\n" not in message and "\r" not in message, message
        prefix = f"{path}:"
        assert message.startswith(prefix), message
        line = message[len(prefix):].split(":", 1)[0]
        assert line.isdigit(), message
        assert 1 <= int(line) <= line_count(raw) + 1, (message, line_count(raw))
        return
    for obs in loaded.observations:
        assert obs.value == obs.value and abs(obs.value) != float("inf"), obs
        assert obs.at.tzinfo is not None, obs


# -- output safety --------------------------------------------------------------------------

# what the output target renders, and how each output is checked (tests/output_support.py)
OUTPUT_RUNS = (("validate", "text"), ("validate", "github"), ("validate", "json"),
               ("card", "md"), ("card", "html"), ("explain", "text"))


def hostile_strings() -> st.SearchStrategy[str]:
    """Corpus pieces and random text (controls, Cf, separators, markup) strung together."""
    from tests.output_support import CORPUS

    piece = st.one_of(st.sampled_from(CORPUS),
                      st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
                      st.sampled_from(("`", "``", "\n", "\r", "\x1b[", "::", "<", "](", "@",
                                       "|", "\\", "*", "_", "#", "<!--", "\u0085")))
    return st.lists(piece, min_size=1, max_size=5).map("".join)


@st.composite
def hostile_values(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with one to three plain values replaced by hostile strings, written as
    YAML double-quoted scalars: the record stays YAML and its text reaches the output."""
    from tests.output_support import yaml_string

    data = original
    for _ in range(draw(st.integers(1, 3))):
        spans = value_spans(data)
        if not spans:
            break
        start, end = draw(st.sampled_from(spans))
        data = data[:start] + yaml_string(draw(hostile_strings())).encode() + data[end:]
    return data


def check_output(command: str, fmt: str, code: int, stdout: str, stderr: str) -> None:
    from tests.output_support import assert_safe_markdown, assert_safe_text

    where = f"{command} --format {fmt}"
    assert code in (0, 1, 2), (where, code, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, (where, stderr)
    assert_safe_text(stderr, f"{where} (stderr)")
    if fmt == "md":
        assert_safe_markdown(stdout, where)
    else:
        assert_safe_text(stdout, where, github=fmt == "github")
