"""What changed between two versions of one record, and what the change does to the
controls (SPEC §3.2): each field change is loosened, tightened, neutral, or needs
re-approval. Pure functions of the records in hand: the semantic diff of revisions
(``history.diff``) and the stale-approval messages (``rules.decisions``) both build on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from govctl.model.durations import seconds
from govctl.model.records import DEFAULT_REQUIRED_SIGNALS
from govctl.model.textdiff import TextDiff

LOOSENED, TIGHTENED, NEUTRAL, REAPPROVAL = "loosened", "tightened", "neutral", "reapproval"
_ABSENT = None  # how a missing value is shown in old/new


@dataclass(frozen=True)
class Where:
    """Where a change is in the newer revision: a node of a record (``doc`` and ``path``)
    or a line of a plain file (a prompt template, a runbook)."""

    file: str  # root-relative
    doc: int | None = None  # the record's document in ``file``; None for a plain file
    path: tuple[str | int, ...] = ()  # inside the record's document
    line: int | None = None  # in a plain file: the first changed line


@dataclass(frozen=True)
class FieldChange:
    path: str  # dotted, relative to spec ("signals.drift.max"); metadata as "metadata.title"
    old: Any
    new: Any
    effect: str
    # the same path as keys, for classifying it: a key may itself hold a dot (a signal
    # named "lat.p99"), which the dotted text cannot tell apart
    parts: tuple[str | int, ...] = ()
    text_diff: TextDiff | None = None  # a changed text file reference, line by line
    component: str | None = None  # a changed components[i] digest: the component's id ...
    changes: tuple[FieldChange, ...] = ()  # ... and its own field changes
    where: Where | None = None  # where the change is now (for related locations)

    def json(self, hint: Callable[[TextDiff], str] | None = None) -> dict[str, Any]:
        """SPEC §3.1; ``hint`` names the command that shows a capped text diff whole."""
        out = {"path": self.path, "old": self.old, "new": self.new, "effect": self.effect}
        if self.text_diff is not None:
            out["text_diff"] = self.text_diff.text(hint(self.text_diff) if hint else "")
        if self.component is not None:
            out["component"] = self.component
            out["changes"] = [c.json(hint) for c in self.changes]
        return out

    def leaves(self) -> list[FieldChange]:
        """The changes a reviewer edits: a component's own changes (recursively) in place
        of the component's digest."""
        if self.changes:
            return [leaf for c in self.changes for leaf in c.leaves()]
        return [self]


# -- flattening ----------------------------------------------------------------------------

_BY_INDEX = {("Bundle", ("tools",)), ("Bundle", ("components",))}
Parts = tuple[str | int, ...]


