"""No false assurance (SPEC §3.1 verdict, §3.3 yardstick and observations, §4): every answer
is measured against what was approved, observations cannot hide a breach, and nothing
claims the approved bundle serves or performs without evidence. One test (or a few) per
finding of the "no false assurance" issue, over real git repositories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import commit_all, git, init_git, run_subprocess
from tests.observation_support import (
    AS_OF,
    AS_OF_TEXT,
    METRICS,
    Row,
    ago,
    assert_usage_error,
    rfc3339,
    signals,
    status_json,
    use_case_entry,
    write_observations,
)
from tests.render_support import Html

USE_CASE = "claims-triage"
CONTRACT = "thresholds/triage.yaml"
APPROVAL = "approvals/claims-triage-2026-10-01.yaml"
HEALTHY = {"latency": 1200.0, "accuracy_proxy": 0.95, "drift": 0.05, "abuse": 0.001,
           "fallback": 0.1}


def rows(digest: str | None = None, **values: float) -> list[Row]:
    return [Row(signal, value, ago(minutes=1), bundle_digest=digest)
            for signal, value in {**HEALTHY, **values}.items()]


def approved_digest(root: Path) -> str:
    return yaml.safe_load((root / APPROVAL).read_text())["spec"]["bundle"]["digest"]


@pytest.fixture
def committed(factory: Any) -> Path:
    """The factory repository with its approval committed (git history exists)."""
    root = factory.build().root
    init_git(root)
    commit_all(root, "approved", date="2026-10-01T10:00:00Z")
    return root


def loosen_drift(root: Path, to: str = "0.5") -> None:
    path = root / CONTRACT
    path.write_text(path.read_text().replace("drift: {metric: psi, max: 0.2,",
                                             f"drift: {{metric: psi, max: {to},"))


def explain_json(govctl: Any, root: Path, *args: object) -> dict[str, Any]:
    result = govctl("explain", USE_CASE, "--root", root, "--format", "json", "--as-of",
                    AS_OF_TEXT, *args)
    assert result.code == 0, result.stderr
    return result.json()


# == 1. the approved yardstick =================================================================


def test_a_loosening_without_reapproval_is_a_breach_against_the_approved_threshold(
        govctl, committed, tmp_path):
    loosen_drift(committed)  # a pull request raises drift.max 0.2 -> 0.5, not re-approved
    observations = write_observations(tmp_path, rows(drift=0.3), "jsonl")
    payload = status_json(govctl, committed, "--observations", observations)
    entry = use_case_entry(payload)
    assert entry["threshold_basis"] == "approved"
    assert entry["verdict"] == "stale"  # the approval no longer covers the records
    drift = signals(payload)["drift"]
    assert drift["threshold"] == {"max": 0.2}
    assert drift["proposed"] == {"max": 0.5}
    assert drift["state"] == "breach"
    assert "proposed" not in signals(payload)["latency"]  # unchanged signals carry none

    gate = govctl("status", "--root", committed, "--observations", observations,
                  "--as-of", AS_OF_TEXT, "--fail-on", "breach")
    assert gate.code == 1
    line = next(x for x in gate.stdout.splitlines() if "drift" in x and "BREACH" in x)
    assert "(approved ≤ 0.2 · proposed ≤ 0.5 (not approved))" in line

    explained = explain_json(govctl, committed, "--observations", observations)
    assert explained["threshold_basis"] == "approved"
    (drift,) = [s for s in explained["signals"] if s["signal"] == "drift"]
    assert (drift["threshold"], drift["proposed"], drift["state"]) == (
        {"max": 0.2}, {"max": 0.5}, "breach")


def test_the_approved_content_is_read_from_git_once_the_loosening_is_committed(
        govctl, committed, tmp_path):
    loosen_drift(committed)
    commit_all(committed, "loosen drift", date="2026-11-01T10:00:00Z")
    observations = write_observations(tmp_path, rows(drift=0.3), "jsonl")
    payload = status_json(govctl, committed, "--observations", observations)
    assert use_case_entry(payload)["threshold_basis"] == "approved"
    drift = signals(payload)["drift"]
    assert (drift["threshold"], drift["proposed"], drift["state"]) == (
        {"max": 0.2}, {"max": 0.5}, "breach")


def test_a_contract_moved_to_another_file_and_its_runbook_edited_is_still_found(
        govctl, committed, tmp_path):
    git(committed, "mv", CONTRACT, "thresholds/moved.yaml")
    (committed / "runbooks/triage.md").write_text("# Triage runbook, rewritten\n")
    commit_all(committed, "move the contract, edit the runbook", date="2026-11-01T10:00:00Z")
    path = committed / "thresholds/moved.yaml"
    path.write_text(path.read_text().replace("max: 0.2,", "max: 0.9,"))
    commit_all(committed, "loosen drift", date="2026-11-02T10:00:00Z")
    observations = write_observations(tmp_path, rows(drift=0.3), "jsonl")
    payload = status_json(govctl, committed, "--observations", observations)
    assert use_case_entry(payload)["threshold_basis"] == "approved"
    drift = signals(payload)["drift"]
    assert (drift["threshold"], drift["proposed"], drift["state"]) == (
        {"max": 0.2}, {"max": 0.9}, "breach")


def test_without_git_the_working_tree_is_the_yardstick_and_says_so(govctl, factory, tmp_path):
    root = factory.build().root  # no git: the approved content cannot be found
    loosen_drift(root)
    observations = write_observations(tmp_path, rows(drift=0.3), "jsonl")
    payload = status_json(govctl, root, "--observations", observations)
    entry = use_case_entry(payload)
    assert entry["threshold_basis"] == "working-tree"
    assert "not in the working tree or git history" in entry["threshold_note"]
    assert entry["verdict"] == "stale"  # never current: the approval does not cover it
    assert signals(payload)["drift"]["threshold"] == {"max": 0.5}
    text = govctl("status", "--root", root, "--observations", observations, "--as-of",
                  AS_OF_TEXT).stdout
    assert "which nobody approved" in text


def test_signals_added_or_removed_without_reapproval(govctl, committed, tmp_path):
    path = committed / CONTRACT
    text = path.read_text()
    text = text.replace("    abuse: {metric: injection_rate, max: 0.01, window: 1h, "
                        "severity: page}\n", "")
    text = text.replace("  on_breach:", "    toxicity: {metric: toxic_rate, max: 0.1, "
                        "severity: page}\n  on_breach:")
    path.write_text(text)
    observations = write_observations(
        tmp_path, [*rows(), Row("toxicity", 0.5, ago(minutes=1), metric="toxic_rate")],
        "jsonl")
    payload = status_json(govctl, committed, "--observations", observations)
    found = signals(payload)
    # removed in the working tree: still judged against what was approved
    assert found["abuse"]["threshold"] == {"max": 0.01}
    assert found["abuse"]["proposed"] == {"removed": True}
    assert found["abuse"]["state"] == "ok"
    # added: nothing approved judges it, whatever its value
    assert found["toxicity"]["threshold"] == {}
    assert found["toxicity"]["proposed"] == {"max": 0.1}
    assert found["toxicity"]["state"] == "missing"
    assert payload["ignored"] == []  # its rows are not misspelt: they are proposed


def test_exported_alert_rules_encode_the_approved_thresholds(govctl, committed, tmp_path):
    loosen_drift(committed)
    out = tmp_path / "rules.yml"
    assert govctl("export", "prometheus-rules", "--root", committed, "-o", out).code == 0
    rules = {r["labels"]["signal"]: r for g in yaml.safe_load(out.read_text())["groups"]
             for r in g["rules"] if r["labels"]["signal_state"] == "breach"}
    assert rules["drift"]["expr"].endswith("> 0.2")


# == 2. OpenMetrics read in seconds, whatever the file is called ================================


def openmetrics(drift: float) -> str:
    stamp = int(ago(minutes=1).timestamp())  # seconds
    lines = ["# TYPE psi gauge",
             f'psi{{use_case="claims-triage",signal="drift"}} {drift} {stamp}'] + [
        f'{metric}{{use_case="claims-triage",signal="{signal}"}} {HEALTHY[signal]} {stamp}'
        for signal, metric in (("latency", "p95_latency_ms"),
                               ("accuracy_proxy", "triage_agreement"),
                               ("abuse", "injection_rate"), ("fallback", "human_handoff_rate"))]
    return "\n".join(lines) + "\n# EOF\n"


def test_openmetrics_named_prom_is_read_in_seconds_and_a_breach_trips(govctl, committed,
                                                                       tmp_path):
    path = tmp_path / "scrape.prom"
    path.write_text(openmetrics(drift=0.3))
    payload = status_json(govctl, committed, "--observations", path)
    assert signals(payload)["drift"]["state"] == "breach"
    assert signals(payload)["drift"]["observed_at"] == rfc3339(ago(minutes=1))
    gate = govctl("status", "--root", committed, "--observations", path, "--as-of",
                  AS_OF_TEXT, "--fail-on", "breach")
    assert gate.code == 1


def test_openmetrics_without_eof_is_an_error_naming_the_unit_mix_up(govctl, committed,
                                                                     tmp_path):
    path = tmp_path / "scrape.prom"
    path.write_text(openmetrics(drift=0.3).replace("# EOF\n", ""))
    result = govctl("status", "--root", committed, "--observations", path, "--as-of",
                    AS_OF_TEXT, "--fail-on", "breach")
    line = assert_usage_error(result, f"{path}:2: ", "before 2000-01-01", "seconds?")
    assert "OpenMetrics" in line


def test_milliseconds_in_openmetrics_are_an_error_too(govctl, committed, tmp_path):
    path = tmp_path / "scrape.om"
    stamp = int(ago(minutes=1).timestamp() * 1000)
    path.write_text(f'psi{{use_case="claims-triage",signal="drift"}} 0.3 {stamp}\n# EOF\n')
    result = govctl("status", "--root", committed, "--observations", path)
    assert_usage_error(result, f"{path}:1: ", "milliseconds?")


# == 3. misspelt rows are counted, never dropped ==============================================


def test_rows_no_contract_signal_judges_are_listed_as_ignored(govctl, committed, tmp_path):
    path = write_observations(tmp_path, [
        *rows(), Row("drfit", 0.9, ago(minutes=2), metric="psi"),
        Row("drfit", 0.8, ago(minutes=1), metric="psi"),
        Row("drift", 0.9, ago(minutes=1), use_case="claims-traige")], "csv")
    payload = status_json(govctl, committed, "--observations", path)
    assert payload["ignored"] == [
        {"use_case": "claims-traige", "signal": "drift", "rows": 1},
        {"use_case": "claims-triage", "signal": "drfit", "rows": 2}]
    text = govctl("status", "--root", committed, "--observations", path, "--as-of",
                  AS_OF_TEXT).stdout
    warning = next(line for line in text.splitlines() if line.startswith("warning:"))
    assert "3 observation row(s) ignored" in warning
    assert "claims-triage/drfit (2)" in warning and "claims-traige/drift (1)" in warning
    explained = explain_json(govctl, committed, "--observations", path)
    assert {"use_case": "claims-triage", "signal": "drfit", "rows": 2} in explained["ignored"]


def test_rows_of_use_cases_not_asked_about_are_not_ignored(govctl, committed, tmp_path):
    path = write_observations(tmp_path, rows(), "jsonl")
    payload = status_json(govctl, committed, "--observations", path, "--team", "nobody")
    assert payload["use_cases"] == [] and payload["ignored"] == []


# == 4. a semicolon (or tab) CSV loads; a bad header says what it found =========================


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_csv_with_another_delimiter_loads(govctl, committed, tmp_path, delimiter):
    at = rfc3339(ago(minutes=1))
    lines = ["use_case;signal;metric;value;at;bundle_digest".replace(";", delimiter)] + [
        delimiter.join([USE_CASE, signal, METRICS[signal], str(value), at, ""])
        for signal, value in {**HEALTHY, "drift": 0.3}.items()]
    path = tmp_path / "export.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    assert signals(status_json(govctl, committed, "--observations", path))["drift"][
        "state"] == "breach"


def test_a_csv_header_error_lists_what_the_header_has(govctl, committed, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("use_case;signal;Wert\nclaims-triage;drift;0,3\n")
    line = assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                              f"{path}:1: ", "CSV header lacks value")
    assert "the header has: use_case, signal, Wert" in line
    assert "separated by semicolons" in line


def test_a_decimal_comma_is_an_error_not_a_guess(govctl, committed, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(f"use_case;signal;value;at\nclaims-triage;latency;1,500;"
                    f"{rfc3339(ago(minutes=1))}\n")
    assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                       f"{path}:2: ", "'1,500' is not a number", "decimal comma")


# == 5. the card never claims what serves without evidence =====================================


def test_an_old_digest_serving_is_the_verdict_everywhere(govctl, committed, tmp_path):
    old = "sha256:" + "0" * 64
    path = write_observations(tmp_path, rows(digest=old), "jsonl")
    payload = status_json(govctl, committed, "--observations", path)
    assert use_case_entry(payload)["verdict"] == "unapproved-serving"
    assert [f["rule"] for f in payload["findings"]] == ["GOV085"]
    assert explain_json(govctl, committed, "--observations", path)["verdict"] == \
        "unapproved-serving"
    gate = govctl("status", "--root", committed, "--observations", path, "--as-of",
                  AS_OF_TEXT, "--fail-on", "unapproved")
    assert gate.code == 1

    html = card(govctl, committed, "--format", "html", "--observations", path)
    assert re.search(r'<div class="banner bad" id="verdict" data-verdict="unapproved-serving" '
                     r'role="alert">\s*<strong>✖ UNAPPROVED BUNDLE SERVING', html)
    text = Html(html).text
    assert f"serving bundle digest {old}" in text
    assert "the approved bundle is what serves" not in text
    md = card(govctl, committed, "--observations", path)
    assert "> **✖ UNAPPROVED BUNDLE SERVING.**" in md


def test_the_card_stays_red_with_a_breach_and_yellow_with_a_required_signal_missing(
        govctl, committed, tmp_path):
    digest = approved_digest(committed)
    breach = write_observations(tmp_path, rows(digest=digest, drift=0.3), "jsonl", "breach")
    html = card(govctl, committed, "--format", "html", "--observations", breach)
    assert 'class="banner bad" id="verdict" data-verdict="breach"' in html
    assert "Signal drift is 0.3, outside the approved ≤ 0.2." in Html(html).text

    partial = write_observations(tmp_path, [r for r in rows(digest=digest)
                                            if r.signal != "abuse"], "jsonl", "partial")
    html = card(govctl, committed, "--format", "html", "--observations", partial)
    assert 'class="banner warn" id="verdict" data-verdict="missing"' in html
    assert "Required signal abuse: no value." in Html(html).text


def test_a_current_card_claims_the_approved_bundle_serves_only_with_its_digest_observed(
        govctl, committed, tmp_path):
    digest = approved_digest(committed)
    with_digest = write_observations(tmp_path, rows(digest=digest), "jsonl", "with")
    html = card(govctl, committed, "--format", "html", "--observations", with_digest)
    assert 'class="banner ok" id="verdict" data-verdict="current"' in html
    assert "the approved bundle is what serves" in Html(html).text

    without = write_observations(tmp_path, rows(), "jsonl", "without")
    text = Html(card(govctl, committed, "--format", "html", "--observations", without)).text
    assert "✔ CURRENT" in text  # within its approved thresholds...
    assert "which bundle serves is not evidenced" in text  # ...but what serves is not known
    assert "the approved bundle is what serves" not in text

    unobserved = Html(card(govctl, committed, "--format", "html")).text
    assert "? UNOBSERVED" in unobserved and "✔ CURRENT" not in unobserved
    assert "the approved bundle is what serves" not in unobserved


def card(govctl: Any, root: Path, *args: object) -> str:
    result = govctl("card", USE_CASE, "--root", root, "--as-of", AS_OF_TEXT, *args)
    assert result.code == 0, result.stderr
    return result.stdout


# == 6. conditions and open incidents ===========================================================


def make_conditional(root: Path) -> None:
    path = root / APPROVAL
    path.write_text(path.read_text().replace("decision: approved", "decision: conditional")
                    + "  conditions:\n    - Weekly drift review by the model owner.\n")


def test_conditions_and_open_incidents_are_shown(govctl, factory, tmp_path):
    factory.build()
    make_conditional(factory.root)
    factory.write("incidents/2026-11-20.yaml", """\
