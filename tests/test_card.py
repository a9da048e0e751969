"""`govctl card` (SPEC §4): a living model card whose facts come from the records, git and
the latest observations — asserted fact by fact in markdown (as rendered) and in HTML (as
parsed), plus escaping, the template sandbox, --template, -o and --at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import commit_all, git, init_git
from tests.factory import AS_OF
from tests.history_support import (
    BOB,
    ERIN,
    assert_one_line_error,
    commit,
    committed,
    digest,
    git_quiet_status,
    head,
)
from tests.render_support import (
    EXPECTED_STATES,
    MITCHELL_HEADINGS,
    OBSERVATION_FORMATS,
    THRESHOLDS,
    Html,
    assert_self_contained,
    listing,
    markdown_html,
    markdown_text,
    md_row,
    md_rows,
    write_observations,
)

OPEN_INCIDENT = """\
apiVersion: govctl/v1
kind: Incident
metadata: {id: inc-open}
spec:
  use_case: claims-triage
  detected: 2026-11-20T07:00:00Z
  severity: sev2
  status: open
  signal: drift
  summary: PSI creeping up in Finland.
"""


def card(govctl, root: Path, *args: object, fmt: str = "md", cwd: Path | None = None) -> str:
    result = govctl("card", "claims-triage", "--root", root, "--as-of", AS_OF, "--format",
                    fmt, *args, cwd=cwd)
    assert result.code == 0, result.stderr
    assert result.stdout
    return result.stdout


def h2_titles(document: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<h2[^>]*>(.*?)</h2>", document)]


@pytest.fixture
def repo(factory):
    """The factory repository with an open incident, committed by Bob."""
    factory.files["incidents/open.yaml"] = OPEN_INCIDENT
    committed(factory)
    return factory


# -- the facts ----------------------------------------------------------------------------


def test_markdown_card_states_who_approved_what_under_which_thresholds(repo, govctl):
    root = repo.root
    doc = card(govctl, root)
    text = markdown_text(doc)

    assert doc.startswith("# Model card: Claims triage\n")
    assert f"from commit `{head(root)}`" in doc  # the last-regenerated stamp
    assert "with uncommitted changes" not in doc

    # who approved: names, roles, the approval and the digest it is bound to
    assert md_rows(doc, "approver") == [["Bob Risk", "risk-officer", "bob@acme.test"],
                                        ["Carol Model", "model-owner", "carol@acme.test"]]
    assert ("Approval claims-triage-2026-10-01 — approved on 2026-10-01, valid until "
            "2027-03-01, for the population “Home-insurance claimants, Nordics”. "
            "State: current.") in text
    bound = digest(govctl, root, "triage")
    assert md_row(doc, "", "Approved digest") == ["Approved digest", bound]
    assert md_row(doc, "", "Bundle digest now") == ["Bundle digest now", bound]
    assert f"Bound to bundle digest {bound}" in text
    assert md_row(doc, "", "Approval")[1] == ("claims-triage-2026-10-01: approved on "
                                              "2026-10-01, valid until 2027-03-01 — CURRENT")
    assert "Committed in" in text and "by Test Runner" not in text
    # (an email in <angle brackets> is an autolink in markdown: the text shows the address)
    # record text is escaped markdown: the email is text, not an autolink
    assert f"Committed in `{head(root)[:7]}` by Bob Risk <bob\\@acme\\.test>" in doc
    assert f"Committed in {head(root)[:7]} by Bob Risk <bob@acme.test> on " in text
    assert "APPROVAL STALE" not in doc and "NO CURRENT APPROVAL" not in doc

    # the thresholds of every signal
    rows = md_rows(doc, "signal")
    assert [r[0] for r in rows] == list(THRESHOLDS)
    for row in rows:
        metric, threshold, window = THRESHOLDS[row[0]]
        assert row[1:5] == [metric, threshold, window, row[4]]
        assert row[4] in ("page", "ticket")
        assert row[5:] == ["—", "—", "not observed"]  # no --observations
    assert "No observations were given" in text

    # who is on the hook
    assert md_row(doc, "", "Accountable owner")[1] == "Alice Owner <alice@acme.test>"
    # record text is data: the email is shown, and makes no link (SPEC §3 output safety)
    assert "mailto:" not in markdown_html(doc)
    team = md_row(doc, "", "Team on the hook")[1]
    assert "claims-ml" in team and "on-call rotation claims-ml-primary" in team
    assert md_row(doc, "", "On breach")[1] == "fallback, runbook runbooks/triage.md"
    assert md_row(doc, "", "Fallback")[1] == "Claims go to the human triage queue."

    # incidents: the open one is a caveat, both are listed
    assert "Open incident inc-open (sev2, open): PSI creeping up in Finland." in text
    assert "inc-open — sev2, open, detected 2026-11-20T07:00:00Z" in text
    assert "inc-2026-10-15 — sev3, resolved, detected 2026-10-15T08:30:00Z" in text
    assert "Open incident inc-2026-10-15" not in text  # resolved: not a caveat

    # the nine sections of Mitchell et al., in order
    headings = re.findall(r"^## (\d)\. (.+)$", doc, flags=re.MULTILINE)
    assert headings == [(str(n), title) for n, title in enumerate(MITCHELL_HEADINGS, 1)]

    # filled from the records
    assert "Primary intended use: Suggest the next step for a new home-insurance claim." in text
    assert "Out of scope: payout decisions" in text
    assert "Groups evaluated separately: country." in text
    assert md_rows(doc, "metric") == [["triage_agreement", "0.94", "≥ 0.9", "yes"]]
    assert "Model: examplevendor vendor-chat (vendor-endpoint, snapshot " \
           "vendor-chat-2026-03-14)." in text


def test_html_card_states_the_same_facts_and_is_self_contained(repo, govctl):
    root = repo.root
    doc = card(govctl, root, fmt="html")
    page = assert_self_contained(doc)
    text = page.text

    assert doc.startswith("<!DOCTYPE html>")
    assert f"from commit {head(root)}" in text
    assert page.row("Bob Risk") == ["Bob Risk", "risk-officer", "bob@acme.test"]
    assert page.row("Carol Model") == ["Carol Model", "model-owner", "carol@acme.test"]
    bound = digest(govctl, root, "triage")
    assert page.row("Approved digest") == ["Approved digest", bound]
    assert page.row("Approval") == ["Approval", "claims-triage-2026-10-01: approved on "
                                    "2026-10-01, valid until 2027-03-01 CURRENT"]
    # no observations: nothing may claim the approved bundle serves or performs
    assert "? UNOBSERVED." in text
    assert "Approval current" not in text and "runs today" not in text
    assert re.search(r'<div class="banner warn" id="verdict" data-verdict="unobserved"', doc)
    for signal, (metric, threshold, window) in THRESHOLDS.items():
        row = page.row(signal)
        assert row[1:4] == [metric, threshold, window]
        assert row[-1] == "not observed"
    assert page.row("Accountable owner") == ["Accountable owner",
                                             "Alice Owner <alice@acme.test>"]
    assert "on-call rotation claims-ml-primary" in page.row("Team on the hook")[1]
    assert "Open incident inc-open (sev2, open): PSI creeping up in Finland." in text
    titles = h2_titles(doc)
    assert [t for t in titles if t[0].isdigit()] == [
        f"{n}. {title}" for n, title in enumerate(MITCHELL_HEADINGS, 1)]


def test_card_outside_git_says_so(factory, govctl):
    factory.build()
    doc = card(govctl, factory.root)
    assert "from commit `none (not in git)`" in doc
    assert "Committed in" not in doc  # no commit to show for the approval
    assert "Approval `claims-triage-2026-10-01`" in doc


def test_card_of_a_dirty_worktree_says_so(repo, govctl):
    repo.edit("use-cases/triage.yaml", "title: Claims triage", "title: Claims triage v2")
    doc = card(govctl, repo.root)
    assert f"from commit `{head(repo.root)}` with uncommitted changes" in doc
    assert doc.startswith("# Model card: Claims triage v2\n")  # the worktree is rendered
    html = card(govctl, repo.root, fmt="html")
    assert "with uncommitted changes" in Html(html).text


def test_sections_without_data_say_so(factory, govctl):
    factory.build()
    factory.edit("evals/claims-eval.yaml", "  factors: [country]\n", "")
    factory.edit("use-cases/triage.yaml", "  out_of_scope: [payout decisions]\n", "")
    factory.edit("use-cases/triage.yaml", "  fallback: Claims go to the human triage queue.\n",
                 "")
    factory.edit("approvals/claims-triage-2026-10-01.yaml",
                 "    results: {triage_agreement: 0.94}\n", "")
    factory.remove("incidents/2026-10-15.yaml")
    root = factory.root
    doc = card(govctl, root)
    text = markdown_text(doc)
    # the Model has no `training`: a vendor model's training data is not disclosed
    assert ("examplevendor vendor-chat: no training data recorded (for a vendor model: "
            "not disclosed).") in text
    assert "No evaluation factors recorded" in text
    assert "Out of scope: none recorded" in text
    assert md_row(doc, "", "Fallback")[1] == "none declared"
    assert "fallback: none declared" in text
    assert "No evaluation results were recorded at approval." in text
    assert "No incidents recorded." in text
    assert "Serious incidents: none recorded." in text
    assert "Licence and citation: not recorded" in text
    assert "None" not in text.replace("none", "")  # never a Python None leaking through

    html = Html(card(govctl, root, fmt="html")).text
    for phrase in ("no training data recorded (for a vendor model: not disclosed)",
                   "No evaluation factors recorded", "Out of scope: none recorded",
                   "No evaluation results were recorded at approval.", "No incidents recorded.",
                   "Licence and citation: not recorded"):
        assert phrase in html, phrase
    assert " None" not in html


def test_recorded_training_data_and_lifecycle_are_shown(factory, govctl):
    factory.build()
    factory.edit("models/chat.yaml", '  lifecycle: {released: "2026-03-14"}\n',
                 '  lifecycle: {released: "2026-03-14", deprecation: "2027-01-15"}\n'
                 "  training:\n    summary: Public web text and licensed data.\n"
                 "    datasets: [web-2025, licensed-news]\n    cutoff: 2025-12\n")
    text = markdown_text(card(govctl, factory.root))
    assert ("examplevendor vendor-chat: Public web text and licensed data; datasets: "
            "web-2025, licensed-news; cutoff 2025-12.") in text
    assert "Model vendor-chat deprecation on 2027-01-15." in text
    assert "retirement on" not in text  # not recorded: not invented


def test_no_approval_is_shown_loudly(factory, govctl):
    factory.build()
    factory.remove("approvals/claims-triage-2026-10-01.yaml")
    doc = card(govctl, factory.root)
    assert "> **✖ NO CURRENT APPROVAL.**" in doc
    assert "although the use case is in `production`" in doc
    assert md_row(doc, "", "Approval")[1] == "none"
    html = Html(card(govctl, factory.root, fmt="html")).text
    assert "NO CURRENT APPROVAL" in html


def test_a_stale_approval_is_shown_loudly_with_the_reason(repo, govctl):
    root = repo.root
    approved = digest(govctl, root, "triage")
    repo.edit("prompts/triage.md", "You triage claims.", "You triage every claim.")
    now = digest(govctl, root, "triage")
    assert now != approved

    doc = card(govctl, root)
    assert "> **✖ APPROVAL STALE.**" in doc
    text = markdown_text(doc)
    assert f"Bundle 'triage' digest is now {now}, approved {approved}" in text
    assert md_row(doc, "", "Approval")[1].endswith("— STALE")
    assert md_row(doc, "", "Approved digest")[1] == approved
    assert md_row(doc, "", "Bundle digest now")[1] == now

    html = card(govctl, root, fmt="html")
    page = Html(html)
    assert "✖ APPROVAL STALE." in page.text
    assert f"Bundle 'triage' digest is now {now}, approved {approved}" in page.text
    assert page.row("Approval")[1].endswith("STALE")
    assert "✔ CURRENT" not in page.text
    assert re.search(r'<div class="banner bad" id="verdict" data-verdict="stale" '
                     r'role="alert">\s*<strong>✖ APPROVAL STALE', html)


def test_a_changed_contract_makes_the_card_say_stale(repo, govctl):
    repo.edit("thresholds/triage.yaml", "max: 0.2", "max: 0.35")
    text = markdown_text(card(govctl, repo.root))
    assert "APPROVAL STALE" in text
    assert "ThresholdContract 'triage-contract' changed since approval" in text
    # judged against the approved 0.2; the unapproved 0.35 is shown as proposed
    assert "drift psi approved ≤ 0.2 · proposed ≤ 0.35 (not approved)" in " ".join(
        " ".join(r[:3]) for r in md_rows(card(govctl, repo.root), "signal"))


def test_an_expired_approval_is_shown(repo, govctl):
    result = govctl("card", "claims-triage", "--root", repo.root, "--as-of", "2027-06-01")
    assert result.code == 0, result.stderr
    assert "> **✖ APPROVAL EXPIRED.**" in result.stdout


# -- observations ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", OBSERVATION_FORMATS)
def test_observations_give_latest_value_and_state_per_signal(repo, govctl, tmp_path, fmt):
    path = write_observations(tmp_path, fmt)
    # named explicitly for the exposition formats, detected for the others
    named = ("--observations-format", fmt) if fmt in ("openmetrics", "prometheus") else ()
    doc = card(govctl, repo.root, "--observations", path, *named)
    rows = {r[0]: r for r in md_rows(doc, "signal")}
    assert set(rows) == set(EXPECTED_STATES)
    labels = {"ok": "✔ ok", "breach": "✖ BREACH", "missing": "? missing", "stale": "⚠ stale"}
    for signal, (value, state) in EXPECTED_STATES.items():
        row = rows[signal]
        assert row[-1] == labels[state], (signal, row)
        if value is None:
            assert row[5:7] == ["—", "—"]
        else:
            assert float(row[5]) == float(value), (signal, row)
    assert rows["latency"][6] == "2026-11-27T23:58:00Z"  # the latest of two values
    assert rows["fallback"][6] == "2026-11-27T23:30:00Z"  # 01:00 next day is after --as-of
    text = markdown_text(doc)
    assert "No observations were given" not in text
    assert "In production (latest observations): 1 signal(s) in breach." in text

    html = card(govctl, repo.root, "--observations", path, *named, fmt="html")
    page = assert_self_contained(html)
    # a breach is said in words, not only in colour
    assert page.row("latency")[-1] == "✖ BREACH"
    assert page.row("accuracy_proxy")[-1] == "✔ ok"
    assert page.row("drift")[-1] == "⚠ stale"
    assert page.row("abuse")[-1] == "? missing"
    assert page.row("fallback")[-1] == "✔ ok"
    assert "breach" in page.row_classes  # and highlighted


def test_observations_after_as_of_are_ignored(repo, govctl, tmp_path):
    path = write_observations(tmp_path, "jsonl")
    result = govctl("card", "claims-triage", "--root", repo.root, "--observations", path,
                    "--as-of", "2026-11-27T23:55:00Z")
    assert result.code == 0, result.stderr
    latency = md_row(result.stdout, "signal", "latency")
    assert float(latency[5]) == 100.0  # the 3100 at 23:58 had not been observed yet
    assert latency[6] == "2026-11-27T23:50:00Z"
    assert latency[-1] == "✔ ok"
    assert "0 signal(s) in breach" in result.stdout


def test_a_malformed_observations_file_is_one_line(repo, govctl, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"use_case": "claims-triage", "signal": "drift", "value": "high"}\n')
    result = govctl("card", "claims-triage", "--root", repo.root, "--observations", bad)
    assert_one_line_error(result, "bad.jsonl:1")
    result = govctl("card", "claims-triage", "--root", repo.root, "--observations",
                    tmp_path / "missing.jsonl")
    assert_one_line_error(result, "missing.jsonl")


# -- --at REV ---------------------------------------------------------------------------------


def test_at_renders_the_records_as_committed_then(factory, govctl):
    first = committed(factory)
    factory.edit("thresholds/triage.yaml", "max: 0.2", "max: 0.35")
    factory.edit("use-cases/triage.yaml", "title: Claims triage", "title: Claims triage v2")
    second = commit(factory.root, ERIN, "2026-11-01T10:00:00Z", "loosen drift")
    root = factory.root

    now = card(govctl, root)
    assert md_row(now, "signal", "drift")[2] == \
        "approved ≤ 0.2 · proposed ≤ 0.35 (not approved)"
    assert "APPROVAL STALE" in now
    assert f"from commit `{second}`" in now

    before = card(govctl, root, "--at", first)
    assert before.startswith("# Model card: Claims triage\n")
    assert md_row(before, "signal", "drift")[2] == "≤ 0.2"
    assert "APPROVAL STALE" not in before
    assert f"from commit `{first}` (revision `{first}`)" in before
    assert f"Committed in {first[:7]} by Bob Risk <bob@acme.test>" in markdown_text(before)

    relative = card(govctl, root, "--at", "HEAD~1")
    assert f"from commit `{first}` (revision `HEAD~1`)" in relative
    html = Html(card(govctl, root, "--at", "HEAD~1", fmt="html"))
    assert html.row("drift")[2] == "≤ 0.2"


def test_at_ignores_the_worktree(repo, govctl):
    repo.edit("thresholds/triage.yaml", "max: 0.2", "max: 0.5")  # not committed
    doc = card(govctl, repo.root, "--at", "HEAD")
    assert md_row(doc, "signal", "drift")[2] == "≤ 0.2"
    assert "uncommitted" not in doc


def test_at_errors(repo, factory, govctl, tmp_path):
    result = govctl("card", "claims-triage", "--root", repo.root, "--at", "no-such-rev")
    assert_one_line_error(result, "no-such-rev")
    plain = tmp_path / "plain"
    plain.mkdir()
    for rel in ("governance.yaml",):
        (plain / rel).write_bytes((repo.root / rel).read_bytes())
    result = govctl("card", "claims-triage", "--root", plain, "--at", "HEAD")
    assert_one_line_error(result, "not inside a git repository")


def test_unknown_use_case_and_format(repo, govctl):
    result = govctl("card", "claims-triaj", "--root", repo.root)
    assert_one_line_error(result, "unknown use case 'claims-triaj'", "claims-triage")
    result = govctl("card", "claims-triage", "--root", repo.root, "--format", "pdf")
    assert result.code == 2
    assert "pdf" in result.stderr and "Traceback" not in result.stderr


# -- escaping and template injection --------------------------------------------------------

HOSTILE = {
    "title": "{{ 7*7 }}",
    "intended_use": "<script>alert(1)</script>",
    "population": "<img src=x onerror=alert(2)> | pipe",
    "fallback": "[click](javascript:alert(3)) `code` **bold** {% raw %}",
}


@pytest.fixture
def hostile(factory):
    factory.build()
    uc = "use-cases/triage.yaml"
    factory.edit(uc, "title: Claims triage", f"title: '{HOSTILE['title']}'")
    factory.edit(uc, "intended_use: Suggest the next step for a new home-insurance claim.",
                 f"intended_use: '{HOSTILE['intended_use']}'")
    factory.edit(uc, "  population: Home-insurance claimants, Nordics",
                 f"  population: '{HOSTILE['population']}'")
    factory.edit(uc, "fallback: Claims go to the human triage queue.",
                 f"fallback: '{HOSTILE['fallback']}'")
    factory.edit("people.yaml", "name: Bob Risk", "name: 'Bob <b>Risk</b> | x'")
    factory.edit("incidents/2026-10-15.yaml",
                 "summary: p95 latency above 2.5 s for 20 minutes after a vendor slowdown.",
                 "summary: '<iframe src=//evil.test></iframe> {{ 6*7 }}'")
    return factory


def test_record_text_is_data_in_html(hostile, govctl):
    doc = card(govctl, hostile.root, fmt="html")
    page = assert_self_contained(doc)
    assert "<title>Model card: {{ 7*7 }}</title>" in doc
    assert "<h1>Model card: {{ 7*7 }}</h1>" in doc
    assert "Model card: 49" not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "<script" not in doc
    assert "Primary intended use: <script>alert(1)</script>" in page.text  # shown literally
    assert "&lt;img src=x onerror=alert(2)&gt;" in doc
    assert "&lt;b&gt;Risk&lt;/b&gt;" in doc
    assert "&lt;iframe" in doc
    assert "<iframe src=//evil.test></iframe> {{ 6*7 }}" in page.text  # not evaluated to 42
    assert page.row("Bob <b>Risk</b> | x") == ["Bob <b>Risk</b> | x", "risk-officer",
                                                "bob@acme.test"]
    assert not {"b", "iframe", "img", "script"} & page.tag_names()


def test_record_text_cannot_inject_markup_into_markdown(hostile, govctl):
    doc = card(govctl, hostile.root)
    first_line = doc.splitlines()[0]
    assert "49" not in first_line
    rendered = markdown_html(doc)
    page = Html(rendered)
    # what a markdown viewer shows is the text as written, and nothing became markup
    assert not {"script", "img", "iframe", "b"} & page.tag_names()
    assert all(not (attrs.get("href") or "").startswith("javascript:")
               for _, attrs in page.tags)
    assert "javascript:" not in "".join(attrs.get("href") or "" for _, attrs in page.tags)
    text = page.text
    assert "Model card: {{ 7*7 }}" in text
    assert "Primary intended use: <script>alert(1)</script>" in text
    assert "Population served: <img src=x onerror=alert(2)> | pipe" in text
    assert "[click](javascript:alert(3)) `code` **bold** {% raw %}" in text
    assert "<iframe src=//evil.test></iframe> {{ 6*7 }}" in text  # not evaluated to 42
    # a | in a name does not break the approvers table
    assert md_rows(doc, "approver") == [["Bob <b>Risk</b> | x", "risk-officer", "bob@acme.test"],
                                        ["Carol Model", "model-owner", "carol@acme.test"]]


# -- --template DIR -------------------------------------------------------------------------


def test_template_dir_overrides_a_builtin_by_name(repo, govctl, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "card.md.j2").write_text(
        "custom card for {{ card.use_case.id }} owned by {{ card.use_case.owner.name }}; "
        "approvers: {{ card.approval.approvers | map(attribute='name') | join(', ') }}; "
        "{% for s in card.contract.signals %}{{ s.signal }}={{ s.state }} {% endfor %}\n")
    result = govctl("card", "claims-triage", "--root", repo.root, "--as-of", AS_OF,
                    "--template", templates)
    assert result.code == 0, result.stderr
    # a custom Markdown template's values are escaped like the built-in ones' (SPEC §3):
    # the same text once rendered, never markup a record smuggled in
    assert result.stdout == ("custom card for claims\\-triage owned by Alice Owner; approvers: "
                             "Bob Risk\\, Carol Model; latency=missing accuracy\\_proxy=missing "
                             "drift=missing abuse=missing fallback=missing ")
    assert markdown_text(result.stdout).startswith("custom card for claims-triage owned by")
    # a template the folder does not override is the built-in one
    html = card(govctl, repo.root, "--template", templates, fmt="html")
    assert "<h1>Model card: Claims triage</h1>" in html


def test_custom_html_templates_are_autoescaped_too(hostile, govctl, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "card.html.j2").write_text("<p>{{ card.use_case.intended_use }}</p>\n")
    doc = card(govctl, hostile.root, "--template", templates, fmt="html")
    assert doc == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ card.__class__.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('touch pwned') }}",
    "{{ joiner.__init__.__globals__.__builtins__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
])
def test_sandbox_escapes_fail_with_one_clear_line(repo, govctl, tmp_path, source):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "card.md.j2").write_text(source)
    result = govctl("card", "claims-triage", "--root", repo.root, "--template", templates,
                    cwd=tmp_path)
    assert_one_line_error(result, "template card.md.j2", "SecurityError", "unsafe")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("source", "fragments"), [
    ("line one\n{{ card.no_such_key }}\n", ("card.md.j2 line 2", "UndefinedError",
                                             "no_such_key")),
    ("{% for x in %}\n", ("card.md.j2 line 1", "TemplateSyntaxError")),
    ("a\nb\n{{ 1 / 0 }}\n", ("card.md.j2 line 3", "ZeroDivisionError")),
    ("{% include 'missing.j2' %}", ("TemplateNotFound", "missing.j2")),
    ("{% include '../../../../etc/passwd' %}", ("TemplateNotFound",)),
])
def test_broken_templates_fail_with_one_clear_line(repo, govctl, tmp_path, source, fragments):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "card.md.j2").write_text(source)
    result = govctl("card", "claims-triage", "--root", repo.root, "--template", templates)
    assert_one_line_error(result, *fragments)
    assert "internal error" not in result.stderr


def test_template_dir_must_exist(repo, govctl, tmp_path):
    result = govctl("card", "claims-triage", "--root", repo.root, "--template",
                    tmp_path / "nope")
    assert_one_line_error(result, "--template", "no such directory")


# -- -o FILE ------------------------------------------------------------------------------------


def test_output_inside_the_governance_root_is_refused(repo, govctl):
    root = repo.root
    before = listing(root)
    status = git_quiet_status(root)
    for target in (root / "card.md", root / "docs" / "card.md", Path("card.md")):
        result = govctl("card", "claims-triage", "--root", root, "-o", target, cwd=root)
        assert_one_line_error(result, "inside the governance root")
    assert listing(root) == before
    assert git_quiet_status(root) == status


def test_output_refuses_to_replace_without_force(repo, govctl, tmp_path):
    target = tmp_path / "out" / "card.md"
    result = govctl("card", "claims-triage", "--root", repo.root, "--as-of", AS_OF, "-o",
                    target)
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    written = target.read_text(encoding="utf-8")
    assert written.startswith("# Model card: Claims triage\n")

    target.write_text("keep me\n")
    result = govctl("card", "claims-triage", "--root", repo.root, "-o", target)
    assert_one_line_error(result, "already exists", "--force")
    assert target.read_text() == "keep me\n"

    result = govctl("card", "claims-triage", "--root", repo.root, "--as-of", AS_OF, "-o",
                    target, "--force", "--format", "html")
    assert result.code == 0, result.stderr
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["card.md"]  # no temporary left


def test_output_to_a_directory_is_refused(repo, govctl, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for extra in ((), ("--force",)):
        result = govctl("card", "claims-triage", "--root", repo.root, "-o", folder, *extra)
        assert_one_line_error(result, "is a directory")
    assert list(folder.iterdir()) == []


def test_card_writes_nothing_into_the_repository(repo, govctl, tmp_path):
    root = repo.root
    git(root, "status")  # settle the index once, so only our commands could change it
    status = git_quiet_status(root)
    files = listing(root)
    obs = write_observations(tmp_path, "jsonl")
    for args in ((), ("--format", "html"), ("--at", "HEAD"), ("--observations", obs),
                 ("-o", tmp_path / "c.md")):
        assert govctl("card", "claims-triage", "--root", root, *args, cwd=root).code == 0
    assert git_quiet_status(root) == status
    assert listing(root) == files


def test_card_of_a_governance_root_inside_a_monorepo(tmp_path, factory, govctl):
    top = tmp_path / "mono"
    top.mkdir()
    init_git(top)
    (top / "README.md").write_text("monorepo\n")
    factory.root = top / "governance"
    factory.build()
    sha = commit_all(top, "records", author=BOB.name, email=BOB.email,
                     date="2026-10-01T09:00:00Z")
    doc = card(govctl, factory.root, cwd=top)
    assert f"from commit `{sha}`" in doc
    assert f"Committed in `{sha[:7]}` by Bob Risk" in doc
    assert "uncommitted" not in doc


def test_an_unreadable_or_invalid_incident_does_not_vanish_silently(factory, govctl):
    factory.build()
    factory.write("incidents/broken.yaml", "apiVersion: govctl/v1\nkind: Incident\n"
                  "metadata: {id: inc-broken\n")
    factory.write("incidents/invalid.yaml", OPEN_INCIDENT.replace("inc-open", "inc-invalid")
                  .replace("severity: sev2", "severity: sev9"))
    text = markdown_text(card(govctl, factory.root))
    # neither can be listed as an incident, but neither may pass as "no incidents"
    assert "Open finding GOV001 (error) in incidents/broken.yaml:" in text
    assert "Open finding GOV010 (error) in incidents/invalid.yaml:" in text
    assert "sev9" in text
    html = Html(card(govctl, factory.root, fmt="html")).text
    assert "Open finding GOV001 (error) in incidents/broken.yaml:" in html


def test_a_custom_template_can_wrap_the_builtin_one(repo, govctl, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "card.md.j2").write_text(
        '{% include "builtin/card.md.j2" %}\n## Sign-off\n\nReviewed for '
        "{{ card.use_case.id | md }}.\n")
    doc = card(govctl, repo.root, "--template", templates)
    assert doc.startswith("# Model card: Claims triage\n")
    assert "## 9. Caveats and recommendations" in doc
    assert doc.endswith("## Sign-off\n\nReviewed for claims\\-triage.\n")  # (md-escaped)
    (templates / "card.html.j2").write_text(
        '{% include "builtin/card.html.j2" %}<p>{{ card.use_case.intended_use }}</p>')
    html = card(govctl, repo.root, "--template", templates, fmt="html")
    assert "<h1>Model card: Claims triage</h1>" in html


def test_an_invalid_bundle_is_shown_with_its_finding(factory, govctl):
    factory.build()
    factory.edit("bundles/triage.yaml", "  eval_set: claims-eval\n", "")
    text = markdown_text(card(govctl, factory.root))
    assert "Bundle triage — Claims triage assistant (generative), digest cannot be " \
           "computed." in text
    assert "Open finding GOV010 (error) in bundles/triage.yaml:" in text
    assert "missing required field 'eval_set'" in text
    html = Html(card(govctl, factory.root, fmt="html")).text
    assert "Open finding GOV010 (error)" in html


def test_earlier_decisions_are_listed(factory, govctl):
    factory.build()
    factory.edit("prompts/triage.md", "You triage claims.", "You triage home claims.")
    approve = govctl("approve", "claims-triage", "--approver", "bob:risk-officer",
                     "--approver", "carol:model-owner", "--as-of", AS_OF, "--root",
                     factory.root)
    assert approve.code == 0, approve.stderr
    doc = card(govctl, factory.root)
    text = markdown_text(doc)
    assert "Approval claims-triage-2026-11-27 — approved on 2026-11-27" in text
    assert "State: current." in text
    assert "Earlier decisions: claims-triage-2026-10-01 (approved, 2026-10-01)." in text
    html = Html(card(govctl, factory.root, fmt="html")).text
    assert "Earlier decisions: claims-triage-2026-10-01 (approved, 2026-10-01)." in html
