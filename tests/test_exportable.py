"""GOV045 (SPEC §2, §5): a contract `validate` accepts exports validly, and one it
reports is never exported. Each SPEC case is a finding with rule, file, line and record;
`export prometheus-rules` refuses it as a whole (exit 1, nothing written); the window is
read by one parser, so `status` freshness agrees; and a property test asks the real
promtool whether every window `validate` accepts makes a valid rules file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import commit_all, init_git, require_program
from tests.observation_support import AS_OF, AS_OF_TEXT, signals, status_json
from tests.rules_support import (
    CONTRACT,
    assert_finding,
    edit_before_build,
    of_rule,
    only,
    validate,
)

RECORD = "ThresholdContract/triage-contract"
LATENCY = "    latency: {metric: p95_latency_ms, max: 2500, window: 5m, severity: page}\n"
RUNBOOK = "runbook: runbooks/triage.md"


def latency(metric: str = "p95_latency_ms", window: str = "5m",
            query: str | None = None) -> str:
    """The factory's latency signal with these fields (JSON strings are YAML scalars)."""
    extra = f", query: {json.dumps(query)}" if query is not None else ""
    return (f"    latency: {{metric: {json.dumps(metric)}, max: 2500, "
            f"window: {json.dumps(window)}, severity: page{extra}}}\n")


def build(factory: Any, *, runbook: str | None = None, **fields: str) -> Path:
    """The factory repository with the latency signal (or the runbook) changed, approved
    as changed (so only GOV045 is new)."""
    if fields:
        edit_before_build(factory, CONTRACT, LATENCY, latency(**fields))
    if runbook is not None:
        edit_before_build(factory, CONTRACT, RUNBOOK, f"runbook: {json.dumps(runbook)}")
    return factory.build().root


def export(govctl: Any, root: Path, out: Path) -> Any:
    return govctl("export", "prometheus-rules", "--root", root, "--as-of", AS_OF_TEXT,
                  "-o", out)


SPEC_CASES = [
    # window: units y w d h m s ms, each at most once, largest first; > 0 and <= 1y
    ("window-out-of-order", {"window": "30m1h"}, "latency:", "is not a Prometheus duration"),
    ("window-unit-twice", {"window": "1h1h"}, "latency:", "is not a Prometheus duration"),
    ("window-overflow", {"window": "99999999999999999y"}, "latency:", "longer than 1y"),
    ("window-just-over-a-year", {"window": "1y1ms"}, "latency:", "longer than 1y"),
    ("window-zero", {"window": "0s"}, "latency:", "must be longer than 0"),
    # metric: a Prometheus metric name, never PromQL
    ("metric-dotted", {"metric": "nw.dotted-metric"}, "latency:",
     "is not a Prometheus metric name"),
    ("metric-promql-that-breaks", {"metric": "up} or vector(1) or x{"}, "latency:",
     "is not a Prometheus metric name"),
    ("metric-promql-that-parses", {"metric": 'up{job="x"} or vector(1) or x'}, "latency:",
     "is not a Prometheus metric name"),
    ("metric-keyword-default-query", {"metric": "bool"}, "latency:", "is a PromQL keyword"),
    # query: what the structural check can tell
    ("query-unclosed", {"query": "sum(rate(x[5m])"}, "latency:", "unclosed '('"),
    ("query-mismatched", {"query": "sum(rate(x[5m)])"}, "latency:", "unbalanced ')'"),
    ("query-closes-early", {"query": 'x) or vector(1) or (y'}, "latency:",
     "unbalanced ')'"),
    ("query-unterminated-string", {"query": 'up{job="a}'}, "latency:",
     "unterminated string literal"),
    ("query-string-across-lines", {"query": 'up{job="a\nb"}'}, "latency:",
     "unterminated string literal"),
    ("query-control-character", {"query": "up\x1b[2J"}, "latency:",
     "control character U+001B"),
    ("query-template-variable", {"query": "rate(x[$__rate_interval])"}, "latency:",
     "'$' outside a string literal"),
    ("query-blank", {"query": "   "}, "latency:", "is empty"),
    ("query-only-a-comment", {"query": "# nothing here"}, "latency:", "is empty"),
    # runbook: an https/http URL or a file
    ("runbook-javascript", {"runbook": "javascript:alert(document.cookie)"}, "on_breach:",
     "is a javascript: URL"),
    ("runbook-data", {"runbook": "data:text/html,<script>alert(1)</script>"}, "on_breach:",
     "is a data: URL"),
]


