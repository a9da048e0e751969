"""Observations files (SPEC §3.3): JSON Lines, CSV, OpenMetrics text and Prometheus text give
the same signal states for the same data; the latest value at or before --as-of wins;
samples without a timestamp are observed at the file's mtime; the format is detected or
named; a malformed file is one "file:line: what" line and exit 2, never a traceback."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.observation_support import (
    AS_OF,
    FORMATS,
    Row,
    ago,
    assert_usage_error,
    rfc3339,
    signals,
    states,
    status_json,
    write_observations,
)

# -- the same states from every format --------------------------------------------------------

# the factory's contract: latency max 2500 (5m), accuracy_proxy min 0.9 (1d),
# drift max 0.2 (1d), abuse max 0.01 (1h), fallback max 0.3 (1h)
MIXED = [
    Row("latency", 2600.0, ago(minutes=2)),  # above max
    Row("accuracy_proxy", 0.85, ago(hours=1)),  # below min
    Row("drift", 0.2, ago(hours=3)),  # exactly at max: ok (strictly above breaches)
    Row("fallback", 0.1, ago(hours=2, seconds=1)),  # older than 2 x 1h
    # abuse: never observed
]
MIXED_STATES = {"latency": "breach", "accuracy_proxy": "breach", "drift": "ok",
                "fallback": "stale", "abuse": "missing"}

BOUNDARIES = [
    Row("latency", 2500.0, ago(minutes=10)),  # at max, and exactly 2 x 5m old: ok
    Row("accuracy_proxy", 0.9, ago(days=2)),  # at min, exactly 2 x 1d old: ok
    Row("drift", 0.1, ago(days=2, seconds=1)),  # a second over 2 x 1d: stale
    Row("abuse", 0.01, ago(minutes=1)),  # at max: ok
    Row("fallback", 0.3, ago(hours=2)),  # at max, exactly 2 x 1h old: ok
]
BOUNDARY_STATES = {"latency": "ok", "accuracy_proxy": "ok", "drift": "stale", "abuse": "ok",
                   "fallback": "ok"}


@pytest.fixture
def root(factory: Any) -> Path:
    return factory.build().root


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_ok_breach_missing_and_stale(govctl, root, tmp_path, fmt):
    path = write_observations(tmp_path, MIXED, fmt)
    payload = status_json(govctl, root, "--observations", path)
    assert states(payload) == MIXED_STATES
    observed = signals(payload)
    assert observed["latency"]["value"] == 2600
    assert observed["latency"]["observed_at"] == rfc3339(ago(minutes=2))
    assert observed["latency"]["threshold"] == {"max": 2500}
    assert observed["accuracy_proxy"]["value"] == 0.85
    assert observed["accuracy_proxy"]["threshold"] == {"min": 0.9}
    assert observed["fallback"]["value"] == 0.1  # a stale value is still shown
    assert observed["abuse"]["value"] is None
    assert observed["abuse"]["observed_at"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_values_at_the_bound_and_ages_of_exactly_twice_the_window_are_ok(govctl, root, tmp_path,
                                                                         fmt):
    path = write_observations(tmp_path, BOUNDARIES, fmt)
    assert states(status_json(govctl, root, "--observations", path)) == BOUNDARY_STATES


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("value", "state"), [
    (0.01, "breach"), (0.5, "breach"), (0.05, "ok"), (0.3, "ok"), (0.2, "ok")])
def test_a_band_breaches_on_both_sides_only(govctl, factory, tmp_path, fmt, value, state):
    factory.build()
    factory.edit("thresholds/triage.yaml", "fallback: {metric: human_handoff_rate, max: 0.3,",
                 "fallback: {metric: human_handoff_rate, min: 0.05, max: 0.3,")
    path = write_observations(tmp_path, [Row("fallback", value, ago(minutes=5))], fmt)
    fallback = signals(status_json(govctl, factory.root, "--observations", path))["fallback"]
    assert fallback["threshold"] == {"min": 0.05, "max": 0.3}
    assert (fallback["value"], fallback["state"]) == (value, state)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_latest_value_wins_whatever_its_place_in_the_file(govctl, root, tmp_path, fmt):
    rows = [
        Row("latency", 1000.0, ago(minutes=3)),
        Row("latency", 2600.0, ago(minutes=1)),  # the latest: breach
        Row("latency", 1500.0, ago(minutes=2)),
        Row("accuracy_proxy", 0.95, ago(hours=1)),  # the latest: ok
        Row("accuracy_proxy", 0.5, ago(hours=3)),
    ]
    observed = signals(status_json(govctl, root, "--observations",
                                   write_observations(tmp_path, rows, fmt)))
    assert (observed["latency"]["value"], observed["latency"]["state"]) == (2600, "breach")
    assert observed["latency"]["observed_at"] == rfc3339(ago(minutes=1))
    assert (observed["accuracy_proxy"]["value"], observed["accuracy_proxy"]["state"]) == (
        0.95, "ok")


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_values_at_one_instant_never_hide_the_breach(govctl, root, tmp_path, fmt):
    # the breach second: a reader keeping the first of a series' samples at one timestamp
    # would show 'ok' (prometheus_client's OpenMetrics parser does exactly that)
    at = ago(minutes=1)
    path = write_observations(tmp_path, [Row("latency", 1000.0, at),
                                         Row("latency", 2600.0, at)], fmt)
    if fmt == "openmetrics":  # the parser drops one: refused, naming the second sample
        result = govctl("status", "--root", root, "--observations", path, "--as-of",
                        "2026-11-27T12:00:00Z")
        assert_usage_error(result, f"{path}:", "same series at the same timestamp")
        return
    observed = signals(status_json(govctl, root, "--observations", path))
    assert (observed["latency"]["value"], observed["latency"]["state"]) == (2600, "breach")


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_after_as_of_are_ignored(govctl, root, tmp_path, fmt):
    rows = [
        Row("drift", 0.1, ago(hours=1)),
        Row("drift", 0.9, AS_OF + timedelta(minutes=1)),  # after --as-of
        Row("abuse", 0.5, AS_OF + timedelta(seconds=1)),  # only after --as-of
        Row("latency", 3000.0, AS_OF),  # at --as-of exactly: counts
    ]
    path = write_observations(tmp_path, rows, fmt)
    observed = signals(status_json(govctl, root, "--observations", path))
    assert (observed["drift"]["value"], observed["drift"]["state"]) == (0.1, "ok")
    assert observed["abuse"]["state"] == "missing"
    assert observed["latency"]["state"] == "breach"
    # the same file read later sees them
    later = signals(status_json(govctl, root, "--observations", path,
                                as_of=rfc3339(AS_OF + timedelta(minutes=5))))
    assert (later["drift"]["value"], later["drift"]["state"]) == (0.9, "breach")
    assert later["abuse"]["state"] == "breach"


def _set_mtime(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_without_a_timestamp_are_observed_at_the_file_mtime(govctl, root, tmp_path,
                                                                    fmt):
    rows = [Row("latency", 1200.0, None), Row("fallback", 0.1, None),
            Row("drift", 0.05, ago(hours=1))]  # a timestamped row beside them keeps its own
    path = write_observations(tmp_path, rows, fmt)

    _set_mtime(path, ago(minutes=3))
    fresh = signals(status_json(govctl, root, "--observations", path))
    assert fresh["latency"]["observed_at"] == rfc3339(ago(minutes=3))
    assert (fresh["latency"]["state"], fresh["fallback"]["state"]) == ("ok", "ok")
    assert fresh["drift"]["observed_at"] == rfc3339(ago(hours=1))

    _set_mtime(path, ago(minutes=20))  # older than 2 x 5m, younger than 2 x 1h
    older = states(status_json(govctl, root, "--observations", path))
    assert (older["latency"], older["fallback"], older["drift"]) == ("stale", "ok", "ok")

    _set_mtime(path, AS_OF + timedelta(minutes=1))  # written after --as-of: not yet observed
    future = states(status_json(govctl, root, "--observations", path))
    assert (future["latency"], future["fallback"], future["drift"]) == ("missing", "missing",
                                                                        "ok")


# -- format detection -----------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".txt", ""])
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_format_is_detected_from_the_content(govctl, root, tmp_path, fmt, extension):
    path = write_observations(tmp_path, MIXED, fmt, extension=extension)
    assert states(status_json(govctl, root, "--observations", path)) == MIXED_STATES


def test_csv_columns_may_come_in_any_order(govctl, root, tmp_path):
    path = tmp_path / "observations.txt"
    path.write_text("signal,value,at,use_case\n"
                    f"latency,2600,{rfc3339(ago(minutes=1))},claims-triage\n")
    assert states(status_json(govctl, root, "--observations", path))["latency"] == "breach"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_content_wins_over_a_misleading_extension(govctl, root, tmp_path, fmt):
    """SPEC §3.3: content decides the format before the suffix (an OpenMetrics file named
    .prom must not be read in milliseconds); naming the format still works."""
    wrong = {"jsonl": ".prom", "csv": ".om", "openmetrics": ".prom", "prometheus": ".jsonl"}
    path = write_observations(tmp_path, MIXED, fmt, extension=wrong[fmt])
    assert states(status_json(govctl, root, "--observations", path)) == MIXED_STATES
    payload = status_json(govctl, root, "--observations", path, "--observations-format", fmt)
    assert states(payload) == MIXED_STATES


def test_an_unknown_observations_format_is_a_usage_error(govctl, root, tmp_path):
    path = write_observations(tmp_path, MIXED, "jsonl")
    result = govctl("status", "--root", root, "--observations", path,
                    "--observations-format", "xml")
    assert_usage_error(result, "xml")


# -- garbage --------------------------------------------------------------------------------

GOOD_JSONL = '{"use_case": "claims-triage", "signal": "latency", "value": 1000, ' \
             '"at": "2026-11-27T11:59:00Z"}\n'
GOOD_CSV = "use_case,signal,metric,value,at,bundle_digest\n"
GOOD_SAMPLE = 'p95_latency_ms{use_case="claims-triage",signal="latency"} 1000\n'

GARBAGE = [
    pytest.param("bad.jsonl", GOOD_JSONL * 2 + '{"use_case": "claims-triage", "signal": \n'
                 + GOOD_JSONL, 3, "JSON", id="jsonl-bad-json-line-3"),
    pytest.param("array.jsonl", GOOD_JSONL + "[1, 2]\n", 2, "JSON object", id="jsonl-array"),
    pytest.param("nan.jsonl", GOOD_JSONL + GOOD_JSONL.replace("1000", "NaN"), 2, "finite",
                 id="jsonl-nan"),
    pytest.param("nouc.jsonl", GOOD_JSONL + GOOD_JSONL.replace('"use_case": "claims-triage", ',
                                                               ""), 2, "use_case",
                 id="jsonl-no-use-case"),
    pytest.param("at.jsonl", GOOD_JSONL.replace("2026-11-27T11:59:00Z", "yesterday"), 1,
                 "RFC 3339", id="jsonl-bad-timestamp"),
    pytest.param("bad.csv", GOOD_CSV + "claims-triage,latency,p95_latency_ms,1000,,\n"
                 "claims-triage,drift,psi,fast,,\n", 3, "not a number", id="csv-not-a-number"),
    pytest.param("nan.csv", GOOD_CSV + "claims-triage,latency,p95_latency_ms,NaN,,\n", 2,
                 "finite", id="csv-nan"),
    pytest.param("wide.csv", GOOD_CSV + "claims-triage,latency,p95_latency_ms,1,,,extra\n", 2,
                 "fields", id="csv-extra-field"),
    pytest.param("noeof.om", "# TYPE p95_latency_ms gauge\n" + GOOD_SAMPLE, 2, "# EOF",
                 id="openmetrics-without-eof"),
    pytest.param("nouc.om", GOOD_SAMPLE + 'psi{signal="drift"} 0.1\n# EOF\n', 2, "use_case",
                 id="openmetrics-no-use-case"),
    pytest.param("back.om", 'psi{use_case="claims-triage",signal="drift"} 0.1 1795780000\n'
                 'psi{use_case="claims-triage",signal="drift"} 0.2 1795780600\n'
                 'psi{use_case="claims-triage",signal="drift"} 0.3 1795780300\n# EOF\n', 3,
                 "backwards", id="openmetrics-timestamps-backwards"),
    pytest.param("braces.prom", GOOD_SAMPLE
                 + 'psi{use_case="claims-triage",signal="drift" 0.1\n' + GOOD_SAMPLE, 2,
                 "malformed", id="prometheus-unbalanced-braces"),
    pytest.param("nouc.prom", GOOD_SAMPLE * 2 + 'psi{signal="drift"} 0.1\n', 3, "use_case",
                 id="prometheus-no-use-case"),
    pytest.param("nouc2.prom", GOOD_SAMPLE + 'p95_latency_ms{signal="latency"} 0.1\n', 2,
                 "use_case", id="prometheus-no-use-case-same-metric"),
    pytest.param("nan.prom", GOOD_SAMPLE + GOOD_SAMPLE.replace("1000", "NaN"), 2, "finite",
                 id="prometheus-nan"),
    pytest.param("inf.prom", GOOD_SAMPLE.replace("1000", "+Inf"), 1, "finite",
                 id="prometheus-inf"),
    pytest.param("latin1.jsonl", GOOD_JSONL.encode() + b'{"use_case": "caf\xe9"}\n', 2,
                 "UTF-8", id="not-utf8"),
]


@pytest.mark.parametrize(("name", "content", "line", "fragment"), GARBAGE)
def test_malformed_observations_name_the_file_and_line(govctl, root, tmp_path, name, content,
                                                       line, fragment):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    for command in (("status",), ("explain", "claims-triage")):
        result = govctl(*command, "--root", root, "--observations", path,
                        "--as-of", "2026-11-27T12:00:00Z")
        assert_usage_error(result, f"{path}:{line}: ", fragment)


def test_a_missing_observations_file_is_a_usage_error(govctl, root, tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    result = govctl("status", "--root", root, "--observations", missing)
    assert_usage_error(result, str(missing), "not found")




# -- the example observations (README) ----------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_example_observations_agree_and_show_one_breach_and_one_stale_signal(govctl):
    reports = []
    for name in ("northwind.jsonl", "northwind.prom"):
        payload = status_json(govctl, EXAMPLES / "governance-repo", "--observations",
                              EXAMPLES / "observations" / name)
        reports.append(payload)
    jsonl, prom = reports
    assert jsonl == prom
    assert jsonl["findings"] == []  # every row carries its approved digest
    production = [u for u in jsonl["use_cases"] if u["status"] == "production"]
    assert len(production) == 3
    assert all(u["approval"]["state"] == "current" for u in production)
    by_state: dict[str, list[str]] = {}
    for u in production:
        for s in u["signals"]:
            by_state.setdefault(s["state"], []).append(f"{u['id']}/{s['signal']}")
    assert by_state.pop("breach") == ["member-support-assistant/latency"]
    assert by_state.pop("stale") == ["claims-complaints-agent/goodwill_paid"]
    assert list(by_state) == ["ok"]


def test_the_incident_example_shows_every_state_and_verdict(govctl):
    """README: examples/observations/northwind-incident.jsonl at 2026-11-27T12:00:00Z."""
    payload = status_json(govctl, EXAMPLES / "governance-repo", "--observations",
                          EXAMPLES / "observations" / "northwind-incident.jsonl")
    verdicts = {u["id"]: u["verdict"] for u in payload["use_cases"]}
    assert verdicts == {"card-fraud-scoring": "current",
                        "claims-complaints-agent": "unapproved-serving",
                        "health-underwriting-triage": "no-approval",
                        "member-support-assistant": "breach"}
    seen = {(u["id"], s["signal"]): s["state"] for u in payload["use_cases"]
            for s in u["signals"]}
    assert seen[("member-support-assistant", "latency")] == "breach"
    assert seen[("member-support-assistant", "abuse")] == "missing"
    assert seen[("claims-complaints-agent", "goodwill_paid")] == "stale"
    assert seen[("card-fraud-scoring", "drift")] == "ok"
    assert [f["rule"] for f in payload["findings"]] == ["GOV085"]
    assert payload["ignored"] == [{"use_case": "card-fraud-scoring", "signal": "drfit",
                                   "rows": 1}]
    assert all(u["threshold_basis"] == "approved" for u in payload["use_cases"]
               if u["approval"]["id"] is not None)
