"""What a threshold contract must be for its alert rules to be valid (SPEC §2 GOV045, §5).

`validate` reports these problems (``rules.exportable``) and `export prometheus-rules`
refuses to write rules from a contract that has one (``monitoring.export``): both ask
:func:`contract_problems`, so whatever `validate` accepts exports validly.

* ``window``: a Prometheus duration, longer than 0 and at most 1y (``model.durations``).
* ``metric``: a Prometheus metric name (``^[a-zA-Z_:][a-zA-Z0-9_:]*$``), so the default
  query ``<metric>{use_case="…"}`` is one selector, never PromQL written into a name;
  without a ``query``, also not one of the few words the PromQL parser reads as a keyword
  even before ``{`` (``bool``, ``on``, ``inf``, …: promtool rejects ``bool{…}``).
* ``query``: there is no PromQL parser among our dependencies, so the check is
  structural and conservative — it flags only what no PromQL expression can hold: an
  empty expression, a control character, an unterminated string literal, unbalanced or
  mismatched ``()[]{}`` outside string literals and comments, and the characters
  ``$ ; ? & | \\`` outside them. A query that passes may still be invalid PromQL
  (``up up``); ``promtool check rules`` on the exported file is the full check.
* ``runbook``: a URL must be ``https:`` or ``http:`` — a ``javascript:`` or ``data:``
  link in an alert runs in the browser of whoever clicks it. The scheme is read the way
  a browser reads it (leading and trailing spaces and control characters stripped, tabs
  and newlines removed), so `` javascript:…`` and ``java<TAB>script:…`` count too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from govctl.model.durations import window_problem
from govctl.model.findings import quote

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")  # fullmatch; ASCII only
# Valid metric names that the PromQL parser reads as keywords even when a `{` follows, so
# `<metric>{use_case="…"}` does not parse (checked with promtool 2.42; case-insensitive).
# A metric of that name is still reachable with `query: '{__name__="bool", …}'`.
KEYWORD_METRICS = frozenset({"atan2", "bool", "group_left", "group_right", "ignoring",
                             "inf", "nan", "on"})
ALLOWED_RUNBOOK_SCHEMES = ("https", "http")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF, CR are spacing
_NEVER_OUTSIDE_STRINGS = frozenset("$;?&|\\")
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# what a browser strips from the ends of a URL, and removes from inside it
_URL_ENDS = "".join(chr(c) for c in range(0x21))
_URL_INSIDE = re.compile("[\t\n\r]")


@dataclass(frozen=True)
class ExportProblem:
    """One reason a contract's alert rules would be invalid or unsafe."""

    path: tuple[str, ...]  # within the contract's spec, e.g. ("signals", "latency", "window")
    signal: str | None  # None: the whole contract (its runbook)
    message: str


@dataclass(frozen=True)
class _Scan:
    problem: str | None
    open_comment: bool  # the text ends inside a `#` comment (no newline after it)


def _scan(query: str) -> _Scan:
    stack: list[tuple[str, int]] = []  # open brackets and where
    seen = False  # anything but spacing and comments
    open_comment = False
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch == "#":  # a comment runs to the end of the line
            end = query.find("\n", i)
            if end < 0:
                open_comment = True
                break
            i = end + 1
            continue
        if ch in "\"'`":  # '…' and "…" end at the line, with \ escapes; `…` is raw
            j = i + 1
            while j < n and query[j] != ch and (ch == "`" or query[j] != "\n"):
                j += 2 if ch != "`" and query[j] == "\\" else 1
            if j >= n or query[j] != ch:
                return _Scan(f"has an unterminated string literal (offset {i})", False)
            i = j
        elif ch in "([{":
            stack.append((ch, i))
        elif ch in _CLOSERS:
            if not stack or stack[-1][0] != _CLOSERS[ch]:
                return _Scan(f"has an unbalanced {ch!r} (offset {i})", False)
            stack.pop()
        elif ch in _NEVER_OUTSIDE_STRINGS:
            return _Scan(f"has {ch!r} outside a string literal (offset {i}), which PromQL "
                         "never accepts", False)
        seen = seen or ch not in " \t\r\n"
        i += 1
    if stack:
        bracket, at = stack[-1]
        return _Scan(f"has an unclosed {bracket!r} (offset {at})", open_comment)
    return _Scan(None if seen else "is empty", open_comment)


def query_problem(query: Any) -> str | None:
    """Why ``query`` is certainly not a PromQL expression, None when the structural check
    finds nothing (which does not prove it valid). A value that is not a string is the
    schema's to report."""
    if not isinstance(query, str):
        return None
    control = _CONTROL.search(query)
    if control is not None:
        return f"holds the control character U+{ord(control.group()):04X}"
    return _scan(query).problem


def ends_in_comment(query: str) -> bool:
    """True when the query's last line ends in a ``#`` comment: an expression built around
    it (``(QUERY) > 3``) must start a new line first, or the comment swallows the rest."""
    return _scan(query).open_comment


def metric_problem(metric: Any, default_query: bool) -> str | None:
    if not isinstance(metric, str):
        return None
    if METRIC_NAME.fullmatch(metric) is None:
        return ("is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); "
                "write PromQL in `query`, not in `metric`")
    if default_query and metric.lower() in KEYWORD_METRICS:
        return (f"is a PromQL keyword, so the default query {metric}{{use_case=…}} does "
                f"not parse; set `query`, e.g. '{{__name__=\"{metric}\", use_case=\"…\"}}'")
    return None


def runbook_scheme(runbook: str) -> str | None:
    """The URL scheme a browser would read in ``runbook`` (lowercase), None for a path."""
    text = _URL_INSIDE.sub("", runbook.strip(_URL_ENDS))
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else None


def runbook_problem(runbook: Any) -> str | None:
    if not isinstance(runbook, str):
        return None
    scheme = runbook_scheme(runbook)
    if scheme is None or scheme in ALLOWED_RUNBOOK_SCHEMES:
        return None
    if len(scheme) == 1:
        return None  # `c:/…` is a drive letter: a (bad) file path, GOV022's to report
    return (f"is a {scheme}: URL; a runbook URL must be https: or http: (a link in an "
            "alert must not run code in the browser of whoever clicks it, as javascript: "
            "and data: links do)")


def contract_problems(spec: Mapping[str, Any]) -> Iterator[ExportProblem]:
    """Every reason the alert rules of a contract with this ``spec`` would be invalid or
    unsafe, each at the field it is about."""
    signals = spec.get("signals")
    for name, signal in (signals.items() if isinstance(signals, Mapping) else ()):
        if not isinstance(signal, Mapping):
            continue
        where = f"signal {quote(name)}:"
        checks = (("window", window_problem(signal.get("window"))),
                  ("metric", metric_problem(signal.get("metric"), "query" not in signal)),
                  ("query", query_problem(signal.get("query"))))
        for field, problem in checks:
            if problem is not None:
                yield ExportProblem(("signals", name, field), name,
                                    f"{where} {field} {quote(signal[field])} {problem}")
    on_breach = spec.get("on_breach")
    if isinstance(on_breach, Mapping):
        problem = runbook_problem(on_breach.get("runbook"))
        if problem is not None:
            yield ExportProblem(("on_breach", "runbook"), None,
                                f"runbook {quote(on_breach['runbook'])} {problem}")
