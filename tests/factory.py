"""A small, valid governance repository that tests break one way at a time.

``RepoFactory(root).build()`` writes it and binds the approval to the real digests
(``@digest:Kind/id@`` placeholders are filled by govctl's own digest code, so a test that
later edits a prompt gets a genuinely stale approval). Validate it with
``--as-of 2026-11-27`` (``AS_OF``).
"""

from __future__ import annotations

import re
from pathlib import Path

AS_OF = "2026-11-27"

BASE_FILES: dict[str, str] = {
    "governance.yaml": """\
apiVersion: govctl/v1
kind: Policy
metadata:
  id: acme-policy
spec:
  organization: Acme Insurance
  signals:
    required: [latency, accuracy_proxy, drift, abuse, fallback]
  risk_tiers:
    prohibited: {allowed: false, approvals: [], max_validity_days: 0}
    high:
      allowed: true
      approvals: [{role: risk-officer}, {role: model-owner}]
      max_validity_days: 180
    limited: {allowed: true, approvals: [{role: model-owner}], max_validity_days: 365}
    minimal: {allowed: true, approvals: [{role: model-owner}], max_validity_days: 365}
  exposure_rules:
    - {min_usd: 1000000, require: [{role: cfo}]}
  separation_of_duties: true
  eval_max_age_days: 180
  deprecation_notice_days: 90
  approvals: {provenance: author}
  # no tabletop drill required here (GOV043): tests/test_drills_and_coverage.py asks for one
  exercises: {tiers: []}
""",
    "people.yaml": """\
apiVersion: govctl/v1
kind: Person
metadata: {id: alice}
spec: {name: Alice Owner, email: alice@acme.test, roles: [model-owner]}
---
apiVersion: govctl/v1
kind: Person
metadata: {id: bob}
spec: {name: Bob Risk, email: bob@acme.test, roles: [risk-officer]}
---
apiVersion: govctl/v1
kind: Person
metadata: {id: carol}
spec: {name: Carol Model, email: carol@acme.test, roles: [model-owner]}
""",
    "teams/claims.yaml": """\
apiVersion: govctl/v1
kind: Team
metadata: {id: claims-ml}
spec:
  members: [alice, carol]
  oncall: {rotation: claims-ml-primary, pager: pagerduty:claims-ml, escalation: [alice]}
""",
    "models/chat.yaml": """\
apiVersion: govctl/v1
kind: Model
metadata: {id: chat-2026-03}
spec:
  provider: examplevendor
  name: vendor-chat
  type: vendor-endpoint
  snapshot: vendor-chat-2026-03-14
  lifecycle: {released: "2026-03-14"}
""",
    "evals/claims-eval.yaml": """\
apiVersion: govctl/v1
kind: EvalSet
metadata: {id: claims-eval}
spec:
  population: Home-insurance claimants, Nordics
  collected: 2026-09-20
  path: data/claims-eval.jsonl
  factors: [country]
""",
    "data/claims-eval.jsonl": '{"claim": "Water leak", "expected": "open_case"}\n',
    "prompts/triage.md": "You triage claims.\nClaim: {{claim_text}}\n",
    "tools/lookup.json": '{"type": "object"}\n',
    "runbooks/triage.md": "# Triage runbook\nSwitch to the human queue.\n",
    "bundles/triage.yaml": """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: triage, title: Claims triage assistant}
spec:
  class: generative
  model: chat-2026-03
  params: {temperature: 0.0, max_tokens: 512}
  prompt: {template: prompts/triage.md, variables: [claim_text]}
  retrieval: {index: policy-wordings, top_k: 8}
  tools:
    - {name: lookup_policy, version: "1.0.0", schema: tools/lookup.json}
  eval_set: claims-eval
""",
    "thresholds/triage.yaml": """\
apiVersion: govctl/v1
kind: ThresholdContract
metadata: {id: triage-contract}
spec:
  signals:
    latency: {metric: p95_latency_ms, max: 2500, window: 5m, severity: page}
    accuracy_proxy: {metric: triage_agreement, min: 0.9, window: 1d, severity: page}
    drift: {metric: psi, max: 0.2, window: 1d, severity: ticket}
    abuse: {metric: injection_rate, max: 0.01, window: 1h, severity: page}
    fallback: {metric: human_handoff_rate, max: 0.3, window: 1h, severity: ticket}
  on_breach: {action: fallback, runbook: runbooks/triage.md}
""",
    "use-cases/triage.yaml": """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: claims-triage, title: Claims triage}
spec:
  owner: alice
  team: claims-ml
  status: production
  risk: {tier: high, category: insurance, exposure_usd: 50000}
  population: Home-insurance claimants, Nordics
  intended_use: Suggest the next step for a new home-insurance claim.
  out_of_scope: [payout decisions]
  bundle: triage
  thresholds: triage-contract
  fallback: Claims go to the human triage queue.
""",
    "approvals/claims-triage-2026-10-01.yaml": """\
apiVersion: govctl/v1
kind: Approval
metadata: {id: claims-triage-2026-10-01}
spec:
  use_case: claims-triage
  decision: approved
  bundle: {id: triage, digest: "@digest:Bundle/triage@"}
  thresholds: {id: triage-contract, digest: "@digest:ThresholdContract/triage-contract@"}
  eval:
    id: claims-eval
    digest: "@digest:EvalSet/claims-eval@"
    results: {triage_agreement: 0.94}
  population: Home-insurance claimants, Nordics
  approvers:
    - {person: bob, role: risk-officer}
    - {person: carol, role: model-owner}
  date: 2026-10-01
  valid_until: 2027-03-01
""",
    "incidents/2026-10-15.yaml": """\
apiVersion: govctl/v1
kind: Incident
metadata: {id: inc-2026-10-15}
spec:
  use_case: claims-triage
  detected: 2026-10-15T08:30:00Z
  severity: sev3
  status: resolved
  signal: latency
  summary: p95 latency above 2.5 s for 20 minutes after a vendor slowdown.
""",
}

