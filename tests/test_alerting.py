"""Alerting that pages the right people without hand edits (SPEC §1.2 Team receivers, §2
GOV044, §5): receivers and their secrets, `export alertmanager-routes` checked with the real
amtool (alone and merged into an existing configuration), `status` and the exported rules
agreeing on the same series (real promtool), and one end-to-end page: a real Prometheus
scraping a loopback exporter, a real Alertmanager, and a webhook receiver of ours."""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from govctl.model import schemas
from tests.conftest import require_program
from tests.factory import DOCS_TEAM, DOCS_USE_CASE
from tests.http_support import (
    LoopbackServer,
    MetricsExporter,
    QuietHandler,
    free_port,
    stop_process,
)
from tests.observation_support import (
    AS_OF_TEXT,
    METRICS,
    Row,
    ago,
    states,
    status_json,
    write_observations,
)
from tests.promtool_support import go_float, minutes

EXAMPLE = Path(__file__).parent.parent / "examples" / "governance-repo"
CONTRACT_FILE = "thresholds/triage.yaml"
CLAIMS_TEAM = """\
apiVersion: govctl/v1
kind: Team
metadata: {{id: claims-ml}}
spec:
  members: [alice, carol]
  oncall:
    rotation: {rotation}
    escalation: [alice]
{receivers}"""
PAGE_URL = "https://hooks.acme.test/claims-ml/page"
TICKET_URL = "https://hooks.acme.test/claims-ml/ticket"
RECEIVERS = f"""\
    receiver:
      webhook_configs:
        - url: {PAGE_URL}
          send_resolved: true
    ticket_receiver:
      webhook_configs:
        - url: {TICKET_URL}
"""


def team(rotation: str = "claims-ml-primary", receivers: str = RECEIVERS) -> str:
    return CLAIMS_TEAM.format(rotation=rotation, receivers=receivers)


def validate_json(govctl: Any, root: Path) -> list[dict[str, Any]]:
    result = govctl("validate", "--root", root, "--format", "json")
    findings = result.json()["findings"]
    assert isinstance(findings, list)
    return findings


def amtool_check(config: Path) -> str:
    amtool = require_program("amtool")
    check = subprocess.run([amtool, "check-config", str(config)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout
    return check.stdout


def routed(config: Path, **labels: str) -> str:
    """The receiver Alertmanager's own router picks for an alert with these labels."""
    amtool = require_program("amtool")
    proc = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}",
                           *(f"{k}={v}" for k, v in labels.items())],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def export_routes(govctl: Any, root: Path, out: Path, *args: str) -> dict[str, Any]:
    result = govctl("export", "alertmanager-routes", "--root", root, "-o", out, *args)
    assert result.code == 0, result.stderr
    document = yaml.safe_load(out.read_text())
    assert isinstance(document, dict)
    return document


# == GOV044: secrets only through *_file fields ================================================


