"""Synthetic governance repositories for benchmarks.

    python benchmarks/generate.py OUT --use-cases 2000 [--commits 5000]

N use cases, each with a bundle (generative, prompt file, tool), a threshold contract over
the five signals, an eval set and an approval bound to the correct digests — about five
records per use case plus shared people, teams and models, all valid. With ``--commits``
the repository gets that many commits of realistic churn (threshold tweaks, prompt edits,
re-approvals, incidents, by different authors), written in one ``git fast-import`` stream.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

PEOPLE = [("ana", "Ana Risk", "risk-officer"), ("ben", "Ben Model", "model-owner"),
          ("cho", "Cho Owner", "product-owner"), ("dev", "Dev Cfo", "cfo"),
          ("eli", "Eli Model", "model-owner"), ("fay", "Fay Risk", "risk-officer")]
TEAMS = 8
MODELS = 20

POLICY = """\
apiVersion: govctl/v1
kind: Policy
metadata: {id: bench}
spec:
  organization: Benchmark Corp
  risk_tiers:
    prohibited: {allowed: false, approvals: [], max_validity_days: 0}
    high:
      allowed: true
      approvals: [{role: risk-officer}, {role: model-owner}]
      max_validity_days: 365
    limited: {allowed: true, approvals: [{role: model-owner}], max_validity_days: 365}
    minimal: {allowed: true, approvals: [{role: model-owner}], max_validity_days: 365}
  eval_max_age_days: 365