# A second use case and its team (intake, never approved), for filters and multi-team output.
DOCS_USE_CASE = """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: doc-summary, title: Claim document summaries}
spec:
  owner: carol
  team: docs-ml
  status: intake
  risk: {tier: limited}
  population: Claims handlers, Nordics
  intended_use: Summarise claim documents for handlers.
  bundle: triage
  thresholds: triage-contract
"""
DOCS_TEAM = """\
apiVersion: govctl/v1
kind: Team
metadata: {id: docs-ml}
spec:
  members: [carol]
  oncall: {rotation: docs-ml-primary}
"""


_PLACEHOLDER = re.compile(r"@digest:(\w+)/([a-z0-9._-]+)@")


# a guard model's bundle, for tests of components (agent chains)
GUARD_BUNDLE = """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: guard}
spec:
  class: classical
  model: chat-2026-03
  params: {threshold: 0.5}
  eval_set: claims-eval
"""


class RepoFactory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, str | bytes] = dict(BASE_FILES)

    def build(self) -> RepoFactory:
        """Write every file; fill digest placeholders from the repository as written."""
        self.root.mkdir(parents=True, exist_ok=True)
        for rel, content in self.files.items():
            self._write(rel, content, placeholders=False)
        self.bind()
        return self

    def bind(self) -> None:
        """(Re)compute digest placeholders of every file that has them."""
        from govctl.digest.digester import Digester
        from govctl.model.repository import WorktreeSource, load_repository

        templated = {rel: c for rel, c in self.files.items()
                     if isinstance(c, str) and _PLACEHOLDER.search(c)}
        if not templated:
            return
        for rel in templated:  # hide the templates while digests are computed
            (self.root / rel).unlink(missing_ok=True)
        repo = load_repository(WorktreeSource(self.root))
        digester = Digester(repo)

        def fill(match: re.Match[str]) -> str:
            kind, record_id = match.group(1), match.group(2)
            if kind == "EvalSet":
                return digester.eval_digest(record_id)
            record = repo.get(kind, record_id)
            assert record is not None, f"factory: no {kind}/{record_id} to digest"
            if kind == "Bundle":
                return digester.bundle_digest(record)
            return digester.contract_digest(record)

        for rel, content in templated.items():
            self._write(rel, _PLACEHOLDER.sub(fill, content), placeholders=False)

    def _write(self, rel: str, content: str | bytes, placeholders: bool) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))

    # editing -----------------------------------------------------------------------------
    def write(self, rel: str, content: str | bytes) -> Path:
        """Write a file now (no placeholders filled)."""
        self._write(rel, content, placeholders=False)
        return self.root / rel

    def edit(self, rel: str, old: str, new: str) -> Path:
        """Replace ``old`` (which must occur) in a written file."""
        path = self.root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def line_of(self, rel: str, needle: str) -> int:
        """1-based number of the first line of ``rel`` containing ``needle``."""
        for number, line in enumerate((self.root / rel).read_text().splitlines(), 1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not found in {rel}")
