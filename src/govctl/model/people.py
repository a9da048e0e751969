"""People and teams as plain data for outputs: who is accountable, who is on call.

A reference to a Person that does not exist is still shown (by its id, ``known: False``):
the documents and `explain` must say who was named even when the record is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govctl.model.records import Record
from govctl.model.repository import Repository


def person(repo: Repository, person_id: Any) -> dict[str, Any]:
    record = repo.get("Person", person_id)
    if record is None:
        return {"id": person_id, "name": str(person_id), "email": None, "roles": [],
                "known": False}
    # (a record that fails its schema may hold anything: shown by what can be shown,
    # its GOV010 finding says the rest)
    spec = record.spec
    name, email = spec.get("name"), spec.get("email")
    return {"id": record.id, "name": name if isinstance(name, str) and name else record.id,
            "email": email if isinstance(email, str) else None,
            "roles": strings(spec.get("roles")), "known": True}


def strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def oncall_of(record: Record | None) -> Mapping[str, Any]:
    """A Team's ``oncall`` (empty when it has none, or one of the wrong shape)."""
    oncall = record.spec.get("oncall") if record is not None else None
    return oncall if isinstance(oncall, Mapping) else {}


def rotation_of(record: Record | None) -> str | None:
    """The Team's on-call rotation, when it names one."""
    rotation = oncall_of(record).get("rotation")
    return rotation if isinstance(rotation, str) and rotation else None


def team(repo: Repository, team_id: Any) -> dict[str, Any] | None:
    record = repo.get("Team", team_id)
    if record is None:
        return None
    oncall = oncall_of(record)
    pager = oncall.get("pager")
    return {
        "id": record.id, "title": record.title,
        "members": [person(repo, p) for p in strings(record.spec.get("members"))],
        "oncall": {"rotation": rotation_of(record),
                   "pager": pager if isinstance(pager, str) else None,
                   "escalation": [person(repo, p) for p in strings(oncall.get("escalation"))]}
        if oncall else None,
    }