apiVersion: govctl/v1
kind: Incident
metadata: {id: inc-2026-11-20}
spec:
  use_case: claims-triage
  detected: 2026-11-20T08:00:00Z
  severity: sev2
  status: open
  summary: Drift alert after a new region went live.
""")
    root = factory.root
    path = write_observations(tmp_path, rows(digest=approved_digest(root)), "jsonl")
    entry = use_case_entry(status_json(govctl, root, "--observations", path))
    assert entry["verdict"] == "conditional"
    assert entry["approval"]["decision"] == "conditional"
    assert entry["approval"]["conditions"] == ["Weekly drift review by the model owner."]
    assert entry["incidents_open"] == 1

    explained = explain_json(govctl, root, "--observations", path)
    assert explained["verdict"] == "conditional"
    assert explained["approval"]["conditions"] == ["Weekly drift review by the model owner."]
    assert explained["incidents"] == [{"id": "inc-2026-11-20", "severity": "sev2",
                                       "status": "open", "detected": "2026-11-20T08:00:00Z",
                                       "summary": "Drift alert after a new region went live."}]
    text = govctl("explain", USE_CASE, "--root", root, "--observations", path, "--as-of",
                  AS_OF_TEXT).stdout
    assert "condition: Weekly drift review by the model owner." in text
    assert "open incident inc-2026-11-20 (sev2, open" in text
    assert "verdict: ◐ conditional" in text

    status_text = govctl("status", "--root", root, "--observations", path, "--as-of",
                         AS_OF_TEXT).stdout
    assert "◐ conditional" in status_text
    assert "condition: Weekly drift review by the model owner." in status_text
    assert "1 open incident(s)" in status_text

    html = card(govctl, root, "--format", "html", "--observations", path)
    assert 'class="banner cond" id="verdict" data-verdict="conditional"' in html
    assert "Condition: Weekly drift review by the model owner." in Html(html).text


# == 7. the audit pack's mapping needs evidence inside the pack ================================


def mapping_rows(pack: Path) -> dict[str, list[str]]:
    out = {}
    for line in (pack / "mapping.md").read_text().splitlines():
        # the cells as read, Markdown escapes resolved
        cells = [re.sub(r"\\(.)", r"\1", c.strip()) for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("**"):
            out[cells[1].split("**")[1]] = cells
    return out


def test_post_market_monitoring_is_evidenced_only_by_observations_in_the_pack(
        govctl, committed, tmp_path):
    bare = tmp_path / "bare"
    assert govctl("audit-pack", USE_CASE, "--root", committed, "-o", bare, "--as-of",
                  AS_OF_TEXT).code == 0
    art72 = mapping_rows(bare)["Art. 72"]
    assert art72[3] == "◐ partial"
    assert "no observed values in this pack" in art72[4]
    assert not (bare / "observations").exists()
    readme = (bare / "README.md").read_text()
    assert "**No observations are in this pack**" in readme

    source = write_observations(tmp_path, rows(digest=approved_digest(committed)), "jsonl")
    packed = tmp_path / "observed"
    result = govctl("audit-pack", USE_CASE, "--root", committed, "-o", packed, "--as-of",
                    AS_OF_TEXT, "--observations", source)
    assert result.code == 0, result.stderr
    assert mapping_rows(packed)["Art. 72"][3] == "✔ evidenced"
    copied = packed / "observations" / source.name
    assert copied.read_bytes() == source.read_bytes()
    status = json.loads((packed / "observations" / "status.json").read_text())
    assert use_case_entry(status)["verdict"] == "current"
    manifest = json.loads((packed / "manifest.json").read_text())
    assert {f"observations/{source.name}", "observations/status.json"} <= set(
        manifest["files"])
    assert govctl("verify", packed, "--root", committed).code == 0
    readme = (packed / "README.md").read_text()
    assert "**Verdict: ✔ CURRENT**" in readme
    assert "observations carry it: the approved bundle is what serves" in readme


def test_a_pack_judges_the_bytes_it_holds(govctl, committed, tmp_path):
    """The status in the pack is computed from the copy in the pack (not a second read of
    a file that may change meanwhile), and the copy keeps the file's modification time."""
    source = write_observations(tmp_path, [Row("drift", 0.3, None)], "prometheus")
    os.utime(source, (AS_OF.timestamp() - 60, AS_OF.timestamp() - 60))
    packed = tmp_path / "pack"
    assert govctl("audit-pack", USE_CASE, "--root", committed, "-o", packed, "--as-of",
                  AS_OF_TEXT, "--observations", source).code == 0
    status = json.loads((packed / "observations" / "status.json").read_text())
    assert signals(status)["drift"]["state"] == "breach"
    assert signals(status)["drift"]["observed_at"] == rfc3339(ago(minutes=1))


