"""Findings and the catalog of rule codes (SPEC §2).

Rule codes are stable public identifiers: they appear in output, in SARIF rule
metadata and in ``Policy.rules`` severity overrides. Add codes; never renumber.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from govctl.errors import GovctlError
from govctl.model.escape import printable

ERROR = "error"
WARNING = "warning"
OFF = "off"
SEVERITIES = (ERROR, WARNING, OFF)


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str  # default severity
    summary: str
    help: str  # what to do about it


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule("GOV001", ERROR, "YAML syntax error", "Fix the YAML syntax at the reported position."),
        Rule("GOV002", ERROR, "duplicate mapping key",
             "Remove or rename one of the keys; YAML would silently keep only one of them."),
        Rule("GOV003", ERROR,
             "unsafe or unknown tag, nesting too deep, or alias expansion over limit",
             "Use plain YAML values (only !!str !!int !!float !!bool !!null !!map !!seq), "
             "at most 100 levels of nesting, and few aliases."),
        Rule("GOV004", ERROR, "file unreadable: not UTF-8, over size limit, escaping symlink",
             "Save the file as UTF-8, keep it under the size limit, and keep symlinks "
             "inside the governance root."),
        Rule("GOV010", ERROR, "schema violation (type, enum, required, unknown key)",
             "Correct the field as the message says; `govctl schema KIND` prints the schema."),
        Rule("GOV020", ERROR, "reference to a record that does not exist",
             "Fix the id or add the missing record."),
        Rule("GOV021", ERROR, "duplicate id for the same kind",
             "Give each record of a kind its own metadata.id."),
        Rule("GOV022", ERROR, "file reference missing or outside the governance root",
             "Use a normalised POSIX path relative to the governance root, to a file that exists "
             "inside it."),
        Rule("GOV023", ERROR, "component cycle", "Remove one of the components forming the cycle."),
        Rule("GOV030", ERROR, "use case in approved/production without a current approval",
             "Record an approval with `govctl approve`, or move the use case back to intake."),
        Rule("GOV031", ERROR, "stale approval: bundle digest differs from the bundle as it is now",
             "Re-approve the bundle as it is now (`govctl approve`), or revert the change."),
        Rule("GOV032", ERROR, "stale approval: threshold contract changed since approval",
             "Re-approve under the new contract, or revert the contract change."),
        Rule("GOV033", ERROR,
             "approval expired (valid_until passed, or older than the tier's max validity)",
             "Renew the approval with `govctl approve`."),
        Rule("GOV034", ERROR, "approvers do not satisfy the tier's / exposure's required roles",
             "Add approvers holding the required roles."),
        Rule("GOV035", ERROR, "separation of duties: owner counted as approver",
             "Have someone other than the use case's owner approve."),
        Rule("GOV036", ERROR, "eval results recorded at approval breach the thresholds of the "
             "contract that approval binds",
             "Improve the system or revisit the contract before approving."),
        Rule("GOV037", ERROR, "approver is not a known Person or lacks the claimed role",
             "Add the Person record or the role, or correct the approver."),
        Rule("GOV038", ERROR, "approver not independent (Policy independence): owner, developer "
             "of a model or bundle in the closure, or member of the owning team, counted in a "
             "role that forbids it",
             "Have someone independent of the system approve in that role (effective "
             "challenge), or correct the developers and team records."),
        Rule("GOV040", ERROR, "production contract misses a required signal",
             "Add the signal to the threshold contract."),
        Rule("GOV041", ERROR, "owning team has no on-call rotation",
             "Add `oncall.rotation` to the team."),
        Rule("GOV042", WARNING, "no fallback declared for a production use case",
             "Declare `fallback`: what happens when the system is switched off."),
        Rule("GOV043", WARNING, "no tabletop Exercise within exercises.every_days for a "
             "production use case of a listed tier, or an Exercise gap still open past its "
             "due date",
             "Run `govctl drill USE_CASE`, hold the exercise and commit an Exercise record; "
             "close its gaps or agree new dates."),
        Rule("GOV044", ERROR, "a secret written inline in a Team's receiver or "
             "ticket_receiver (use a *_file field)",
             "Put the secret in a file Alertmanager reads (routing_key_file, "
             "credentials_file, api_url_file, …) and name the file instead."),
        Rule("GOV045", ERROR, "a contract that cannot be exported validly: window not a "
             "Prometheus duration (>0, <=1y), metric not a Prometheus metric name, query not "
             "PromQL, or a runbook URL whose scheme is not https/http",
             "Write the window as Prometheus does (e.g. 1h30m: units y w d h m s ms, each at "
             "most once, largest first), PromQL in `query` and a plain metric name in "
             "`metric`, and an https: runbook URL."),
        Rule("GOV050", WARNING, "model deprecation/retirement within the notice window",
             "Plan the migration and its re-approval."),
        Rule("GOV051", ERROR, "model retired and still in a production bundle",
             "Move the bundle to a supported model and re-approve."),
        Rule("GOV060", WARNING, "eval set older than eval_max_age_days",
             "Collect a fresh evaluation set."),
        Rule("GOV061", WARNING, "eval population differs from the approval's population",
             "Evaluate on the population the approval covers."),
        Rule("GOV070", ERROR, "prohibited tier not allowed by policy",
             "Do not deploy systems in a tier the policy does not allow."),
        Rule("GOV080", ERROR,
             "approval provenance: the commit that introduced the decision was not made "
             "(or signed) by an approver",
             "Have an approver commit (and sign) the approval."),
        Rule("GOV085", ERROR,
             "an observation carries a bundle digest that is not the approved one",
             "Something unapproved is serving: roll back or approve what runs."),
        Rule("GOV090", ERROR, "serious incident not reported to an authority within the legal "
             "deadline (EU AI Act Art. 73)",
             "Report the incident and record `reported_to_authority`."),
    )
}


def quote(value: object, limit: int = 140) -> str:
    """``repr(value)`` for a message, clipped: record text may be megabytes long (the limit
    leaves any valid 128-character id whole)."""
    # a string as written, in quotes: repr() would double every backslash, and JSON output
    # doubles them again (a path "prompts\\x.md" read as 'prompts\\\\x.md'); control
    # characters stay escaped
    text = f"'{printable(value)}'" if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "..." + text[-1]


@dataclass(frozen=True)
class Related:
    """Another place a finding is about (SPEC §2 ``related``): for a stale approval, the
    changed line of the record or file that made it stale. ``file`` as a finding's."""

    file: str
    line: int
    column: int
    message: str

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "message": self.message}


