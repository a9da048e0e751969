"""The YAML 1.2 core-schema loader (SPEC §1.1): values, limits, rule codes and positions.

Every problem is asserted with its rule code and the 1-based line and column of the
offending node, because findings carry exactly those.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import pytest

from govctl.model import loader
from govctl.model.loader import ALIAS_BUDGET, MAX_DEPTH, MAX_FILE_SIZE, MAX_SAFE_INTEGER, Problem

# -- helpers ---------------------------------------------------------------------------


def load(text: str, **kwargs: Any) -> loader.LoadResult:
    return loader.load_text(text, **kwargs)


def value_of(scalar: str) -> Any:
    """The value of ``v: <scalar>``, which must load without problems."""
    result = load(f"v: {scalar}\n")
    assert result.problems == (), result.problems
    (doc,) = result.documents
    return doc.data["v"]


def problems(text: str) -> list[tuple[str, int, int]]:
    return [(p.rule, p.line, p.column) for p in load(text).problems]


def only_problem(result: loader.LoadResult) -> Problem:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def assert_plain_data(value: Any) -> None:
    """Only JSON-like Python values come out of the loader, never constructed objects."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            assert all(type(k) is str for k in item), item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            assert item is None or type(item) in (str, int, float, bool), type(item)


def nested_flow(levels: int) -> str:
    return "[" * levels + "]" * levels


def nested_block_mappings(levels: int, indent: int = 2) -> str:
    """``levels`` nested block mappings, the innermost holding ``k: v``."""
    lines = [" " * (indent * i) + f"k{i}:" for i in range(levels - 1)]
    lines.append(" " * (indent * (levels - 1)) + "k: v")
    return "\n".join(lines) + "\n"


# -- YAML 1.2 core schema: strings, booleans, null ----------------------------------------


@pytest.mark.parametrize("text", [
    "no", "No", "NO", "n", "N", "off", "Off", "OFF", "on", "On", "ON",
    "yes", "Yes", "YES", "y", "Y", "tRUE", "fALSE", "nULL", "none", "None", "NONE",
])
def test_yaml_1_1_booleans_and_nulls_stay_strings(text):
    # the "Norway problem": YAML 1.1 reads `NO` (the ISO code of Norway) as false
    value = value_of(text)
    assert value == text
    assert type(value) is str


@pytest.mark.parametrize(("text", "expected"), [
    ("true", True), ("True", True), ("TRUE", True),
    ("false", False), ("False", False), ("FALSE", False),
])
def test_only_core_schema_booleans(text, expected):
    assert value_of(text) is expected


@pytest.mark.parametrize("text", ["null", "Null", "NULL", "~", ""])
def test_core_schema_nulls(text):
    assert value_of(text) is None


def test_empty_value_with_trailing_spaces_is_null():
    assert load("v:   \nw:\n").documents[0].data == {"v": None, "w": None}


@pytest.mark.parametrize("text", [
    "2026-11-27",
    "2026-11-27T10:00:00Z",
    "2026-11-27 10:00:00",
    "2001-12-14t21:59:43.10-05:00",
    "2026-13-45",  # not even a date: still just a string, the schema judges it
])
def test_dates_and_timestamps_stay_strings(text):
    value = value_of(text)
    assert value == text
    assert type(value) is str


@pytest.mark.parametrize("text", [
    "'no'", '"true"', "'123'", '"1e3"', "'~'", '"null"', "'.inf'",
])
def test_quoted_scalars_are_strings(text):
    assert value_of(text) == text[1:-1]


# -- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), ("7", 7), ("-7", -7), ("+7", 7), ("007", 7), ("-0", 0),
    ("0o17", 15), ("0o0", 0), ("0x1F", 31), ("0xff", 255), ("0xFF", 255),
    ("9007199254740991", MAX_SAFE_INTEGER), ("-9007199254740991", -MAX_SAFE_INTEGER),
    ("0x1FFFFFFFFFFFFF", MAX_SAFE_INTEGER),
    ("0" * 5000 + "7", 7),  # leading zeros do not count towards Python's digit limit
])
def test_core_schema_integers(text, expected):
    value = value_of(text)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(("text", "expected"), [
    ("1e-7", 1e-7), ("1E3", 1000.0), ("1e+7", 1e7), ("12e03", 12000.0),
    (".5", 0.5), ("-.5", -0.5), ("+.5", 0.5), ("1.", 1.0), ("0.", 0.0), ("1.5", 1.5),
    ("-2.5e-3", -0.0025), ("9007199254740993.0", 9007199254740992.0), ("1e300", 1e300),
])
def test_core_schema_floats(text, expected):
    value = value_of(text)
    assert type(value) is float
    assert value == expected


@pytest.mark.parametrize("text", [
    "0b101",  # YAML 1.1 binary
    "1_000",  # YAML 1.1 digit separators
    "1:20",  # YAML 1.1 sexagesimal
    "0o8", "0xG1", "+0x1F", "-0o7",  # not core-schema integers
    "1e", "e5", ".", ".e5", "1.2.3", "1,000", "-1x", "+", "-.", "1e5.5",
    "inf", "nan", "Infinity", ".infinity", "NaN",
])
def test_number_lookalikes_stay_strings(text):
    value = value_of(text)
    assert value == text
    assert type(value) is str


