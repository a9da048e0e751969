"""SARIF 2.1.0, with rule metadata for every code (SPEC §2)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from govctl import __version__
from govctl.history.validation import ValidationResult
from govctl.model.findings import ERROR, RULES
from govctl.report.json import dumps

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# No `informationUri` on the driver and no `helpUri` on rules (both optional in SARIF
# 2.1.0): govctl has no published home yet, and a URL this project does not control must
# not go into every upload, where whoever registers it decides what it shows.
_LEVEL = {ERROR: "error", "warning": "warning"}


def file_uri(path: str) -> str:
    """A root-relative POSIX path as a SARIF ``uri`` (a URI reference, §3.4.3).

    Spaces, ``#``, ``%``, ``?`` and non-ASCII must be percent-encoded, or consumers read
    ``a#b.yaml`` as ``a`` with a fragment and a space makes the URI invalid.
    """
    return quote(path, safe="/")


def payload(result: ValidationResult) -> dict[str, Any]:
    codes = sorted(RULES)
    index = {code: i for i, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": code,
            "shortDescription": {"text": RULES[code].summary},
            "fullDescription": {"text": f"{RULES[code].summary}. {RULES[code].help}"},
            "help": {"text": RULES[code].help},
            "defaultConfiguration": {"level": _LEVEL[RULES[code].severity]},
        }
        for code in codes
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _LEVEL.get(f.severity, "note"),
            "message": {"text": f.message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": file_uri(result.git_prefix + f.file),
                                         "uriBaseId": "SRCROOT"},
                    "region": {"startLine": f.line, "startColumn": f.column},
                },
                **({"logicalLocations": [{"name": f.record, "kind": "object"}]}
                   if f.record else {}),
            }],
            **({"relatedLocations": [{
                "id": i,
                "physicalLocation": {
                    "artifactLocation": {"uri": file_uri(result.git_prefix + r.file),
                                         "uriBaseId": "SRCROOT"},
                    "region": {"startLine": r.line, "startColumn": r.column},
                },
                "message": {"text": r.message},
            } for i, r in enumerate(f.related)]} if f.related else {}),
        }
        for f in result.findings
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "govctl",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def render(result: ValidationResult) -> str:
    return dumps(payload(result))
