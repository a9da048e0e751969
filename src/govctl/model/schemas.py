"""The JSON Schemas (``schemas/``, shipped in the wheel) and record validation.

jsonschema reports a JSON path; we turn each error into a :class:`SchemaIssue` that
names the node it is about (the unknown key itself, the missing field's parent key, the
bad value) so findings can carry the line and column of that node.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

from govctl.model.records import KINDS, SUPPORTED_API_VERSIONS

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaIssue:
    path: Path  # the node the message is about
    at_key: bool  # point at the key naming the node rather than its value
    message: str


def _schema_dir() -> Any:
    packaged = resources.files("govctl") / "schemas"
    if packaged.is_dir():
        return packaged
    # a source checkout (editable install): the top-level schemas/ folder
    return FsPath(__file__).resolve().parents[3] / "schemas"  # src/govctl/model/ → top


@cache
def schema(kind: str) -> dict[str, Any]:
    text = (_schema_dir() / f"{kind}.json").read_text(encoding="utf-8")
    return json.loads(text)


def combined_schema() -> dict[str, Any]:
    """One schema for any record, dispatching on ``kind`` (for editors)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://govctl.dev/schemas/v1/record.json",
        "title": "govctl record",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {"apiVersion": {"enum": list(SUPPORTED_API_VERSIONS)},
                       "kind": {"enum": list(KINDS)}},
        "allOf": [
            {"if": {"properties": {"kind": {"const": kind}}},
             "then": {"$ref": schema(kind)["$id"]}}
            for kind in KINDS
        ],
        "$defs": {kind: schema(kind) for kind in KINDS},
    }


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator, validators

    # JSON Schema patterns are ECMA-262 regular expressions, where "$" ends the string.
    # jsonschema runs them with Python's re, where "$" also matches before a final
    # newline: "triage\n" would pass ^[a-z0-9][a-z0-9._-]{0,127}$ here while the compiled
    # fast path (is_valid) rejects it, and a record both call valid-and-invalid ends up
    # valid with a newline in its id (and in the file name `approve` derives from it).
    ecma = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
    return ecma(schema(kind), format_checker=_format_checker())


@cache
def _format_checker() -> Any:
    """jsonschema's format checks with our dates and timestamps: the authority must reject
    what the fast check rejects (an instant beyond the calendar in UTC, say), or a record
    both call valid-and-invalid passes unreported and crashes a rule later."""
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker()
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("date")(_date_format)
    checker.checks("date-time")(_timestamp_format)
    return checker


def _ecma_pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and \
            _python_regex(pattern).search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _python_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ECMA-262's end anchor: an unescaped "$" becomes "\\Z"."""
    return re.compile(re.sub(r"(?<!\\)((?:\\\\)*)\$", r"\1\\Z", pattern))


def suggest(word: str, choices: Any) -> str:
    """' (did you mean 'x'?)' or ''.

    A different case (``Production``) or an abbreviation that starts exactly one choice
    (``prod`` → ``production``) is the likeliest intent; difflib's similarity ratio alone
    would rank ``approved`` above ``production`` for ``prod``.
    """
    options = [c for c in choices if isinstance(c, str)]
    if not isinstance(word, str) or not word or not options:
        return ""
    if len(word) > 3 * max(len(c) for c in options):
        # No choice can match: a case-folded twin or a prefix is at most as long as its
        # choice, and difflib's ratio 2*M/(len(a)+len(b)) stays under the 0.6 cutoff when
        # one word is over 7/3 times the other's length. Returning early also keeps a
        # megabyte-long key (repeated through aliases) from costing difflib a pass each.
        return ""
    folded = word.casefold()
    match = [c for c in options if c.casefold() == folded]
    if not match and len(folded) >= 3:
        match = [c for c in options if c.casefold().startswith(folded)]
        if len(match) != 1:
            match = []
    if not match:
        match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match and match[0] != word else ""


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, str) and len(part) > 40:
            part = part[:37] + "..."  # a key may be megabytes long; messages quote paths
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def envelope_issues(data: Any) -> tuple[str | None, list[SchemaIssue]]:
    """Check what a record must be before its kind's schema applies: (kind, issues)."""
    if not isinstance(data, Mapping):
        return None, [SchemaIssue((), False, "a record must be a mapping with apiVersion, kind, "
                                  "metadata and spec")]
    issues = []
    api = data.get("apiVersion")
    supported = ", ".join(SUPPORTED_API_VERSIONS)
    if api is None:
        issues.append(SchemaIssue((), False, f"missing apiVersion (supported: {supported})"))
    elif api not in SUPPORTED_API_VERSIONS:
        issues.append(SchemaIssue(("apiVersion",), False,
                                  f"unsupported apiVersion {_shown(api)}; supported: "
                                  f"{supported}"))
    kind = data.get("kind")
    if kind is None:
        issues.append(SchemaIssue((), False, f"missing kind (one of {', '.join(KINDS)})"))
        return None, issues
    if kind not in KINDS:
        hint = suggest(str(kind), KINDS) or f" (one of {', '.join(KINDS)})"
        issues.append(SchemaIssue(("kind",), False, f"unknown kind {_shown(kind)}{hint}"))
        return None, issues
    return kind, issues


_ENVELOPE = frozenset(("apiVersion", "kind"))