@pytest.mark.parametrize(("body", "key"), [
    ("pagerduty_configs: [{routing_key: R0utingKey}]", "routing_key"),
    ("pagerduty_configs: [{service_key: abc123}]", "service_key"),
    ("opsgenie_configs: [{api_key: k3y}]", "api_key"),
    ("email_configs: [{to: a@acme.test, from: b@acme.test, smarthost: 'smtp.acme.test:587', "
     "auth_password: hunter2}]", "auth_password"),
    ("email_configs: [{to: a@acme.test, from: b@acme.test, smarthost: 'smtp.acme.test:587', "
     "auth_secret: s3cret}]", "auth_secret"),
    ("webhook_configs: [{url: 'https://h.acme.test/x', http_config: {authorization: "
     "{credentials: tok}}}]", "credentials"),
    ("webhook_configs: [{url: 'https://h.acme.test/x', http_config: {bearer_token: tok}}]",
     "bearer_token"),
    ("webhook_configs: [{url: 'https://h.acme.test/x', http_config: {basic_auth: "
     "{username: u, password: pw}}}]", "password"),
    ("webhook_configs: [{url: 'https://h.acme.test/x', http_config: {oauth2: "
     "{client_id: c, client_secret: s, token_url: 'https://t.acme.test'}}}]", "client_secret"),
    ("webhook_configs: [{url: 'https://bot:pa55@h.acme.test/x'}]", "url"),
    ("webhook_configs: [{url: 'https://h.acme.test/x?channel=ops&token=abc'}]", "url"),
    ("slack_configs: [{api_url: 'https://hooks.acme.test/x?sig=abc', channel: ops}]",
     "api_url"),
    # a Slack webhook URL is the credential itself, token in the path
    ("slack_configs: [{api_url: 'https://hooks.example.test/services/T0/B0/xyz', "
     "channel: ops}]", "api_url"),
    ("webhook_configs: [{url: 'https://hooks.slack.com/services/T0/B0/xyz'}]", "url"),
])
def test_an_inline_secret_is_gov044_at_its_line(govctl, factory, body, key):
    factory.files["teams/claims.yaml"] = team(receivers=f"    ticket_receiver: {{{body}}}\n")
    root = factory.build().root
    findings = [f for f in validate_json(govctl, root) if f["rule"] == "GOV044"]
    assert len(findings) == 1, findings
    (finding,) = findings
    assert finding["file"] == "teams/claims.yaml" and finding["line"] == 9
    assert finding["severity"] == "error"
    assert "ticket_receiver" in finding["message"] and key in finding["message"]
    # the secret itself is never repeated in the output
    for secret in ("R0utingKey", "hunter2", "s3cret", "pa55", "token=abc", "sig=abc"):
        assert secret not in json.dumps(finding)
    # and the export refuses to publish it: exit 1, nothing written
    out = factory.root.parent / "alertmanager.yml"
    refused = govctl("export", "alertmanager-routes", "--root", root, "-o", out)
    assert refused.code == 1 and not out.exists()
    assert "GOV044" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("body", [
    "pagerduty_configs: [{routing_key_file: /etc/am/pd-key}]",
    "opsgenie_configs: [{api_key_file: /etc/am/og-key}]",
    "webhook_configs: [{url: 'https://h.acme.test/x?channel=ops', http_config: "
    "{authorization: {credentials_file: /etc/am/token}}}]",
    "slack_configs: [{api_url_file: /etc/am/slack-url, channel: ops}]",
    "email_configs: [{to: a@acme.test, from: b@acme.test, smarthost: 'smtp.acme.test:587', "
    "auth_username: u, auth_password_file: /etc/am/smtp}]",
])
def test_secrets_in_files_are_clean(govctl, factory, body):
    factory.files["teams/claims.yaml"] = team(receivers=f"    receiver: {{{body}}}\n")
    root = factory.build().root
    assert [f for f in validate_json(govctl, root) if f["rule"] in ("GOV044", "GOV010")] == []


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=40) | st.sampled_from(["https://u:p@h/x", "http://h/?token=t",
                                             "https://h/?a=&key=", "http://[::1", "ftp://x"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["routing_key", "url", "credentials", "api_key_file", "x", "password"])
        | st.text(max_size=10), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_secret_search_takes_any_shape(body):
    from govctl.model.receivers import inline_secrets

    for secret in inline_secrets(body):
        assert secret.reason and "p@" not in secret.reason and "token=t" not in secret.reason


def test_a_secret_in_a_team_that_fails_its_schema_is_still_named(govctl, factory):
    factory.files["teams/claims.yaml"] = team(receivers="    colour: red\n    receiver: "
                                                       "{pagerduty_configs: [{routing_key: R0}]}\n")
    root = factory.build().root
    rules = [f["rule"] for f in validate_json(govctl, root)]
    assert "GOV010" in rules and "GOV044" in rules


def test_a_use_case_whose_team_does_not_exist_is_said(govctl, factory, tmp_path):
    root = factory.build().root
    factory.edit("use-cases/triage.yaml", "team: claims-ml", "team: claims-m1")
    result = govctl("export", "alertmanager-routes", "--root", root, "-o", tmp_path / "a.yml")
    assert result.code == 0
    assert "warning: no Team record 'claims-m1'" in result.stderr


def test_a_receiver_of_the_wrong_shape_is_a_schema_error_not_a_crash(govctl, factory, tmp_path):
    factory.files["teams/claims.yaml"] = team(receivers="    receiver: [routing_key: x]\n")
    root = factory.build().root
    rules = {f["rule"] for f in validate_json(govctl, root)}
    assert "GOV010" in rules
    refused = govctl("export", "alertmanager-routes", "--root", root, "-o", tmp_path / "a.yml")
    assert refused.code == 1 and "fails its schema" in refused.stderr
    assert not (tmp_path / "a.yml").exists()


# == the receiver schema accepts what Alertmanager 0.25 accepts ===============================

ACCEPTED = [
    {"webhook_configs": [{"url": "https://h.acme.test/x", "send_resolved": True,
                          "max_alerts": 5}]},
    {"webhook_configs": [{"url": "http://127.0.0.1:9/x", "http_config": {
        "basic_auth": {"username": "u", "password_file": "/s"}, "proxy_url": "http://p:3",
        "follow_redirects": True, "enable_http2": False,
        "tls_config": {"ca_file": "/s", "insecure_skip_verify": False, "min_version": "TLS12"}}}]},
    {"webhook_configs": [{"url": "https://h.acme.test/x", "http_config": {"oauth2": {
        "client_id": "c", "client_secret_file": "/s", "token_url": "https://t.acme.test",
        "scopes": ["a"], "endpoint_params": {"a": "b"}}}}]},
    {"pagerduty_configs": [{"routing_key_file": "/s", "severity": "critical", "class": "c",
                            "component": "c", "group": "g", "client": "govctl",
                            "client_url": "https://x.acme.test", "description": "d",
                            "details": {"a": "b"}, "images": [{"src": "a", "alt": "b"}],
                            "links": [{"href": "https://l.acme.test", "text": "t"}]}]},
    {"pagerduty_configs": [{"service_key_file": "/s"}]},
    {"opsgenie_configs": [{"api_key_file": "/s", "priority": "P1", "tags": "t",
                           "responders": [{"type": "team", "name": "ops"}],
                           "update_alerts": True}]},
    {"email_configs": [{"to": "a@acme.test", "from": "b@acme.test",
                        "smarthost": "smtp.acme.test:587", "require_tls": True,
                        "headers": {"Subject": "x"}}]},
    {"slack_configs": [{"api_url_file": "/s", "channel": "#ops", "title": "t",
                        "fields": [{"title": "a", "value": "b"}], "mrkdwn_in": ["text"]}]},
    {"webhook_configs": [{"url": "https://a.acme.test"}],
     "email_configs": [{"to": "a@acme.test", "from": "b@acme.test", "smarthost": "m:25"}]},
]
REFUSED = [  # each one amtool 0.25 rejects (probed), so the schema must too
    {"msteams_configs": [{"webhook_url": "https://h.acme.test"}]},  # newer than 0.25
    {"webhook_configs": [{"url_file": "/s"}]},  # newer than 0.25
    {"webhook_configs": [{}]},  # no URL
    {"webhook_configs": [{"url": "ftp://h.acme.test"}]},
    {"webhook_configs": [{"url": "h.acme.test/x"}]},
    {"webhook_configs": [{"url": "https://h.acme.test", "max_alerts": -1}]},
    {"webhook_configs": [{"url": "https://h.acme.test", "http_config": {"no_proxy": "x"}}]},
    {"pagerduty_configs": [{"url": "https://h.acme.test"}]},  # no key at all
    {"pagerduty_configs": [{"routing_key_file": "/s", "routing_key": "x"}]},
    {"opsgenie_configs": [{}]},
    {"opsgenie_configs": [{"api_key_file": "/s", "responders": [{"type": "team"}]}]},
    {"slack_configs": [{"channel": "#ops"}]},
    {"email_configs": [{"to": "a@acme.test", "from": "b@acme.test"}]},  # no smarthost
    {"email_configs": [{"to": "a@acme.test", "from": "b@acme.test", "smarthost": "smtp"}]},
    {"name": "mine", "webhook_configs": [{"url": "https://h.acme.test"}]},
]


def team_document(receiver: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "govctl/v1", "kind": "Team", "metadata": {"id": "t"},
            "spec": {"members": [], "oncall": {"rotation": "r", "receiver": receiver}}}


@pytest.mark.external("amtool")
def test_what_the_schema_accepts_amtool_accepts(tmp_path):
    for body in ACCEPTED:
        assert schemas.validate("Team", team_document(body)) == [], body
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump({
        "route": {"receiver": "r0"},
        "receivers": [{"name": f"r{i}", **body} for i, body in enumerate(ACCEPTED)]}))
    amtool_check(config)


