"""`govctl init DIR`: the smallest repository that validates clean (SPEC §3)."""

from __future__ import annotations

from pathlib import Path

from govctl.errors import GovctlError
from govctl.fsutil import write_atomic

FILES: dict[str, str] = {
    ".gitattributes": """\
# Referenced files are digested as raw bytes: keep git from rewriting their line endings.
prompts/** -text
tools/** -text
data/** -text
runbooks/** -text
""",
    "governance.yaml": """\
apiVersion: govctl/v1
kind: Policy
metadata:
  id: policy
spec:
  organization: Example Org
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
""",
    "people.yaml": """\
apiVersion: govctl/v1
kind: Person
metadata: {id: owner}
spec: {name: Use Case Owner, email: owner@example.com, roles: [product-owner]}
---
apiVersion: govctl/v1
kind: Person
metadata: {id: reviewer}
spec: {name: Model Reviewer, email: reviewer@example.com, roles: [model-owner, risk-officer]}
""",
    "teams/ml-platform.yaml": """\
apiVersion: govctl/v1
kind: Team
metadata: {id: ml-platform}
spec:
  members: [owner, reviewer]
  oncall: {rotation: ml-platform-primary, escalation: [owner]}
""",
    "models/assistant-model.yaml": """\
apiVersion: govctl/v1
kind: Model
metadata: {id: assistant-model}
spec:
  provider: example-vendor
  name: example-chat
  type: vendor-endpoint
  snapshot: example-chat-2026-01-01
""",
    "evals/assistant-eval.yaml": """\
apiVersion: govctl/v1
kind: EvalSet
metadata: {id: assistant-eval}
spec:
  population: Customers asking support questions
  collected: {today}
  path: data/assistant-eval.jsonl
""",
    "data/assistant-eval.jsonl": '{"question": "How do I reset my password?", '
                                 '"expected": "reset-link"}\n',
    "prompts/assistant.md": "You are a helpful support assistant.\nQuestion: {{question}}\n",
    "bundles/assistant.yaml": """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: assistant}
spec:
  class: generative
  model: assistant-model
  params: {temperature: 0.2}
  prompt: {template: prompts/assistant.md, variables: [question]}
  eval_set: assistant-eval
""",
    "thresholds/assistant.yaml": """\
apiVersion: govctl/v1
kind: ThresholdContract
metadata: {id: assistant-contract}
spec:
  signals:
    latency: {metric: p95_latency_ms, max: 3000, window: 5m, severity: page}
    accuracy_proxy: {metric: answer_acceptance, min: 0.8, window: 1d, severity: ticket}
    drift: {metric: psi, max: 0.2, window: 1d, severity: ticket}
    abuse: {metric: injection_rate, max: 0.01, window: 1h, severity: page}
    fallback: {metric: human_handoff_rate, max: 0.3, window: 1h, severity: ticket}
  on_breach: {action: fallback}
""",
    "use-cases/assistant.yaml": """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: support-assistant, title: Support assistant}
spec:
  owner: owner
  team: ml-platform
  status: intake
  risk: {tier: limited}
  population: Customers asking support questions
  intended_use: Answer customer support questions from the help centre.
  bundle: assistant
  thresholds: assistant-contract
  fallback: Questions go to the human support queue.
""",
}


def scaffold(target: Path, today: str, force: bool = False) -> list[Path]:
    """Write the scaffold; refuses a non-empty folder unless ``force``."""
    if target.exists() and not target.is_dir():
        raise GovctlError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise GovctlError(f"{target} is not empty; not writing into it (use --force to add the "
                          "scaffold's files, replacing any of the same name)")
    written = []
    for rel, content in FILES.items():
        path = target / rel
        write_atomic(path, content.replace("{today}", today).encode("utf-8"), overwrite=force)
        written.append(path)
    return written
