"""The Alertmanager configuration that pages each team (SPEC §5, `export alertmanager-routes`).

Every team that owns a use case still in service gets two routes, matched on the labels
the alert rules carry (``team``, ``severity``): its ``page`` alerts go to a receiver named
after its on-call rotation with the body of ``oncall.receiver``, its ``ticket`` alerts
(missing-data alerts among them) to ``<rotation>-ticket`` with ``oncall.ticket_receiver``
(else ``receiver``). The bodies are exported verbatim: GOV044 keeps secrets out of them.

Receiver names never collide: two teams may name the same rotation, and a rotation may be
called ``x-ticket`` or ``govctl-default``. A name wanted more than once (or reserved) gets
the team's id appended (``<name>-<team>``), then a number if that is still taken.

What cannot page anyone is said, not hidden (:attr:`AlertmanagerConfig.gaps`): a team
with no rotation (its alerts fall to the default receiver) and a team with no receiver
(its receivers have no integration: Alertmanager accepts them and notifies no one).

Two forms:

* the whole configuration: a root route whose default receiver, ``govctl-default``, takes
  anything unrouted (it has no integration: point it somewhere, or use the other form);
* ``routes_only``: one route to nest first under an existing root route, matching only
  govctl's alerts (``alertname=~"Govctl.+"``) and without a receiver of its own, so what
  it does not route falls to the parent's receiver, plus the receivers to append.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govctl.errors import EXIT_FINDINGS, GovctlError
from govctl.model.escape import printable
from govctl.model.people import oncall_of, rotation_of
from govctl.model.receivers import RECEIVER_FIELDS, inline_secrets, receiver_bodies
from govctl.model.records import Record
from govctl.model.repository import Repository

DEFAULT_RECEIVER = "govctl-default"
GOVCTL_ALERTS = 'alertname=~"Govctl.+"'  # every alert `export prometheus-rules` writes
GROUP_BY = ["alertname", "use_case"]
_SHOWN_PROBLEMS = 5  # in the one-line refusal; `govctl validate` lists them all


@dataclass(frozen=True)
class TeamReceivers:
    team: str
    rotation: str
    page: str  # receiver names
    ticket: str
    page_body: Mapping[str, Any] | None
    ticket_body: Mapping[str, Any] | None


@dataclass(frozen=True)
class AlertmanagerConfig:
    document: dict[str, Any]
    teams: tuple[TeamReceivers, ...]
    gaps: tuple[str, ...]  # what will page no one, one sentence each


class UnexportableReceivers(GovctlError):
    """`export alertmanager-routes` refuses: a receiver it would export is not one
    Alertmanager accepts (the Team fails its schema) or holds a secret inline (GOV044).
    Exit 1, as for findings; nothing is written."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        super().__init__(
            f"refusing to write the Alertmanager configuration: {len(problems)} problem(s) "
            f"(run `govctl validate`): {shown}" + (f"; and {more} more" if more > 0 else ""),
            EXIT_FINDINGS)
        self.problems = tuple(problems)


def alertmanager_config(repo: Repository, routes_only: bool = False) -> AlertmanagerConfig:
    teams, gaps = _owning_teams(repo)
    _refuse_unexportable(team for team, _ in teams)
    wired = _name_receivers(teams)
    for entry in wired:
        if entry.page_body is None:
            gaps.append(f"Team {entry.team!r} has no oncall.receiver: its receivers "
                        f"{entry.page!r} and {entry.ticket!r} notify no one until one is "
                        "added")
    routes = []
    for entry in wired:
        for severity, receiver in (("page", entry.page), ("ticket", entry.ticket)):
            routes.append({"receiver": receiver,
                           "matchers": [f"team={_quoted(entry.team)}",
                                        f"severity={_quoted(severity)}"],
                           "continue": False})
    receivers = []
    for entry in wired:
        receivers.append(_receiver(entry.page, entry.page_body))
        receivers.append(_receiver(entry.ticket, entry.ticket_body))
    if routes_only:
        route: dict[str, Any] = {"matchers": [GOVCTL_ALERTS], "group_by": GROUP_BY,
                                 "continue": False, "routes": routes}
    else:
        route = {"receiver": DEFAULT_RECEIVER, "group_by": GROUP_BY, "routes": routes}
        receivers.insert(0, {"name": DEFAULT_RECEIVER})
    return AlertmanagerConfig({"route": route, "receivers": receivers}, tuple(wired),
                              tuple(gaps))


def _refuse_unexportable(teams: Iterable[Record]) -> None:
    problems = []
    for team in teams:
        oncall = oncall_of(team)
        if not any(field in oncall for field in RECEIVER_FIELDS):
            continue
        bodies = list(receiver_bodies(oncall))
        where = f"Team {printable(team.id)!r} ({printable(team.file)}:{team.line})"
        if not team.valid:
            problems.append(f"{where} fails its schema (GOV010): its receivers may not be "
                            "ones Alertmanager accepts")
        secrets = sum(1 for _, body in bodies for _ in inline_secrets(body))
        if secrets:
            problems.append(f"{where} writes {secrets} secret(s) inline in its receivers "
                            "(GOV044): use *_file fields")
    if problems:
        raise UnexportableReceivers(problems)


def _owning_teams(repo: Repository) -> tuple[list[tuple[Record, str]], list[str]]:
    """The teams that own a use case in service (retired ones have no alerts), with their
    rotation, sorted by id; and a sentence for each one that has no rotation."""
    owners: dict[str, Record] = {}
    missing: set[str] = set()
    gaps: list[str] = []
    for use_case in repo.of_kind("UseCase"):
        if use_case.spec.get("status") == "retired":
            continue
        team_id = use_case.spec.get("team")
        team = repo.get("Team", team_id)
        if team is not None:
            owners[team.id] = team
        elif isinstance(team_id, str):
            missing.add(team_id)
    gaps += [f"no Team record {printable(team_id)!r}, which a use case names: its alerts go "
             "to the default receiver" for team_id in sorted(missing)]
    teams = []
    for team_id, team in sorted(owners.items()):
        rotation = rotation_of(team)  # (a Team failing its schema may hold anything there)
        if rotation is None:
            gaps.append(f"Team {team_id!r} has no on-call rotation: its alerts go to the "
                        "default receiver")
        else:
            teams.append((team, rotation))
    return teams, gaps


def _name_receivers(teams: list[tuple[Record, str]]) -> list[TeamReceivers]:
    wanted = [(team, rotation, rotation, f"{rotation}-ticket") for team, rotation in teams]
    counts = Counter(name for _, _, page, ticket in wanted for name in (page, ticket))
    taken = {DEFAULT_RECEIVER}
    result = []
    for team, rotation, page, ticket in wanted:
        names = []
        for name, suffix in ((page, ""), (ticket, "-ticket")):
            if counts[name] > 1 or name in taken:
                name = f"{rotation}-{team.id}{suffix}"
            base, number = name, 2
            while name in taken:
                name = f"{base}-{number}"
                number += 1
            taken.add(name)
            names.append(name)
        oncall = oncall_of(team)
        page_body = _body(oncall.get("receiver"))
        ticket_body = _body(oncall.get("ticket_receiver")) or page_body
        result.append(TeamReceivers(team.id, rotation, names[0], names[1], page_body,
                                    ticket_body))
    return result


def _body(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) and value else None


def _receiver(name: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": name}
    if body is not None:
        receiver.update((key, value) for key, value in body.items() if key != "name")
    return receiver


def _quoted(value: str) -> str:
    """A matcher value in double quotes, escaped as Alertmanager's matcher parser reads it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