def _date_format(value: Any) -> bool:
    from datetime import date

    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _timestamp_format(value: Any) -> bool:
    from govctl.model.dates import parse_timestamp

    return parse_timestamp(value) is not None


@cache
def _fast_validator(kind: str) -> Any:
    """A compiled "is it valid?" check (fastjsonschema), about 13x faster than jsonschema.

    The schemas use only keywords that mean the same in draft-07 and 2020-12 (a test keeps
    them so, and another compares both validators on generated records); formats are ours,
    so both accept exactly the same dates and timestamps. jsonschema stays the authority:
    every record the fast check rejects is validated again by it, for the messages.
    """
    from govctl.cache import compiled

    return compiled.validator(kind, schema(kind), {"date": _date_format,
                                                   "date-time": _timestamp_format})


def is_valid(kind: str, data: Any) -> bool:
    return _fast_validator(kind)(data)


def validate(kind: str, data: Any, limit: int | None = None) -> list[SchemaIssue]:
    """Issues of ``data`` against the ``kind`` schema, one per node and message.

    ``apiVersion`` and ``kind`` are left to :func:`envelope_issues`, which runs first and
    words them better; reporting them here too would double every such finding.
    ``limit``: stop after that many issues (the first ones in document order). A hostile
    record can hold a million wrong values, each costing jsonschema tens of microseconds
    and memory (SPEC §3 bounds both).
    """
    if is_valid(kind, data):
        return []
    issues: list[SchemaIssue] = []
    seen: set[tuple[Path, bool, str]] = set()
    for error in _validator(kind).iter_errors(data):
        for issue in _issues(error):
            if len(issue.path) == 1 and issue.path[0] in _ENVELOPE:
                continue
            key = (issue.path, issue.at_key, issue.message)
            if key not in seen:  # e.g. a date failing both its pattern and its format
                seen.add(key)
                issues.append(issue)
                if limit is not None and len(issues) >= limit:
                    break
        if limit is not None and len(issues) >= limit:
            break
    issues.sort(key=lambda i: [str(p) for p in i.path])
    return issues


_TYPE_NAMES = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _issues(error: Any) -> Iterator[SchemaIssue]:
    path: Path = tuple(error.absolute_path)
    where = dotted(path)
    keyword = error.validator
    sub = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    schema_path = list(error.schema_path)
    if len(schema_path) >= 2 and schema_path[-2] == "propertyNames":
        # jsonschema checks each key as an instance of its own, with the *mapping's* path:
        # point at the key itself, not at the mapping.
        bad = instance
        allowed = error.validator_value if keyword == "enum" else []
        if allowed:
            hint = suggest(str(bad), allowed) or f" (expected one of {', '.join(allowed)})"
        else:
            hint = f": {error.message}"
        yield SchemaIssue((*path, bad) if isinstance(bad, str) else path, True,
                          f"key {_shown(bad)} is not allowed in {where}{hint}")
        return
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = list(sub.get("properties", {}))
        for key in instance:
            if key not in known:
                hint = suggest(key, known) or (
                    f" (known: {', '.join(known)})" if known else "")
                # _shown clips: a key may be megabytes long, and aliases may repeat it
                yield SchemaIssue((*path, key), True,
                                  f"unknown key {_shown(key)} in {where}{hint}")
        return
    if keyword == "required" and isinstance(instance, Mapping):
        for name in error.validator_value:
            if name not in instance and not (not path and name in _ENVELOPE):
                yield SchemaIssue(path, True, f"{where}: missing required field {name!r}")
        return
    if keyword in ("anyOf", "oneOf") and "x-message" in sub:
        yield SchemaIssue(path, True, f"{where}: {sub['x-message']}")
        return
    if keyword == "enum":
        allowed = error.validator_value
        hint = suggest(str(instance), allowed) if isinstance(instance, str) else ""
        yield SchemaIssue(path, False, f"{where}: {_shown(instance)} is not one of "
                          f"{', '.join(str(a) for a in allowed)}{hint}")
        return
    if keyword == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = _TYPE_NAMES.get(type(instance), type(instance).__name__)
        hint = "; quote it" if expected == "string" and got in ("number", "integer",
                                                              "boolean") else ""
        yield SchemaIssue(path, False, f"{where}: expected {expected}, got {got} "
                          f"{_shown(instance)}{hint}")
        return
    if keyword in ("pattern", "format"):
        yield SchemaIssue(path, False, f"{where}: {_shown(instance)} {_pattern_text(sub)}")
        return
    if keyword == "const":
        yield SchemaIssue(path, False, f"{where}: must be {error.validator_value!r}")
        return
    # jsonschema's own message quotes the instance in full (megabytes, for a hostile file)
    yield SchemaIssue(path, False, f"{where}: {_clip_message(error.message)}")


def _clip_message(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit - 3] + "..."


def _pattern_text(sub: Mapping[str, Any]) -> str:
    fmt = sub.get("format")
    if fmt == "date":
        return "is not a valid date (YYYY-MM-DD)"
    if fmt == "date-time":
        return "is not an RFC 3339 timestamp (e.g. 2026-10-02T14:05:00Z)"
    description = sub.get("description")
    if description:
        return f"is not valid: {description[0].lower()}{description[1:].rstrip('.')}"
    return f"does not match {sub.get('pattern')}"