# == 8. hostile observation inputs =============================================================


SECRET = "hunter2-do-not-print-me"


def run_status(root: Path, *args: object, env: dict[str, str] | None = None,
               timeout: float = 60) -> Any:
    """A real child process, so a hang is a timeout rather than a stuck test run."""
    return run_subprocess("status", "--root", root, *args, cwd=root, env=env,
                          timeout=timeout)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_symlink_to_proc_environ_is_refused_without_echoing_it(committed, tmp_path):
    link = tmp_path / "observations.jsonl"
    link.symlink_to("/proc/self/environ")
    result = run_status(committed, "--observations", link,
                        env={**os.environ, "GOVCTL_TEST_SECRET": SECRET})
    line = assert_usage_error(result, "refusing to read observations", "/proc")
    assert SECRET not in result.stderr and SECRET not in result.stdout
    assert len(line) < 300


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_before_any_byte_is_read(committed, tmp_path, device):
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    link = tmp_path / "observations.prom"
    link.symlink_to(device)
    assert_usage_error(run_status(committed, "--observations", link),
                       "refusing to read observations", "/dev")
    assert_usage_error(run_status(committed, "--observations", device), "/dev")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_waiting_for_a_writer(committed, tmp_path):
    fifo = tmp_path / "observations.jsonl"
    os.mkfifo(fifo)
    assert_usage_error(run_status(committed, "--observations", fifo, timeout=30),
                       "must be a regular file, not a named pipe")


