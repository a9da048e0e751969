"""The top-level help, printed without importing typer or rich (GUIDE §5: `govctl --help`
within 150 ms). tests/test_cli_startup.py keeps it equal to the registered commands."""

from __future__ import annotations

SUMMARY = ("Executable AI governance: who approved this model for this use case, how it is "
           "performing against the thresholds it was approved under, and who is on the hook.")

COMMANDS = (
    ("init", "Scaffold a minimal governance repository that validates clean."),
    ("validate", "Check every record: YAML, schemas, references, approvals, policy (SPEC §2)."),
    ("digest", "Print a bundle's digest (SPEC §1.3): what production logs with every "
               "inference."),
    ("approve", "Record an approval bound to the current bundle, contract and eval digests."),
    ("diff", "Semantic diff of the records between two revisions, for pull-request review."),
    ("history", "Timeline of every commit touching a use case or anything it depends on."),
    ("trace", "Which bundle, use case and approvals a digest belongs to, searching history."),
    ("card", "A living model card (Mitchell et al.) regenerated from the records."),
    ("drill", "A tabletop drill sheet: seven steps of a model failure, filled or marked as "
              "gaps."),
    ("audit-pack", "A tamper-evident audit pack: the three answers, timelines, evidence, "
                   "mapping."),
    ("verify", "Check an audit pack against its manifest (and the repository, when at hand)."),
    ("status", "Every use case: verdict, approval, owner, on-call, each signal vs its threshold."),
    ("coverage", "Governance coverage of in-flight use cases against Policy coverage.min."),
    ("explain", "The three answers: who approved it, how it performs, who is on the hook."),
    ("schema", "Print the JSON Schema (2020-12) of a record kind."),
    ("export", "Compile contracts into monitoring configuration."),
)


def top_level_help() -> str:
    width = max(len(name) for name, _ in COMMANDS) + 2
    lines = ["Usage: govctl [OPTIONS] COMMAND [ARGS]...", "", f"  {SUMMARY}", "",
             "Options:", "  -V, --version  Show the version and exit.",
             "  -h, --help     Show this message and exit.", "", "Commands:"]
    lines += [f"  {name.ljust(width)}{summary}" for name, summary in COMMANDS]
    lines += ["", "Every command takes --root DIR; run `govctl COMMAND --help` for its options."]
    return "\n".join(lines) + "\n"
