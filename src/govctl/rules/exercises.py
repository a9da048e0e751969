"""Tabletop drills that keep recurring (GOV043, SPEC §1.2 `Policy.exercises`).

A production use case of a tier in ``exercises.tiers`` needs an Exercise held within
``exercises.every_days`` of the as-of day; an Exercise dated after the as-of day had not
been held yet on that day and does not count. A gap an Exercise found that is still
``open`` after its ``due`` date is GOV043 too, at the gap. `govctl coverage` reads the
same answer (:func:`exercise_due`) for its ``exercise`` control.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from govctl.model.dates import add_days, parse_date
from govctl.model.findings import Finding
from govctl.model.policy import Policy
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.rules.registry import Context, check


@dataclass(frozen=True)
class ExerciseDue:
    """Why a use case's drill is due: never held, or the last one too long ago."""

    last: Record | None
    last_date: date | None
    due: date | None  # the day the last one stopped counting


def needs_exercise(use_case: Record, policy: Policy) -> bool:
    risk = use_case.spec.get("risk")
    tier = risk.get("tier") if isinstance(risk, Mapping) else None
    return use_case.spec.get("status") == "production" and tier in policy.exercise_tiers


def exercises_of(repo: Repository, use_case_id: str, today: date) -> list[tuple[date, Record]]:
    """The use case's Exercises held on or before ``today``, latest first. An Exercise
    record with errors does not count as held (its GOV010 says why)."""
    held = []
    for exercise in repo.of_kind("Exercise"):  # (valid records only)
        day = parse_date(exercise.spec.get("date"))
        if exercise.spec.get("use_case") == use_case_id and day is not None and day <= today:
            held.append((day, exercise))
    held.sort(key=lambda pair: (pair[0], pair[1].id), reverse=True)
    return held


def exercise_due(repo: Repository, policy: Policy, use_case: Record,
                 today: date) -> ExerciseDue | None:
    """None when the use case needs no drill or its last one is recent enough."""
    if not needs_exercise(use_case, policy):
        return None
    held = exercises_of(repo, use_case.id, today)
    if not held:
        return ExerciseDue(None, None, None)
    day, last = held[0]
    due = add_days(day, policy.exercise_every_days)
    return ExerciseDue(last, day, due) if today > due else None


def overdue_gaps(exercise: Record, today: date) -> Iterator[tuple[int, Mapping[str, object],
                                                                 date]]:
    """``(index, gap, due)`` of each gap still open after its due date."""
    gaps = exercise.spec.get("gaps")
    for index, gap in enumerate(gaps if isinstance(gaps, list) else ()):
        if not isinstance(gap, Mapping) or gap.get("status") != "open":
            continue
        due = parse_date(gap.get("due"))
        if due is not None and today > due:
            yield index, gap, due


@check("GOV043")
def recurring_exercises(ctx: Context) -> Iterator[Finding]:
    for use_case in ctx.use_cases(("production",)):
        due = exercise_due(ctx.repo, ctx.policy, use_case, ctx.today)
        if due is None:
            continue
        every = ctx.policy.exercise_every_days
        if due.last is None:
            message = (f"UseCase {use_case.id!r} (production, tier "
                       f"{use_case.spec['risk']['tier']!r}) has no tabletop Exercise on "
                       f"record; run `govctl drill {use_case.id}`, hold the exercise and "
                       f"commit an Exercise record (every {every} days)")
        else:
            message = (f"UseCase {use_case.id!r}: the last tabletop Exercise "
                       f"({due.last.id!r}, {due.last_date}) is older than {every} days "
                       f"(due {due.due}); hold another and commit it")
        yield ctx.finding("GOV043", use_case, ("spec",), message, at_key=True)
    for exercise in ctx.repo.of_kind("Exercise"):
        for index, gap, day in overdue_gaps(exercise, ctx.today):
            yield ctx.finding(
                "GOV043", exercise, ("spec", "gaps", index, "due"),
                f"Exercise {exercise.id!r}: the {gap.get('step')} gap "
                f"{str(gap.get('summary'))!r} is still open past its due date {day}; close "
                "it (status: closed) or agree a new date")
