"""Times known only as precisely as the sources tell them: how they are stored and how they read.

A time carries a precision (minute, hour, day, month, quarter) and an "estimated" mark. Times
known to the minute or the hour are instants, shown in a time zone. Times known to the day or
coarser are calendar dates, not instants: a date has no time zone, so it is stored at 00:00 UTC
of that day (of the first day of the month or quarter) and read back as its UTC date. Noon UTC,
the seeded knowledge base's anchor, reads back as the same date. A date never shows a clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.utils import timezone

from .models.vocab import TimePrecision

# The precisions that name a calendar date (or a month, or a quarter) rather than an instant.
DATE_PRECISIONS = frozenset({TimePrecision.DAY, TimePrecision.MONTH, TimePrecision.QUARTER})
# Known to the minute is what a duration can be measured from without qualification.
EXACT = TimePrecision.MINUTE

ESTIMATED_LABEL = "estimated"


def _zone(zone: str | tzinfo | None) -> tzinfo:
    if zone is None or zone == "":
        return timezone.get_current_timezone()
    return ZoneInfo(zone) if isinstance(zone, str) else zone


def _first_of_period(day: date, precision: str) -> date:
    if precision == TimePrecision.MONTH:
        return day.replace(day=1)
    if precision == TimePrecision.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return day


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _later(compute) -> datetime:
    # The end of an interval at the calendar's end (a typo such as 9999-12-31, refused later by the
    # bounds' validators) is the last time there is, not an OverflowError.
    try:
        return compute()
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=UTC)


def date_anchor(day: date, precision: str) -> datetime:
    """Where a date of this precision is stored: 00:00 UTC of its day (of its month's or quarter's first)."""
    return datetime.combine(_first_of_period(day, precision), datetime.min.time(), UTC)


def anchor(value: datetime | None, precision: str, zone: str | tzinfo | None = None) -> datetime | None:
    """`value` as stored at `precision`: a date precision keeps only the date (the date `value` has in
    its own zone, so a date typed in any zone stays that date) at 00:00 UTC; an hour is floored to the
    hour in `zone`; a minute is kept as it is."""
    if value is None:
        return None
    if precision in DATE_PRECISIONS:
        local = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return date_anchor(local.date(), precision)
    if precision == TimePrecision.HOUR:
        local = value.astimezone(_zone(zone))
        return local.replace(minute=0, second=0, microsecond=0)
    return value


@dataclass(frozen=True)
class PreciseTime:
    """A stored time with what is known about it. `zone` is the zone an instant is shown in (None:
    the site's current zone); dates ignore it."""

    at: datetime
    precision: str = TimePrecision.MINUTE
    estimated: bool = False
    zone: str | None = None

    @property
    def is_date(self) -> bool:
        return self.precision in DATE_PRECISIONS

    @property
    def is_exact(self) -> bool:
        """Known to the minute and not an estimate: a duration from it needs no qualification."""
        return self.precision == EXACT and not self.estimated

    def _day(self) -> date:
        return self.at.astimezone(UTC).date()

    def _local(self) -> datetime:
        local = self.at.astimezone(_zone(self.zone))
        return local.replace(minute=0, second=0, microsecond=0) if self.precision == TimePrecision.HOUR else local

    def span(self) -> tuple[datetime, datetime]:
        """The half-open interval the time lies in, as far as its precision says."""
        if self.precision == TimePrecision.MINUTE:
            start = self.at.replace(second=0, microsecond=0)
            return start, _later(lambda: start + timedelta(minutes=1))
        if self.precision == TimePrecision.HOUR:
            start = self._local()
            return start, _later(lambda: start + timedelta(hours=1))
        first = _first_of_period(self._day(), self.precision)
        months = {TimePrecision.MONTH: 1, TimePrecision.QUARTER: 3}.get(self.precision)
        end = _later(
            lambda: date_anchor(first + timedelta(days=1) if months is None else _add_months(first, months), "day")
        )
        return date_anchor(first, TimePrecision.DAY), end

    def text(self) -> str:
        """As people read it: '2025-12-10 14:32 UTC', '2025-12-10 14:00-15:00 UTC' (an en dash), '2025-12-10',
        'December 2025', 'Q4 2025'; no estimate mark (see label())."""
        if self.precision == TimePrecision.MINUTE:
            return self._local().strftime("%Y-%m-%d %H:%M %Z")
        if self.precision == TimePrecision.HOUR:
            start = self._local()
            end = (start + timedelta(hours=1)).astimezone(start.tzinfo)
            return f"{start:%Y-%m-%d %H:%M}\u2013{end:%H:%M %Z}"
        day = self._day()
        if self.precision == TimePrecision.DAY:
            return day.isoformat()
        if self.precision == TimePrecision.MONTH:
            return day.strftime("%B %Y")
        return f"Q{(day.month - 1) // 3 + 1} {day.year}"

    def label(self) -> str:
        """text() with the estimate said in words, for plain text (Markdown, CSV, chart legends)."""
        return f"{self.text()} ({ESTIMATED_LABEL})" if self.estimated else self.text()

    def date_text(self) -> str:
        """No finer than the day, for lists: '2025-12-10', 'December 2025', 'Q4 2025'."""
        if self.is_date:
            return self.text()
        return self.at.astimezone(_zone(self.zone)).date().isoformat()

    def machine(self) -> str:
        """For <time datetime>: an instant in ISO 8601, a date as 2025-12-10, a month (or a quarter's
        first month) as 2025-12."""
        if not self.is_date:
            return self.at.isoformat()
        day = _first_of_period(self._day(), self.precision)
        return day.isoformat() if self.precision == TimePrecision.DAY else day.strftime("%Y-%m")

    def csv(self) -> str:
        """In a CSV cell: an instant in ISO 8601 (in its own offset, Z for UTC), a date, a month (2025-12)
        or a quarter (2025-Q4)."""
        if self.precision == TimePrecision.QUARTER:
            day = self._day()
            return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        return self.machine() if self.is_date else self.at.isoformat().replace("+00:00", "Z")


def not_before(later: PreciseTime, earlier: PreciseTime) -> bool:
    """Whether `later` can come at or after `earlier`, given how precisely each is known: a detection
    known only to the day may share the day with a start known to the minute."""
    return later.span()[1] > earlier.span()[0]


def elapsed(start: PreciseTime, end: PreciseTime) -> tuple[timedelta, timedelta] | None:
    """The shortest and longest time from `start` to `end` their precisions allow (equal when both are
    known to the minute), or None if `end` cannot come after `start`."""
    if not not_before(end, start):
        return None
    if start.precision == TimePrecision.MINUTE and end.precision == TimePrecision.MINUTE:
        return end.at - start.at, end.at - start.at
    (start_from, start_to), (end_from, end_to) = start.span(), end.span()
    return max(end_from - start_to, timedelta(0)), end_to - start_from


# The incident's four times: the timeline kind each one is, and the incident's fields holding it.
@dataclass(frozen=True)
class Milestone:
    kind: str
    at: str
    precision: str
    estimated: str
    name: str

    def of(self, incident, zone: str | None = None) -> PreciseTime | None:
        value = getattr(incident, self.at)
        if value is None:
            return None
        return PreciseTime(value, getattr(incident, self.precision), getattr(incident, self.estimated), zone)


MILESTONES = (
    Milestone("start", "started_at", "time_precision", "started_estimated", "start"),
    Milestone("detection", "detected_at", "detected_precision", "detected_estimated", "detection"),
    Milestone("mitigation", "mitigated_at", "mitigated_precision", "mitigated_estimated", "mitigation"),
    Milestone("resolution", "resolved_at", "resolved_precision", "resolved_estimated", "resolution"),
)
MILESTONE_BY_KIND = {m.kind: m for m in MILESTONES}
MILESTONE_BY_FIELD = {m.at: m for m in MILESTONES}


def event_time(event) -> PreciseTime:
    return PreciseTime(event.occurred_at, event.precision, event.estimated, event.display_tz)


def span_is_exact(incident, end_field: str) -> bool:
    """Whether the time from the start to `end_field` is measured from two exact times."""
    start, end = MILESTONES[0].of(incident), MILESTONE_BY_FIELD[end_field].of(incident)
    return bool(start and end and start.is_exact and end.is_exact)