@pytest.mark.parametrize("text", [
    ".inf", ".Inf", ".INF", "-.inf", "+.inf", "-.Inf", ".nan", ".NaN", ".NAN",
])
def test_non_finite_floats_are_gov010(text):
    problem = only_problem(load(f"v: {text}\n"))
    assert (problem.rule, problem.line, problem.column) == ("GOV010", 1, 4)
    assert text in problem.message
    assert "finite" in problem.message


@pytest.mark.parametrize("text", ["1e400", "-1e400", "1" * 400 + ".0", "!!float " + "9" * 400])
def test_floats_overflowing_a_double_are_gov010(text):
    problem = only_problem(load(f"v: {text}\n"))
    assert (problem.rule, problem.line, problem.column) == ("GOV010", 1, 4)
    assert len(problem.message) < 200  # the literal is clipped in the message


@pytest.mark.parametrize("text", [
    "9007199254740992", "-9007199254740992", "18446744073709551616",
    "0x20000000000000", "0o400000000000000000", "!!int 9007199254740992",
    "1" * 5000,  # beyond Python's int() digit limit: must be a finding, not a crash
    "-" + "1" * 5000,
    "0x" + "f" * 5000,
    "!!int " + "1" * 5000,
])
def test_integers_beyond_2_pow_53_minus_1_are_gov010(text):
    problem = only_problem(load(f"v: {text}\n"))
    assert (problem.rule, problem.line, problem.column) == ("GOV010", 1, 4)
    assert "2^53" in problem.message
    assert len(problem.message) < 200


def test_integer_bound_is_inclusive():
    text = f"a: {MAX_SAFE_INTEGER}\nb: {-MAX_SAFE_INTEGER}\nc: {MAX_SAFE_INTEGER + 1}\n"
    result = load(text)
    assert [(p.rule, p.line, p.column) for p in result.problems] == [("GOV010", 3, 4)]


def test_large_floats_are_not_bounded_like_integers():
    assert value_of("9007199254740992.0") == 2.0**53
    assert value_of("1.0e20") == 1e20


# -- explicit tags --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("!!str 12", "12"),
    ("!!str true", "true"),
    ("!!str ~", "~"),
    ("!!str 2026-01-01", "2026-01-01"),
    ('!!int "7"', 7),
    ("!!int 0x1F", 31),
    ("!!float 3", 3.0),
    ("!!float 0x10", 16.0),
    ("!!float '1.5'", 1.5),
    ('!!bool "true"', True),
    ("!!bool FALSE", False),
    ("!!null ''", None),
    ("!!null ~", None),
    ("! 12", "12"),
    ("! true", "true"),
    ("!<tag:yaml.org,2002:str> 5", "5"),
    ("!!map {a: 1}", {"a": 1}),
    ("!!seq [1, 2]", [1, 2]),
    ("! {a: 1}", {"a": 1}),
    ("! [1]", [1]),
])
def test_standard_tags(text, expected):
    value = value_of(text)
    assert value == expected
    assert type(value) is type(expected)


def test_tag_handle_for_the_standard_prefix_is_a_standard_tag():
    result = load("%TAG !e! tag:yaml.org,2002:\n---\nv: !e!str 5\n")
    assert result.problems == ()
    assert result.documents[0].data == {"v": "5"}


@pytest.mark.parametrize("text", [
    "!!int abc", "!!int 1.5", "!!int 1_000", "!!bool yes", "!!bool no", "!!null x",
    "!!float abc", "!!float .nan", "!!float .inf",
])
def test_standard_tag_with_text_it_cannot_read_is_gov010(text):
    problem = only_problem(load(f"v: {text}\n"))
    assert (problem.rule, problem.line, problem.column) == ("GOV010", 1, 4)


@pytest.mark.parametrize(("text", "shown"), [
    ("!!str [1]", "!!str"), ("!!int {a: 1}", "!!int"), ("!!seq {a: 1}", "!!seq"),
    ("!!map [1]", "!!map"),
])
def test_standard_tag_on_the_wrong_node_kind_is_gov003(text, shown):
    problem = only_problem(load(f"v: {text}\n"))
    assert (problem.rule, problem.line, problem.column) == ("GOV003", 1, 4)
    assert shown in problem.message


# -- unsafe and unknown tags: GOV003, never constructed ------------------------------------