@pytest.mark.parametrize(("fields", "needle", "message"),
                         [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_gov045_each_spec_case_is_found_and_never_exported(factory, govctl, tmp_path,
                                                           fields, needle, message):
    root = build(factory, **fields)
    code, payload = validate(govctl, factory)
    assert code == 1
    (finding,) = of_rule(payload, "GOV045")
    assert_finding(finding, rule="GOV045", file=CONTRACT, record=RECORD,
                   line=factory.line_of(CONTRACT, needle), message=message)
    # the export refuses the whole file: no partial rules, nothing on stdout
    out = tmp_path / "rules.yml"
    result = export(govctl, root, out)
    assert result.code == 1, result.stderr
    assert result.stdout == "" and not out.exists()
    assert "GOV045" in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one escaped line
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr


def test_gov045_reads_the_scheme_as_a_browser_does(factory, govctl, tmp_path):
    """A browser strips leading spaces and drops tabs: `` java<TAB>script:`` runs code.
    (Not a URL to govctl's file references either: GOV022 reports the missing file.)"""
    root = factory.build().root
    factory.edit(CONTRACT, RUNBOOK, 'runbook: " java\\tscript:alert(1)"')  # YAML: a tab
    payload = validate(govctl, factory)[1]
    assert_finding(only(of_rule(payload, "GOV045")), rule="GOV045", file=CONTRACT,
                   record=RECORD, line=factory.line_of(CONTRACT, "on_breach:"),
                   message="is a javascript: URL")
    assert of_rule(payload, "GOV022")
    result = export(govctl, root, tmp_path / "rules.yml")
    assert result.code == 1 and "javascript:" in result.stderr


def test_gov045_points_at_the_field(factory, govctl):
    build(factory, window="1h1h")
    finding = of_rule(validate(govctl, factory)[1], "GOV045")[0]
    line = (factory.root / CONTRACT).read_text().splitlines()[finding["line"] - 1]
    assert line[finding["column"] - 1:].startswith('"1h1h"')


def test_gov045_reports_every_problem_of_a_contract(factory, govctl):
    build(factory, metric="a.b", window="1h1h", query="(up", runbook="javascript:x")
    messages = [f["message"] for f in of_rule(validate(govctl, factory)[1], "GOV045")]
    assert len(messages) == 4
    for fragment in ("window '1h1h'", "metric 'a.b'", "query '(up'", "runbook 'javascript:x'"):
        assert any(fragment in m for m in messages), (fragment, messages)


def test_gov045_severity_follows_the_policy(factory, govctl):
    factory.files["governance.yaml"] += "  rules: {GOV045: warning}\n"
    build(factory, window="1h1h")
    code, payload = validate(govctl, factory)
    assert code == 0 and of_rule(payload, "GOV045")[0]["severity"] == "warning"


@pytest.mark.parametrize("window", ["5m", "1h30m", "1y", "90s", "500ms"])
def test_valid_durations_produce_no_gov045_and_export(factory, govctl, tmp_path, window):
    root = build(factory, window=window)
    code, payload = validate(govctl, factory)
    assert code == 0 and of_rule(payload, "GOV045") == [], payload["findings"]
    out = tmp_path / "rules.yml"
    assert export(govctl, root, out).code == 0
    assert f"for: {window}\n" in out.read_text()


VALID_QUERIES = [
    'sum by (le) (rate(x{job="a)"}[5m]))',  # brackets inside strings
    "up{job='it\\'s'} or up{job=`a)\n(b`}",  # escapes, a raw string across lines
    "rate(p95_latency_ms[5m])  # per second (see the runbook",  # a trailing comment
    '{__name__="bool", use_case="claims-triage"}',  # a keyword metric, reached by name
    "max_over_time(up[1h:5m] @ 1700000000)",
]


@pytest.mark.parametrize("query", VALID_QUERIES)
def test_valid_queries_produce_no_gov045(factory, govctl, query):
    build(factory, query=query, metric="bool")  # with a query, `bool` is only a label
    code, payload = validate(govctl, factory)
    assert code == 0 and of_rule(payload, "GOV045") == [], payload["findings"]


@pytest.mark.parametrize("runbook", ["https://wiki.acme.test/runbooks/triage",
                                     "HTTP://wiki.acme.test/x", "runbooks/triage.md"])
def test_https_http_and_file_runbooks_produce_no_gov045(factory, govctl, runbook):
    build(factory, runbook=runbook)
    code, payload = validate(govctl, factory)
    assert code == 0 and of_rule(payload, "GOV045") == [], payload["findings"]


@pytest.mark.external("promtool")
@pytest.mark.parametrize("query", VALID_QUERIES)
def test_valid_queries_export_as_promtool_accepts(factory, govctl, tmp_path, query):
    promtool = require_program("promtool")
    root = build(factory, query=query, window="500ms")
    out = tmp_path / "rules.yml"
    result = export(govctl, root, out)
    assert result.code == 0, result.stderr
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr + out.read_text()


def test_the_approved_contract_from_history_is_checked_too(factory, govctl, tmp_path):
    """The export compiles the contract *as approved*: fixing the working tree without
    re-approval does not make the approved `1h1h` exportable."""
    root = build(factory, window="1h1h")
    init_git(root)
    commit_all(root, "approved", date="2026-10-01T10:00:00Z")
    factory.edit(CONTRACT, 'window: "1h1h"', 'window: "2h"')
    payload = validate(govctl, factory)[1]
    assert of_rule(payload, "GOV045") == [] and of_rule(payload, "GOV032")
    out = tmp_path / "rules.yml"
    result = export(govctl, root, out)
    assert result.code == 1 and not out.exists()
    assert "window '1h1h'" in result.stderr and "git blob" in result.stderr


def test_status_reads_the_window_with_the_same_parser(factory, govctl, tmp_path):
    """A window `validate` rejects is judged by the default 1h (two hours fresh) — never
    an OverflowError (`99999999999999999y` crashed `status`) or a silently longer one."""
    root = build(factory, window="99999999999999999y")
    rows = tmp_path / "obs.jsonl"
    rows.write_text(json.dumps({"use_case": "claims-triage", "signal": "latency",
                                "metric": "p95_latency_ms", "value": 1,
                                "at": "2026-11-27T09:00:00Z"}) + "\n")
    payload = status_json(govctl, root, "--observations", rows)
    assert signals(payload)["latency"]["state"] == "stale"  # 3 h old > 2 × 1h


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("5m", "1h1h", "loosened"),  # was 2 h to the old lenient reading: now no alert at all
    ("1h1h", "2h", "tightened"),  # an alert again
    ("1h1h", "30m1h", "neutral"),
    ("5m", "1h", "loosened"), ("1d", "6h", "tightened"),
])
def test_diff_effect_of_a_window_uses_the_same_parser(old, new, expected):
    from govctl.rules.changes import effect

    assert effect("ThresholdContract", ("signals", "latency", "window"), old, new) == expected


