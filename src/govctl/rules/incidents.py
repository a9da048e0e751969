"""Serious incidents reported in time (GOV090, EU AI Act Art. 73)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from govctl.model.dates import add_days, parse_date, parse_timestamp, utc_date
from govctl.model.findings import Finding
from govctl.model.records import Record
from govctl.rules.registry import Context, check

# Art. 73(2)-(4): 15 days; 10 days for a death; 2 days for widespread infringement or a
# serious and irreversible disruption of critical infrastructure.
REPORTING_DAYS = {"death": 10, "widespread": 2, "other": 15}


def reporting_deadline(incident: Record) -> date | None:
    """UTC date of ``detected`` plus the days allowed (SPEC §1.4)."""
    detected = parse_timestamp(incident.spec["detected"])
    if detected is None:
        return None
    days = REPORTING_DAYS.get(incident.spec.get("serious_kind") or "other", 15)
    return add_days(utc_date(detected), days)


@check("GOV090")
def serious_incident_reporting(ctx: Context) -> Iterator[Finding]:
    for incident in ctx.repo.of_kind("Incident"):
        spec = incident.spec
        if spec.get("serious") is not True:
            continue
        deadline = reporting_deadline(incident)
        detected = parse_timestamp(spec["detected"])
        # UTC dates, like every date rule (SPEC §1.4): findings depend on the as-of day only
        if deadline is None or detected is None or utc_date(detected) > ctx.today:
            continue
        kind = spec.get("serious_kind") or "other"
        rule = f"{REPORTING_DAYS.get(kind, 15)} days for {kind!r}"
        reported = parse_date(spec.get("reported_to_authority"))
        if reported is not None and reported > ctx.today:
            # A report made after --as-of had not happened yet on that day: judge the
            # incident as unreported, so "was this in order on the day?" has the right answer.
            reported = None
        if reported is not None and reported <= deadline:
            continue
        if reported is not None:
            yield ctx.finding(
                "GOV090", incident, ("spec", "reported_to_authority"),
                f"serious incident {incident.id!r} was reported on {reported.isoformat()}, after "
                f"the deadline {deadline.isoformat()} ({rule} from detection)")
        elif ctx.today > deadline:
            yield ctx.finding(
                "GOV090", incident, ("spec", "serious"),
                f"serious incident {incident.id!r} detected {spec['detected']} has not been "
                f"reported to an authority; the deadline {deadline.isoformat()} ({rule}) has "
                "passed: report it and record reported_to_authority")