UNSAFE_TAGS = [
    ("!!python/object/apply:os.system ['touch {marker}']", "!!python/object/apply:os.system"),
    ("!!python/object/new:os.system ['touch {marker}']", "!!python/object/new:os.system"),
    ("!!python/object/apply:subprocess.call [[touch, '{marker}']]",
     "!!python/object/apply:subprocess.call"),
    ("!!python/name:os.system", "!!python/name:os.system"),
    ("!!python/module:os", "!!python/module:os"),
    ("!!python/object:os._wrap_close {}", "!!python/object:os._wrap_close"),
    ("!!python/tuple [1, 2]", "!!python/tuple"),
    ("!!binary aGVsbG8=", "!!binary"),
    ("!!set {a, b}", "!!set"),
    ("!!timestamp 2026-01-01", "!!timestamp"),
    ("!!omap [{a: 1}]", "!!omap"),
    ("!!pairs [{a: 1}]", "!!pairs"),
    ("!!merge <<", "!!merge"),
    ("!Ref my-bucket", "!Ref"),
    ("!Ref {a: 1}", "!Ref"),
    ("!Ref [a, b]", "!Ref"),
    ("!GetAtt bucket.Arn", "!GetAtt"),
    ("!<tag:example.com,2000:thing> 1", "tag:example.com,2000:thing"),
]


@pytest.mark.parametrize(("template", "shown"), UNSAFE_TAGS)
def test_unsafe_and_unknown_tags_are_gov003_and_never_constructed(tmp_path, template, shown):
    marker = tmp_path / "pwned"
    text = "a: 1\nv: " + template.replace("{marker}", str(marker)) + "\n"
    result = load(text)
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV003", 2, 4)
    assert shown in problem.message
    assert "!!str !!int !!float !!bool !!null !!map !!seq" in problem.message
    assert not marker.exists()  # os.system / subprocess were never called
    (doc,) = result.documents
    assert doc.broken
    assert_plain_data(doc.data)


def test_tagged_scalar_value_is_dropped_not_kept_as_text():
    # the text of an unknown tag is never handed on as if it were an ordinary string
    assert load("v: !Ref my-bucket\n").documents[0].data == {"v": None}


def test_tag_handle_redefined_to_another_prefix_is_gov003():
    result = load("%TAG !! tag:example.com,2000:\n---\nv: !!str x\n")
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV003", 3, 4)
    assert "tag:example.com,2000:str" in problem.message


def test_unknown_tag_on_a_key_is_reported_once():
    result = load("a: 1\n!Ref k: 1\n")
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV003", 2, 1)
    assert result.documents[0].data == {"a": 1}


def test_unknown_tag_deep_in_a_document(tmp_path):
    text = "spec:\n  tools:\n    - name: x\n      schema: !include tools/x.json\n"
    assert problems(text) == [("GOV003", 4, 15)]


# -- keys -------------------------------------------------------------------------------


def test_duplicate_key_is_gov002_at_the_second_key():
    result = load("a: 1\nb: 2\na: 3\n")
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV002", 3, 1)
    assert "'a'" in problem.message
    assert "line 1" in problem.message
    assert result.documents[0].broken


@pytest.mark.parametrize(("text", "line", "column", "first"), [
    ("x:\n  a: 1\n  b: 2\n  a: 3\n", 4, 3, 2),
    ("x: {a: 1, b: 2, a: 3}\n", 1, 17, 1),
    ('a: 1\n"a": 2\n', 2, 1, 1),  # quoting does not make a different key
    ("a: 1\n'a': 2\n", 2, 1, 1),
    ("list:\n  - {k: 1}\n  - k: 1\n    j: 2\n    k: 3\n", 5, 5, 3),
    ("a: 1\n? a\n: 2\n", 2, 3, 1),
])
def test_duplicate_keys_in_every_style(text, line, column, first):
    problem = only_problem(load(text))
    assert (problem.rule, problem.line, problem.column) == ("GOV002", line, column)
    assert f"line {first}" in problem.message


def test_every_repeat_of_a_key_is_reported():
    assert problems("a: 1\na: 2\na: 3\n") == [("GOV002", 2, 1), ("GOV002", 3, 1)]


def test_same_key_in_different_mappings_or_documents_is_fine():
    result = load("x: {a: 1}\ny: {a: 2}\n---\nx: 3\n")
    assert result.problems == ()
    assert [d.data for d in result.documents] == [{"x": {"a": 1}, "y": {"a": 2}}, {"x": 3}]


@pytest.mark.parametrize(("text", "line", "column"), [
    ("1: a\n", 1, 1),
    ("1.5: a\n", 1, 1),
    ("0x1F: a\n", 1, 1),
    ("true: a\n", 1, 1),
    ("False: a\n", 1, 1),
    ("null: a\n", 1, 1),
    ("~: a\n", 1, 1),
    ("ok: 1\n2026: a\n", 2, 1),
    ("? [a]\n: b\n", 1, 3),
    ("? {a: 1}\n: b\n", 1, 3),
    ("[a, b]: c\n", 1, 1),
    ("{a: 1}: c\n", 1, 1),
    ("? \n: v\n", 1, 2),
    ("!!int 1: a\n", 1, 1),
    ("x:\n  {1: a}\n", 2, 4),
])
def test_non_string_keys_are_gov010(text, line, column):
    problem = only_problem(load(text))
    assert (problem.rule, problem.line, problem.column) == ("GOV010", line, column)
    assert "key" in problem.message


def test_non_string_key_message_names_the_key():
    assert "'1'" in only_problem(load("1: a\n")).message
    assert "collection" in only_problem(load("? [a]\n: b\n")).message