# -- the property: no GOV045 means promtool accepts the exported file -----------------------

_UNITS = st.sampled_from(["y", "w", "d", "h", "m", "s", "ms"])
_NUMBERS = st.one_of(st.integers(0, 400), st.sampled_from([8760, 525600, 31536000000,
                                                             99999999999999999]))
WINDOWS = st.one_of(
    st.lists(st.tuples(_NUMBERS, _UNITS), min_size=1, max_size=3).map(
        lambda parts: "".join(f"{n}{u}" for n, u in parts)),
    st.text(alphabet="0123456789ymwdhs", min_size=1, max_size=8),
)


@pytest.mark.external("promtool")
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=WINDOWS)
def test_property_no_gov045_means_promtool_accepts(factory, tmp_path, window):
    from govctl.model.repository import WorktreeSource, load_repository
    from govctl.monitoring.export import UnexportableContracts, dump, prometheus_rules
    from govctl.rules.runner import check_repository

    promtool = require_program("promtool")
    if not (factory.root / CONTRACT).exists():
        factory.build()
    text = factory.files[CONTRACT]
    assert isinstance(text, str)
    (factory.root / CONTRACT).write_text(text.replace(LATENCY, latency(window=window)))
    repo = load_repository(WorktreeSource(factory.root))
    policy, findings = check_repository(repo, AS_OF)
    gov045 = [f for f in findings if f.rule == "GOV045"]
    try:
        rules = prometheus_rules(repo, policy, AS_OF, None, factory.root)
    except UnexportableContracts:
        assert gov045, window  # the export refuses exactly what validate reports
        return
    assert not gov045, window
    out = tmp_path / "rules.yml"
    out.write_text(dump(rules, "property test"))
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, (window, check.stdout + check.stderr)