def test_a_file_over_the_limit_is_refused_and_a_long_line_too(govctl, committed, tmp_path):
    path = write_observations(tmp_path, rows(), "jsonl")
    result = govctl("status", "--root", committed, "--observations", path,
                    "--max-observations-bytes", "100")
    assert_usage_error(result, "larger than 100 bytes", "--max-observations-bytes")
    long = tmp_path / "long.jsonl"
    long.write_text('{"use_case": "' + "x" * (2 << 20) + '"}\n')
    assert_usage_error(govctl("status", "--root", committed, "--observations", long),
                       f"{long}:1: line longer than 1 MiB")


def test_errors_quote_at_most_80_escaped_characters_and_never_a_nul_line(govctl, committed,
                                                                        tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json " + SECRET + "\x1b]52;c;AAAA\x07" + "y" * 500 + "\n")
    line = assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                              f"{path}:1: ")
    quoted = line.split("(line: ", 1)[1]
    assert len(quoted) <= 81 + 1  # 80 characters and the closing parenthesis
    assert "\x1b" not in line and "\\x1b" in line
    nul = tmp_path / "nul.prom"
    nul.write_bytes(b"KEY=" + SECRET.encode() + b"\x00OTHER=1\n")
    line = assert_usage_error(govctl("status", "--root", committed, "--observations", nul),
                              f"{nul}:1: ")
    assert SECRET not in line and "NUL" in line