def test_alias_to_a_non_string_as_key_is_gov010():
    assert problems("a: &n 1\n*n : b\n") == [("GOV010", 2, 1)]
    assert problems("a: &s [1]\n*s : b\n") == [("GOV010", 2, 1)]


def test_alias_to_a_string_as_key_is_fine():
    result = load("a: &k name\n*k : b\n")
    assert result.problems == ()
    assert result.documents[0].data == {"a": "name", "name": "b"}


@pytest.mark.parametrize("text", ['"1": a\n', "'true': a\n", "!!str 1: a\n", '"": a\n',
                                  "? |\n  multi\n: a\n"])
def test_quoted_or_string_tagged_keys_are_strings(text):
    result = load(text)
    assert result.problems == ()
    (key,) = result.documents[0].data
    assert type(key) is str


def test_plain_merge_key_is_gov010_and_not_merged():
    text = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  z: 3\n"
    result = load(text)
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV010", 3, 3)
    assert "<<" in problem.message
    assert result.documents[0].data["c"] == {"z": 3}


@pytest.mark.parametrize(("text", "line", "column"), [
    ("c: {<<: {x: 1}}\n", 1, 5),
    ("c:\n  <<: [{x: 1}]\n", 2, 3),
    ("<<: {x: 1}\n", 1, 1),
])
def test_merge_keys_in_any_style_are_gov010(text, line, column):
    assert problems(text) == [("GOV010", line, column)]


@pytest.mark.parametrize("text", ['"<<": 1\n', "'<<': 1\n", "!!str <<: 1\n", "! <<: 1\n"])
def test_quoted_merge_key_is_an_ordinary_key(text):
    result = load(text)
    assert result.problems == ()
    assert result.documents[0].data == {"<<": 1}


# -- aliases --------------------------------------------------------------------------------


def billion_laughs(levels: int = 9, fanout: int = 10) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * fanout)
                     + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_gov003_quickly():
    started = time.perf_counter()
    result = load(billion_laughs())
    elapsed = time.perf_counter() - started
    problem = only_problem(result)
    assert problem.rule == "GOV003"
    assert "alias" in problem.message
    # levels a..c expand to 1,110 nodes; the first aliases of level d cross the budget
    assert problem.line == 4
    assert elapsed < 2.0  # expanding 10**9 nodes would take minutes and gigabytes


def test_quadratic_blow_up_is_gov003():
    # one big anchored list, aliased thousands of times: small file, huge expansion
    text = ("big: &big [" + ", ".join(str(i) for i in range(2000)) + "]\nrefs:\n"
            + "  - *big\n" * 5000)
    started = time.perf_counter()
    problem = only_problem(load(text))
    assert problem.rule == "GOV003"
    assert problem.line == 7  # the fifth alias takes the expansion past the budget
    assert problem.column == 5
    assert time.perf_counter() - started < 2.0


def test_alias_budget_boundary():
    # a 99-item list is 100 nodes; aliasing it ALIAS_BUDGET // 100 times is exactly the budget
    times = ALIAS_BUDGET // 100
    base = "big: &big [" + ", ".join(["1"] * 99) + "]\nrefs:\n"
    assert load(base + "  - *big\n" * times).problems == ()
    over = load(base + "  - *big\n" * (times + 1))
    assert [p.rule for p in over.problems] == ["GOV003"]


def test_small_legitimate_aliases_work():
    text = ("defaults: &d {window: 5m, severity: page}\n"
            "name: &n latency\n"
            "signals:\n"
            "  - *d\n"
            "  - *d\n"
            "copy: *n\n"
            "list: &l [1, 2]\n"
            "again: *l\n")
    result = load(text)
    assert result.problems == ()
    data = result.documents[0].data
    assert data["signals"] == [{"window": "5m", "severity": "page"}] * 2
    assert data["copy"] == "latency"
    assert data["again"] == [1, 2]


def test_alias_refers_to_the_latest_anchor_of_that_name():
    assert load("a: &x 1\nb: &x 2\nc: *x\n").documents[0].data == {"a": 1, "b": 2, "c": 2}


@pytest.mark.parametrize(("text", "line", "column"), [
    ("a: *nope\n", 1, 4),
    ("a: 1\nb: [1, *nope]\n", 2, 8),
    ("a: *later\nb: &later 1\n", 1, 4),  # an anchor must come before its alias
])
def test_undefined_alias_is_gov001(text, line, column):
    problem = only_problem(load(text))
    assert (problem.rule, problem.line, problem.column) == ("GOV001", line, column)
    assert "nope" in problem.message or "later" in problem.message


def test_anchors_do_not_cross_documents():
    result = load("a: &x 1\n---\nb: *x\n")
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column, problem.document) == ("GOV001", 3, 4, 1)
    assert not result.documents[0].broken
    assert result.documents[1].broken


@pytest.mark.parametrize(("text", "line", "column"), [
    ("a: &x [1, *x]\n", 1, 11),
    ("a: &x {b: *x}\n", 1, 11),
    ("a: &x\n  b:\n    c: *x\n", 3, 8),
])
def test_recursive_alias_is_gov003(text, line, column):
    problem = only_problem(load(text))
    assert (problem.rule, problem.line, problem.column) == ("GOV003", line, column)


