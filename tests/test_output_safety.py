"""Output safety (SPEC §3): hostile text in records, file names, git and observations
reaches no terminal, CI log or PR comment as control, markup or a forged line.

One repository carries a corpus of hostile strings in every place a pull request can put
text (titles, names, label keys, a signal name, a file name, a commit's author and
subject, an observation's bundle digest and signal); every command and every output
format runs over it, and each output is checked by what it is:

* any output: no C0 control but newline (and tab), no DEL, no C1, no Unicode Cf, no line
  separator — so no escape sequence (OSC 52 clipboard, OSC 0 title, SGR 8 conceal,
  cursor moves) and no hidden or reordered text;
* any output but ``github``: no line starting with ``::`` (a GitHub workflow command) or
  with a forged heading; ``github``: every ``::`` line is one of govctl's annotations;
* Markdown: rendered with a CommonMark renderer (raw HTML on, as GitHub before its
  sanitiser), no ``<img>``, link, heading or HTML comment appears that the template did
  not put there, no ``@mention`` outside code, no code span closed early.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from govctl.model import escape
from tests.conftest import commit_all, init_git, run_subprocess
from tests.factory import AS_OF, RepoFactory
from tests.output_support import (
    CORPUS,
    HOSTILE,
    assert_no_control,
    assert_safe_markdown,
    assert_safe_text,
    yaml_string,
)
from tests.render_support import markdown_html

# -- the repository -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "repo"
    repo = RepoFactory(root)
    repo.build()
    init_git(root)
    commit_all(root, "clean start")
    h = yaml_string(HOSTILE)
    repo.edit("use-cases/triage.yaml", "title: Claims triage}",
              f"title: {h}, labels: {{{h}: x}}}}")
    repo.edit("use-cases/triage.yaml", "  intended_use: Suggest the next step for a new "
              "home-insurance claim.", f"  intended_use: {h}")
    repo.edit("use-cases/triage.yaml", "  fallback: Claims go to the human triage queue.",
              f"  fallback: {h}")
    repo.edit("people.yaml", "name: Bob Risk", f"name: {h}")
    repo.edit("teams/claims.yaml", "rotation: claims-ml-primary", f"rotation: {h}")
    repo.edit("bundles/triage.yaml", "title: Claims triage assistant", f"title: {h}")
    repo.edit("thresholds/triage.yaml", "  on_breach:",
              f"    {h}: {{metric: evil_metric, max: 1, window: 5m, severity: page}}\n"
              "  on_breach:")
    # a record file whose name carries a newline, an ESC and a forged workflow command
    repo.write("notes/x\n::error file=a::ok\x1b]0;t\x07.yaml",
               "apiVersion: govctl/v1\nkind: Model\nmetadata: {id: hostile-name}\n"
               f"spec: {{provider: {h}}}\n")
    repo.write("exercises/hostile.yaml",
               "apiVersion: govctl/v1\nkind: Exercise\nmetadata: {id: hostile-drill}\n"
               f"spec: {{use_case: claims-triage, date: 2026-11-01, scenario: {h}, "
               f"participants: [alice], gaps: [{{step: offline, summary: {h}, owner: alice, "
               "due: 2026-11-02, status: open}]}\n")
    commit_all(root, f"edit {HOSTILE}", author=f"Mallory {HOSTILE[:40]}")
    # the working tree then loosens a control and edits text again (diff's input)
    repo.edit("thresholds/triage.yaml", "drift: {metric: psi, max: 0.2,",
              "drift: {metric: psi, max: 0.5,")
    repo.edit("bundles/triage.yaml", "  params: {temperature: 0.0",
              f"  params: {{{h}: {h}, temperature: 0.0")
    # ... and the prompt's text, which diff shows line by line (fences, escapes, forged
    # lines inside a file's own text)
    repo.write("prompts/triage.md", f"You triage claims.\n{HOSTILE}\n```\n"
               "Claim: {{claim_text}}\n")
    return root


@pytest.fixture(scope="module")
def observations(hostile_repo: Path) -> Path:
    path = hostile_repo.parent / "observations.jsonl"
    rows = [{"use_case": "claims-triage", "signal": "drift", "value": 0.3,
             "at": "2026-11-27T10:00:00Z", "bundle_digest": "sha256:" + "0" * 64 + HOSTILE},
            {"use_case": "claims-triage", "signal": HOSTILE, "value": 1,
             "at": "2026-11-27T10:00:00Z"},
            {"use_case": HOSTILE, "signal": "latency", "value": 1,
             "at": "2026-11-27T10:00:00Z"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(root: Path, *args: object, env: dict[str, str] | None = None) -> Any:
    result = run_subprocess(*args, "--root", root, cwd=root.parent, env=env)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, \
        (args, result.stderr)
    return result


# -- the corpus through every command and format --------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif", "junit"])
def test_validate(hostile_repo: Path, fmt: str) -> None:
    result = run(hostile_repo, "validate", "--as-of", AS_OF, "--format", fmt)
    assert result.code == 1, result.stderr  # the hostile file name is a finding
    assert_safe_text(result.stdout, f"validate --format {fmt}", github=fmt == "github")
    assert_safe_text(result.stderr, f"validate --format {fmt} (stderr)")
    if fmt == "json":
        files = {f["file"] for f in json.loads(result.stdout)["findings"]}
        assert any("\n::error" in f for f in files), files  # the data itself is intact


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_diff(hostile_repo: Path, fmt: str) -> None:
    result = run(hostile_repo, "diff", "HEAD~1", "--format", fmt)
    assert result.code in (0, 1), result.stderr
    assert "loosened" in result.stdout
    assert "prompts/triage.md" in result.stdout  # the prompt's text diff is in the output
    if fmt == "markdown":
        assert_safe_markdown(result.stdout, "diff --format markdown")
    else:
        assert_safe_text(result.stdout, f"diff --format {fmt}")
    assert_safe_text(result.stderr, "diff (stderr)")


@pytest.mark.parametrize("command", [("history", "claims-triage"), ("explain", "claims-triage")])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_history_and_explain(hostile_repo: Path, command: tuple[str, str], fmt: str) -> None:
    result = run(hostile_repo, *command, "--format", fmt, "--as-of", AS_OF) \
        if command[0] == "explain" else run(hostile_repo, *command, "--format", fmt)
    assert result.code in (0, 1), result.stderr
    assert_safe_text(result.stdout, f"{command[0]} --format {fmt}")
    assert_safe_text(result.stderr, f"{command[0]} (stderr)")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_trace(hostile_repo: Path, fmt: str) -> None:
    digest = run(hostile_repo, "digest", "triage").stdout.strip()
    result = run(hostile_repo, "trace", digest, "--format", fmt)
    assert result.code in (0, 1), result.stderr
    assert_safe_text(result.stdout + result.stderr, f"trace --format {fmt}")


@pytest.mark.parametrize("terminal", [False, True])
def test_status(hostile_repo: Path, observations: Path, terminal: bool) -> None:
    # FORCE_COLOR makes rich draw its table as on a terminal; its own colour codes are
    # SGR sequences, removed before the check (a hostile SGR 8 would be caught as ESC [8m)
    env = {"FORCE_COLOR": "1", "COLUMNS": "160"} if terminal else {"NO_COLOR": "1"}
    result = run(hostile_repo, "status", "--observations", observations, "--as-of", AS_OF,
                 env=env)
    assert result.code in (0, 1), result.stderr
    out = result.stdout
    if terminal:
        assert "\x1b[8m" not in out and "\x1b]" not in out and "\x1b[1A" not in out
        out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "GOV085" in out or "GOV085" in result.stderr
    assert_safe_text(out, f"status (terminal={terminal})")
    assert_safe_text(result.stderr, "status (stderr)")


def test_status_json(hostile_repo: Path, observations: Path) -> None:
    result = run(hostile_repo, "status", "--observations", observations, "--as-of", AS_OF,
                 "--format", "json")
    assert_safe_text(result.stdout, "status --format json")
    json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_card(hostile_repo: Path, observations: Path, fmt: str) -> None:
    result = run(hostile_repo, "card", "claims-triage", "--format", fmt, "--as-of", AS_OF,
                 "--observations", observations)
    assert result.code == 0, result.stderr
    if fmt == "md":
        assert_safe_markdown(result.stdout, "card --format md")
    else:
        assert_safe_text(result.stdout, "card --format html")
        assert "<img" not in result.stdout and "<!-- hide" not in result.stdout


def test_audit_pack_and_verify(hostile_repo: Path, observations: Path,
                               tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    result = run(hostile_repo, "audit-pack", "claims-triage", "-o", pack, "--as-of", AS_OF,
                 "--observations", observations)
    assert result.code == 0, result.stderr
    assert_safe_text(result.stderr, "audit-pack (stderr)")
    for name in ("README.md", "mapping.md"):
        assert_safe_markdown((pack / name).read_text(encoding="utf-8"), f"pack {name}")
    index = (pack / "index.html").read_text(encoding="utf-8")
    assert_safe_text(index, "pack index.html")
    assert "<img" not in index
    # a file added under a hostile name: verify names it, escaped
    (pack / "evidence" / "\x1b]52;c;ZXZpbA==\x07\n::error::intact").write_text("x")
    for fmt in ("text", "json"):
        result = run(hostile_repo, "verify", pack, "--format", fmt)
        assert result.code == 1, result.stdout + result.stderr
        assert_safe_text(result.stdout + result.stderr, f"verify --format {fmt}")
    assert "NOT intact" in run(hostile_repo, "verify", pack).stdout


@pytest.mark.parametrize("target", ["prometheus-rules", "alertmanager-routes"])
def test_export(hostile_repo: Path, target: str) -> None:
    result = run(hostile_repo, "export", target)
    assert result.code in (0, 1), result.stderr
    assert_safe_text(result.stdout + result.stderr, f"export {target}")


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_drill(hostile_repo: Path, fmt: str) -> None:
    result = run(hostile_repo, "drill", "claims-triage", "--format", fmt, "--as-of", AS_OF,
                 "--scenario", HOSTILE, "--detected", "2026-11-27T01:00:00Z")
    assert result.code == 0, result.stderr
    if fmt == "md":
        assert_safe_markdown(result.stdout, "drill --format md")
    else:
        assert_safe_text(result.stdout, f"drill --format {fmt}")
    if fmt == "html":
        assert "<img" not in result.stdout and "<script" not in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["scenario"] == HOSTILE  # data, exactly as given


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_coverage(hostile_repo: Path, observations: Path, fmt: str) -> None:
    result = run(hostile_repo, "coverage", "--format", fmt, "--as-of", AS_OF,
                 "--observations", observations)
    assert result.code in (0, 1), result.stderr
    if fmt == "markdown":
        assert_safe_markdown(result.stdout, "coverage --format markdown")
    else:
        assert_safe_text(result.stdout + result.stderr, f"coverage --format {fmt}")


def test_errors_are_one_safe_line(hostile_repo: Path) -> None:
    result = run(hostile_repo, "explain", HOSTILE)
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("govctl: error:")
    assert_safe_text(result.stderr, "an unknown id")


def test_approve_dry_run(hostile_repo: Path) -> None:
    result = run(hostile_repo, "approve", "claims-triage", "-a", "bob:risk-officer",
                 "-a", "carol:model-owner", "--condition", HOSTILE, "--dry-run",
                 "--as-of", AS_OF)
    assert_safe_text(result.stdout + result.stderr, "approve --dry-run")


# -- the escapes themselves -----------------------------------------------------------------


def test_every_format_character_of_this_python_is_escaped() -> None:
    missing = [f"U+{cp:04X}" for cp in range(0x110000)
               if unicodedata.category(chr(cp)) == "Cf" and escape.is_printable(chr(cp))]
    assert missing == []


@pytest.mark.parametrize("text", CORPUS)
def test_printable_is_one_line_without_controls(text: str) -> None:
    shown = escape.printable(text)
    assert "\n" not in shown and "\r" not in shown
    assert_no_control(shown, repr(text))


def test_escapes_are_readable() -> None:
    assert escape.printable("a\nb\x1b[2J\u202e") == "a\\nb\\x1b[2J\\u202e"
    assert escape.markdown_text("a*b_c") == "a\\*b\\_c"
    assert escape.markdown_text(0.25) == "0.25"
    assert escape.code_span("x ``y`` z") == "```x ``y`` z```"
    assert escape.code_span("`a") == "`` `a ``"
    assert escape.json_safe('"\x9b\u202e"') == '"\\u009b\\u202e"'


def test_markdown_text_renders_as_the_value() -> None:
    for text in CORPUS:
        rendered = markdown_html(escape.markdown_text(text))
        assert "<img" not in rendered and "<a " not in rendered and "<h3" not in rendered