def trickle_server() -> Any:
    from tests.http_support import LoopbackServer, QuietHandler

    class Trickle(LoopbackServer):
        def __init__(self) -> None:
            class Handler(QuietHandler):
                def do_POST(self) -> None:
                    import time

                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    for _ in range(600):  # a byte every half second: each read succeeds
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(0.5)

            self._serve(Handler)

    return Trickle()


def huge_server(declare_length: bool) -> Any:
    from tests.http_support import LoopbackServer, QuietHandler

    chunk = b'{"metric":{"use_case":"claims-triage"},"value":[1795780000,"0.1"]},' * 1000

    class Huge(LoopbackServer):
        def __init__(self) -> None:
            class Handler(QuietHandler):
                def do_POST(self) -> None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if declare_length:
                        self.send_header("Content-Length", str(2 << 30))
                    self.end_headers()
                    try:
                        self.wfile.write(b'{"status":"success","data":{"resultType":"vector",'
                                         b'"result":[')
                        for _ in range((40 << 20) // len(chunk)):
                            self.wfile.write(chunk)
                    except OSError:
                        return

            self._serve(Handler)

    return Huge()


def test_a_trickling_prometheus_ends_at_the_deadline(committed):
    server = trickle_server()
    try:
        result = run_status(committed, "--prometheus", f"http://{server.address}",
                            "--prometheus-timeout", "1", timeout=60)
    finally:
        server.close()
    assert_usage_error(result, "did not answer within 1 s", "--prometheus-timeout")


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_huge_prometheus_answer_is_refused(committed, declare_length):
    server = huge_server(declare_length)
    try:
        result = run_status(committed, "--prometheus", f"http://{server.address}",
                            timeout=120)
    finally:
        server.close()
    assert_usage_error(result, "answered with more than 32 MiB")


def test_a_large_answer_within_the_cap_stays_small_in_memory(committed, tmp_path):
    """300,000 series (about 20 MiB) are folded into two while parsed: the child's peak
    memory stays far below what holding them would take."""
    from tests.http_support import LoopbackServer, QuietHandler

    body = (b'{"status":"success","data":{"resultType":"vector","result":['
            + b",".join(b'{"metric":{"use_case":"claims-triage","i":"%d"},"value":'
                        b'[%d,"%d.5"]}' % (i, int(ago(minutes=1).timestamp()), i % 7)
                        for i in range(300_000)) + b"]}}")

    class Big(LoopbackServer):
        def __init__(self) -> None:
            class Handler(QuietHandler):
                def do_POST(self) -> None:
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            self._serve(Handler)

    server = Big()
    probe = ("import resource, sys\nfrom govctl.cli.main import run\n"
             "code = run(sys.argv[1:])\n"
             "sys.stderr.write(f'maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')"
             "\nsys.exit(code)\n")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", probe, "status", "--root", str(committed), "--prometheus",
             f"http://{server.address}", "--format", "json", "--as-of", AS_OF_TEXT],
            capture_output=True, text=True, timeout=300)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    drift = signals(json.loads(proc.stdout))["drift"]
    assert drift["value"] == 6.5  # the highest of all the series, against max 0.2
    maxrss_kib = int(re.search(r"maxrss=(\d+)", proc.stderr).group(1))
    assert maxrss_kib < 300 * 1024


