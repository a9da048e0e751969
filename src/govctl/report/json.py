"""SPEC §3.1 validate JSON (version 1: consumers ignore unknown keys)."""

from __future__ import annotations

import json
from typing import Any

from govctl.history.validation import ValidationResult
from govctl.model.escape import json_safe


def payload(result: ValidationResult) -> dict[str, Any]:
    return {
        "version": 1,
        "root": str(result.root),
        "records": result.records,
        "findings": [f.to_json() for f in result.findings],
        "summary": {"errors": result.errors, "warnings": result.warnings},
    }


def dumps(data: Any) -> str:
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def render(result: ValidationResult) -> str:
    return dumps(payload(result))