@dataclass(frozen=True)
class Finding:
    """One problem. ``file`` is relative to the governance root (POSIX)."""

    rule: str
    severity: str
    file: str
    line: int
    column: int
    record: str | None
    message: str
    # > 0: this finding stands for that many findings of its rule in its file that were
    # left out (SPEC §3: at most FINDINGS_PER_RULE are reported); not part of the output,
    # whose message says it
    left_out: int = 0
    related: tuple[Related, ...] = ()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "record": self.record,
            "message": self.message,
        }
        if self.related:
            out["related"] = [r.to_json() for r in self.related]
        return out


def sort_key(f: Finding) -> tuple[str, int, int, str, str]:
    return (f.file, f.line, f.column, f.rule, f.message)


FINDINGS_PER_RULE = 100  # per rule and file (SPEC §3 conventions)


def left_out_message(rule: str, count: int, at_least: bool = False) -> str:
    """The message of the finding that stands for ``count`` findings left out
    (``at_least``: the check stopped looking for more)."""
    many = count != 1 or at_least
    return (f"… and {'at least ' if at_least else ''}{count:,} more {rule} "
            f"finding{'s' if many else ''} in this file {'were' if many else 'was'} left out "
            f"(at most {FINDINGS_PER_RULE} are reported per rule and file"
            f"{'; the check stopped there' if at_least else ''})")


def cap(findings: Iterable[Finding]) -> list[Finding]:
    """At most ``FINDINGS_PER_RULE`` findings per rule and file (the first ones by
    position), then one finding of the same rule and severity, at the position of the
    first one left out, saying how many were left out (SPEC §3 conventions).

    A finding that already stands for others (``left_out``) is counted as those: capping
    is idempotent, and a loader that stopped collecting early keeps its exact count.
    Otherwise the order of ``findings`` is kept.
    """
    findings = list(findings)
    sizes: dict[tuple[str, str], int] = {}
    for f in findings:
        group = (f.file, f.rule)
        sizes[group] = sizes.get(group, 0) + (f.left_out or 1)
    over = {group for group, size in sizes.items() if size > FINDINGS_PER_RULE}
    if not over:
        return findings
    # which findings of each group are kept: the first ones by position
    kept: set[int] = set()
    omitted: dict[tuple[str, str], list[int]] = {}
    counts: dict[tuple[str, str], int] = {}
    for i in sorted((i for i, f in enumerate(findings) if (f.file, f.rule) in over),
                    key=lambda i: sort_key(findings[i])):
        f = findings[i]
        group = (f.file, f.rule)
        taken = counts.get(group, 0)
        if not f.left_out and taken < FINDINGS_PER_RULE:
            kept.add(i)
            counts[group] = taken + 1
        else:
            omitted.setdefault(group, []).append(i)
    out: list[Finding] = []
    for i, f in enumerate(findings):
        group = (f.file, f.rule)
        if group not in over or i in kept:
            out.append(f)
            continue
        left = omitted[group]  # in position order
        if i != left[0]:
            continue
        if len(left) == 1 and f.left_out:
            out.append(f)  # already the summary (its message may say more: "at least")
            continue
        # the summary: where the first finding left out was, as severe as the worst
        number = sum(findings[j].left_out or 1 for j in left)
        severity = ERROR if any(findings[j].severity == ERROR for j in left) else f.severity
        out.append(replace(f, severity=severity, message=left_out_message(f.rule, number),
                           left_out=number))
    return out


def apply_severities(findings: Iterable[Finding], overrides: Mapping[str, str]) -> list[Finding]:
    """Apply ``Policy.rules`` overrides; findings turned ``off`` are dropped."""
    out: list[Finding] = []
    for f in findings:
        severity = overrides.get(f.rule, f.severity)
        if severity == OFF:
            continue
        out.append(f if severity == f.severity else replace(f, severity=severity))
    return out


def count(findings: Iterable[Finding]) -> tuple[int, int]:
    """(errors, warnings)."""
    errors = warnings = 0
    for f in findings:
        if f.severity == ERROR:
            errors += 1
        elif f.severity == WARNING:
            warnings += 1
    return errors, warnings


def rule_codes(given: Iterable[str], option: str) -> tuple[str, ...]:
    """Rule codes named on the command line, each checked (exit 2 naming a wrong one)."""
    codes = []
    for code in given:
        normal = code.strip().upper()
        if normal not in RULES:
            close = difflib.get_close_matches(normal, list(RULES), n=1)
            hint = f"; did you mean {close[0]}?" if close else "; see docs/rules.md"
            raise GovctlError(f"{option} {quote(code)}: not a rule code{hint}")
        codes.append(normal)
    return tuple(codes)