# == GOV036: eval results against the contract the approval bound ==============================


def validate_rules(govctl: Any, root: Path) -> dict[str, list[str]]:
    result = govctl("validate", "--root", root, "--format", "json", "--as-of", AS_OF_TEXT)
    out: dict[str, list[str]] = {}
    for f in result.json()["findings"]:
        out.setdefault(f["rule"], []).append(f["message"])
    return out


def test_gov036_judges_eval_results_against_the_approved_contract(govctl, factory):
    factory.build()
    root = factory.root
    path = root / APPROVAL
    path.write_text(path.read_text().replace("triage_agreement: 0.94", "triage_agreement: 0.92"))
    init_git(root)
    commit_all(root, "approved", date="2026-10-01T10:00:00Z")
    assert "GOV036" not in validate_rules(govctl, root)

    # tightened since, not re-approved: the decision was right under what it bound
    contract = root / CONTRACT
    original = contract.read_text()
    contract.write_text(original.replace("min: 0.9,", "min: 0.95,"))
    found = validate_rules(govctl, root)
    assert "GOV032" in found and "GOV036" not in found

    # loosened since: it cannot excuse a result that breached what was approved
    path.write_text(path.read_text().replace("triage_agreement: 0.92", "triage_agreement: 0.85"))
    commit_all(root, "record 0.85", date="2026-10-02T10:00:00Z")
    contract.write_text(original.replace("min: 0.9,", "min: 0.8,"))
    found = validate_rules(govctl, root)
    assert found["GOV036"] == ["eval result triage_agreement = 0.85 recorded at approval "
                               "breaches ThresholdContract 'triage-contract' as approved: "
                               "signal 'accuracy_proxy' requires min 0.9"]


# == rows and series that must not hide a breach or an unapproved bundle =======================


def test_rows_sharing_an_instant_count_at_their_worst(govctl, committed, tmp_path):
    at = ago(minutes=1)
    path = write_observations(tmp_path, [*rows(), Row("latency", 9000.0, at),
                                         Row("latency", 10.0, at)], "jsonl")
    assert signals(status_json(govctl, committed, "--observations", path))["latency"][
        "state"] == "breach"
    # the same rows the other way round: the order of a file decides nothing
    path = write_observations(tmp_path, [*rows(), Row("latency", 10.0, at),
                                         Row("latency", 9000.0, at)], "jsonl", "reversed")
    assert signals(status_json(govctl, committed, "--observations", path))["latency"][
        "value"] == 9000.0


def test_samples_of_another_metric_are_ignored_not_judged(govctl, committed, tmp_path):
    """A summary's quantiles or a counter's _created sample carry the same labels; only
    the contract's metric is the signal."""
    stamp = int(ago(minutes=1).timestamp())
    path = tmp_path / "scrape.om"
    path.write_text(
        "# TYPE p95_latency_ms summary\n"
        f'p95_latency_ms{{use_case="claims-triage",signal="latency",quantile="0.99"}} 5000 '
        f"{stamp}\n"
        f'p95_latency_ms_count{{use_case="claims-triage",signal="latency"}} 7 {stamp}\n'
        f'p95_latency_ms_sum{{use_case="claims-triage",signal="latency"}} 0.01 {stamp}\n'
        "# EOF\n")
    payload = status_json(govctl, committed, "--observations", path)
    assert signals(payload)["latency"]["state"] == "breach"  # 5000 > 2500, not the sum
    assert {"use_case": "claims-triage", "signal": "latency", "metric": "p95_latency_ms_sum",
            "rows": 1} in payload["ignored"]


def test_an_older_or_equal_row_with_another_digest_is_still_gov085(govctl, committed,
                                                                   tmp_path):
    approved, other = approved_digest(committed), "sha256:" + "e" * 64
    at = ago(minutes=1)
    same_instant = [*rows(digest=approved), Row("latency", 1000.0, at, bundle_digest=other)]
    earlier = [*rows(digest=approved),
               Row("latency", 1000.0, ago(minutes=2), bundle_digest=other)]
    for name, data in (("same", same_instant), ("earlier", earlier)):
        path = write_observations(tmp_path, data, "jsonl", name)
        payload = status_json(govctl, committed, "--observations", path)
        assert use_case_entry(payload)["verdict"] == "unapproved-serving", name
        assert other in payload["findings"][0]["message"]
    # a digest seen only before the freshness window served then, not now
    old = [*rows(digest=approved), Row("latency", 1000.0, ago(days=3), bundle_digest=other)]
    path = write_observations(tmp_path, old, "jsonl", "old")
    assert use_case_entry(status_json(govctl, committed, "--observations", path))[
        "verdict"] == "current"


