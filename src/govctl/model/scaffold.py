"""`govctl init DIR`: the smallest repository that validates clean (SPEC §3)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from govctl.errors import GovctlError
from govctl.model.atomic import claim_output, default_mode, make_folder, reason, write_atomic
from govctl.model.paths import is_inside

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
  # who may not count in a role (GOV038): a validator challenges the work of others
  independence:
    model-validator: [owner, developers, team]
    risk-officer: [owner, developers]
  eval_max_age_days: 180
  deprecation_notice_days: 90
  approvals: {provenance: author}
  # a tabletop drill (govctl drill, then an Exercise record) a year for production use
  # cases of these tiers (GOV043); the share of in-flight use cases that must be fully
  # covered (govctl coverage)
  exercises: {every_days: 365, tiers: [high]}
  coverage: {min: 0.8}
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
  risk: {tier: limited, exposure_usd: 50000}
  population: Customers asking support questions
  intended_use: Answer customer support questions from the help centre.
  bundle: assistant
  thresholds: assistant-contract
  fallback: Questions go to the human support queue.
  # who acts in an incident (govctl drill, govctl coverage)
  response:
    offline_authority: [owner]
    customer_comms: owner
    logging: {digest_logged: true, retention_days: 365}
""",
}


def scaffold(target: Path, today: str, force: bool = False) -> list[Path]:
    """Write the scaffold; refuses a non-empty folder unless ``force``.

    All or nothing where that is possible: into a folder that does not exist yet, the
    scaffold is written into a hidden temporary folder beside it and renamed into place,
    so even a killed run leaves no half-made repository (at most that hidden folder).
    Into an existing empty folder (which may be the current directory, so it is never
    renamed over), a failure removes what this run wrote. With ``--force`` into a non-empty
    folder, each file is replaced atomically and nothing is rolled back: the user asked
    to mix the scaffold into existing files.
    """
    if target.is_symlink() and not target.exists():
        raise GovctlError(f"{target} is a dangling symbolic link; not writing through it")
    if target.exists() and not target.is_dir():
        raise GovctlError(f"{target} exists and is not a directory")
    files = {rel: content.replace("{today}", today).encode("utf-8")
             for rel, content in FILES.items()}
    written = [target / rel for rel in FILES]
    if target.is_dir():
        if any(target.iterdir()):
            if not force:
                raise GovctlError(f"{target} is not empty; not writing into it (use --force to "
                                  "add the scaffold's files, replacing any of the same name)")
            inside = target.resolve()
            for rel in files:
                # a folder of the same name that is a link out of the target (prompts/ ->
                # /etc) must not carry --force's replacements somewhere else
                if not is_inside((target / rel).parent.resolve(), inside):
                    raise GovctlError(f"{(target / rel).parent} leads outside {target}; not "
                                      "writing the scaffold through it")
                # --force replaces regular files only, never a link (SPEC §3): refused
                # before anything is written, so no scaffold is left half-mixed in
                claim_output(target / rel, force=True)
            for rel, data in files.items():
                write_atomic(target / rel, data, overwrite=True)
        else:
            _fill_empty(target, files)
        return written
    _create(target, files)
    return written


def _create(target: Path, files: dict[str, bytes]) -> None:
    """Build the scaffold beside ``target`` and rename it into place."""
    parent = target.absolute().parent
    make_folder(parent)
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise GovctlError(f"cannot create {target}: {reason(exc)}") from None
    try:
        try:
            os.chmod(work, default_mode(directory=True))  # mkdtemp makes it 0700
        except OSError as exc:
            raise GovctlError(f"cannot create {target}: {reason(exc)}") from None
        for rel, data in files.items():
            write_atomic(work / rel, data)
        try:
            # rename(2) never replaces a non-empty folder: something that appeared at the
            # target meanwhile is never clobbered (an empty one is no loss)
            os.rename(work, target)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise GovctlError(f"{target} appeared while the scaffold was being written; "
                                  "nothing was written into it") from None
            raise GovctlError(f"cannot create {target}: {reason(exc)}") from None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _fill_empty(target: Path, files: dict[str, bytes]) -> None:
    """Write into an existing empty folder; on any failure (or Ctrl-C), remove what this
    run created so the folder is empty again."""
    created: list[Path] = []
    try:
        for rel, data in files.items():
            path = target / rel
            # the folders this file needs that do not exist yet, outermost first
            # (listed before writing: a failure may come after they were made)
            created += [target / p for p in reversed(path.relative_to(target).parents)
                        if p != Path(".") and not (target / p).exists()]
            write_atomic(path, data)
            created.append(path)
    except BaseException:
        for path in reversed(created):  # files before the folders that hold them
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()
        raise
