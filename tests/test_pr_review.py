"""The pull-request review of a realistic change (issue 15): a prompt edit, a loosened drift
threshold and a component's parameter, with one of the two use cases re-approved in the
same pull request. Golden Markdown plus the facts a reviewer acts on; the JSON of SPEC §3.1;
GitHub annotations on the line that made an approval stale."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.conftest import git
from tests.factory import AS_OF
from tests.history_support import BOB, DAVE, PROMPT, Who, commit, committed

GOLDEN = Path(__file__).parent / "data" / "pr-review.md"
FRANK = Who("Frank Finance", "frank@acme.test")

GUARD = """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: claims-input-guard, title: Input guard}
spec:
  class: classical
  model: chat-2026-03
  params: {block_threshold: 0.8}
  eval_set: claims-eval
"""
INTAKE_BUNDLE = """\
apiVersion: govctl/v1
kind: Bundle
metadata: {id: intake-agent}
spec:
  class: agentic
  model: chat-2026-03
  prompt: {template: prompts/intake.md}
  components: [claims-input-guard]
  eval_set: claims-eval
"""
INTAKE_USE_CASE = """\
apiVersion: govctl/v1
kind: UseCase
metadata: {id: claims-intake, title: Claims intake agent}
spec:
  owner: alice
  team: claims-ml
  status: production
  risk: {tier: high, category: insurance, exposure_usd: 2000000}
  population: Home-insurance claimants, Nordics
  intended_use: Collect the facts of a new claim.
  bundle: intake-agent
  thresholds: triage-contract
  fallback: Claims go to the human intake queue.
"""
INTAKE_APPROVAL = """\
apiVersion: govctl/v1
kind: Approval
metadata: {id: claims-intake-2026-10-01}
spec:
  use_case: claims-intake
  decision: approved
  bundle: {id: intake-agent, digest: "@digest:Bundle/intake-agent@"}
  thresholds: {id: triage-contract, digest: "@digest:ThresholdContract/triage-contract@"}
  eval: {id: claims-eval, digest: "@digest:EvalSet/claims-eval@"}
  population: Home-insurance claimants, Nordics
  approvers:
    - {person: bob, role: risk-officer}
    - {person: carol, role: model-owner}
    - {person: frank, role: cfo}
  date: 2026-10-01
  valid_until: 2027-03-01
