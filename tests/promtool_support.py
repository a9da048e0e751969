"""promtool unit tests written from a contract (SPEC §5): for each signal, its breach alert
fires on a breaching series after `for:` and stays silent on a healthy one and exactly at
each bound; its missing-data alert fires after twice the window with no series, and a
healthy series keeps it silent. Shared by the factory's and the example's tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

SELECTOR = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?')  # one series, as input


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))


def alert(signal: str, use_case: str = "claims-triage", state: str = "Breach") -> str:
    return f"Govctl{camel(use_case)}{camel(signal)}{state}"


def go_float(value: float) -> str:
    """Prometheus's {{ $value }}: Go's shortest float64 form (no ``.0`` on integers), for
    values that need no exponent."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def expand(template: str, value: float) -> str:
    """What Prometheus' template expansion makes of our annotation for ``value``."""
    return template.replace("{{ $value }}", go_float(value)).replace('{{ "{{" }}', "{{")


def breaching(signal: dict[str, Any]) -> list[float]:
    out = []
    if "max" in signal:
        out.append(signal["max"] * 2 if signal["max"] else 1.0)
    if "min" in signal:
        out.append(signal["min"] / 2 if signal["min"] > 0 else signal["min"] - 1)
    return out


def healthy(signal: dict[str, Any]) -> float:
    if "min" in signal and "max" in signal:
        return (signal["min"] + signal["max"]) / 2
    return signal["max"] / 2 if "max" in signal else signal["min"] * 1.05


def bounds(signal: dict[str, Any]) -> list[float]:
    return [signal[k] for k in ("min", "max") if k in signal]


def minutes(window: str) -> int:
    units = {"m": 1, "h": 60, "d": 1440, "w": 10080}
    return int(window[:-1]) * units[window[-1]]


def unit_tests(rules_file: Path, rules: dict[str, Any], contract: dict[str, dict[str, Any]],
               labels: dict[str, str], use_case: str = "claims-triage", step: int = 1
               ) -> dict[str, Any]:
    """A promtool unit-test file: per signal, a breaching series fires its breach alert after
    `for:` (and not a minute before); a healthy series and one exactly at each bound never
    fire it; a signal with no series at all fires its missing-data alert after twice its
    window (and not a minute before), which a healthy series keeps silent.

    ``step``: minutes between samples and evaluations (every window must be a multiple of
    it); checks fall one step either side of `for:`. A week-long window at one-minute steps
    is 20,000 evaluations per rule; at five it is 4,000."""
    by_alert = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    scenarios: dict[str, list[tuple[str, dict[str, Any], float | None, bool]]] = {}
    for name, signal in contract.items():
        scenarios.setdefault("no-data", []).append((name, signal, None, False))
        if not SELECTOR.fullmatch(signal.get("query") or signal["metric"]):
            continue  # (a histogram quantile needs buckets as input: only its no-data case)
        for i, value in enumerate(breaching(signal)):
            scenarios.setdefault(f"breach-{i}", []).append((name, signal, value, True))
        scenarios.setdefault("healthy", []).append((name, signal, healthy(signal), False))
        for i, value in enumerate(bounds(signal)):
            scenarios.setdefault(f"bound-{i}", []).append((name, signal, value, False))
    tests = []
    for scenario, cases in scenarios.items():
        longest = max(minutes(s.get("window", "1h")) for _, s, _, _ in cases)
        # in samples: to one step past the last check
        span = ((2 if scenario in ("healthy", "no-data") else 1) * longest) // step + 2
        series, checks = [], []
        for name, signal, value, fires in cases:
            window = minutes(signal.get("window", "1h"))
            expected_labels = {**labels, "use_case": use_case, "signal": name}
            if value is not None:
                query = signal.get("query") or f'{signal["metric"]}{{use_case="{use_case}"}}'
                series.append({"series": query, "values": f"{value!r}+0x{span}"})
                rule = by_alert[alert(name, use_case)]
                expected = [{"exp_labels": {**expected_labels, "severity": signal["severity"],
                                            "signal_state": "breach"},
                             "exp_annotations": {k: expand(v, value)
                                                 for k, v in rule["annotations"].items()}}]
                checks.append({"alertname": rule["alert"], "eval_time": f"{window - step}m",
                               "exp_alerts": []})
                checks.append({"alertname": rule["alert"], "eval_time": f"{window + step}m",
                               "exp_alerts": expected if fires else []})
            missing = by_alert[alert(name, use_case, "Missing")]
            checks.append({"alertname": missing["alert"], "eval_time": f"{2 * window - step}m",
                           "exp_alerts": []})
            if scenario in ("healthy", "no-data"):
                checks.append({"alertname": missing["alert"], "eval_time": f"{2 * window + step}m",
                               "exp_alerts": [] if value is not None else [{
                                   "exp_labels": {**expected_labels, "severity": "ticket",
                                                  "signal_state": "missing"},
                                   "exp_annotations": {
                                       k: expand(v, 1.0)  # (no $value in them)
                                       for k, v in missing["annotations"].items()}}]})
        tests.append({"name": scenario, "interval": f"{step}m", "input_series": series,
                      "alert_rule_test": checks})
    return {"rule_files": [rules_file.name], "evaluation_interval": f"{step}m",
            "tests": tests}


def promtool_test(promtool: str, folder: Path, document: dict[str, Any]
                  ) -> subprocess.CompletedProcess[str]:
    test_file = folder / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return subprocess.run([promtool, "test", "rules", test_file.name], cwd=folder,
                          capture_output=True, text=True, timeout=300)