@pytest.mark.external("amtool")
def test_what_amtool_rejects_the_schema_rejects(tmp_path):
    amtool = require_program("amtool")
    for i, body in enumerate(REFUSED):
        assert schemas.validate("Team", team_document(body)) != [], body
        if "name" in body:
            continue  # (Alertmanager would take it as the receiver's name: ours to give)
        config = tmp_path / f"alertmanager-{i}.yml"
        config.write_text(yaml.safe_dump({"route": {"receiver": "r"},
                                          "receivers": [{"name": "r", **body}]}))
        check = subprocess.run([amtool, "check-config", str(config)], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode != 0, body  # the probe still holds for this amtool


# == export alertmanager-routes ================================================================


@pytest.mark.external("amtool")
def test_the_example_exports_with_no_hand_edit(govctl, tmp_path):
    out = tmp_path / "alertmanager.yml"
    result = govctl("export", "alertmanager-routes", "--root", EXAMPLE, "-o", out)
    assert result.code == 0 and "warning" not in result.stderr, result.stderr
    assert "7 receivers" in amtool_check(out)
    document = yaml.safe_load(out.read_text())
    receivers = {r["name"]: r for r in document["receivers"]}
    example = yaml.safe_load((EXAMPLE / "teams" / "risk-fraud-ml.yaml").read_text())
    oncall = example["spec"]["oncall"]
    # exported verbatim, under names after the rotation
    assert receivers["risk-fraud-ml-primary"] == {"name": "risk-fraud-ml-primary",
                                                  **oncall["receiver"]}
    assert receivers["risk-fraud-ml-primary-ticket"] == {
        "name": "risk-fraud-ml-primary-ticket", **oncall["ticket_receiver"]}
    assert routed(out, alertname="GovctlCardFraudScoringLatencyBreach",
                  team="risk-fraud-ml", severity="page") == "risk-fraud-ml-primary"
    assert routed(out, alertname="GovctlCardFraudScoringLatencyMissing",
                  team="risk-fraud-ml", severity="ticket") == "risk-fraud-ml-primary-ticket"
    # no ticket_receiver: tickets go to a receiver of their own with the page body
    member = yaml.safe_load((EXAMPLE / "teams" / "member-service-ai.yaml").read_text())
    assert "ticket_receiver" not in member["spec"]["oncall"]
    assert receivers["member-service-ai-primary-ticket"] == {
        "name": "member-service-ai-primary-ticket", **member["spec"]["oncall"]["receiver"]}
    # anything unrouted has a named default
    assert routed(out, alertname="Other", team="nobody", severity="page") == "govctl-default"
    assert "&id" not in out.read_text()  # no YAML anchors: a person reads this file


@pytest.mark.external("amtool")
def test_receiver_names_never_collide(govctl, factory, tmp_path):
    # two teams on one rotation; a third whose rotation is the first's ticket name; a fourth
    # whose rotation is the default receiver's name
    factory.files["teams/claims.yaml"] = team(rotation="shared")
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM.replace("docs-ml-primary", "shared")
    for team_id, rotation in (("ops-ml", "shared-ticket"), ("zeta-ml", "govctl-default")):
        factory.files[f"teams/{team_id}.yaml"] = DOCS_TEAM.replace(
            "docs-ml", team_id).replace(f"{team_id}-primary", rotation)
        factory.files[f"use-cases/{team_id}.yaml"] = DOCS_USE_CASE.replace(
            "team: docs-ml", f"team: {team_id}").replace("doc-summary", f"{team_id}-case")
    root = factory.build().root
    out = tmp_path / "alertmanager.yml"
    document = export_routes(govctl, root, out)
    names = [r["name"] for r in document["receivers"]]
    assert len(names) == len(set(names)) == 9  # the default and two per team
    amtool_check(out)
    chosen = {(t, s): routed(out, alertname="GovctlX", team=t, severity=s)
              for t in ("claims-ml", "docs-ml", "ops-ml", "zeta-ml")
              for s in ("page", "ticket")}
    assert len(set(chosen.values())) == 8  # every team and severity its own receiver
    assert "govctl-default" not in chosen.values()
    assert chosen["claims-ml", "page"] == "shared-claims-ml"
    assert chosen["docs-ml", "ticket"] == "shared-docs-ml-ticket"
    assert chosen["ops-ml", "page"] == "shared-ticket-ops-ml"
    claims = next(r for r in document["receivers"] if r["name"] == "shared-claims-ml")
    assert claims["webhook_configs"][0]["url"] == PAGE_URL


def test_a_team_that_can_page_no_one_is_said(govctl, factory, tmp_path):
    factory.files["teams/claims.yaml"] = team(receivers="")
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM.replace(
        "oncall: {rotation: docs-ml-primary}", "oncall: {rotation: ''}")
    root = factory.build().root
    result = govctl("export", "alertmanager-routes", "--root", root, "-o",
                    tmp_path / "am.yml")
    assert result.code == 0
    warnings = result.stderr.splitlines()
    assert any(w.startswith("warning: Team 'claims-ml' has no oncall.receiver")
               for w in warnings), warnings
    assert any(w.startswith("warning: Team 'docs-ml' has no on-call rotation")
               for w in warnings), warnings


@pytest.mark.external("amtool")
def test_routes_only_nests_under_an_existing_configuration(govctl, factory, tmp_path):
    factory.files["teams/claims.yaml"] = team()
    factory.files["use-cases/docs.yaml"] = DOCS_USE_CASE
    factory.files["teams/docs.yaml"] = DOCS_TEAM.replace(
        "oncall: {rotation: docs-ml-primary}", "oncall: {rotation: ''}")
    root = factory.build().root
    part = export_routes(govctl, root, tmp_path / "govctl.yml", "--routes-only")
    assert "receiver" not in part["route"]  # what it does not route falls to the parent's
    assert "govctl-default" not in [r["name"] for r in part["receivers"]]
    merged = merge_into(existing_config(), part)
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(merged, sort_keys=False))
    amtool_check(config)
    assert routed(config, alertname="GovctlClaimsTriageLatencyBreach", team="claims-ml",
                  severity="page") == "claims-ml-primary"
    assert routed(config, alertname="GovctlClaimsTriageDriftMissing", team="claims-ml",
                  severity="ticket") == "claims-ml-primary-ticket"
    # their own alerts keep their own routes, even with the same labels
    assert routed(config, alertname="NodeDown", team="claims-ml",
                  severity="page") == "platform-pager"
    assert routed(config, alertname="DiskFull") == "platform-default"
    # a govctl alert of a team with no rotation reaches their default, not a black hole
    assert routed(config, alertname="GovctlDocSummaryDriftBreach", team="docs-ml",
                  severity="page") == "platform-default"