"""
FRANK_RECORD = """\
---
apiVersion: govctl/v1
kind: Person
metadata: {id: frank}
spec: {name: Frank Finance, email: frank@acme.test, roles: [cfo]}
"""


@pytest.fixture
def pull_request(factory, govctl):
    """(base sha, head sha, root): main, then a branch with three commits."""
    factory.files.update({
        "bundles/guard.yaml": GUARD,
        "bundles/intake.yaml": INTAKE_BUNDLE,
        "prompts/intake.md": "Ask for the date and place of the loss.\n",
        "use-cases/intake.yaml": INTAKE_USE_CASE,
        "approvals/claims-intake-2026-10-01.yaml": INTAKE_APPROVAL,
        "people.yaml": factory.files["people.yaml"] + FRANK_RECORD,
    })
    factory.files["bundles/triage.yaml"] = factory.files["bundles/triage.yaml"].replace(
        "  eval_set: claims-eval\n", "  components: [claims-input-guard]\n"
        "  eval_set: claims-eval\n")
    base = committed(factory)
    assert govctl("validate", "--root", factory.root, "--as-of", AS_OF).code == 0
    git(factory.root, "checkout", "-q", "-b", "tighten-payout-language")
    factory.edit(PROMPT, "You triage claims.\n",
                 "You triage claims.\nNever promise a payout; say a handler decides.\n")
    factory.edit("thresholds/triage.yaml", "max: 0.2,", "max: 0.3,")
    factory.edit("bundles/guard.yaml", "block_threshold: 0.8", "block_threshold: 0.9")
    commit(factory.root, DAVE, "2026-11-20T09:00:00Z", "Payout language; guard; drift")
    approved = govctl("approve", "claims-triage", "--approver", "bob:risk-officer",
                      "--approver", "carol:model-owner", "--root", factory.root,
                      "--as-of", "2026-11-21")
    assert approved.code == 0, approved.stderr
    head = commit(factory.root, BOB, "2026-11-21T09:00:00Z", "Re-approve claims-triage")
    return base, head, factory.root


def _markdown(govctl, base, head, root) -> str:
    result = govctl("diff", base, head, "--root", root, "--format", "markdown",
                    "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    return result.stdout


def test_the_review_comment_reads_like_a_review(govctl, pull_request):
    base, head, root = pull_request
    text = _markdown(govctl, base, head, root)
    golden = text.replace(base[:12], "BASE").replace(head[:12], "HEAD")
    if os.environ.get("GOVCTL_UPDATE_GOLDEN"):
        GOLDEN.write_text(golden, encoding="utf-8")
    assert golden == GOLDEN.read_text(encoding="utf-8")

    lines = text.splitlines()
    # the verdict first: one loosening, one approval made stale (GOV031 and GOV032 both
    # hit it: counted once), whom the Policy asks (tier high + exposure over 1M: cfo)
    assert lines[0] == (
        "### ❌ govctl: 1 control loosened · 1 approval made stale · re\\-approval needed "
        "from\\: cfo\\, model\\-owner\\, risk\\-officer · re\\-approved in this range\\: "
        "claims\\-triage")
    assert "| `claims-intake` | `cfo`, `model-owner`, `risk-officer` | " \
           "`claims-intake-2026-10-01` |" in lines
    assert ("govctl approve claims-intake --approver PERSON:cfo --approver PERSON:model-owner "
            "--approver PERSON:risk-officer") in lines
    assert ("- `claims-triage`: Approval `claims-triage-2026-11-21` by Bob Risk "
            "\\(risk\\-officer\\), Carol Model \\(model\\-owner\\)") in lines
    # the loosened control, and the component by name with what changed inside it
    assert "| `ThresholdContract/triage-contract` | `signals.drift.max` | 0.2 | 0.3 |" in lines
    assert any(line.startswith("| `Bundle/intake-agent` | `components[0]` — component "
                               "`claims-input-guard` |") for line in lines)
    assert "| `Bundle/intake-agent` | `claims-input-guard` › `params.block_threshold` | " \
           "0.8 | 0.9 |" in lines
    # the prompt's text, not two hashes
    diff = text.index("<details><summary>Text diff of the prompt template</summary>")
    assert text.index("```diff\n--- a/prompts/triage.md\n+++ b/prompts/triage.md\n", diff) > diff
    assert "+Never promise a payout; say a handler decides." in lines
    assert " You triage claims." in lines


def test_the_comment_renders_without_html_but_its_own(govctl, pull_request):
    base, head, root = pull_request
    html = MarkdownIt("commonmark").render(_markdown(govctl, base, head, root))
    tags = {tag for tag in _tags(html)}
    allowed = {"details", "summary", "h3", "h4", "p", "code", "pre", "ul", "li", "em",
               "strong"}
    assert tags <= allowed, tags - allowed
    assert "<details><summary>Text diff of the prompt template</summary>" in html
    # the prompt text is shown, as text
    assert "+Never promise a payout; say a handler decides." in html


def _tags(html: str) -> list[str]:
    import re

    return [t.lower() for t in re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html)]


def test_json_carries_text_diff_component_and_stale_approvals(govctl, pull_request):
    base, head, root = pull_request
    result = govctl("diff", base, head, "--root", root, "--format", "json", "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["stale_approvals"] == ["claims-intake-2026-10-01"]
    assert payload["unapproved"] == ["claims-intake"]
    assert payload["reapproval"] == [{
        "use_case": "claims-intake", "roles": {"cfo": 1, "model-owner": 1, "risk-officer": 1},
        "stale_approvals": ["claims-intake-2026-10-01"]}]
    changes = {(c["kind"], c["id"]): c for c in payload["changes"]}
    (prompt,) = [f for f in changes["Bundle", "triage"]["fields"]
                 if f["path"] == "prompt.template.sha256"]
    assert prompt["text_diff"].splitlines() == [
        "--- a/prompts/triage.md", "+++ b/prompts/triage.md", "@@ -1,2 +1,3 @@",
        " You triage claims.", "+Never promise a payout; say a handler decides.",
        " Claim: {{claim_text}}"]
    (component,) = changes["Bundle", "intake-agent"]["fields"]
    assert component["path"] == "components[0]"
    assert component["component"] == "claims-input-guard"
    assert component["changes"] == [{"path": "params.block_threshold", "old": 0.8, "new": 0.9,
                                     "effect": "reapproval"}]
    # the impacts say why, though the range is committed (what CI sees)
    gov031 = [f for f in payload["impacts"] if f["rule"] == "GOV031"]
    assert len(gov031) == 1
    assert "component 'claims-input-guard': params.block_threshold 0.8 → 0.9" in \
        gov031[0]["message"]
    assert gov031[0]["related"][0]["file"] == "bundles/guard.yaml"
    assert gov031[0]["related"][0]["line"] == 7  # params: {block_threshold: 0.9}
    assert gov031[0]["related"][0]["column"] == 29  # the value


def test_github_annotations_land_where_the_change_is(govctl, factory):
    """CI validates the committed head: the GOV031 annotation for a prompt edit is on the
    approval and on the prompt's changed line."""
    committed(factory)
    factory.edit(PROMPT, "Claim: {{claim_text}}", "Claim text: {{claim_text}}")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "prompt")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "github")
    assert result.code == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    approval_line = factory.line_of("approvals/claims-triage-2026-10-01.yaml", "bundle:")
    assert any(line.startswith(
        f"::error file=approvals/claims-triage-2026-10-01.yaml,line={approval_line},")
        and "title=GOV031::" in line for line in annotations), annotations
    assert any(line.startswith(f"::error file={PROMPT},line=2,col=1,title=GOV031 (related)::")
               and "makes Approval 'claims-triage-2026-10-01' stale" in line
               for line in annotations), annotations
    # SARIF: the same place as a related location
    sarif = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "sarif")
    (result_031,) = [r for r in sarif.json()["runs"][0]["results"] if r["ruleId"] == "GOV031"]
    (related,) = result_031["relatedLocations"]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == PROMPT
    assert related["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 1}


def test_a_model_change_points_at_the_model_record(govctl, factory):
    committed(factory)
    factory.edit("models/chat.yaml", "snapshot: vendor-chat-2026-03-14",
                 "snapshot: vendor-chat-2026-06-01")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "snapshot")
    payload = govctl("validate", "--root", factory.root, "--as-of", AS_OF,
                     "--format", "json").json()
    (gov031,) = [f for f in payload["findings"] if f["rule"] == "GOV031"]
    assert "model.snapshot vendor-chat-2026-03-14 → vendor-chat-2026-06-01" in gov031["message"]
    assert [(r["file"], r["line"]) for r in gov031["related"]] == [
        ("models/chat.yaml", factory.line_of("models/chat.yaml", "snapshot:"))]