def test_aliases_cannot_build_nesting_deeper_than_the_limit():
    # each alias nests the previous anchor 95 levels deeper: shallow text, deep data
    lines = ["l0: &l0 " + "[" * 95 + "1" + "]" * 95]
    lines += [f"l{i}: &l{i} " + "[" * 95 + f"*l{i - 1}" + "]" * 95 for i in range(1, 13)]
    problem = only_problem(load("\n".join(lines) + "\n"))
    assert (problem.rule, problem.line) == ("GOV003", 2)
    assert problem.column == 2 + 4 + 2 + 95 + 1  # "l1: &l1 " then 95 brackets, at "*l0"
    assert f"{MAX_DEPTH} levels" in problem.message


def test_alias_within_the_depth_limit_is_fine():
    # a 90-level anchor aliased at level 2 (under the root mapping) ends at level 92
    text = "a: &a " + nested_flow(90) + "\nb: *a\n"
    assert load(text).problems == ()


# -- nesting depth --------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "levels", "line", "column"), [
    # root sequence: level 1 is the first "[", level 101 the 101st
    (lambda n: nested_flow(n), 20_000, 1, MAX_DEPTH + 1),
    (lambda n: "[" * n, 20_000, 1, MAX_DEPTH + 1),  # unterminated, too
    # under the root mapping, level 101 is the 100th "[" after "a: "
    (lambda n: "a: " + nested_flow(n), 20_000, 1, 3 + MAX_DEPTH),
    (lambda n: "a: " + "{b: " * n + "1" + "}" * n, 20_000, 1, 3 + 4 * (MAX_DEPTH - 1) + 1),
    (lambda n: "- " * n + "x\n", 20_000, 1, 2 * MAX_DEPTH + 1),  # block sequences
])
def test_20000_deep_nesting_is_gov003_without_recursion(make, levels, line, column):
    result = load(make(levels))
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV003", line, column)
    assert f"{MAX_DEPTH} levels" in problem.message


def test_deep_block_mappings_are_gov003():
    # one-space indentation keeps 5,000 levels to ~12 MB of text; level 101 opens on line 101
    result = load(nested_block_mappings(5_000, indent=1))
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV003", MAX_DEPTH + 1,
                                                            MAX_DEPTH + 1)


@pytest.mark.parametrize(("text", "position"), [
    (nested_flow(MAX_DEPTH), None),
    (nested_flow(MAX_DEPTH + 1), (1, MAX_DEPTH + 1)),
    ("a: " + nested_flow(MAX_DEPTH - 1), None),
    ("a: " + nested_flow(MAX_DEPTH), (1, 3 + MAX_DEPTH)),
    (nested_block_mappings(MAX_DEPTH), None),
    (nested_block_mappings(MAX_DEPTH + 1), (MAX_DEPTH + 1, 2 * MAX_DEPTH + 1)),
])
def test_exactly_100_levels_is_fine_101_is_not(text, position):
    result = load(text)
    if position is None:
        assert result.problems == ()
        assert len(result.documents) == 1
    else:
        problem = only_problem(result)
        assert (problem.rule, problem.line, problem.column) == ("GOV003", *position)


def test_deep_nesting_in_a_later_document_keeps_earlier_documents():
    result = load("a: 1\n---\nb: " + nested_flow(20_000) + "\n")
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column, problem.document) == (
        "GOV003", 3, 3 + MAX_DEPTH, 1)
    assert result.documents[0].data == {"a": 1}
    assert not result.documents[0].broken


# -- characters, encodings, size ------------------------------------------------------------


def test_utf8_bom_is_accepted_and_positions_ignore_it():
    raw = "\ufeffapiVersion: govctl/v1\nkind: Person\n".encode()
    result = loader.load_bytes(raw, with_positions=True)
    assert result.problems == ()
    assert result.documents[0].data == {"apiVersion": "govctl/v1", "kind": "Person"}
    assert loader.locate(result.positions[0], ("apiVersion",), at_key=True) == (1, 1)
    assert loader.locate(result.positions[0], ("apiVersion",)) == (1, 13)


def test_crlf_line_endings_load_with_right_positions():
    raw = b"a: 1\r\nb:\r\n  c: x\r\n  d: |\r\n    one\r\n    two\r\n"
    result = loader.load_bytes(raw, with_positions=True)
    assert result.problems == ()
    assert result.documents[0].data == {"a": 1, "b": {"c": "x", "d": "one\ntwo\n"}}
    positions = result.positions[0]
    assert loader.locate(positions, ("b", "c"), at_key=True) == (3, 3)
    assert loader.locate(positions, ("b", "c")) == (3, 6)
    assert loader.locate(positions, ("b", "d")) == (4, 6)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_yaml_1_1_line_breaks_do_not_shift_lines(separator):
    # libyaml ends lines at LS / PS / NEL too; editors, git and GitHub count only line feeds
    text = f'a: "x{separator}y"\nb: 1\nc: !Ref z\nb: 2\n'
    result = load(text, with_positions=True)
    assert [(p.rule, p.line, p.column) for p in result.problems] == [
        ("GOV003", 3, 4), ("GOV002", 4, 1)]
    assert "line 2" in result.problems[1].message
    assert loader.locate(result.positions[0], ("b",)) == (2, 4)
    syntax = only_problem(load(f'a: "x{separator}y"\nb: [1\n'))
    assert (syntax.rule, syntax.line, syntax.column) == ("GOV001", 3, 1)


