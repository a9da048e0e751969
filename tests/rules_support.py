"""Helpers shared by the rule tests (GOV030-GOV090): run `validate`, pick findings, and
write the extra records (approvals, people, bundles) a case needs."""

from __future__ import annotations

from typing import Any

from tests.factory import AS_OF, RepoFactory

POLICY = "governance.yaml"
PEOPLE = "people.yaml"
TEAM = "teams/claims.yaml"
MODEL = "models/chat.yaml"
EVAL = "evals/claims-eval.yaml"
BUNDLE = "bundles/triage.yaml"
CONTRACT = "thresholds/triage.yaml"
USE_CASE = "use-cases/triage.yaml"
APPROVAL = "approvals/claims-triage-2026-10-01.yaml"
APPROVAL_ID = "claims-triage-2026-10-01"
APPROVAL_REF = f"Approval/{APPROVAL_ID}"
POPULATION = "Home-insurance claimants, Nordics"


def validate(govctl: Any, factory: RepoFactory, as_of: str = AS_OF,
             *args: object) -> tuple[int, dict[str, Any]]:
    """(exit code, JSON payload) of `govctl validate` over the factory repository."""
    result = govctl("validate", "--root", factory.root, "--as-of", as_of, "--format", "json",
                    *args)
    assert result.code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result.code, result.json()


def of_rule(payload: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in payload["findings"] if f["rule"] == rule]


def rules(payload: dict[str, Any]) -> list[str]:
    return sorted(f["rule"] for f in payload["findings"])


def only(findings: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(findings) == 1, findings
    return findings[0]


def assert_finding(finding: dict[str, Any], *, rule: str, file: str, line: int, record: str,
                   message: str, severity: str = "error") -> None:
    """The finding is ``rule`` at ``file:line`` on ``record`` and its message says
    ``message``."""
    assert finding["rule"] == rule, finding
    assert finding["severity"] == severity, finding
    assert finding["file"] == file, finding
    assert finding["line"] == line, finding
    assert finding["record"] == record, finding
    assert message in finding["message"], finding


def edit_before_build(factory: RepoFactory, rel: str, old: str, new: str) -> None:
    """Change a factory file before it is written, so approvals bind to the result."""
    text = factory.files[rel]
    assert isinstance(text, str) and old in text, f"{old!r} not in {rel}"
    factory.files[rel] = text.replace(old, new, 1)


def approval_yaml(approval_id: str, *, date: str = "2026-10-01", decision: str = "approved",
                  use_case: str = "claims-triage", bundle: str = "triage",
                  contract: str = "triage-contract",
                  approvers: tuple[tuple[str, str], ...] = (("bob", "risk-officer"),
                                                            ("carol", "model-owner")),
                  valid_until: str | None = "2027-03-01", supersedes: str | None = None,
                  results: str = "{triage_agreement: 0.94}",
                  population: str = POPULATION) -> str:
    """An Approval record whose digests are placeholders the factory fills (bound to the
    records as built)."""
    lines = [
        "apiVersion: govctl/v1",
        "kind: Approval",
        f"metadata: {{id: {approval_id}}}",
        "spec:",
        f"  use_case: {use_case}",
        f"  decision: {decision}",
        f'  bundle: {{id: {bundle}, digest: "@digest:Bundle/{bundle}@"}}',
        f'  thresholds: {{id: {contract}, digest: "@digest:ThresholdContract/{contract}@"}}',
        "  eval:",
        "    id: claims-eval",
        '    digest: "@digest:EvalSet/claims-eval@"',
        f"    results: {results}",
        f"  population: {population}",
        "  approvers:",
        *(f"    - {{person: {p}, role: {r}}}" for p, r in approvers),
        f"  date: {date}",
    ]
    if valid_until is not None:
        lines.append(f"  valid_until: {valid_until}")
    if supersedes is not None:
        lines.append(f"  supersedes: {supersedes}")
    return "\n".join(lines) + "\n"


def person_yaml(person_id: str, name: str, roles: list[str]) -> str:
    return (f"apiVersion: govctl/v1\nkind: Person\nmetadata: {{id: {person_id}}}\n"
            f"spec: {{name: {name}, email: {person_id}@acme.test, roles: [{', '.join(roles)}]}}\n")


def add_people(factory: RepoFactory, *people: tuple[str, str, list[str]]) -> None:
    """Extra Person records in ``people-extra.yaml`` (before or after build)."""
    text = "---\n".join(person_yaml(*p) for p in people)
    if (factory.root / POLICY).exists():
        factory.write("people-extra.yaml", text)
    else:
        factory.files["people-extra.yaml"] = text


def set_approvers(factory: RepoFactory, *approvers: tuple[str, str]) -> None:
    """Replace the factory approval's approvers (they are not part of any digest)."""
    path = factory.root / APPROVAL
    text = path.read_text(encoding="utf-8")
    old = "    - {person: bob, role: risk-officer}\n    - {person: carol, role: model-owner}\n"
    assert old in text
    new = "".join(f"    - {{person: {p}, role: {r}}}\n" for p, r in approvers)
    path.write_text(text.replace(old, new), encoding="utf-8")