def test_prometheus_infinity_breaches_nan_is_unknown_and_every_series_digest_counts(
        govctl, committed, fake_prometheus):
    from tests.http_support import vectors

    approved, canary = approved_digest(committed), "sha256:" + "c" * 64
    healthy = {"p95_latency_ms": [({"use_case": USE_CASE, "bundle_digest": approved}, 1.0)],
               "triage_agreement": [({"use_case": USE_CASE}, 0.95)],
               "psi": [({"use_case": USE_CASE}, 0.01)],
               "injection_rate": [({"use_case": USE_CASE}, 0.0)],
               "human_handoff_rate": [({"use_case": USE_CASE}, 0.1)]}

    def status(series: dict[str, Any]) -> dict[str, Any]:
        server = fake_prometheus(vectors({**healthy, **series}))
        return status_json(govctl, committed, "--prometheus", server.url)

    infinite = status({"p95_latency_ms": [({"use_case": USE_CASE}, float("inf")),
                                          ({"use_case": USE_CASE}, 1.0)]})
    latency = signals(infinite)["latency"]
    assert latency["state"] == "breach" and latency["value"] > 1e300  # +Inf, as JSON allows
    unknown = status({"psi": [({"use_case": USE_CASE}, float("nan")),
                              ({"use_case": USE_CASE}, 0.01)]})
    assert signals(unknown)["drift"]["state"] == "missing"
    assert use_case_entry(unknown)["verdict"] == "missing"
    # a canary series neither highest nor lowest, carrying another digest
    canaried = status({"p95_latency_ms": [
        ({"use_case": USE_CASE, "bundle_digest": approved}, 1.0),
        ({"use_case": USE_CASE, "bundle_digest": canary}, 2.0),
        ({"use_case": USE_CASE, "bundle_digest": approved}, 3.0)]})
    assert use_case_entry(canaried)["verdict"] == "unapproved-serving"


def test_a_use_case_record_with_errors_is_listed_and_trips_every_gate(govctl, committed,
                                                                      tmp_path):
    path = committed / "use-cases/triage.yaml"
    path.write_text(path.read_text().replace("  status: production\n",
                                             "  status: production\n  typo_key: 1\n"))
    observations = write_observations(tmp_path, rows(drift=0.3), "jsonl")
    payload = status_json(govctl, committed, "--observations", observations)
    entry = use_case_entry(payload)
    assert entry["verdict"] == "no-approval"
    assert "record has errors" in entry["problem"]
    assert payload["ignored"] == [{"use_case": USE_CASE, "signal": s, "rows": 1}
                                  for s in sorted(HEALTHY)]  # nothing judges them now
    for gate in ("breach", "missing", "unapproved"):
        result = govctl("status", "--root", committed, "--observations", observations,
                        "--as-of", AS_OF_TEXT, "--fail-on", gate)
        assert result.code == 1, gate
        assert "record has errors" in result.stdout


def test_an_invalid_policy_does_not_switch_off_valid_until(govctl, committed):
    path = committed / "governance.yaml"
    path.write_text(path.read_text() + "  not_a_policy_key: 1\n")
    payload = status_json(govctl, committed, as_of="2028-01-01T00:00:00Z")
    assert use_case_entry(payload)["approval"]["state"] == "expired"


def test_fail_on_may_be_repeated_and_any_gate_trips(govctl, committed, tmp_path):
    observations = write_observations(tmp_path, rows(drift=0.3, digest=approved_digest(
        committed)), "jsonl")
    base = ("status", "--root", committed, "--observations", observations, "--as-of",
            AS_OF_TEXT)
    assert govctl(*base, "--fail-on", "unapproved").code == 0
    assert govctl(*base, "--fail-on", "breach", "--fail-on", "unapproved").code == 1
    assert govctl(*base, "--fail-on", "unapproved", "--fail-on", "breach").code == 1


def test_no_fresh_value_at_all_is_never_current_even_with_nothing_required(govctl, committed,
                                                                           tmp_path):
    path = committed / "governance.yaml"
    text = path.read_text()
    required = "  signals:\n    required: [latency, accuracy_proxy, drift, abuse, fallback]\n"
    assert required in text
    path.write_text(text.replace(required, "  signals: {required: []}\n"))
    empty = write_observations(tmp_path, [Row("latency", 1.0, ago(days=30))], "jsonl")
    entry = use_case_entry(status_json(govctl, committed, "--observations", empty))
    assert entry["verdict"] == "missing"


def test_an_eval_result_no_signal_judges_is_not_within_contract(govctl, committed):
    path = committed / APPROVAL
    path.write_text(path.read_text().replace("results: {triage_agreement: 0.94}",
                                             "results: {triage_agreement: 0.94, bleu: 0.1}"))
    doc = card(govctl, committed)
    (row,) = [line for line in doc.splitlines() if line.startswith("| bleu |")]
    assert row.endswith("| not judged |")


def test_numbers_beyond_a_double_or_python_ints_are_line_errors(govctl, committed, tmp_path):
    for name, number in (("wide", "9" * 400), ("long", "9" * 5000)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text('{"use_case": "claims-triage", "signal": "drift", "value": '
                        f'{number}, "at": "{AS_OF_TEXT}"}}\n')
        assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                           f"{path}:1: ")


def test_a_histogram_across_a_chunk_boundary_still_parses(tmp_path):
    from govctl.monitoring.observations import load_observations

    stamp = int(ago(minutes=1).timestamp())
    for padding in (4089, 4091, 4093, 4095):
        lines = [f'pad_{i}{{use_case="u",signal="p{i}"}} 1 {stamp}' for i in range(padding)]
        lines += ["# TYPE h histogram"] + [
            f'h_bucket{{use_case="u",signal="h",le="{le}"}} {n} {stamp}'
            for le, n in (("0.1", 1), ("1", 2), ("+Inf", 3))] + [
            f'h_count{{use_case="u",signal="h"}} 3 {stamp}',
            f'h_sum{{use_case="u",signal="h"}} 1.5 {stamp}', "# EOF"]
        path = tmp_path / f"big{padding}.om"
        path.write_text("\n".join(lines) + "\n")
        loaded = load_observations(path).observations
        assert [o.metric for o in loaded[-5:]] == ["h_bucket"] * 3 + ["h_count", "h_sum"]
        assert loaded[-1].source == f"{path}:{padding + 6}"