def test_bom_and_crlf_together_report_problem_positions():
    raw = "\ufeffa: 1\r\nb: 2\r\na: 3\r\n".encode()
    problem = only_problem(loader.load_bytes(raw))
    assert (problem.rule, problem.line, problem.column) == ("GOV002", 3, 1)


@pytest.mark.parametrize(("raw", "line", "column"), [
    (b"a: 1\nb: 2\nc: caf\xe9\n", 3, 7),  # Latin-1
    (b"a: 1\nb: \xff\xfe\n", 2, 4),
    ("n\u00e9: ".encode() + b"\x80\n", 1, 5),  # the column counts characters, not bytes
    (b"\xff\xfea\x00:\x00 \x001\x00", 1, 1),  # UTF-16
    ("a: \u00e9\n".encode() + b"b: \xed\xa0\x80\n", 2, 4),  # an encoded surrogate
    ("\ufeff\u00e9: ".encode() + b"\xc3\n", 1, 4),  # after a BOM
])
def test_non_utf8_is_gov004_at_the_bad_byte(raw, line, column):
    result = loader.load_bytes(raw)
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV004", line, column)
    assert "UTF-8" in problem.message
    assert problem.document is None
    assert result.documents == ()


def test_size_limit_is_gov004():
    raw = b"".join(b"k%d: 1\n" % i for i in range(10))  # 60 bytes
    result = loader.load_bytes(raw, max_size=59)
    problem = only_problem(result)
    assert (problem.rule, problem.line, problem.column) == ("GOV004", 1, 1)
    assert "59" in problem.message and "60" in problem.message
    assert result.documents == ()
    assert loader.load_bytes(raw, max_size=60).problems == ()  # the limit itself is allowed


def test_default_size_limit_is_5_mib():
    assert MAX_FILE_SIZE == 5 * 1024 * 1024
    problem = only_problem(loader.load_bytes(b"#" * (MAX_FILE_SIZE + 1)))
    assert problem.rule == "GOV004"


@pytest.mark.parametrize(("text", "line", "column"), [
    ("a: b\x00c\n", 1, 5),
    ("a: 1\nb: x\x07y\n", 2, 5),
    ('a: "b\x1b"\n', 1, 6),
    ("a: b\x7fc\n", 1, 5),
    ("a: b\x9fc\n", 1, 5),
    ("a: b\ufffec\n", 1, 5),
    ("# comment \x01\na: 1\n", 1, 11),
])
def test_nul_and_control_characters_are_gov001(text, line, column):
    problem = only_problem(load(text))
    assert (problem.rule, problem.line, problem.column) == ("GOV001", line, column)


def test_escaped_control_characters_in_double_quotes_are_fine():
    assert value_of('"x\\x00y\\ty"') == "x\x00y\ty"


def test_tab_inside_a_value_is_fine():
    assert value_of("x\ty") == "x\ty"


@pytest.mark.parametrize(("text", "line", "column"), [
    ("a:\n\tb: 1\n", 2, 1),  # tab indentation
    ("a:\n  b:\n\t  c: 1\n", 3, 1),
    ("a: [1, 2\n", 2, 1),  # unterminated flow sequence
    ("a: {b: 1\n", 2, 1),  # unterminated flow mapping
    ("a: 'abc\n", 2, 1),  # unterminated quoted scalar
    ('a: "abc\n', 2, 1),
    ("a: 1\n b: 2\n", 2, 3),  # bad indentation
    ("key: value\n  bad: indent\n", 2, 6),
    ("- a\nb: c\n", 2, 1),
    ("a: b: c\n", 1, 5),
])
def test_syntax_errors_are_gov001(text, line, column):
    problem = only_problem(load(text))
    assert (problem.rule, problem.line, problem.column) == ("GOV001", line, column)
    assert problem.message.startswith("YAML syntax error")


def test_syntax_error_keeps_what_was_read_of_the_document():
    text = ("apiVersion: govctl/v1\nkind: Model\nmetadata: {id: m}\n"
            "spec:\n  name: [unterminated\n")
    result = load(text)
    assert [p.rule for p in result.problems] == ["GOV001"]
    (doc,) = result.documents
    assert doc.broken
    assert doc.data["kind"] == "Model"
    assert doc.data["metadata"] == {"id": "m"}


def test_fragment_without_a_record_envelope_is_not_kept():
    # nothing identifies it as a record, so keeping it would only add "missing kind" noise
    result = load("a: 1\nb: [1\n")
    assert [p.rule for p in result.problems] == ["GOV001"]
    assert result.documents == ()


