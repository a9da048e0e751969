"""The Policy record read once, with SPEC §1.2 defaults filled in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govctl.model.records import DEFAULT_REQUIRED_SIGNALS, Record


@dataclass(frozen=True)
class RoleRequirement:
    role: str
    count: int


@dataclass(frozen=True)
class Tier:
    name: str
    allowed: bool
    approvals: tuple[RoleRequirement, ...]
    max_validity_days: int | None


@dataclass(frozen=True)
class ExposureRule:
    min_usd: float
    require: tuple[RoleRequirement, ...]


@dataclass(frozen=True)
class Policy:
    """``valid`` is False when there is no usable Policy: tier-dependent rules then skip."""

    valid: bool
    record: Record | None = None
    organization: str | None = None
    required_signals: tuple[str, ...] = DEFAULT_REQUIRED_SIGNALS
    tiers: Mapping[str, Tier] = field(default_factory=dict)
    exposure_rules: tuple[ExposureRule, ...] = ()
    separation_of_duties: bool = True
    eval_max_age_days: int = 180
    deprecation_notice_days: int = 90
    provenance: str = "author"
    # role → who may not count in it: owner | developers | team (GOV038)
    independence: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    # a production use case of these tiers needs an Exercise this recent (GOV043)
    exercise_every_days: int = 365
    exercise_tiers: tuple[str, ...] = ("high",)
    coverage_min: float = 0.8  # `govctl coverage` exits 1 below it


def _requirements(items: Any) -> tuple[RoleRequirement, ...]:
    return tuple(RoleRequirement(i["role"], int(i.get("count", 1))) for i in items or ())


def read_policy(record: Record | None) -> Policy:
    if record is None or not record.valid:
        # Severity overrides still apply from a policy that fails its schema elsewhere.
        rules = {}
        if record is not None and isinstance(record.spec.get("rules"), Mapping):
            rules = {k: v for k, v in record.spec["rules"].items()
                     if v in ("error", "warning", "off")}
        return Policy(valid=False, record=record, rules=rules)
    spec = record.spec
    tiers = {
        name: Tier(name, bool(t.get("allowed", True)), _requirements(t.get("approvals")),
                   t.get("max_validity_days"))
        for name, t in (spec.get("risk_tiers") or {}).items()
    }
    exposure = tuple(ExposureRule(float(r["min_usd"]), _requirements(r["require"]))
                     for r in spec.get("exposure_rules") or ())
    signals = spec.get("signals", {}).get("required")
    return Policy(
        valid=True,
        record=record,
        organization=spec.get("organization"),
        required_signals=tuple(signals) if signals is not None else DEFAULT_REQUIRED_SIGNALS,
        tiers=tiers,
        exposure_rules=exposure,
        separation_of_duties=spec.get("separation_of_duties", True),
        eval_max_age_days=spec.get("eval_max_age_days", 180),
        deprecation_notice_days=spec.get("deprecation_notice_days", 90),
        provenance=spec.get("approvals", {}).get("provenance", "author"),
        independence={role: tuple(excluded) for role, excluded
                      in (spec.get("independence") or {}).items()},
        rules=dict(spec.get("rules") or {}),
        exclude=tuple(spec.get("exclude") or ()),
        # each field defaults on its own (SPEC §1.2)
        exercise_every_days=(spec.get("exercises") or {}).get("every_days", 365),
        exercise_tiers=tuple((spec.get("exercises") or {}).get("tiers", ("high",))),
        coverage_min=float((spec.get("coverage") or {}).get("min", 0.8)),
    )
