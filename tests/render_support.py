"""Helpers for the model-card and audit-pack tests: a governance repository with a real
history (several people, an approval, a loosened threshold, a re-approval, incidents),
observation files in every format, and readers that look at documents the way a user
does (HTML parsed, markdown rendered) rather than as strings."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, init_git
from tests.factory import RepoFactory
from tests.history_support import BOB, CAROL, DAVE, ERIN, Who, commit

USE_CASE = "claims-triage"
FIRST_APPROVAL = "claims-triage-2026-10-01"
SECOND_APPROVAL = "claims-triage-2026-11-05"
FIRST_APPROVAL_FILE = f"approvals/{FIRST_APPROVAL}.yaml"
SECOND_APPROVAL_FILE = f"approvals/{SECOND_APPROVAL}.yaml"
RESOLVED_INCIDENT = "inc-2026-10-15"
SERIOUS_INCIDENT = "inc-2026-11-10"

MITCHELL_HEADINGS = ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data",
                     "Training data", "Quantitative analyses", "Ethical considerations",
                     "Caveats and recommendations")

# the factory's contract: signal → (metric, threshold as the documents show it, window)
THRESHOLDS = {
    "latency": ("p95_latency_ms", "≤ 2500", "5m"),
    "accuracy_proxy": ("triage_agreement", "≥ 0.9", "1d"),
    "drift": ("psi", "≤ 0.2", "1d"),
    "abuse": ("injection_rate", "≤ 0.01", "1h"),
    "fallback": ("human_handoff_rate", "≤ 0.3", "1h"),
}

SERIOUS_INCIDENT_YAML = """\
apiVersion: govctl/v1
kind: Incident
metadata: {id: inc-2026-11-10}
spec:
  use_case: claims-triage
  detected: 2026-11-10T08:00:00Z
  severity: sev1
  status: open
  signal: drift
  serious: true
  serious_kind: widespread
  summary: Wrong triage for a whole region.
"""

# a second use case (intake, never approved) for --all
FRAUD_FILES = {
    "use-cases/fraud.yaml": """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: fraud-screen, title: Fraud screening}
spec:
  owner: alice
  team: claims-ml
  status: intake
  risk: {tier: limited}
  population: Home-insurance claimants, Nordics
  intended_use: Flag claims for a fraud review.
  bundle: fraud
  thresholds: fraud-contract
""",
    "bundles/fraud.yaml": """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: fraud}
spec:
  class: classical
  model: chat-2026-03
  features: {claim_amount: numeric}
  eval_set: claims-eval
""",
    "thresholds/fraud.yaml": """\
apiVersion: govctl/v1
kind: ThresholdContract
metadata: {id: fraud-contract}
spec:
  signals:
    accuracy_proxy: {metric: fraud_precision, min: 0.8, window: 1d, severity: ticket}
  on_breach: {action: page-only}
""",
}


@dataclass
class History:
    """A committed governance repository and what happened in it, commit by commit."""

    root: Path
    records: str  # Dave: every record but approvals and incidents
    approval: str  # Bob: the first approval
    incident: str  # Dave: a resolved incident
    loosen: str  # Erin: drift max 0.2 → 0.35 (makes the approval stale)
    prompt: str  # Dave: the prompt changes (a new bundle digest)
    reapproval: str  # Carol: `govctl approve` re-approves the new bundle
    serious: str  # Dave: a serious incident, not reported
    first_digest: str  # bundle digest of the first version
    second_digest: str  # after the prompt change
    authors: dict[str, Who] = field(default_factory=dict)

    @property
    def head(self) -> str:
        return self.serious

    @property
    def approval_commits(self) -> dict[str, str]:
        return {FIRST_APPROVAL: self.approval, SECOND_APPROVAL: self.reapproval}


def run_cli(*args: object) -> tuple[int, str, str]:
    """The real CLI in-process, outside a test's capsys (for module-scoped fixtures)."""
    from govctl.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def bundle_digest(root: Path) -> str:
    code, out, err = run_cli("digest", "triage", "--root", root)
    assert code == 0, err
    return out.strip()