def test_a_csv_record_spanning_lines_is_named_by_its_first_line(govctl, committed, tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('use_case,signal,metric,value,at\nclaims-triage,latency,"p95\nms",'
                    f'fast,{AS_OF_TEXT}\n')
    assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                       f"{path}:2: ", "'fast' is not a number")


def test_prometheus_values_after_as_of_are_not_evidence(govctl, committed, fake_prometheus):
    from datetime import timedelta

    from tests.http_support import FakePrometheus

    def later(query: str, at: str) -> tuple[int, bytes]:
        future = float(at) + timedelta(days=30).total_seconds()
        result = [{"metric": {"use_case": USE_CASE}, "value": [future, "0.01"]}]
        return 200, json.dumps({"status": "success", "data": {"resultType": "vector",
                                                              "result": result}}).encode()

    server: FakePrometheus = fake_prometheus(later)
    payload = status_json(govctl, committed, "--prometheus", server.url)
    assert set(s["state"] for s in signals(payload).values()) == {"missing"}


def test_prometheus_redirects_are_refused_and_credentials_never_printed(govctl, committed):
    from tests.http_support import LoopbackServer, QuietHandler

    seen: list[str] = []

    class Redirect(LoopbackServer):
        def __init__(self) -> None:
            class Handler(QuietHandler):
                def do_POST(self) -> None:
                    seen.append(self.headers.get("Authorization", ""))
                    self.send_response(302)
                    self.send_header("Location", "http://elsewhere.invalid/api/v1/query")
                    self.end_headers()

            self._serve(Handler)

    server = Redirect()
    try:
        result = govctl("status", "--root", committed, "--prometheus",
                        f"http://alice:s3cret-pw@{server.address}")
    finally:
        server.close()
    line = assert_usage_error(result, "redirect", "does not follow")
    assert "s3cret-pw" not in line and "alice" not in line
    assert seen and seen[0].startswith("Basic ")  # the credentials went as a header
    for url, fragment in (("http://127.0.0.1:9/?token=s3cret-pw", "without a query"),):
        line = assert_usage_error(govctl("status", "--root", committed, "--prometheus", url),
                                  fragment)
        assert "s3cret-pw" not in line


@pytest.mark.parametrize("timeout", ["0", "-1", "inf", "1e100", "nan"])
def test_a_prometheus_timeout_out_of_range_is_a_usage_error(govctl, committed, timeout):
    assert_usage_error(govctl("status", "--root", committed, "--prometheus",
                              "http://127.0.0.1:9", "--prometheus-timeout", timeout),
                       "--prometheus-timeout")


def test_a_csv_naming_a_column_twice_is_an_error(govctl, committed, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(f"use_case,signal,value,at,value\nclaims-triage,latency,9000,"
                    f"{AS_OF_TEXT},1\n")
    assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                       f"{path}:1: ", "names value more than once")


@pytest.mark.parametrize("value", ["1_0", "١٢", "0x10", " nan"])
def test_a_csv_value_is_a_plain_decimal_number(govctl, committed, tmp_path, value):
    path = tmp_path / "odd.csv"
    path.write_text(f'use_case,signal,value,at\nclaims-triage,latency,"{value}",{AS_OF_TEXT}\n')
    assert_usage_error(govctl("status", "--root", committed, "--observations", path),
                       f"{path}:2: ", "not a")


def test_a_required_signal_missing_from_the_approved_contract_is_named(govctl, committed,
                                                                       tmp_path):
    path = committed / CONTRACT
    path.write_text(path.read_text().replace(
        "    abuse: {metric: injection_rate, max: 0.01, window: 1h, severity: page}\n", ""))
    approval = committed / APPROVAL
    old = yaml.safe_load(approval.read_text())["spec"]["thresholds"]["digest"]
    from govctl.digest.digester import Digester
    from govctl.model.repository import WorktreeSource, load_repository

    repo = load_repository(WorktreeSource(committed))
    new = Digester(repo).contract_digest(repo.get("ThresholdContract", "triage-contract"))
    approval.write_text(approval.read_text().replace(old, new))  # re-bound to the new one
    observations = write_observations(tmp_path, [r for r in rows() if r.signal != "abuse"],
                                      "jsonl")
    entry = use_case_entry(status_json(govctl, committed, "--observations", observations))
    assert entry["verdict"] == "missing"
    assert entry["required_absent"] == ["abuse"]
    text = govctl("status", "--root", committed, "--observations", observations, "--as-of",
                  AS_OF_TEXT).stdout
    assert "required signal abuse: not in the approved contract" in text


def test_record_text_cannot_inject_markdown_into_the_card(govctl, committed, tmp_path):
    from tests.render_support import markdown_html

    evil = "a``[Approved, all clear](https://evil.example) <img src=x onerror=alert(1)>"
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps({"use_case": USE_CASE, "signal": evil, "value": 1,
                                "at": AS_OF_TEXT}) + "\n")
    page = markdown_html(card(govctl, committed, "--observations", path))
    assert "<img" not in page and 'href="https://evil.example"' not in page
    assert "[Approved, all clear](https://evil.example)" in Html(page).text