def test_document_stopped_by_a_limit_keeps_its_envelope():
    text = "apiVersion: govctl/v1\nkind: Team\nmetadata: {id: t}\nspec: " + nested_flow(200)
    result = load(text)
    assert [p.rule for p in result.problems] == ["GOV003"]
    (doc,) = result.documents
    assert doc.broken
    assert doc.data == {"apiVersion": "govctl/v1", "kind": "Team", "metadata": {"id": "t"}}


# -- documents and positions ----------------------------------------------------------------


def test_multi_document_file():
    text = "a: 1\n---\nb: 2\n---\n- 3\n"
    result = load(text)
    assert result.problems == ()
    assert [(d.index, d.line, d.data) for d in result.documents] == [
        (0, 1, {"a": 1}), (1, 3, {"b": 2}), (2, 5, [3])]


def test_empty_documents_and_comments_hold_no_data():
    text = "# header\n---\n---\n# nothing here\n---\na: 1\n...\n---\n"
    result = load(text)
    assert result.problems == ()
    assert [d.data for d in result.documents if d.data is not None] == [{"a": 1}]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "\ufeff"])
def test_empty_files_have_no_documents(text):
    result = load(text)
    assert result.problems == ()
    assert all(d.data is None for d in result.documents)


def test_problems_name_their_document():
    text = "a: 1\n---\nb: !Ref x\n---\nc: 1\nc: 2\n"
    result = load(text)
    assert [(p.rule, p.line, p.column, p.document) for p in result.problems] == [
        ("GOV003", 3, 4, 1), ("GOV002", 6, 1, 2)]
    assert [d.broken for d in result.documents] == [False, True, True]


def test_syntax_error_in_a_later_document_keeps_earlier_ones():
    result = load("a: 1\n---\nb: [1\nc: 2\n")
    problem = only_problem(result)
    assert (problem.rule, problem.document) == ("GOV001", 1)
    assert result.documents[0].data == {"a": 1}
    assert not result.documents[0].broken


def test_positions_of_keys_and_values():
    text = ("apiVersion: govctl/v1\n"   # 1
            "kind: Bundle\n"            # 2
            "metadata:\n"               # 3
            "  id: triage\n"            # 4
            "spec:\n"                   # 5
            "  tools:\n"                # 6
            "    - name: lookup\n"      # 7
            "      version: '1.0'\n"    # 8
            "    - {name: b, version: 2}\n"  # 9
            "  params: {t: 0.5}\n")     # 10
    result = load(text, with_positions=True)
    assert result.problems == ()
    (positions,) = result.positions
    locate = loader.locate
    assert locate(positions, ("kind",), at_key=True) == (2, 1)
    assert locate(positions, ("kind",)) == (2, 7)
    assert locate(positions, ("metadata", "id"), at_key=True) == (4, 3)
    assert locate(positions, ("metadata", "id")) == (4, 7)
    assert locate(positions, ("metadata",), at_key=True) == (3, 1)
    assert locate(positions, ("metadata",)) == (4, 3)  # a block mapping starts at its key
    assert locate(positions, ("spec", "tools", 0)) == (7, 7)
    assert locate(positions, ("spec", "tools", 0, "version"), at_key=True) == (8, 7)
    assert locate(positions, ("spec", "tools", 0, "version")) == (8, 16)
    assert locate(positions, ("spec", "tools", 1)) == (9, 7)
    assert locate(positions, ("spec", "tools", 1, "version")) == (9, 26)
    assert locate(positions, ("spec", "params", "t")) == (10, 15)
    assert locate(positions, ()) == (1, 1)


def test_locate_falls_back_to_the_parent_key():
    result = load("a: 1\nspec:\n  b:\n    c: 2\n", with_positions=True)
    (positions,) = result.positions
    # a missing node is reported where its nearest parent is named
    assert loader.locate(positions, ("spec", "b", "missing")) == (3, 3)
    assert loader.locate(positions, ("spec", "nope", "deeper")) == (2, 1)
    assert loader.locate(positions, ("nothing",)) == (1, 1)


def test_positions_per_document():
    text = "a: 1\n---\n# comment\nb:\n  c: [x, y]\n"
    result = load(text, with_positions=True)
    assert len(result.positions) == len(result.documents) == 2
    assert loader.locate(result.positions[0], ("a",)) == (1, 4)
    assert loader.locate(result.positions[1], ("b", "c", 1)) == (5, 10)
    assert loader.locate(result.positions[1], ("b",), at_key=True) == (4, 1)
    assert result.documents[1].line == 4


def test_positions_are_only_collected_on_request():
    result = load("a: 1\n")
    assert result.positions == ()


def test_positions_do_not_change_values_or_problems():
    text = "a: 1\nb: !Ref x\nc: [1, 2]\nc: 3\n"
    plain, positioned = load(text), load(text, with_positions=True)
    assert plain.problems == positioned.problems
    assert [d.data for d in plain.documents] == [d.data for d in positioned.documents]