# -- never more assurance than is known ---------------------------------------------------------


def test_a_deleted_prompt_is_never_a_pass(govctl, factory):
    """The bundle's digest cannot be computed, so no approval can be shown to cover it:
    GOV031 cannot fire, and the gate must not pass nor the verdict say ✅."""
    committed(factory)
    factory.remove(PROMPT)
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "drop the prompt")
    result = govctl("diff", "HEAD~1", "HEAD", "--root", factory.root, "--format", "markdown",
                    "--as-of", AS_OF, "--fail-on", "unapproved")
    assert result.code == 1
    assert result.stdout.startswith("### ❌ govctl: ")
    payload = json.loads(govctl("diff", "HEAD~1", "HEAD", "--root", factory.root, "--format",
                                "json", "--as-of", AS_OF).stdout)
    assert payload["unapproved"] == ["claims-triage"]
    assert [f["rule"] for f in payload["impacts"]] == ["GOV022"]


def test_a_reapproval_that_breaches_its_own_contract_is_not_reapproved(govctl, factory):
    """GOV036 is one of the GOV034-GOV038 a good approval satisfies (SPEC §3 diff)."""
    committed(factory)
    factory.edit(PROMPT, "You triage claims.", "You triage claims with care.")
    approved = govctl("approve", "claims-triage", "--approver", "bob:risk-officer",
                      "--approver", "carol:model-owner", "--eval-result",
                      "triage_agreement=0.95", "--root", factory.root, "--as-of", "2026-11-21")
    assert approved.code == 0, approved.stderr
    factory.edit("approvals/claims-triage-2026-11-21.yaml", "triage_agreement: 0.95",
                 "triage_agreement: 0.5")
    commit(factory.root, BOB, "2026-11-21T09:00:00Z", "re-approve")
    payload = json.loads(govctl("diff", "HEAD~1", "HEAD", "--root", factory.root, "--format",
                                "json", "--as-of", AS_OF).stdout)
    assert payload["unapproved"] == ["claims-triage"]
    assert payload["reapproved"] == []
    assert "GOV036" in {f["rule"] for f in payload["impacts"]}