"""


def _people() -> str:
    docs = []
    for pid, name, role in PEOPLE:
        docs.append(f"apiVersion: govctl/v1\nkind: Person\nmetadata: {{id: {pid}}}\n"
                    f"spec: {{name: {name}, email: {pid}@bench.example, roles: [{role}]}}\n")
    return "---\n".join(docs)


def _team(i: int) -> str:
    return (f"apiVersion: govctl/v1\nkind: Team\nmetadata: {{id: team-{i}}}\nspec:\n"
            f"  members: [cho, ben]\n  oncall: {{rotation: team-{i}-primary, escalation: [cho]}}\n")


def _model(i: int) -> str:
    return (f"apiVersion: govctl/v1\nkind: Model\nmetadata: {{id: model-{i}}}\nspec:\n"
            f"  provider: vendor-{i % 3}\n  name: chat-{i}\n  type: vendor-endpoint\n"
            f"  snapshot: chat-{i}-2026-06-01\n  lifecycle: {{released: \"2026-06-01\"}}\n")


def _files(i: int, drift: float = 0.2, prompt_rev: int = 0) -> dict[str, str]:
    uc = f"uc-{i:05d}"
    model = f"model-{i % MODELS}"
    team = f"team-{i % TEAMS}"
    tier = "high" if i % 3 == 0 else "limited"
    return {
        f"use-cases/{uc}.yaml": (
            f"apiVersion: govctl/v1\nkind: UseCase\nmetadata: {{id: {uc}, title: Use case {i}}}\n"
            f"spec:\n  owner: cho\n  team: {team}\n  status: production\n"
            f"  risk: {{tier: {tier}, exposure_usd: {1000 * (i % 50)}}}\n"
            f"  population: Customers of segment {i % 7}\n"
            f"  intended_use: Answer questions for segment {i % 7}.\n"
            f"  bundle: b-{i:05d}\n  thresholds: c-{i:05d}\n  fallback: Human queue.\n"),
        f"bundles/b-{i:05d}.yaml": (
            f"apiVersion: govctl/v1\nkind: Bundle\nmetadata: {{id: b-{i:05d}}}\nspec:\n"
            f"  class: generative\n  model: {model}\n"
            f"  params: {{temperature: 0.{i % 10}, max_tokens: 512}}\n"
            f"  prompt: {{template: prompts/p-{i:05d}.md, variables: [question]}}\n"
            f"  retrieval: {{index: kb-{i % 13}, top_k: 5}}\n"
            f"  tools:\n    - {{name: lookup, version: \"1.0.0\", permissions: [read]}}\n"
            f"  eval_set: e-{i:05d}\n"),
        f"prompts/p-{i:05d}.md": (
            f"You answer questions for segment {i % 7}.\nRevision {prompt_rev}.\n"
            "Question: {{question}}\n"),
        f"thresholds/c-{i:05d}.yaml": (
            f"apiVersion: govctl/v1\nkind: ThresholdContract\nmetadata: {{id: c-{i:05d}}}\n"
            "spec:\n  signals:\n"
            "    latency: {metric: p95_latency_ms, max: 2500, window: 5m, severity: page}\n"
            "    accuracy_proxy: {metric: acceptance, min: 0.8, window: 1d, severity: page}\n"
            f"    drift: {{metric: psi, max: {drift}, window: 1d, severity: ticket}}\n"
            "    abuse: {metric: injection_rate, max: 0.01, window: 1h, severity: page}\n"
            "    fallback: {metric: handoff_rate, max: 0.3, window: 1h, severity: ticket}\n"
            "  on_breach: {action: fallback}\n"),
        f"evals/e-{i:05d}.yaml": (
            f"apiVersion: govctl/v1\nkind: EvalSet\nmetadata: {{id: e-{i:05d}}}\nspec:\n"
            f"  population: Customers of segment {i % 7}\n  collected: 2026-10-01\n"
            f"  uri: s3://evals/{i}.parquet\n  digest: \"sha256:{i:064x}\"\n"),
    }


def _approval(i: int, bundle_digest: str, contract_digest: str, day: str = "2026-10-15",
              suffix: str = "") -> tuple[str, str]:
    uc = f"uc-{i:05d}"
    aid = f"{uc}-{day}{suffix}"
    approvers = "[{person: ana, role: risk-officer}, {person: ben, role: model-owner}]" \
        if i % 3 == 0 else "[{person: ben, role: model-owner}]"
    return f"approvals/{aid}.yaml", (
        f"apiVersion: govctl/v1\nkind: Approval\nmetadata: {{id: {aid}}}\nspec:\n"
        f"  use_case: {uc}\n  decision: approved\n"
        f"  bundle: {{id: b-{i:05d}, digest: \"{bundle_digest}\"}}\n"
        f"  thresholds: {{id: c-{i:05d}, digest: \"{contract_digest}\"}}\n"
        f"  eval: {{id: e-{i:05d}, digest: \"sha256:{i:064x}\"}}\n"
        f"  population: Customers of segment {i % 7}\n  approvers: {approvers}\n"
        f"  date: {day}\n  valid_until: 2027-10-01\n")


def _digests(files: dict[str, str], i: int, model_snapshot: dict[str, str]) -> tuple[str, str]:
    """Bundle and contract digests computed exactly as govctl does (SPEC §1.3)."""
    import hashlib

    import rfc8785

    from govctl.model.loader import load_text

    def spec(path: str) -> dict:
        return load_text(files[path]).documents[0].data["spec"]

    bundle = spec(f"bundles/b-{i:05d}.yaml")
    prompt = files[f"prompts/p-{i:05d}.md"].encode()
    bundle["prompt"]["template"] = {"path": f"prompts/p-{i:05d}.md",
                                    "sha256": hashlib.sha256(prompt).hexdigest()}
    model_id = bundle["model"]
    bundle["model"] = {"provider": f"vendor-{int(model_id.split('-')[1]) % 3}",
                       "name": f"chat-{model_id.split('-')[1]}", "type": "vendor-endpoint",
                       "snapshot": model_snapshot[model_id]}
    bundle["eval_set"] = f"sha256:{i:064x}"
    contract = spec(f"thresholds/c-{i:05d}.yaml")

    def digest(kind: str, body: dict) -> str:
        canonical = rfc8785.dumps({"apiVersion": "govctl/v1", "kind": kind, "spec": body})
        return "sha256:" + hashlib.sha256(canonical).hexdigest()

    return digest("Bundle", bundle), digest("ThresholdContract", contract)


def generate_tree(n: int) -> dict[str, str]:
    files: dict[str, str] = {"governance.yaml": POLICY, "people.yaml": _people()}
    for t in range(TEAMS):
        files[f"teams/team-{t}.yaml"] = _team(t)
    snapshots = {}
    for m in range(MODELS):
        files[f"models/model-{m}.yaml"] = _model(m)
        snapshots[f"model-{m}"] = f"chat-{m}-2026-06-01"
    for i in range(n):
        uc_files = _files(i)
        files.update(uc_files)
        path, text = _approval(i, *_digests(uc_files, i, snapshots))
        files[path] = text
    return files


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _blob(data: str) -> bytes:
    raw = data.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def fast_import(root: Path, n: int, commits: int, seed: int = 7, other: int = 0,
                prefix: str = "") -> None:
    """Build ``commits`` commits of churn over the tree in one fast-import stream.

    ``prefix`` (say ``governance/``) puts the governance root in a folder of a larger
    repository, and ``other`` more commits, spread evenly among the churn, change only
    files outside it (``src/``): a monorepo, where history commands should cost what the
    commits touching the root cost, not what all commits cost."""
    rng = random.Random(seed)
    files = generate_tree(n)
    snapshots = {f"model-{m}": f"chat-{m}-2026-06-01" for m in range(MODELS)}
    state = {i: {"drift": 0.2, "prompt": 0, "approvals": 1} for i in range(n)}
    authors = [(name, f"{pid}@bench.example") for pid, name, _ in PEOPLE]
    stream = bytearray()
    stamp = 1_767_225_600  # 2026-01-01

    def commit(message: str, changes: dict[str, str], author: tuple[str, str],
               under: str = prefix) -> None:
        nonlocal stamp
        stamp += 600
        stream.extend(b"commit refs/heads/main\n")
        who = f"{author[0]} <{author[1]}> {stamp} +0000".encode()
        stream.extend(b"author " + who + b"\ncommitter " + who + b"\n")
        stream.extend(_blob(message))
        for path, text in changes.items():
            stream.extend(f"M 100644 inline {under}{path}\n".encode())
            stream.extend(_blob(text))
        stream.extend(b"\n")

    done = 0  # unrelated commits written so far
    work = random.Random(seed + 1)  # (the churn's own sequence stays that of other=0)

    def unrelated(count: int) -> None:
        for _ in range(count):
            module = work.randrange(500)
            commit(f"Work on module {module}",
                   {f"src/module-{module:03d}.py": f"VERSION = {work.random()!r}\n"},
                   work.choice(authors), under="")

    commit("Initial governance records", files, authors[0])
    for step in range(commits - 1):
        due = other * (step + 1) // max(commits - 1, 1)
        unrelated(due - done)
        done = due
        i = rng.randrange(n)
        s = state[i]
        kind = rng.random()
        if kind < 0.4:  # a threshold tweak, then re-approval later
            s["drift"] = round(s["drift"] + rng.choice((-0.05, 0.05)), 2) or 0.05
            uc = _files(i, s["drift"], s["prompt"])
            commit(f"Adjust drift threshold of uc-{i:05d}",
                   {f"thresholds/c-{i:05d}.yaml": uc[f"thresholds/c-{i:05d}.yaml"]},
                   rng.choice(authors))
        elif kind < 0.7:  # a prompt edit
            s["prompt"] += 1
            uc = _files(i, s["drift"], s["prompt"])
            commit(f"Edit prompt of uc-{i:05d}",
                   {f"prompts/p-{i:05d}.md": uc[f"prompts/p-{i:05d}.md"]}, rng.choice(authors))
        else:  # re-approve as it is now, committed by an approver
            uc = _files(i, s["drift"], s["prompt"])
            s["approvals"] += 1
            path, text = _approval(i, *_digests(uc, i, snapshots), day="2026-11-01",
                                   suffix=f"-{s['approvals']:03d}")  # ids sort in order
            commit(f"Re-approve uc-{i:05d}", {path: text}, authors[1])
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--use-cases", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.commits:
        fast_import(args.out, args.use_cases, args.commits)
    else:
        write_tree(args.out, generate_tree(args.use_cases))
    print(f"wrote {args.out}: {args.use_cases} use cases"
          + (f", {args.commits} commits" if args.commits else ""))


if __name__ == "__main__":
    main()
