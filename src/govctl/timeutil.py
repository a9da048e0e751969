"""``--as-of`` and the date arithmetic of SPEC §1.4 (UTC calendar dates)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from govctl.errors import GovctlError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def now() -> datetime:
    return datetime.now(timezone.utc)


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime, or None."""
    if not isinstance(text, str) or len(text) < 20 or text[10] not in "Tt ":
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value.astimezone(timezone.utc)


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
    return day + timedelta(days=days)