def test_values_are_plain_json_data():
    text = ("a: [1, 2.5, true, null, text, '2026-01-01']\n"
            "b: {c: {d: [{e: 0x10}]}}\n")
    result = load(text)
    assert result.problems == ()
    assert_plain_data(result.documents[0].data)
    assert not math.isnan(result.documents[0].data["a"][1])


def test_load_bytes_matches_load_text():
    text = "a: 1\nb: [x, y]\n---\nc: café\n"
    assert loader.load_bytes(text.encode()) == loader.load_text(text)



def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for k, v in value.items() for s in _strings(k) | _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return set()


@pytest.mark.parametrize("text", [
    'kind: "\\x42undle"\n', 'kind: "Bun\\\n  dle"\n', "kind: Bundle\n", "kind: 'Bundle'\n",
    "kind: |-\n  Bundle\n", "k: &a Bundle\nkind: *a\n", "\ufeffkind: Bundle\n",
])
def test_may_hold_is_true_whenever_the_file_yields_the_word(text):
    assert "Bundle" in _strings(load(text).documents[0].data)
    assert loader.may_hold(text.encode(), frozenset({"Model", "Bundle"}))


@pytest.mark.parametrize("text", [
    "kind: Bun\n  dle\n", "kind: 'Bun\n  dle'\n", "kind: >-\n  Bun\n  dle\n",
    "kind: ThresholdContract\n", "kind: bundle\n",
])
def test_may_hold_is_false_only_when_no_reading_yields_the_word(text):
    assert "Bundle" not in _strings(load(text).documents[0].data)
    assert not loader.may_hold(text.encode(), ("Bundle",))


# a word's spellings, cut where YAML may join (escaped or folded line breaks) or not
_HEADS = ["B", "Bun", "\\x42", "\\u0042", "\\U00000042", "\\x42un", "", "'", "\\"]
_JOINS = ["", "\\\n  ", "\n  ", "\n\n  ", " ", "''", "\\\n\n  "]
_TAILS = ["undle", "dle", "un\\\n  dle", "\\x75ndle", "undl\\u0065", "", "'"]
_STYLES = ['kind: "{}"\n', "kind: '{}'\n", "kind: {}\n", "kind: |-\n  {}\n",
           "kind: >-\n  {}\n", "- {}\n", "{{k: \"{}\"}}\n", "k: &a \"{}\"\nkind: *a\n"]


def test_may_hold_never_hides_a_yielded_word():
    """The skip is sound: every spelling here that any style reads as the word (escapes and
    joined lines among them) is one ``may_hold`` keeps."""
    yielded = escaped = 0
    for style, *parts in itertools.product(_STYLES, _HEADS, _JOINS, _TAILS):
        text = style.format("".join(parts))
        found = set().union(*(_strings(d.data) for d in load(text).documents))
        if "Bundle" in found:
            assert loader.may_hold(text.encode(), ("Model", "Bundle")), text
            yielded += 1
            escaped += "Bundle" not in text
    assert escaped >= 50 and yielded > escaped  # the spellings do reach the word


def test_may_hold_a_tuple_needs_all_of_its_words():
    raw = b"kind: Model\nmetadata: {id: chat-1}\n"
    assert loader.may_hold(raw, (("Model", "chat-1"),))
    assert not loader.may_hold(raw, (("Bundle", "chat-1"), ("Model", "chat-2")))
    assert loader.may_hold(raw, (("Bundle", "chat-1"), "chat"))
    assert loader.may_hold(b'kind: "\\x4dodel"', (("Model", "chat-1"),))  # an escape


@pytest.mark.parametrize(("text", "word"), [
    ("id: 'o''x'\n", "o'x"), ("id: tri\n  age\n", "tri age"), ("id: >-\n  a\n  b\n", "a b"),
    ("id: |-\n  a\n  b\n", "a\nb"), ("id: tri\r\n  age\r\n", "tri age"),
])
def test_may_hold_a_word_yaml_can_write_otherwise_always_may(text, word):
    """Folding writes a space, ``''`` a quote: such a word is never ruled out by bytes."""
    assert load(text).documents[0].data["id"] == word
    assert word.encode() not in text.encode()
    assert loader.may_hold(text.encode(), (("UseCase",), ("Bundle", word)))
    assert not loader.may_hold(text.encode(), (("Bundle", "plain-id"),))


def test_keys_spelled_alike_are_one_string_object():
    """Memory: 10,000 records repeat a few dozen keys; each is held once, whichever path
    (block or flow mapping, first or later document) read it."""
    text = ("apiVersion: govctl/v1\nkind: Person\nmetadata: {id: a}\nspec: {name: A}\n---\n"
            "apiVersion: govctl/v1\nkind: Person\nmetadata:\n  id: b\nspec:\n  name: B\n")
    first, second = (doc.data for doc in loader.load_text(text).documents)

    def key(mapping: dict, name: str) -> str:
        return next(k for k in mapping if k == name)

    for name in ("apiVersion", "kind", "metadata", "spec"):
        assert key(first, name) is key(second, name)
    assert key(first["metadata"], "id") is key(second["metadata"], "id")
    assert key(first["spec"], "name") is key(second["spec"], "name")
