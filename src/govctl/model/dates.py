"""``--as-of`` and the date arithmetic of SPEC §1.4 (UTC calendar dates)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from govctl.errors import GovctlError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def now() -> datetime:
    return datetime.now(timezone.utc)


# RFC 3339 §5.6 date-time, strictly: ISO 8601 forms Python's fromisoformat also accepts
# (a space, "+02", "+0200", ",5", basic format) are not RFC 3339, and every reader of the
# records (the schema checks, the rules, other implementations) must agree.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                      r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z")


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime, or None. Built from the parts
    (not ``fromisoformat``, whose accepted forms differ between Python versions)."""
    if not isinstance(text, str):
        return None
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = \
        match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        offset = timedelta(0) if zulu else timedelta(hours=int(off_h), minutes=int(off_m))
        if not zulu and (int(off_h) > 23 or int(off_m) > 59):
            return None
        zone = timezone(-offset if sign == "-" else offset)
        value = datetime(int(year), int(month), int(day), int(hour), int(minute),
                         int(second), micro, tzinfo=zone)
        # an instant the calendar cannot hold in UTC (0001-01-01T00:00:00+01:00,
        # 9999-12-31T23:59:59-01:00) is no timestamp: a schema finding, never a crash
        return value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # out of range: 2026-02-30, 25:00, a leap second
        return None


def parse_date(text: object) -> date | None:
    if not isinstance(text, str) or not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_as_of(text: str | None) -> datetime:
    """``--as-of``: a date (the end of that UTC day) or an RFC 3339 timestamp."""
    if text is None:
        return now()
    day = parse_date(text)
    if day is not None:
        return datetime.combine(day, time.max, tzinfo=timezone.utc)
    stamp = parse_timestamp(text)
    if stamp is None:
        raise GovctlError(f"--as-of {text!r}: expected a date (2026-11-27) or an RFC 3339 "
                          "timestamp (2026-11-27T09:30:00Z)")
    return stamp


def utc_date(instant: datetime) -> date:
    return instant.astimezone(timezone.utc).date()


def add_days(day: date, days: int) -> date:
    """``day`` plus ``days``, clamped to the calendar's ends instead of overflowing (the
    schemas bound day counts; this keeps any other caller from crashing)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min
