"""Inputs that used to end in an "internal error" hiding every other finding (issue 14):
instants the calendar cannot hold in UTC, values of the wrong type that the diff rules
assumed valid, floats canonical JSON cannot write, and observation lines too deep or too
long for the parsers. Each becomes a finding (at its file and line, the other findings
intact) or a one-line error naming the file and line — never a traceback."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from govctl.digest.canonical import NotCanonical, jcs
from govctl.digest.digester import DigestError, contract_digest
from govctl.model.dates import parse_as_of, parse_timestamp
from govctl.model.repository import WorktreeSource, load_repository
from govctl.rules.changes import LOOSENED, TIGHTENED, field_changes
from tests import fuzz_support as fs
from tests.conftest import init_git
from tests.factory import AS_OF
from tests.history_support import BOB, assert_one_line_error, change_of, commit, diff_json

FORMATS = ("text", "json", "github", "sarif", "junit")
INCIDENT = "incidents/2026-10-15.yaml"
APPROVAL = "approvals/claims-triage-2026-10-01.yaml"
USE_CASE_FILE = "use-cases/triage.yaml"
TOO_EARLY = "0001-01-01T00:00:00+01:00"  # 0000-12-31T23:00:00Z: before year 1 in UTC
TOO_LATE = "9999-12-31T23:59:59-01:00"  # 10000-01-01T00:59:59Z: after year 9999 in UTC


def assert_no_crash(result: Any, *codes: int) -> None:
    assert result.code in codes, (result.code, result.stdout[-2000:], result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, \
        result.stderr


# -- dates and timestamps beyond the calendar --------------------------------------------------


@pytest.mark.parametrize("text", [TOO_EARLY, TOO_LATE, "0001-01-01T00:59:59+01:00"])
def test_instants_beyond_the_calendar_in_utc_are_no_timestamps(text):
    assert parse_timestamp(text) is None


def test_the_calendars_own_ends_are_still_timestamps():
    assert parse_timestamp("0001-01-01T00:00:00Z") is not None
    assert parse_timestamp("9999-12-31T23:59:59Z") is not None
    assert parse_timestamp("0001-01-01T01:00:00+01:00") is not None


def _serious(factory: Any) -> None:
    factory.edit(INCIDENT, "  severity: sev3\n", "  severity: sev1\n  serious: true\n")


# (file, old text, new text, the line's needle): the values go in as YAML strings
TIMESTAMP_FIELDS = {
    "incident-detected": (INCIDENT, "detected: 2026-10-15T08:30:00Z", "detected: {v}",
                          "detected:"),
    "incident-action-at": (INCIDENT, "  signal: latency\n",
                           "  signal: latency\n  actions:\n    - {{at: {v}, action: paged, "
                           "by: alice}}\n", "action: paged"),
}


@pytest.fixture
def broken_elsewhere(factory: Any) -> Any:
    """The factory repository with one more error elsewhere (an unknown owner, GOV020),
    which must survive whatever the date does."""
    factory.build()
    factory.edit(USE_CASE_FILE, "owner: alice", "owner: nobody")
    _serious(factory)
    return factory


def _json_findings(result: Any) -> set[tuple[str, str, int]]:
    payload = result.json()
    return {(f["rule"], f["file"], f["line"]) for f in payload["findings"]}


@pytest.mark.parametrize("value", [TOO_EARLY, TOO_LATE])
@pytest.mark.parametrize("field", TIMESTAMP_FIELDS)
def test_a_timestamp_beyond_the_calendar_is_a_finding_in_every_format(broken_elsewhere,
                                                                        govctl, field, value):
    factory = broken_elsewhere
    rel, old, new, needle = TIMESTAMP_FIELDS[field]
    factory.edit(rel, old, new.format(v=json.dumps(value)))
    line = factory.line_of(rel, needle)
    owner_line = factory.line_of(USE_CASE_FILE, "owner: nobody")
    for fmt in FORMATS:
        result = govctl("validate", "--root", factory.root, "--format", fmt, "--as-of", AS_OF)
        assert_no_crash(result, 1)
        if fmt == "json":
            found = _json_findings(result)
            assert ("GOV010", rel, line) in found, found
            assert ("GOV020", USE_CASE_FILE, owner_line) in found, found
        else:
            assert rel in result.stdout and USE_CASE_FILE in result.stdout, result.stdout


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize(("rel", "old", "new"), [
    (APPROVAL, "date: 2026-10-01", "date: {v}"),
    (APPROVAL, "valid_until: 2027-03-01", "valid_until: {v}"),
    (INCIDENT, "  signal: latency\n", "  signal: latency\n  reported_to_authority: {v}\n"),
], ids=["approval-date", "approval-valid-until", "incident-reported"])
def test_the_calendars_ends_as_dates_crash_nothing(broken_elsewhere, govctl, tmp_path, rel,
                                                   old, new, value):
    """Dates at the ends of the calendar (deadlines and expiries are computed from them)
    go through validate, the read-only commands and the history commands."""
    factory = broken_elsewhere
    factory.edit(rel, old, new.format(v=value))
    owner_line = factory.line_of(USE_CASE_FILE, "owner: nobody")
    init_git(factory.root)
    commit(factory.root, BOB, "2026-10-01T09:00:00Z")
    root = factory.root
    result = govctl("validate", "--root", root, "--format", "json", "--as-of", AS_OF)
    assert_no_crash(result, 1)
    assert ("GOV020", USE_CASE_FILE, owner_line) in _json_findings(result)
    for args in (("status", "--format", "json"), ("explain", "claims-triage"),
                 ("card", "claims-triage"), ("diff", "HEAD"), ("validate", "--history")):
        assert_no_crash(govctl(*args, "--root", root, "--as-of", AS_OF), 0, 1)
    assert_no_crash(govctl("history", "claims-triage", "--root", root), 0)
    out = tmp_path / "pack"
    assert_no_crash(govctl("audit-pack", "claims-triage", "-o", out, "--root", root,
                           "--as-of", AS_OF), 0)


@pytest.mark.parametrize("as_of", ["0001-01-01", "0001-01-01T00:00:00Z", "9999-12-31",
                                   "9999-12-31T23:59:59.999999Z"])
def test_as_of_at_the_calendars_ends(factory, govctl, tmp_path, as_of):
    factory.build()
    observations = tmp_path / "obs.jsonl"
    observations.write_text(json.dumps({
        "use_case": "claims-triage", "signal": "latency", "metric": "p95_latency_ms",
        "value": 900, "at": "2026-11-27T06:00:00Z"}) + "\n")
    for args in (("validate",), ("status", "--observations", observations),
                 ("explain", "claims-triage", "--observations", observations),
                 ("card", "claims-triage"), ("export", "prometheus-rules")):
        assert_no_crash(govctl(*args, "--root", factory.root, "--as-of", as_of), 0, 1)


@pytest.mark.parametrize("as_of", [TOO_EARLY, TOO_LATE])
def test_as_of_beyond_the_calendar_is_a_usage_error(factory, govctl, as_of):
    factory.build()
    assert parse_as_of("0001-01-01T00:00:00Z") is not None
    for command in ("validate", "status"):
        result = govctl(command, "--root", factory.root, "--as-of", as_of)
        assert_one_line_error(result, "--as-of", as_of)


@pytest.mark.parametrize("at", [TOO_EARLY, TOO_LATE])
def test_an_observation_beyond_the_calendar_is_an_error_at_its_line(factory, govctl,
                                                                     tmp_path, at):
    factory.build()
    observations = tmp_path / "obs.jsonl"
    good = {"use_case": "claims-triage", "signal": "latency", "value": 900,
            "at": "2026-11-27T06:00:00Z"}
    observations.write_text(json.dumps(good) + "\n" + json.dumps({**good, "at": at}) + "\n")
    result = govctl("status", "--root", factory.root, "--observations", observations,
                    "--as-of", AS_OF)
    assert_one_line_error(result, f"{observations}:2:", "RFC 3339")


# -- the diff over records of the wrong types ---------------------------------------------------


@pytest.fixture
def committed(factory: Any) -> Any:
    factory.build()
    init_git(factory.root)
    commit(factory.root, BOB, "2026-10-01T09:00:00Z", "governance records")
    return factory


def test_diff_over_an_invalid_policy_completes(committed, govctl):
    """`count: lots` and `min_usd: "1M"` crashed the diff (int() and float() of text)."""
    factory = committed
    factory.edit("governance.yaml", "require: [{role: cfo}]", "require: [{role: cfo, count: lots}]")
    factory.edit("governance.yaml", "min_usd: 1000000", 'min_usd: "1M"')
    factory.edit("governance.yaml", "approvals: [{role: risk-officer}, {role: model-owner}]",
                 "approvals: [{role: risk-officer, count: lots}, {role: model-owner}]")
    payload = diff_json(govctl, factory.root, "HEAD")
    change = change_of(payload, "Policy", "acme-policy")
    effects = {f["path"]: f["effect"] for f in change["fields"]}
    # a count or an amount no rule can read asks for nobody: the control is lost
    assert effects["exposure_rules"] == LOOSENED, effects
    assert effects["risk_tiers.high.approvals"] == LOOSENED, effects
    impacts = {(f["rule"], f["file"]) for f in payload["impacts"]}
    assert ("GOV010", "governance.yaml") in impacts
    # and back: the change that repairs it is a tightening, not a crash either
    commit(factory.root, BOB, "2026-10-02T09:00:00Z")
    factory.edit("governance.yaml", 'min_usd: "1M"', "min_usd: 1000000")
    payload = diff_json(govctl, factory.root, "HEAD")
    fields = change_of(payload, "Policy", "acme-policy")["fields"]
    assert [f["effect"] for f in fields if f["path"] == "exposure_rules"] == [TIGHTENED]


WRONG_TYPES = [
    ("governance.yaml", "separation_of_duties: true", "separation_of_duties: [yes]"),
    ("governance.yaml", "approvals: {provenance: author}", "approvals: {provenance: {a: 1}}"),
    ("governance.yaml", "exposure_rules:\n", "exposure_rules: 7\nx_rules:\n"),
    ("governance.yaml", "max_validity_days: 180", "max_validity_days: [180]"),
    ("governance.yaml", "required: [latency,", "required: 5\n    x: [latency,"),
    ("thresholds/triage.yaml", "severity: page}", "severity: [page]}"),
    ("thresholds/triage.yaml", "max: 2500", "max: lots"),
    ("thresholds/triage.yaml", "window: 5m", "window: {a: 5}"),
    ("thresholds/triage.yaml", "action: fallback", "action: [fallback]"),
    (USE_CASE_FILE, "tier: high", "tier: [high]"),
    (USE_CASE_FILE, "exposure_usd: 50000", "exposure_usd: lots"),
    (APPROVAL, "approvers:\n", "approvers: true\nx:\n"),
    (APPROVAL, "valid_until: 2027-03-01", "valid_until: [2027-03-01]"),
    ("people.yaml", "roles: [model-owner]}", "roles: 5}"),
    ("teams/claims.yaml", "members:", "members: 5\n  x:"),
]


@pytest.mark.parametrize(("rel", "old", "new"), WRONG_TYPES,
                         ids=[f"{r.split('/')[-1]}:{o.split(':')[0].strip()}"
                              for r, o, _ in WRONG_TYPES])
def test_diff_over_values_of_the_wrong_type_completes(committed, govctl, rel, old, new):
    factory = committed
    if rel == "teams/claims.yaml" and old not in (factory.root / rel).read_text():
        pytest.skip("the factory team has no members list")
    factory.edit(rel, old, new)
    for direction in ("to-invalid", "from-invalid"):
        if direction == "from-invalid":  # the repair, from an invalid base
            commit(factory.root, BOB, "2026-10-02T09:00:00Z")
            factory.edit(rel, new, old)
        payload = diff_json(govctl, factory.root, "HEAD")
        assert payload["changes"], payload
        for fmt in ("text", "markdown"):
            result = govctl("diff", "HEAD", "--root", factory.root, "--format", fmt,
                            "--as-of", AS_OF)
            assert_no_crash(result, 0)
    # the invalid version is now history: the timeline reads it too
    assert_no_crash(govctl("history", "claims-triage", "--root", factory.root), 0)


def test_a_value_canonical_json_cannot_write_is_a_finding_not_a_crash(govctl, tmp_path):
    """A broken record keeps its other values: `.inf` in a component bundle reached the
    RFC 8785 encoder through the digest of the bundle that uses it."""
    root = tmp_path / "repo"
    shutil.copytree(fs.EXAMPLE_REPO, root)
    rel = "bundles/member-support-rag.yaml"
    path = root / rel
    path.write_text(path.read_text().replace("temperature: 0.2", "temperature: .inf", 1))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1)
                if "temperature" in text)
    for fmt in FORMATS:
        result = govctl("validate", "--root", root, "--format", fmt, "--as-of", AS_OF)
        assert_no_crash(result, 1)
        if fmt == "json":
            assert ("GOV010", rel, line) in _json_findings(result)
    for args in (("status",), ("explain", "member-support-assistant"),
                 ("card", "member-support-assistant")):
        assert_no_crash(govctl(*args, "--root", root, "--as-of", AS_OF), 0, 1)


@pytest.mark.parametrize("value", [{"a": float("inf")}, {"a": [float("nan")]}, {1: "x"},
                                   {"a": "\ud800"}, {"\ud800": 1}, {"a": {1, 2}}],
                         ids=["inf", "nan", "int-key", "surrogate", "surrogate-key", "set"])
def test_values_without_canonical_json_have_no_digest(value):
    with pytest.raises(NotCanonical):
        jcs(value)
    with pytest.raises(DigestError):  # (what try_bundle/try_contract turn into "none")
        contract_digest({"signals": value}, lambda _path: "0" * 64)


@pytest.mark.parametrize(("old", "new"), [
    ("  params:\n    temperature: 0.2\n    top_p: 0.9\n    max_tokens: 700\n"
     "    region: eu-west\n", "  params: [1, x]\n"),
    ("  params:\n", "  features: 5\n  tools: 7\n  params:\n"),
], ids=["params-list", "features-and-tools-numbers"])
def test_a_card_over_a_component_of_the_wrong_shape_is_rendered(govctl, tmp_path, old, new):
    """An invalid component bundle is shown on the card with its finding, not a crash."""
    root = tmp_path / "repo"
    shutil.copytree(fs.EXAMPLE_REPO, root)
    path = root / "bundles/member-support-rag.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    for fmt in ("md", "html"):
        result = govctl("card", "member-support-assistant", "--root", root, "--format", fmt,
                        "--as-of", AS_OF)
        assert_no_crash(result, 0)
        assert "member-support-rag" in result.stdout


PEOPLE_AND_TEAMS = [
    ("people.yaml", "spec: {name: Alice Owner,", "spec: {name: [Alice],"),
    ("people.yaml", "roles: [model-owner]}", "roles: 5}"),
    ("teams/claims.yaml", "members: [alice, carol]", "members: 1.5"),
    ("teams/claims.yaml", "  oncall: {rotation: claims-ml-primary, pager: pagerduty:claims-ml, "
     "escalation: [alice]}", "  oncall: sha256:00"),
    ("teams/claims.yaml", "rotation: claims-ml-primary", "rotation: {a: [1]}"),
    ("teams/claims.yaml", "escalation: [alice]", "escalation: true"),
]


@pytest.mark.parametrize(("rel", "old", "new"), PEOPLE_AND_TEAMS,
                         ids=["person-name", "person-roles", "team-members", "team-oncall",
                              "team-rotation", "team-escalation"])
def test_people_and_teams_of_the_wrong_shape_crash_no_output(factory, govctl, rel, old, new):
    """Who is accountable is shown by what can be shown; the record's GOV010 says the
    rest (explain, card, status and both exports read people and teams)."""
    factory.build()
    factory.edit(rel, old, new)
    result = govctl("validate", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    assert_no_crash(result, 1)
    assert any(rule == "GOV010" and file == rel for rule, file, _ in _json_findings(result))
    for args in (("explain", "claims-triage"), ("explain", "claims-triage", "--format", "json"),
                 ("card", "claims-triage"), ("card", "claims-triage", "--format", "html"),
                 ("status",), ("status", "--format", "json"),
                 ("export", "prometheus-rules")):
        assert_no_crash(govctl(*args, "--root", factory.root, "--as-of", AS_OF), 0, 1, 2)
    assert_no_crash(govctl("export", "alertmanager-routes", "--root", factory.root), 0, 1, 2)


# every leaf of every example record, replaced by values of other types, diffed both ways
HOSTILE_VALUES = ["lots", "1M", "", None, True, 0, 10**400, float("inf"), float("nan"), [],
                  [1, "x"], {"a": 1}, [{"role": 5, "count": "lots"}],
                  [{"min_usd": "1M", "require": "x"}], {"x": 5}, [[1]]]


def _leaves(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*prefix, index))


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def test_field_changes_classify_any_value_of_any_record():
    repo = load_repository(WorktreeSource(fs.EXAMPLE_REPO))
    records = [r for kinds in repo.index.values() for r in kinds.values()]
    assert len(records) > 20
    for record in records:
        for path in _leaves(record.data):
            if len(path) < 2 or path[0] not in ("spec", "metadata"):
                continue
            for value in HOSTILE_VALUES:
                changed = _replaced(record.data, path, value)
                for old, new in ((record.data, changed), (changed, record.data)):
                    for change in field_changes(record.kind, old, new):
                        assert change.effect in ("loosened", "tightened", "neutral",
                                                 "reapproval"), change


# -- observation lines too deep or too long for the parsers -------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
DIGITS = "9" * 5000
X_DEEP, X_DIGITS = ', "x": ' + DEEP, ', "x": ' + DIGITS
ROW = ('{{"use_case": "claims-triage", "signal": "latency", "metric": "p95_latency_ms", '
       '"value": {value}, "at": "2026-11-27T06:00:00Z"{extra}}}')
GOOD_ROW = ROW.format(value=900, extra="")
CSV_HEADER = "use_case,signal,metric,value,at\n"
CSV_GOOD = "claims-triage,latency,p95_latency_ms,900,2026-11-27T06:00:00Z\n"
OM_HEAD = "# TYPE p95_latency_ms gauge\n"
OM_GOOD = 'p95_latency_ms{use_case="claims-triage",signal="latency"} 900 1795766400\n'
PROM_GOOD = 'p95_latency_ms{use_case="claims-triage",signal="latency"} 900 1795766400000\n'

# (name, file name, content, --observations-format or None, the line named)
OBSERVATION_CASES = [
    ("deep-array-line", "obs.jsonl", f"{GOOD_ROW}\n{DEEP}\n", None, 2),
    ("deep-array-first-line", "obs.jsonl", f"{DEEP}\n", None, 1),
    ("deep-array-no-suffix", "obs.txt", f"{DEEP}\n", None, 1),
    ("deep-array-as-jsonl", "obs.txt", f"{DEEP}\n", "jsonl", 1),
    ("deep-array-as-csv", "obs.txt", f"{DEEP}\n", "csv", 1),
    ("deep-value", "obs.jsonl", f"{GOOD_ROW}\n{ROW.format(value=DEEP, extra='')}\n", None, 2),
    ("deep-extra-field", "obs.jsonl",
     f"{GOOD_ROW}\n{ROW.format(value=1, extra=X_DEEP)}\n", None, 2),
    ("deep-object", "obs.jsonl", GOOD_ROW + "\n" + '{"a": ' * 100_000 + "1" + "}" * 100_000
     + "\n", None, 2),
    ("digits-value", "obs.jsonl", f"{GOOD_ROW}\n{ROW.format(value=DIGITS, extra='')}\n", None,
     2),
    ("digits-negative", "obs.jsonl", f"{ROW.format(value='-' + DIGITS, extra='')}\n", None, 1),
    ("digits-in-extra-field", "obs.jsonl",
     f"{GOOD_ROW}\n{ROW.format(value=1, extra=X_DIGITS)}\n", None, 2),
    ("digits-as-at", "obs.jsonl", '{"use_case": "claims-triage", "signal": "latency", '
     f'"value": 1, "at": {DIGITS}}}\n', None, 1),
    ("digits-bare", "obs.jsonl", f"{GOOD_ROW}\n{DIGITS}\n", "jsonl", 2),
    ("csv-digits-value", "obs.csv",
     f"{CSV_HEADER}{CSV_GOOD}claims-triage,latency,p95_latency_ms,{DIGITS},"
     "2026-11-27T06:00:00Z\n", None, 3),
    ("csv-huge-field", "obs.csv",
     f"{CSV_HEADER}claims-triage,latency,p95_latency_ms,{'1' * 200_000},"
     "2026-11-27T06:00:00Z\n", None, 2),
    ("csv-huge-header", "obs.csv", "use_case,signal," + "x" * 200_000 + "\n", "csv", 1),
    ("csv-digits-at", "obs.csv", f"{CSV_HEADER}claims-triage,latency,m,1,{DIGITS}\n", None, 2),
    ("openmetrics-digits-value", "obs.om",
     OM_HEAD + OM_GOOD + 'p95_latency_ms{use_case="claims-triage",signal="latency"} '
     f"{DIGITS} 1795766460\n# EOF\n", None, 3),
    ("openmetrics-digits-timestamp", "obs.om",
     OM_HEAD + f'p95_latency_ms{{use_case="claims-triage",signal="latency"}} 1 {DIGITS}\n'
     "# EOF\n", None, 2),
    ("prometheus-digits-timestamp", "obs.prom",
     PROM_GOOD + f'p95_latency_ms{{use_case="claims-triage",signal="latency"}} 1 {DIGITS}\n',
     None, 2),
    ("prometheus-digits-value", "obs.prom",
     PROM_GOOD + f'p95_latency_ms{{use_case="claims-triage",signal="latency"}} {DIGITS} '
     "1795766400000\n", None, 2),
]


@pytest.mark.parametrize(("name", "content", "fmt", "line"),
                         [c[1:] for c in OBSERVATION_CASES],
                         ids=[c[0] for c in OBSERVATION_CASES])
def test_observation_lines_too_deep_or_too_long_are_an_error_at_file_and_line(
        factory, govctl, tmp_path, name, content, fmt, line):
    factory.build()
    path = tmp_path / name
    path.write_text(content)
    extra = ("--observations-format", fmt) if fmt else ()
    for command in (("status", "--format", "json"), ("status",),
                    ("explain", "claims-triage")):
        result = govctl(*command, "--root", factory.root, "--observations", path, *extra,
                        "--as-of", AS_OF)
        assert_one_line_error(result, f"{path}:{line}:")
        assert len(result.stderr) < 400  # the line is never echoed whole