def build_history(base: Path) -> History:
    """Seven commits by four people; see :class:`History`."""
    factory = RepoFactory(base / "repo")
    factory.files.update(FRAUD_FILES)
    factory.build()
    root = factory.root
    init_git(root)
    held = {rel: (root / rel).read_bytes() for rel in (FIRST_APPROVAL_FILE,
                                                         "incidents/2026-10-15.yaml")}
    for rel in held:
        (root / rel).unlink()
    records = commit(root, DAVE, "2026-09-25T10:00:00Z", "governance records")
    first_digest = bundle_digest(root)
    (root / FIRST_APPROVAL_FILE).write_bytes(held[FIRST_APPROVAL_FILE])
    approval = commit(root, BOB, "2026-10-01T09:00:00Z", "approve claims triage")
    (root / "incidents/2026-10-15.yaml").write_bytes(held["incidents/2026-10-15.yaml"])
    incident = commit(root, DAVE, "2026-10-15T12:00:00Z", "record latency incident")
    factory.edit("thresholds/triage.yaml", "max: 0.2", "max: 0.35")
    loosen = commit(root, ERIN, "2026-11-01T10:00:00Z", "loosen drift threshold")
    factory.edit("prompts/triage.md", "You triage claims.", "You triage home claims.")
    prompt = commit(root, DAVE, "2026-11-02T10:00:00Z", "reword the prompt")
    second_digest = bundle_digest(root)
    code, out, err = run_cli("approve", USE_CASE, "--approver", "bob:risk-officer",
                             "--approver", "carol:model-owner", "--eval-result",
                             "triage_agreement=0.95", "--as-of", "2026-11-05", "--root", root)
    assert code == 0, out + err
    assert (root / SECOND_APPROVAL_FILE).is_file(), out
    reapproval = commit(root, CAROL, "2026-11-05T15:00:00Z", "re-approve claims triage")
    factory.write("incidents/2026-11-10.yaml", SERIOUS_INCIDENT_YAML)
    serious = commit(root, DAVE, "2026-11-10T12:00:00Z", "record serious incident")
    return History(root, records, approval, incident, loosen, prompt, reapproval, serious,
                   first_digest, second_digest,
                   {records: DAVE, approval: BOB, incident: DAVE, loosen: ERIN, prompt: DAVE,
                    reapproval: CAROL, serious: DAVE})


def git_show(root: Path, sha: str, path: str) -> bytes:
    import subprocess

    return subprocess.run(["git", "show", f"{sha}:{path}"], cwd=root, capture_output=True,
                          check=True).stdout


def author_line(root: Path, sha: str) -> tuple[str, str, str]:
    name, email, date = git(root, "log", "-1", "--format=%an%x00%ae%x00%aI", sha).strip() \
        .split("\x00")
    return name, email, date


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its POSIX path relative to it."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest_of(pack: Path) -> dict[str, Any]:
    data = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# -- observations -------------------------------------------------------------------------

# (signal, metric, value, at): as of 2026-11-27 (end of day) latency breaches (the 23:50
# value is superseded), accuracy_proxy is ok, drift is stale (older than 2 × 1d), abuse is
# missing, and the fallback breach at 01:00 the next day is after --as-of (ignored).
OBSERVATIONS = (
    ("latency", "p95_latency_ms", 100.0, "2026-11-27T23:50:00Z"),
    ("latency", "p95_latency_ms", 3100.0, "2026-11-27T23:58:00Z"),
    ("accuracy_proxy", "triage_agreement", 0.93, "2026-11-27T12:00:00Z"),
    ("drift", "psi", 0.15, "2026-11-20T00:00:00Z"),
    ("fallback", "human_handoff_rate", 0.1, "2026-11-27T23:30:00Z"),
    ("fallback", "human_handoff_rate", 0.9, "2026-11-28T01:00:00Z"),
)
EXPECTED_STATES = {"latency": ("3100", "breach"), "accuracy_proxy": ("0.93", "ok"),
                   "drift": ("0.15", "stale"), "abuse": (None, "missing"),
                   "fallback": ("0.1", "ok")}
OBSERVATION_FORMATS = ("jsonl", "csv", "openmetrics", "prometheus")