def _flatten(kind: str, value: Any, prefix: Parts, out: dict[Parts, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(kind, item, (*prefix, str(key)), out)
    elif isinstance(value, list) and (kind, prefix) in _BY_INDEX:
        for i, item in enumerate(value):
            _flatten(kind, item, (*prefix, i), out)
    else:
        out[prefix] = value  # scalars, empty maps and most lists compare whole


def _leaves(kind: str, data: Mapping[str, Any]) -> dict[Parts, Any]:
    out: dict[Parts, Any] = {}
    if not isinstance(data, Mapping):  # a document that is no mapping: nothing to compare
        return out
    spec = data.get("spec")
    _flatten(kind, spec if isinstance(spec, Mapping) else {}, (), out)
    meta = data.get("metadata")
    if isinstance(meta, Mapping):
        for key in ("title", "labels"):
            if key in meta:
                _flatten(kind, meta[key], ("metadata", key), out)
    return out


def dotted(parts: Parts) -> str:
    """``signals.drift.max``, ``tools[0].version``; a key that holds a dot, a bracket or a
    quote is quoted (``signals."lat.p99".max``), so the text names one path only."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        shown = part if part and not any(c in part for c in '.[]"\'' ) and \
            not any(c.isspace() for c in part) else '"' + part.replace("\\", "\\\\").replace(
                '"', '\\"') + '"'
        out += ("." if out else "") + shown
    return out


# -- effects ------------------------------------------------------------------------------

_TIER_RANK = {"minimal": 0, "limited": 1, "high": 2, "prohibited": 3}  # strictness
_ACTION_RANK = {"page-only": 0, "fallback": 1, "rollback": 2, "disable": 3}
_SEVERITY_RANK = {"ticket": 0, "page": 1}
_DECISION_RANK = {"approved": 0, "conditional": 1, "rejected": 2}
_PROVENANCE_RANK = {"none": 0, "author": 1, "signed": 2}
_RULE_RANK = {"off": 0, "warning": 1, "error": 2}


# -- values as an invalid record may hold them ----------------------------------------------
#
# The records compared may be invalid (a diff must still classify a pull request that breaks
# the schema; GOV010 is validate's to report): any field may hold any YAML value. A value
# that no control can read where a limit or a requirement was counts as the control lost.


def _rank_of(value: Any, rank: Mapping[Any, int]) -> int | None:
    try:
        return rank.get(value)
    except TypeError:  # a list or a mapping where a word belongs
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _items(value: Any) -> list[Any]:
    """A list field as a list: absent is empty, a scalar or a mapping where a list belongs
    is one item (its roles, people or signals are then nobody's)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def _by_rank(old: Any, new: Any, rank: Mapping[Any, int]) -> str:
    """Tightened when the strictness rank rises, loosened when it falls."""
    a, b = _rank_of(old, rank), _rank_of(new, rank)
    if a is not None and b is None and new is not None:
        return LOOSENED  # a word no control reads (`action: disabled`): the control is lost
    if a is None and b is not None and old is not None:
        return TIGHTENED  # ... or restored
    if a is None or b is None or a == b:
        return NEUTRAL
    return TIGHTENED if b > a else LOOSENED


def _number(old: Any, new: Any, looser_when_higher: bool, absent_is_loosest: bool) -> str:
    """Numbers: a limit raised (or lowered) loosens; removing the limit loosens."""
    if old is None and new is None:
        return NEUTRAL
    if new is None:
        return LOOSENED if absent_is_loosest else TIGHTENED
    if old is None:
        return TIGHTENED if absent_is_loosest else LOOSENED
    if not _is_number(old) or not _is_number(new):
        # a number no control can read any more (`max: lots`) holds nothing: the control
        # is lost (or restored)
        if _is_number(old) == _is_number(new):
            return NEUTRAL
        return LOOSENED if _is_number(old) else TIGHTENED
    if old == new or old != old or new != new:  # (NaN compares with nothing)
        return NEUTRAL
    return LOOSENED if (new > old) == looser_when_higher else TIGHTENED


def _contract_effect(parts: Parts, old: Any, new: Any) -> str:
    if parts[0] == "signals" and len(parts) == 2:  # a whole signal added or removed
        return LOOSENED if new is None else TIGHTENED if old is None else NEUTRAL
    if parts[0] == "signals" and len(parts) >= 3:
        field = parts[2]
        if field in ("metric", "query"):
            return LOOSENED  # the yardstick itself moved (vector(0) never alerts): look
        if field == "max":
            return _number(old, new, looser_when_higher=True, absent_is_loosest=True)
        if field == "min":
            return _number(old, new, looser_when_higher=False, absent_is_loosest=True)
        if field == "window":
            a, b = seconds(old if old is not None else "1h"), seconds(
                new if new is not None else "1h")
            if a == b:
                return NEUTRAL
            if a is None or b is None:  # a window no alert can have (GOV045): the control
                return LOOSENED if b is None else TIGHTENED  # is lost, or restored
            return LOOSENED if b > a else TIGHTENED
        if field == "severity":
            return _by_rank(old, new, _SEVERITY_RANK)
    if parts == ("on_breach", "action"):
        return _by_rank(old, new, _ACTION_RANK)
    return NEUTRAL


def _usecase_effect(parts: Parts, old: Any, new: Any) -> str:
    if parts == ("risk", "tier"):
        return _by_rank(old, new, _TIER_RANK)
    if parts == ("risk", "exposure_usd"):
        return _number(old or 0, new or 0, looser_when_higher=False, absent_is_loosest=False)
    return NEUTRAL


def _date_later(old: Any, new: Any) -> str:
    if old == new:
        return NEUTRAL
    if new is None:
        return LOOSENED  # no end date any more
    if old is None:
        return TIGHTENED
    return LOOSENED if str(new) > str(old) else TIGHTENED


def _set_effect(old: Any, new: Any, key: Any = repr) -> str:
    """Lists where removing an entry loosens (approvers, conditions)."""
    a = {_hashable(key(x)) for x in _items(old)}
    b = {_hashable(key(x)) for x in _items(new)}
    if a - b:
        return LOOSENED
    return TIGHTENED if b - a else NEUTRAL


def _approval_effect(parts: Parts, old: Any, new: Any) -> str:
    """An approval is a decision already taken: editing it in place is loosened, except
    the tightenings SPEC §3.2 lists (an approver or a condition added, valid_until
    shortened, the decision turned to rejected)."""
    field = parts[0]
    if field == "approvers":
        effect = _set_effect(old, new, key=lambda a: (a.get("person"), a.get("role"))
                             if isinstance(a, Mapping) else repr(a))
    elif field == "valid_until":
        effect = _date_later(old, new)
    elif field == "conditions":
        effect = _set_effect(old, new)
    elif field == "decision":
        return TIGHTENED if new == "rejected" and old != "rejected" else LOOSENED
    else:
        return LOOSENED  # a later date, another population, other results or digests
    return LOOSENED if effect == NEUTRAL else effect  # (a reorder is no change at all)


def _roles(items: Any) -> dict[str, int]:
    roles: dict[str, int] = {}
    for item in _items(items):
        if isinstance(item, Mapping) and isinstance(item.get("role"), str):
            roles[item["role"]] = max(roles.get(item["role"], 0), _count(item.get("count", 1)))
    return roles


def _count(value: Any) -> int:
    """An approver count; one no rule can read (`count: lots`) asks for nobody."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _requirements_effect(old: Any, new: Any) -> str:
    a, b = _roles(old), _roles(new)
    if any(b.get(role, 0) < n for role, n in a.items()):
        return LOOSENED
    return TIGHTENED if any(a.get(role, 0) < n for role, n in b.items()) else NEUTRAL


def _policy_effect(parts: Parts, old: Any, new: Any) -> str:
    path = ".".join(str(p) for p in parts)  # (Policy keys hold no dots, but tier names)
    if parts == ("signals", "required"):
        # absent means the default list: writing a shorter list where there was none
        # removes required signals
        return _set_effect(DEFAULT_REQUIRED_SIGNALS if old is None else old,
                           DEFAULT_REQUIRED_SIGNALS if new is None else new)
    if parts[0] == "risk_tiers" and len(parts) >= 3:
        field = parts[2]
        if field == "approvals":
            return _requirements_effect(old, new)
        if field == "allowed":
            return LOOSENED if old is False and new is not False else (
                TIGHTENED if new is False and old is not False else NEUTRAL)
        if field == "max_validity_days":
            return _number(old, new, looser_when_higher=True, absent_is_loosest=True)
    if path == "exposure_rules":
        return _exposure_effect(old, new)
    if path == "eval_max_age_days":
        return _number(old if old is not None else 180, new if new is not None else 180,
                       looser_when_higher=True, absent_is_loosest=True)
    if path == "deprecation_notice_days":
        return _number(old if old is not None else 90, new if new is not None else 90,
                       looser_when_higher=False, absent_is_loosest=False)
    if path == "separation_of_duties":
        return _by_rank(True if old is None else old, True if new is None else new,
                        {False: 0, True: 1})
    if path == "approvals.provenance":
        return _by_rank(old or "author", new or "author", _PROVENANCE_RANK)
    if parts[0] == "rules" and len(parts) == 2:
        from govctl.model.findings import RULES

        default = RULES[parts[1]].severity if parts[1] in RULES else "error"
        return _by_rank(old or default, new or default, _RULE_RANK)
    if parts[0] == "independence":
        return _set_effect(_listed(old, parts), _listed(new, parts))
    if parts == ("exercises", "every_days"):
        return _number(365 if old is None else old, 365 if new is None else new,
                       looser_when_higher=True, absent_is_loosest=True)
    if parts == ("exercises", "tiers"):
        return _set_effect(["high"] if old is None else old, ["high"] if new is None else new)
    if parts == ("coverage", "min"):
        return _number(0.8 if old is None else old, 0.8 if new is None else new,
                       looser_when_higher=False, absent_is_loosest=False)
    return NEUTRAL


def _listed(value: Any, parts: Parts) -> list[Any]:
    """``independence`` as flattened: one role's list, or (the whole map) every role's
    exclusions as (role, who) pairs, so a role dropped whole loosens too."""
    if isinstance(value, Mapping):
        return [(role, who) for role, items in value.items() for who in _items(items)]
    if isinstance(value, list) and len(parts) == 2:
        return [(parts[1], who) for who in value]
    return []


def _granted(old: Any, new: Any, key: Any = repr) -> str:
    """Lists that grant power (a Person's roles and signing keys, a Team's members):
    anything added loosens, anything only removed tightens."""
    a = {key(x) for x in old or []} if isinstance(old, list) else set()
    b = {key(x) for x in new or []} if isinstance(new, list) else set()
    if b - a:
        return LOOSENED
    return TIGHTENED if a - b else NEUTRAL


def _person_effect(parts: Parts, old: Any, new: Any) -> str:
    if parts[0] in ("roles", "signing_keys"):
        return _granted(old, new, key=lambda k: " ".join(str(k).split()[:2]))
    return NEUTRAL


def _team_effect(parts: Parts, old: Any, new: Any) -> str:
    if parts[0] == "members":
        return LOOSENED if _granted(old, new) == LOOSENED else NEUTRAL
    if parts[0] == "oncall" and len(parts) >= 2 and parts[1] in (
            "rotation", "receiver", "ticket_receiver"):
        return LOOSENED  # where pages go: a reviewer must look
    if parts == ("oncall",) and old != new:
        return LOOSENED
    return NEUTRAL


def _exposure_effect(old: Any, new: Any) -> str:
    """Exposure rules: a rule removed, its min_usd raised or its roles reduced loosens."""
    def rules(items: Any) -> list[tuple[float, dict[str, int]]]:
        return [(_amount(r.get("min_usd", 0)), _roles(r.get("require")))
                for r in _items(items) if isinstance(r, Mapping)]

    a, b = rules(old), rules(new)
    loosened = tightened = False
    for threshold, roles in a:
        # the old rule is still covered when some new rule starts at or below it and asks
        # for at least the same roles
        if not any(t <= threshold and all(r.get(k, 0) >= n for k, n in roles.items())
                   for t, r in b):
            loosened = True
    for threshold, roles in b:
        if not any(t <= threshold and all(r.get(k, 0) >= n for k, n in roles.items())
                   for t, r in a):
            tightened = True
    return LOOSENED if loosened else TIGHTENED if tightened else NEUTRAL


def _amount(value: Any) -> float:
    """An exposure rule's ``min_usd``; one no rule can read (`"1M"`) applies to nothing."""
    if not _is_number(value):
        return math.inf
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double: beyond any exposure too
        return math.inf
    return number if not math.isnan(number) else math.inf


_MODEL_IDENTITY = ("provider", "name", "type", "snapshot", "artifact")


def effect(kind: str, parts: Parts, old: Any, new: Any) -> str:
    if not parts or parts[0] == "metadata":
        return NEUTRAL
    if kind == "Bundle":
        # every spec field is a digest input, but who built it (SPEC §1.3)
        return NEUTRAL if parts[0] == "developers" else REAPPROVAL
    if kind == "Model":
        return REAPPROVAL if parts[0] in _MODEL_IDENTITY else NEUTRAL
    if kind == "EvalSet":
        return REAPPROVAL if parts[0] in ("digest", "path") else NEUTRAL
    handler = {"ThresholdContract": _contract_effect, "UseCase": _usecase_effect,
               "Approval": _approval_effect, "Policy": _policy_effect,
               "Person": _person_effect, "Team": _team_effect}.get(kind)
    if handler is None:
        return NEUTRAL
    try:
        return handler(parts, old, new)
    except (TypeError, ValueError, ArithmeticError):
        # a value of a shape no rule above expects (an invalid record): the diff still
        # completes, and a change nothing can classify is one a reviewer must look at
        return LOOSENED


def field_changes(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]
                  ) -> list[FieldChange]:
    """Field-level changes between two versions of one record."""
    a, b = _leaves(kind, old), _leaves(kind, new)
    if kind == "ThresholdContract":
        a, b = _collapse_signals(a, b)
    out = []
    for parts in sorted(set(a) | set(b), key=_path_order):
        va, vb = a.get(parts, _ABSENT), b.get(parts, _ABSENT)
        if va != vb or (parts in a) != (parts in b):
            out.append(FieldChange(dotted(parts), va, vb, effect(kind, parts, va, vb), parts))
    return out


def _path_order(parts: Parts) -> tuple[bool, str]:
    return (bool(parts) and parts[0] == "metadata", dotted(parts))


def _collapse_signals(a: dict[Parts, Any], b: dict[Parts, Any]
                      ) -> tuple[dict[Parts, Any], dict[Parts, Any]]:
    """A signal present on one side only is one change (``signals.<name>``), not one per
    leaf; its value is the whole signal."""
    def names(leaves: dict[Parts, Any]) -> set[str | int]:
        return {p[1] for p in leaves if len(p) >= 2 and p[0] == "signals"}

    in_a, in_b = names(a), names(b)
    only_a, only_b = in_a - in_b, in_b - in_a

    def collapse(leaves: dict[Parts, Any], gone: set[str | int]) -> dict[Parts, Any]:
        out: dict[Parts, Any] = {}
        for parts, value in leaves.items():
            if len(parts) >= 2 and parts[0] == "signals" and parts[1] in gone:
                out.setdefault(parts[:2], {})[dotted(parts[2:])] = value
            else:
                out[parts] = value
        return out

    return collapse(a, only_a), collapse(b, only_b)


def describe(change: FieldChange) -> str:
    """``drift.max 0.2 → 0.3 (loosened)`` — one line for timelines and text output; a
    component by name, with what changed inside it."""
    if change.component is not None and change.changes:
        inner = "; ".join(describe(c) for c in change.changes[:3])
        more = f"; and {len(change.changes) - 3} more" if len(change.changes) > 3 else ""
        return f"component {change.component!r}: {inner}{more}"
    return f"{change.path} {short(change.old)} → {short(change.new)} ({change.effect})"


def short(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, bool):
        return "true" if value else "false"  # as the records write it, not Python's True
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[:15] + "…"
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef"
                                                            for c in value):
        return value[:8] + "…"
    if isinstance(value, (list, dict)):
        import json

        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        return text if len(text) <= 60 else text[:57] + "…"
    return str(value)
