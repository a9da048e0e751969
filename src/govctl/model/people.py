"""People and teams as plain data for outputs: who is accountable, who is on call.

A reference to a Person that does not exist is still shown (by its id, ``known: False``):
the documents and `explain` must say who was named even when the record is missing.
"""

from __future__ import annotations

from typing import Any

from govctl.model.repository import Repository


def person(repo: Repository, person_id: Any) -> dict[str, Any]:
    record = repo.get("Person", person_id)
    if record is None:
        return {"id": person_id, "name": str(person_id), "email": None, "roles": [],
                "known": False}
    spec = record.spec
    return {"id": record.id, "name": spec.get("name", record.id), "email": spec.get("email"),
            "roles": list(spec.get("roles") or []), "known": True}


def team(repo: Repository, team_id: Any) -> dict[str, Any] | None:
    record = repo.get("Team", team_id)
    if record is None:
        return None
    spec = record.spec
    oncall = spec.get("oncall") or {}
    return {
        "id": record.id, "title": record.title,
        "members": [person(repo, p) for p in spec.get("members") or []],
        "oncall": {"rotation": oncall.get("rotation"), "pager": oncall.get("pager"),
                   "escalation": [person(repo, p) for p in oncall.get("escalation") or []]}
        if oncall else None,
    }