def _epoch(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def observations_text(fmt: str, rows: tuple[tuple[str, str, float, str], ...] = OBSERVATIONS,
                      use_case: str = USE_CASE) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps({"use_case": use_case, "signal": s, "metric": m, "value": v,
                                   "at": a}) + "\n" for s, m, v, a in rows)
    if fmt == "csv":
        return "use_case,signal,metric,value,at,bundle_digest\n" + "".join(
            f"{use_case},{s},{m},{v},{a},\n" for s, m, v, a in rows)
    # exposition formats: one family per metric; OpenMetrics timestamps are seconds,
    # Prometheus text timestamps milliseconds
    by_metric: dict[str, list[tuple[str, float, str]]] = {}
    for s, m, v, a in rows:
        by_metric.setdefault(m, []).append((s, v, a))
    lines = []
    for metric, samples in by_metric.items():
        lines.append(f"# TYPE {metric} gauge")
        for s, v, a in samples:
            stamp = int(_epoch(a)) if fmt == "openmetrics" else int(_epoch(a) * 1000)
            lines.append(f'{metric}{{use_case="{use_case}",signal="{s}"}} {v} {stamp}')
    if fmt == "openmetrics":
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def write_observations(folder: Path, fmt: str, **kwargs: Any) -> Path:
    suffix = {"jsonl": "jsonl", "csv": "csv", "openmetrics": "om", "prometheus": "prom"}[fmt]
    path = folder / f"observations.{suffix}"
    path.write_text(observations_text(fmt, **kwargs), encoding="utf-8")
    return path


# -- reading documents --------------------------------------------------------------------


class Html(HTMLParser):
    """Tags, attributes, text and table rows of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self.rows: list[list[str]] = []
        self.tables: list[list[list[str]]] = []
        self.row_classes: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.styles: list[str] = []
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self._row = []
            self.row_classes.append(dict(attrs).get("class") or "")
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "style":
            self._in_style = True
        elif tag in ("br", "li", "p", "tr"):
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            if self.tables:
                self.tables[-1].append(self._row)
            self._row = None
        elif tag == "style":
            self._in_style = False
        if tag in ("td", "th", "li", "p", "h1", "h2", "h3", "div", "tr"):
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
            return
        self.chunks.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        """The visible text, whitespace collapsed."""
        return " ".join("".join(self.chunks).split())

    def row(self, first_cell: str) -> list[str]:
        found = [r for r in self.rows if r and r[0] == first_cell]
        assert len(found) == 1, (first_cell, self.rows)
        return found[0]

    def tag_names(self) -> set[str]:
        return {tag for tag, _ in self.tags}


def assert_self_contained(document: str) -> Html:
    """One HTML file that needs nothing else: inline CSS, no script, no network."""
    page = Html(document)
    assert "<script" not in document.lower()
    assert "script" not in page.tag_names()
    assert not {"link", "iframe", "object", "embed", "img"} & page.tag_names()
    assert page.styles and "style" in page.tag_names()
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in ("src", "href", "action", "srcset", "poster", "data") and value:
                assert "://" not in value and not value.startswith("//"), (tag, name, value)
            assert not name.startswith("on"), (tag, name)  # no event handlers
    assert "@import" not in "".join(page.styles)
    assert "url(" not in "".join(page.styles)
    return page


def markdown_html(document: str) -> str:
    """The HTML a CommonMark renderer (raw HTML allowed, as on GitHub before its
    sanitiser) makes of a markdown document."""
    markdown_it = pytest.importorskip("markdown_it")
    return str(markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
               .render(document))


def markdown_text(document: str) -> str:
    """What a reader of the rendered markdown sees."""
    return Html(markdown_html(document)).text


def md_rows(document: str, header_first_cell: str) -> list[list[str]]:
    """The body rows of the markdown table whose header starts with ``header_first_cell``,
    as rendered (escapes resolved)."""
    page = Html(markdown_html(document))
    found = [t for t in page.tables if t and t[0] and t[0][0] == header_first_cell]
    assert len(found) == 1, (header_first_cell, page.tables)
    return found[0][1:]


def md_row(document: str, header_first_cell: str, first_cell: str) -> list[str]:
    found = [r for r in md_rows(document, header_first_cell) if r[0] == first_cell]
    assert len(found) == 1, (first_cell, md_rows(document, header_first_cell))
    return found[0]