@pytest.mark.external("amtool")
def test_the_readme_merge_command_works_as_written(factory, tmp_path):
    """The README's block, run by bash as a user would (with this Python and --root)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Into an existing Alertmanager.**"):]
    block = section[section.index("```sh\n") + 6:section.index("\n```\n")]
    assert block.startswith("govctl export alertmanager-routes --routes-only")
    factory.files["teams/claims.yaml"] = team()
    root = factory.build().root
    python = shlex.quote(sys.executable)
    script = block.replace(
        "govctl export alertmanager-routes", f"{python} -m govctl export alertmanager-routes "
        f"--root {shlex.quote(str(root))}").replace("python3 -", f"{python} -")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(existing_config()))
    amtool = Path(require_program("amtool")).parent
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PATH": f"{amtool}:{os.environ['PATH']}"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout
    merged = tmp_path / "alertmanager.new.yml"
    assert routed(merged, alertname="GovctlClaimsTriageLatencyBreach", team="claims-ml",
                  severity="page") == "claims-ml-primary"
    assert routed(merged, alertname="NodeDown", severity="page") == "platform-pager"


def existing_config() -> dict[str, Any]:
    """Someone's Alertmanager configuration, before govctl."""
    return {
        "route": {"receiver": "platform-default", "group_by": ["alertname"],
                  "routes": [{"receiver": "platform-pager",
                              "matchers": ['severity="page"']}]},
        "receivers": [
            {"name": "platform-default",
             "webhook_configs": [{"url": "https://hooks.acme.test/platform"}]},
            {"name": "platform-pager",
             "pagerduty_configs": [{"routing_key_file": "/etc/am/platform"}]}],
    }