def test_a_good_reapproval_is_named_with_its_approvers(govctl, factory):
    committed(factory)
    factory.edit(PROMPT, "You triage claims.", "You triage claims with care.")
    approved = govctl("approve", "claims-triage", "--approver", "bob:risk-officer",
                      "--approver", "carol:model-owner", "--root", factory.root,
                      "--as-of", "2026-11-21")
    assert approved.code == 0, approved.stderr
    commit(factory.root, BOB, "2026-11-21T09:00:00Z", "re-approve")
    result = govctl("diff", "HEAD~1", "HEAD", "--root", factory.root, "--format", "json",
                    "--as-of", AS_OF, "--fail-on", "unapproved")
    assert result.code == 0, result.stdout
    assert json.loads(result.stdout)["reapproved"] == [{
        "use_case": "claims-triage", "approval": "claims-triage-2026-11-21",
        "approvers": ["Bob Risk (risk-officer)", "Carol Model (model-owner)"]}]
    # committed by someone who is not an approver: not re-approved, whatever it says
    factory.edit("approvals/claims-triage-2026-11-21.yaml", 'valid_until: "2027-05-20"',
                 'valid_until: "2027-05-19"')
    commit(factory.root, DAVE, "2026-11-22T09:00:00Z", "touch the approval")
    payload = json.loads(govctl("diff", "HEAD~2", "HEAD", "--root", factory.root, "--format",
                                "json", "--as-of", AS_OF).stdout)
    assert payload["reapproved"] == [] and payload["unapproved"] == ["claims-triage"]


def test_who_built_it_is_not_where_it_changed(govctl, factory):
    """`developers` is not in the digest (SPEC §1.3): never a related location of GOV031."""
    committed(factory)
    factory.edit("bundles/triage.yaml", "  class: generative\n",
                 "  class: generative\n  developers: [alice]\n")
    factory.edit("bundles/triage.yaml", "temperature: 0.0", "temperature: 0.7")
    commit(factory.root, DAVE, "2026-10-02T09:00:00Z", "warmer")
    payload = govctl("validate", "--root", factory.root, "--as-of", AS_OF,
                     "--format", "json").json()
    (gov031,) = [f for f in payload["findings"] if f["rule"] == "GOV031"]
    assert [(r["file"], r["line"]) for r in gov031["related"]] == [
        ("bundles/triage.yaml", factory.line_of("bundles/triage.yaml", "temperature"))]
    assert "developers" not in gov031["message"]


def test_a_diamond_of_components_stays_bounded(govctl, factory):
    """Three levels of eight bundles, each listing every bundle of the next, over one
    prompt: 8³ paths to the prompt, compared once each and shown at most MAX_NESTED times."""
    from govctl.rules.compare import MAX_NESTED

    def bundle(name: str, parts: list[str]) -> str:
        listed = f"  components: [{', '.join(parts)}]\n" if parts else \
            "  prompt: {template: prompts/triage.md}\n"
        return (f"apiVersion: govctl/v1\nkind: Bundle\nmetadata: {{id: {name}}}\nspec:\n"
                f"  class: agentic\n  model: chat-2026-03\n{listed}"
                "  eval_set: claims-eval\n")

    levels = [[f"l{level}-{i}" for i in range(8)] for level in range(3)]
    for level, names in enumerate(levels):
        below = levels[level + 1] if level + 1 < len(levels) else []
        for name in names:
            factory.files[f"bundles/{name}.yaml"] = bundle(name, below)
    committed(factory)
    factory.edit(PROMPT, "You triage claims.", "You triage claims with care.")
    payload = json.loads(govctl("diff", "HEAD", "--root", factory.root, "--format", "json",
                                "--as-of", AS_OF).stdout)

    def nodes(fields: list[dict]) -> int:
        return sum(1 + nodes(f.get("changes", [])) for f in fields)

    shown = sum(nodes(f.get("changes", [])) for c in payload["changes"] for f in c["fields"])
    assert 0 < shown <= 2 * MAX_NESTED
    top = next(c for c in payload["changes"] if c["id"] == "l0-0")
    assert top["fields"][0]["component"] == "l1-0"


def test_a_huge_role_count_is_counted_not_repeated(govctl, factory):
    committed(factory)
    factory.edit("governance.yaml", "approvals: [{role: risk-officer}, {role: model-owner}]",
                 "approvals: [{role: risk-officer, count: 9007199254740991}, "
                 "{role: model-owner}]")
    factory.edit(PROMPT, "You triage claims.", "You triage claims with care.")
    result = govctl("diff", "HEAD", "--root", factory.root, "--format", "markdown",
                    "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    assert len(result.stdout) < 20_000
    assert "# and 9,007,199,254,740,986 more risk-officer" in result.stdout
