"""Small helpers the data modules share, so times are written one way everywhere."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PACIFIC = "America/Los_Angeles"
_PACIFIC = ZoneInfo(PACIFIC)


def pacific(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time as AWS states it (PDT in October), made aware."""
    return datetime(year, month, day, hour, minute, tzinfo=_PACIFIC)


def representative(year: int, month: int, day: int = 15) -> datetime:
    """An anchor for a time the sources give only to the day, month or quarter.

    Noon UTC keeps the anchor on the same calendar day in every time zone a
    page might show it in; the precision field says the hour means nothing.
    """
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A fixed UTC time for our own demo workflow (COE review steps)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ticket(number: int) -> str:
    # A demo tracker; the host is reserved for examples.
    return f"https://tickets.example.com/COE-{number}"


__all__ = ["PACIFIC", "date", "pacific", "representative", "ticket", "utc"]