def merge_into(config: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """What the README's merge does (yq): govctl's route first under the root route, its
    receivers appended to theirs."""
    merged = json.loads(json.dumps(config))
    merged["route"]["routes"] = [part["route"], *merged["route"].get("routes", [])]
    merged["receivers"] = [*merged["receivers"], *part["receivers"]]
    return merged


# == status and the exported rules agree on the same series ===================================


def around(signal: dict[str, Any]) -> list[float]:
    """Values on both sides of each bound and exactly at it: where disagreement would hide."""
    values = []
    for bound, outward in (("max", math.inf), ("min", -math.inf)):
        if bound in signal:
            b = float(signal[bound])
            values += [b, math.nextafter(b, outward), math.nextafter(b, -outward),
                       b * 3 if outward > 0 else b / 3]
    return values


@pytest.mark.external("promtool")
def test_status_and_the_exported_rules_agree(govctl, factory, tmp_path):
    promtool = require_program("promtool")
    root = factory.build().root
    # hours, not days: promtool evaluates every minute of the span
    factory.write(CONTRACT_FILE, (root / CONTRACT_FILE).read_text().replace(
        "window: 1d", "window: 2h"))
    factory.bind()
    rules_file = tmp_path / "rules.yml"
    assert govctl("export", "prometheus-rules", "--root", root, "--as-of", AS_OF_TEXT,
                  "-o", rules_file).code == 0
    rules = {r["alert"]: r for g in yaml.safe_load(rules_file.read_text())["groups"]
             for r in g["rules"]}
    contract = yaml.safe_load((root / CONTRACT_FILE).read_text())["spec"]["signals"]
    values = {name: around(signal) for name, signal in contract.items()}
    rounds = max(len(v) for v in values.values()) + 1  # and a last round with no data
    tests, compared = [], 0
    for r in range(rounds):
        sample = {name: v[r] for name, v in values.items() if r < len(v)}
        observations = write_observations(
            tmp_path / f"round-{r}", [Row(name, value, ago(minutes=1))
                                      for name, value in sample.items()], "jsonl")
        verdicts = states(status_json(govctl, root, "--observations", observations))
        span = 2 * max(minutes(s["window"]) for s in contract.values()) + 5
        series = [{"series": f'{METRICS[name]}{{use_case="claims-triage"}}',
                   "values": f"{value!r}+0x{span}"} for name, value in sample.items()]
        checks = []
        for name, signal in contract.items():
            window = minutes(signal["window"])
            for state, at in (("Breach", window + 1), ("Missing", 2 * window + 1)):
                rule = rules[f"GovctlClaimsTriage{name.title().replace('_', '')}{state}"]
                fires = verdicts[name] == ("breach" if state == "Breach" else "missing")
                value = sample.get(name, 1.0)
                checks.append({"alertname": rule["alert"], "eval_time": f"{at}m",
                               "exp_alerts": [{
                                   "exp_labels": {**rule["labels"],
                                                  "use_case": "claims-triage"},
                                   "exp_annotations": {
                                       k: v.replace("{{ $value }}", go_float(value))
                                       for k, v in rule["annotations"].items()},
                               }] if fires else []})
                compared += 1
        tests.append({"name": f"round-{r}", "interval": "1m", "input_series": series,
                      "alert_rule_test": checks})
    document = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "agree_test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", "agree_test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert compared == rounds * len(contract) * 2
    # the comparison has both outcomes in it: breaches, silence, and missing data
    fired = [c["alertname"] for t in tests for c in t["alert_rule_test"] if c["exp_alerts"]]
    assert any(a.endswith("Breach") for a in fired) and any(a.endswith("Missing")
                                                            for a in fired)
    assert len(fired) < compared


# == end to end: a breach reaches the team's webhook ==========================================


class Webhook(LoopbackServer):
    """An Alertmanager webhook receiver: keeps every notification, by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                with hook.lock:
                    hook.received.append((self.path, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._serve(Handler)

    def firing(self, path: str) -> dict[str, dict[str, str]]:
        """alertname → labels of every alert notified as firing at ``path``."""
        with self.lock:
            return {a["labels"]["alertname"]: a["labels"] for p, body in self.received
                    if p == path for a in body.get("alerts", []) if a["status"] == "firing"}


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)


def wait_until(what: str, ready: Callable[[], bool], procs: list[subprocess.Popen[bytes]],
               logs: list[Path], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                pytest.fail(f"{log.stem} exited ({proc.returncode}) before {what}:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
        try:
            if ready():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.25)
    tails = "\n".join(f"-- {log.stem}\n{log.read_text(errors='replace')[-2000:]}"
                      for log in logs)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


HEALTHY = {"p95_latency_ms": 1200.0, "triage_agreement": 0.95, "psi": 0.1,
           "injection_rate": 0.001, "human_handoff_rate": 0.1}


@pytest.mark.external("prometheus")
@pytest.mark.external("prometheus-alertmanager")
def test_a_breach_pages_the_team_end_to_end(govctl, factory, tmp_path):
    prometheus = require_program("prometheus")
    alertmanager = require_program("prometheus-alertmanager")
    hook = Webhook()
    base = f"http://{hook.address}"
    factory.files["teams/claims.yaml"] = team(receivers=RECEIVERS.replace(
        PAGE_URL, f"{base}/page").replace(TICKET_URL, f"{base}/ticket"))
    root = factory.build().root
    # seconds-long windows, so the test takes seconds (re-approved under them)
    text = (root / CONTRACT_FILE).read_text()
    for window in ("5m", "1d", "1h"):
        text = text.replace(f"window: {window}", "window: 2s")
    factory.write(CONTRACT_FILE, text)
    factory.bind()
    rules = tmp_path / "rules.yml"
    assert govctl("export", "prometheus-rules", "--root", root, "-o", rules).code == 0
    part = export_routes(govctl, root, tmp_path / "govctl-routes.yml", "--routes-only")
    merged = merge_into(existing_config(), part)
    merged["receivers"][0]["webhook_configs"][0]["url"] = f"{base}/platform"
    merged["receivers"][1] = {"name": "platform-pager",
                              "webhook_configs": [{"url": f"{base}/platform-pager"}]}
    # only timing differs from what a team deploys: notify within a second, not 30
    merged["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(yaml.safe_dump(merged, sort_keys=False))
    amtool_check(am_config)

    exporter = MetricsExporter(HEALTHY, lambda _: 'use_case="claims-triage"')
    am_port, prom_port = free_port(), free_port()
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "claims-triage",
                            "static_configs": [{"targets": [exporter.address]}]}],
    }))
    logs = [tmp_path / "alertmanager.log", tmp_path / "prometheus.log"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start([alertmanager, f"--config.file={am_config}",
                            f"--storage.path={tmp_path / 'am-data'}",
                            f"--web.listen-address=127.0.0.1:{am_port}",
                            "--cluster.listen-address="], logs[0]))
        procs.append(start([prometheus, f"--config.file={prom_config}",
                            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                            f"--web.listen-address=127.0.0.1:{prom_port}"], logs[1]))
        # healthy, and every signal reporting: nothing is notified
        time.sleep(6)  # three times the longest `for:` (missing data: 4 s)
        assert hook.firing("/page") == {} and hook.firing("/ticket") == {}, hook.received
        # latency breaches (a page), drift breaches (a ticket), abuse stops reporting
        exporter.values.update(p95_latency_ms=3000.0, psi=0.5)
        del exporter.values["injection_rate"]
        wait_until("the page, the ticket and the missing-data ticket",
                   lambda: "GovctlClaimsTriageLatencyBreach" in hook.firing("/page")
                   and {"GovctlClaimsTriageDriftBreach", "GovctlClaimsTriageAbuseMissing"}
                   <= set(hook.firing("/ticket")), procs, logs)
        page = hook.firing("/page")
        assert set(page) == {"GovctlClaimsTriageLatencyBreach"}  # healthy ones stay silent
        labels = page["GovctlClaimsTriageLatencyBreach"]
        assert (labels["use_case"], labels["team"], labels["severity"],
                labels["signal_state"]) == ("claims-triage", "claims-ml", "page", "breach")
        assert labels["rotation"] == "claims-ml-primary"
        ticket = hook.firing("/ticket")
        assert ticket["GovctlClaimsTriageAbuseMissing"]["signal_state"] == "missing"
        assert not {"GovctlClaimsTriageAccuracyProxyBreach",
                    "GovctlClaimsTriageFallbackBreach"} & set(ticket)
        # nothing of ours reached their receivers
        assert hook.firing("/platform") == {} and hook.firing("/platform-pager") == {}

        # `govctl status --prometheus` reads the same series the rules judged, and agrees
        prom = f"http://127.0.0.1:{prom_port}"
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        verdicts = states(status_json(govctl, root, "--prometheus", prom, as_of=now))
        with urllib.request.urlopen(f"{prom}/api/v1/alerts", timeout=5) as response:
            alerts = json.loads(response.read())["data"]["alerts"]
        firing = {(a["labels"]["signal"], a["labels"]["signal_state"]) for a in alerts
                  if a["state"] == "firing"}
        assert verdicts == {"latency": "breach", "accuracy_proxy": "ok", "drift": "breach",
                            "abuse": "missing", "fallback": "ok"}
        assert firing == {(signal, state) for signal, state in verdicts.items()
                          if state != "ok"}
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        exporter.close()
        hook.close()
        shutil.rmtree(tmp_path / "prom-data", ignore_errors=True)
