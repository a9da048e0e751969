"""Contracts as technical controls (SPEC §3.3, §5): `status`/`explain` reading a Prometheus
server over its HTTP API (a canned one here), `export prometheus-rules` checked and
unit-tested with the real promtool, and one run against a real Prometheus scraping a test
exporter (`export alertmanager-routes` and the end-to-end page: test_alerting.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_program
from tests.factory import DOCS_TEAM, DOCS_USE_CASE
from tests.http_support import (
    MetricsExporter,
    Series,
    free_port,
    stop_process,
    vectors,
)
from tests.observation_support import (
    AS_OF,
    AS_OF_TEXT,
    METRICS,
    assert_usage_error,
    signals,
    states,
    status_json,
)
from tests.promtool_support import alert, promtool_test, unit_tests

APPROVAL_FILE = "approvals/claims-triage-2026-10-01.yaml"
APPROVAL_ID = "claims-triage-2026-10-01"
CONTRACT_FILE = "thresholds/triage.yaml"
BAND = ("fallback: {metric: human_handoff_rate, max: 0.3,",
        "fallback: {metric: human_handoff_rate, min: 0.05, max: 0.3,")



def approved_digest(root: Path) -> str:
    return yaml.safe_load((root / APPROVAL_FILE).read_text())["spec"]["bundle"]["digest"]


@pytest.fixture
def root(factory: Any) -> Path:
    return factory.build().root


# == a canned Prometheus HTTP API (tests/http_support.py) =====================================


def one(value: float, **labels: str) -> Series:
    return [({"use_case": "claims-triage", **labels}, value)]


def many(*values: float) -> Series:
    return [({"use_case": "claims-triage", "instance": f"pod-{i}"}, v)
            for i, v in enumerate(values)]


def prometheus_status(govctl: Any, root: Path, url: str, *args: object,
                      as_of: str = AS_OF_TEXT) -> dict[str, Any]:
    return status_json(govctl, root, "--prometheus", url, *args, as_of=as_of)


def test_states_from_prometheus(govctl, root, fake_prometheus):
    server = fake_prometheus(vectors({
        "p95_latency_ms": one(2600), "triage_agreement": one(0.95), "psi": one(0.2),
        "human_handoff_rate": one(0.1)}))  # injection_rate: an empty vector
    payload = prometheus_status(govctl, root, server.url)
    assert states(payload) == {"latency": "breach", "accuracy_proxy": "ok", "drift": "ok",
                               "abuse": "missing", "fallback": "ok"}
    observed = signals(payload)
    assert observed["latency"]["value"] == 2600
    assert observed["latency"]["observed_at"] == AS_OF_TEXT  # the instant evaluated
    assert observed["drift"]["value"] == 0.2  # at the bound: ok


def test_time_sent_is_the_as_of_instant(govctl, root, fake_prometheus):
    server = fake_prometheus(vectors({}))
    prometheus_status(govctl, root, server.url)
    assert server.requests
    for request in server.requests:
        assert request["method"] == "POST" and request["path"] == "/api/v1/query"
        assert float(request["time"]) == AS_OF.timestamp()
    # a date means the end of that UTC day, never the next day's first millisecond
    server.requests.clear()
    prometheus_status(govctl, root, server.url, as_of="2026-11-27")
    end_of_day = datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp()
    assert {r["time"] for r in server.requests} == {f"{end_of_day - 0.001:.3f}"}


def test_several_series_the_worst_counts(govctl, factory, root, fake_prometheus):
    factory.edit(CONTRACT_FILE, *BAND)
    server = fake_prometheus(vectors({
        "p95_latency_ms": many(1000, 2700, 1500),  # the highest against max
        "triage_agreement": many(0.95, 0.85, 0.99),  # the lowest against min
        "psi": many(0.1, 0.15),  # all fine: the highest is shown
        "injection_rate": many(0.001, 0.01),  # the highest, at the bound
        "human_handoff_rate": many(0.1, 0.02, 0.2),  # band: the one outside
    }))
    observed = signals(prometheus_status(govctl, root, server.url))
    assert {k: (s["value"], s["state"]) for k, s in observed.items()} == {
        "latency": (2700, "breach"), "accuracy_proxy": (0.85, "breach"),
        "drift": (0.15, "ok"), "abuse": (0.01, "ok"), "fallback": (0.02, "breach")}


def test_several_series_band_breached_above(govctl, factory, root, fake_prometheus):
    factory.edit(CONTRACT_FILE, *BAND)
    server = fake_prometheus(vectors({"human_handoff_rate": many(0.1, 0.4, 0.06)}))
    fallback = signals(prometheus_status(govctl, root, server.url))["fallback"]
    assert (fallback["value"], fallback["state"]) == (0.4, "breach")


def test_default_queries_are_exactly_the_spec_default(govctl, factory, fake_prometheus):
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM
    root = factory.build().root
    server = fake_prometheus(vectors({
        "psi": [({"use_case": "claims-triage"}, 0.5), ({"use_case": "doc-summary"}, 0.1)]}))
    payload = prometheus_status(govctl, root, server.url)
    assert sorted(server.queries) == sorted(
        f'{metric}{{use_case="{use_case}"}}' for metric in METRICS.values()
        for use_case in ("claims-triage", "doc-summary"))  # SPEC §3.3, one per signal
    assert states(payload)["drift"] == "breach"
    assert states(payload, "doc-summary")["drift"] == "ok"


def test_many_default_queries_are_batched_per_metric_with_a_regex(govctl, factory,
                                                                    fake_prometheus,
                                                                    monkeypatch):
    from govctl.monitoring import (
        prometheus as client,  # (not `import govctl…`: that is the fixture)
    )

    monkeypatch.setattr(client, "BATCH_ABOVE", 1)
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM
    root = factory.build().root
    server = fake_prometheus(vectors({
        "psi": [({"use_case": "claims-triage"}, 0.5), ({"use_case": "doc-summary"}, 0.1)]}))
    payload = prometheus_status(govctl, root, server.url)
    assert sorted(server.queries) == sorted(
        f'{metric}{{use_case=~"claims-triage|doc-summary"}}' for metric in METRICS.values())
    assert states(payload)["drift"] == "breach"  # each use case gets its own series
    assert states(payload, "doc-summary")["drift"] == "ok"


def test_a_custom_query_is_sent_as_written(govctl, factory, root, fake_prometheus):
    custom = ('max by (use_case) (histogram_quantile(0.95, sum by (le, use_case) '
              '(rate(triage_seconds_bucket{use_case="claims-triage"}[5m])))) * 1000')
    factory.edit(CONTRACT_FILE, "latency: {metric: p95_latency_ms, max: 2500,",
                 f"latency: {{metric: p95_latency_ms, query: '{custom}', max: 2500,")
    server = fake_prometheus(vectors({}, by_query={custom: one(3100)}))
    observed = signals(prometheus_status(govctl, root, server.url))
    assert custom in server.queries
    assert not any(q.startswith("p95_latency_ms") for q in server.queries)
    assert (observed["latency"]["value"], observed["latency"]["state"]) == (3100, "breach")


def test_explain_reads_prometheus_too(govctl, root, fake_prometheus):
    server = fake_prometheus(vectors({"psi": one(0.35)}))
    result = govctl("explain", "claims-triage", "--root", root, "--as-of", AS_OF_TEXT,
                    "--prometheus", server.url, "--format", "json")
    assert result.code == 0, result.stderr
    drift = {s["signal"]: s for s in result.json()["signals"]}["drift"]
    assert (drift["value"], drift["state"]) == (0.35, "breach")


def test_an_unreachable_prometheus_is_a_usage_error(govctl, root):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there any more
    result = govctl("status", "--root", root, "--prometheus", url)
    assert_usage_error(result, "cannot reach Prometheus", url)


def test_a_query_error_is_a_usage_error(govctl, root, fake_prometheus):
    body = json.dumps({"status": "error", "errorType": "bad_data",
                       "error": "1:15: parse error: unexpected <op:{>"}).encode()
    server = fake_prometheus(lambda query, at: (400, body))
    result = govctl("status", "--root", root, "--prometheus", server.url)
    assert_usage_error(result, "HTTP 400", "parse error")


def test_an_answer_that_is_not_json_is_a_usage_error(govctl, root, fake_prometheus):
    server = fake_prometheus(lambda query, at: (200, b"<html>Grafana login</html>"))
    result = govctl("status", "--root", root, "--prometheus", server.url)
    assert_usage_error(result, "did not answer with JSON")


@pytest.mark.parametrize("body", [
    b"[1, 2, 3]",
    b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}',
    b'{"status": "success", "data": {"resultType": "vector", "result": [{"value": 5}]}}',
    b'{"status": "success", "data": {"resultType": "matrix", "result": []}}',
    b'{"status": "success", "data": "nope"}',
])
def test_an_unexpected_json_answer_is_a_usage_error(govctl, root, fake_prometheus, body):
    server = fake_prometheus(lambda query, at: (200, body))
    assert_usage_error(govctl("status", "--root", root, "--prometheus", server.url),
                       "Prometheus")


def test_a_server_that_does_not_speak_http_is_a_usage_error(govctl, root):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stop = threading.Event()

    def babble() -> None:  # an SSH server's greeting, then hang up
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=babble, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        assert_usage_error(govctl("status", "--root", root, "--prometheus", url),
                           "did not answer in HTTP", url)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize("url", ["prometheus:9090", "ftp://prometheus", "http://host:port"])
def test_a_prometheus_url_that_is_not_http_is_a_usage_error(govctl, root, url):
    assert_usage_error(govctl("status", "--root", root, "--prometheus", url), "--prometheus")


def test_observations_and_prometheus_together_are_a_usage_error(govctl, root, tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text("")
    result = govctl("status", "--root", root, "--prometheus", "http://127.0.0.1:9",
                    "--observations", path)
    assert_usage_error(result, "not both")


# == export prometheus-rules ===================================================================


def export_rules(govctl: Any, root: Path, out: Path, *args: object) -> dict[str, Any]:
    result = govctl("export", "prometheus-rules", "--root", root, "--as-of", "2026-11-27",
                    "-o", out, *args)
    assert result.code == 0, result.stderr
    document = yaml.safe_load(out.read_text())
    assert isinstance(document, dict)
    return document


def contract_signals(root: Path) -> dict[str, dict[str, Any]]:
    spec = yaml.safe_load((root / CONTRACT_FILE).read_text())["spec"]
    return dict(spec["signals"])


def test_rules_have_one_group_per_use_case_and_one_alert_per_signal(govctl, factory,
                                                                     tmp_path):
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM
    root = factory.build().root
    rules = export_rules(govctl, root, tmp_path / "rules.yml")
    assert [g["name"] for g in rules["groups"]] == ["govctl-claims-triage", "govctl-doc-summary"]
    group = rules["groups"][0]["rules"]
    # per signal, its breach alert and its missing-data alert (SPEC §5)
    assert [r["alert"] for r in group] == [alert(s, state=state) for s in METRICS
                                           for state in ("Breach", "Missing")]
    by_signal = {r["labels"]["signal"]: r for r in group
                 if r["labels"]["signal_state"] == "breach"}
    missing = {r["labels"]["signal"]: r for r in group
               if r["labels"]["signal_state"] == "missing"}
    assert missing["latency"]["expr"] == 'absent(p95_latency_ms{use_case="claims-triage"})'
    assert [missing[s]["for"] for s in METRICS] == ["10m", "2d", "2d", "2h", "2h"]
    assert {missing[s]["labels"]["severity"] for s in METRICS} == {"ticket"}
    assert by_signal["latency"]["expr"] == '(p95_latency_ms{use_case="claims-triage"}) > 2500'
    assert by_signal["accuracy_proxy"]["expr"] == \
        '(triage_agreement{use_case="claims-triage"}) < 0.9'
    assert [by_signal[s]["for"] for s in METRICS] == ["5m", "1d", "1d", "1h", "1h"]
    assert by_signal["abuse"]["labels"] == {
        "use_case": "claims-triage", "signal": "abuse", "severity": "page",
        "team": "claims-ml", "rotation": "claims-ml-primary", "approval": APPROVAL_ID,
        "bundle_digest": approved_digest(root), "signal_state": "breach"}
    assert missing["abuse"]["labels"] == {**by_signal["abuse"]["labels"], "severity": "ticket",
                                          "signal_state": "missing"}
    assert by_signal["drift"]["labels"]["severity"] == "ticket"
    assert set(by_signal["drift"]["annotations"]) == {"summary", "runbook_url"}
    assert by_signal["drift"]["annotations"]["runbook_url"] == "runbooks/triage.md"
    docs = rules["groups"][1]["rules"][0]["labels"]
    assert (docs["team"], docs["rotation"], docs["approval"]) == ("docs-ml", "docs-ml-primary",
                                                                  "none")
    # retired use cases are not monitored
    factory.edit("use-cases/docs.yaml", "status: intake", "status: retired")
    rules = export_rules(govctl, root, tmp_path / "rules2.yml")
    assert [g["name"] for g in rules["groups"]] == ["govctl-claims-triage"]


def test_rules_runbook_base_makes_file_runbooks_urls(govctl, root, tmp_path):
    rules = export_rules(govctl, root, tmp_path / "rules.yml", "--runbook-base",
                         "https://git.acme.test/governance/blob/main/")
    for rule in rules["groups"][0]["rules"]:
        assert rule["annotations"]["runbook_url"] == \
            "https://git.acme.test/governance/blob/main/runbooks/triage.md"


def test_rules_refuse_to_overwrite_and_stay_outside_the_root(govctl, root, tmp_path):
    out = tmp_path / "rules.yml"
    export_rules(govctl, root, out)
    again = govctl("export", "prometheus-rules", "--root", root, "-o", out)
    assert again.code == 2 and "Traceback" not in again.stderr
    forced = govctl("export", "prometheus-rules", "--root", root, "-o", out, "--force")
    assert forced.code == 0
    inside = govctl("export", "prometheus-rules", "--root", root, "-o", root / "rules.yml")
    assert inside.code == 2 and not (root / "rules.yml").exists()


@pytest.mark.external("promtool")
def test_rules_pass_promtool_check_rules(govctl, factory, tmp_path):
    promtool = require_program("promtool")
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM
    root = factory.build().root
    factory.edit(CONTRACT_FILE, *BAND)
    out = tmp_path / "rules.yml"
    export_rules(govctl, root, out)
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 20 rules found" in check.stdout + check.stderr  # breach + missing


# -- promtool test rules, with a unit-test file written from the contract ---------------------


@pytest.mark.external("promtool")
def test_promtool_unit_tests_fire_on_breach_and_stay_silent_otherwise(govctl, factory,
                                                                      tmp_path):
    promtool = require_program("promtool")
    factory.build()
    factory.edit(CONTRACT_FILE, *BAND)  # a band, breached on both sides
    factory.bind()  # and re-approved under the new contract
    root = factory.root
    out = tmp_path / "rules.yml"
    rules = export_rules(govctl, root, out)
    labels = {"team": "claims-ml", "rotation": "claims-ml-primary", "approval": APPROVAL_ID,
              "bundle_digest": approved_digest(root)}
    contract = contract_signals(root)
    assert contract["fallback"]["min"] == 0.05 and contract["fallback"]["max"] == 0.3
    document = unit_tests(out, rules, contract, labels, step=5)  # (every window: 5m × n)
    fired = [c["alertname"] for t in document["tests"] for c in t["alert_rule_test"]
             if c["exp_alerts"]]
    # every signal's breach (the band twice) and every signal's missing data
    assert len([a for a in fired if a.endswith("Breach")]) == len(contract) + 1
    assert sorted(a for a in fired if a.endswith("Missing")) == sorted(
        alert(name, state="Missing") for name in contract)
    result = promtool_test(promtool, tmp_path, document)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr

    # the unit tests have teeth: one wrong expectation fails them (only the first alert's
    # checks, which end a few minutes in, to keep this quick)
    wrong = json.loads(json.dumps(document))
    wrong["tests"] = [t for t in wrong["tests"] if t["name"] == "breach-0"]
    checks = wrong["tests"][0]["alert_rule_test"] = wrong["tests"][0]["alert_rule_test"][:2]
    assert checks[1]["alertname"].endswith("Breach") and checks[1]["exp_alerts"]
    checks[1]["exp_alerts"][0]["exp_labels"]["rotation"] = "claims-ml-secondary"
    failed = promtool_test(promtool, tmp_path, wrong)
    assert failed.returncode != 0
    assert "claims-ml-secondary" in failed.stdout + failed.stderr


@pytest.mark.external("promtool")
def test_template_braces_in_records_do_not_break_the_rules(govctl, factory, tmp_path):
    promtool = require_program("promtool")
    factory.build()
    # `metric` must be a metric name (GOV045): the braces ride in the signal's name
    signal = "quality{{ $value }}_{{{x}}}"
    rotation = "claims-{{ .Labels.team }}-primary"
    factory.edit("use-cases/triage.yaml", "title: Claims triage",
                 "title: 'Claims {{ triage }} {{'")
    factory.edit("teams/claims.yaml", "rotation: claims-ml-primary", f"rotation: '{rotation}'")
    factory.edit(CONTRACT_FILE, "  on_breach:", f"    '{signal}': "
                 "{metric: quality_score, query: 'quality_score{use_case=\"claims-triage\"}', "
                 "max: 1, window: 5m, severity: page}\n  on_breach:")
    factory.edit(CONTRACT_FILE, "runbook: runbooks/triage.md",
                 "runbook: 'https://wiki.acme.test/{{ runbook }}'")
    factory.bind()
    out = tmp_path / "rules.yml"
    rules = export_rules(govctl, factory.root, out)
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    contract = {k: v for k, v in contract_signals(factory.root).items()
                if k in (signal, "latency")}
    labels = {"team": "claims-ml", "rotation": rotation, "approval": APPROVAL_ID,
              "bundle_digest": approved_digest(factory.root)}
    document = unit_tests(out, rules, contract, labels)
    summaries = [a["exp_annotations"]["summary"] for t in document["tests"]
                 for c in t["alert_rule_test"] for a in c["exp_alerts"]]
    assert any(signal in s for s in summaries)  # the text, exactly as written
    result = promtool_test(promtool, tmp_path, document)
    assert result.returncode == 0, result.stdout + result.stderr


# == a real Prometheus ========================================================================

EXPORTED = {  # what the test's exporter serves: drift breaches, the rest is healthy
    "p95_latency_ms": 1200, "triage_agreement": 0.95, "psi": 0.35, "injection_rate": 0.001,
    "human_handoff_rate": 0.1}
SIGNAL_OF = {metric: signal for signal, metric in METRICS.items()}


def exporter() -> MetricsExporter:
    return MetricsExporter({m: float(v) for m, v in EXPORTED.items()},
                           lambda m: f'use_case="claims-triage",signal="{SIGNAL_OF[m]}"')


def query(url: str, expr: str) -> list[dict[str, Any]]:
    form = urllib.parse.urlencode({"query": expr}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/query", data=form, timeout=2) as response:
        payload = json.loads(response.read())
    return list(payload["data"]["result"])


def wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path,
             timeout: float = 30.0) -> None:
    """Poll ``ready`` until it holds; fail early (with the server's log) if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited ({proc.returncode}) before {what}:\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        try:
            if ready():
                return
        except (OSError, ValueError, KeyError):
            pass  # not listening yet, or no answer yet
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n"
                f"{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.external("prometheus")
def test_status_against_a_real_prometheus(govctl, root, tmp_path):
    prometheus = require_program("prometheus")
    rules = tmp_path / "rules.yml"
    export_rules(govctl, root, rules)
    served = exporter()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "govctl-test",
                            "static_configs": [{"targets": [served.address]}]}],
    }))
    log = tmp_path / "prometheus.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as sink:
            proc = subprocess.Popen([prometheus, f"--config.file={config}",
                                     f"--storage.tsdb.path={tmp_path / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{port}"],
                                    stdout=sink, stderr=subprocess.STDOUT)
        # scraped series only: once the rules evaluate, the drift breach adds pending
        # ALERTS / ALERTS_FOR_STATE series that carry the same use_case label
        scraped = '{use_case="claims-triage", __name__!~"ALERTS|ALERTS_FOR_STATE"}'
        wait_for("every metric to be scraped",
                 lambda: len(query(url, scraped)) == len(EXPORTED), proc, log)
        # the exported rules loaded into a real server
        with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as response:
            groups = json.loads(response.read())["data"]["groups"]
        assert [g["name"] for g in groups] == ["govctl-claims-triage"]
        assert len(groups[0]["rules"]) == 2 * len(METRICS)  # breach and missing data

        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        payload = status_json(govctl, root, "--prometheus", url, as_of=now)
        observed = signals(payload)
        assert {k: s["state"] for k, s in observed.items()} == {
            "latency": "ok", "accuracy_proxy": "ok", "drift": "breach", "abuse": "ok",
            "fallback": "ok"}
        assert observed["drift"]["value"] == 0.35
        assert observed["latency"]["value"] == 1200
        assert all(s["observed_at"] is not None for s in observed.values())

        gated = govctl("status", "--root", root, "--prometheus", url, "--as-of", now,
                       "--fail-on", "breach")
        assert gated.code == 1
        assert any("BREACH" in line and "drift" in line for line in gated.stdout.splitlines())

        # time= is honoured: an hour ago the server had nothing yet
        before = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
        earlier = status_json(govctl, root, "--prometheus", url, as_of=before)
        assert set(states(earlier).values()) == {"missing"}
    finally:
        if proc is not None:
            stop_process(proc)
        served.close()
