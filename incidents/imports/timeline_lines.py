"""A postmortem's timeline lines read as events, each as precisely as it states its time.

    2024-03-01 14:05 UTC - Deploy started            to the minute, on that date
    14:05 UTC - Deploy started                        to the minute, on the date in force (*)
    Day 2, 09:00 - Rollback                           to the minute, the start's date plus one day
    2024-03-01 - Vendor notified                      to the day
    | 2024-03-01 14:05 | Deploy started |             a table row, the same way

(*) The date in force is the last date the timeline stated (a dated line, or a line or sub-heading
holding a date alone), else the incident's start. A line whose date cannot be known is not made an
event; it stays in the Timeline section's text, which is kept whole. A zone stated on the line
wins, then one the section states ("All times in UTC", "times are PDT"); otherwise UTC, with a warning.
Abbreviations are read as the offset they name (PDT is UTC-7), as the writer stated them.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta, timezone

from incidents.models.vocab import TimelineKind, TimePrecision

from .records import ImportedEvent, ImportedIncident

ZONES = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "PST": -8,
    "PDT": -7,
    "MST": -7,
    "MDT": -6,
    "CST": -6,
    "CDT": -5,
    "EST": -5,
    "EDT": -4,
    "CET": 1,
    "CEST": 2,
    "BST": 1,
    "IST": 5.5,
    "JST": 9,
    "AEST": 10,
    "AEDT": 11,
}
_ZONE = (
    r"(?P<zone>UTC(?:\s*[+-]\s*\d{1,2}(?::?\d{2})?)?|GMT(?:\s*[+-]\s*\d{1,2})?|[+-]\d{2}:?\d{2}|"
    + "|".join(sorted((z for z in ZONES if z not in ("UTC", "GMT")), key=len, reverse=True))
    + r")\b"
)
_TIME = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::\d{2}(?:\.\d+)?)?(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?"
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_MONTH = r"(?P<month>(?i:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?)"

# What may come before the time on a line: a bullet or number, emphasis, a bracket, "about".
_LEAD = (
    r"^\s*(?:#{1,6}\s+)?(?:[-*+]\s+|\d+[.)]\s+)?(?:\*\*|__|\*|_)?\s*\[?\s*"
    r"(?P<about>~|\u2248|(?i:approx\.?|about|around|circa|c\.)\s)?\s*"
)
_STAMPS = [
    re.compile(
        _LEAD
        + r"(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})(?:(?:[ T]+|,\s*)"
        + _TIME
        + r")?\s*(?:"
        + _ZONE
        + r")?"
    ),
    re.compile(
        _LEAD
        + _MONTH
        + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{4}))?(?:(?:,\s*|\s+)(?:at\s+)?"
        + _TIME
        + r")?\s*(?:"
        + _ZONE
        + r")?"
    ),
    re.compile(_LEAD + r"(?i:day)\s+(?P<dayno>\d{1,3})\b(?:\s*[,:]?\s*" + _TIME + r")?\s*(?:" + _ZONE + r")?"),
    re.compile(_LEAD + _TIME + r"\s*(?:" + _ZONE + r")?"),
]
# After the time: closing emphasis or bracket, then a separator, then what happened.
# The separator: a hyphen, an en or em dash, a colon, a bar or a comma.
_REST = re.compile(r"^\s*(?:\*\*|__|\*|_)?\s*\]?\s*\)?\s*(?:[-\u2013\u2014:|,]+\s*|\s)\s*(?P<text>\S.*)$")
_SECTION_ZONE = re.compile(r"\btimes?\b[^.\n]{0,30}?\b" + _ZONE)


def read_timeline(text: str, *, item: ImportedIncident, kinds) -> list[ImportedEvent]:
    reader = _TimelineReader(item, kinds, _section_zone(text))
    events = []
    for line in text.splitlines():
        for row_text, kind in _row(line):
            if event := reader.line(row_text):
                # A table's column naming the kind ("Resolution", as our own export writes it) says it.
                event.kind = kind or event.kind
                events.append(event)
    if reader.undated:
        item.warnings.append(
            f"{reader.undated} timeline line(s) give a time but no date, and the incident has no start date: "
            "kept in the Timeline text, not as events."
        )
    if reader.zoneless and events:
        item.warnings.append("Timeline times without a time zone are read as UTC.")
    return events


def _section_zone(text: str):
    match = _SECTION_ZONE.search(text)
    return _offset(match.group("zone")) if match else None


# A timeline kind by its label, as a table's cell may name it.
_KIND_LABELS = {label.lower(): value for value, label in TimelineKind.choices}


def _row(line: str) -> list[tuple[str, str | None]]:
    """A table row as "first cell | the other cells", with the kind a cell names exactly; any other
    line as it is."""
    stripped = line.strip()
    if not stripped.startswith("|"):
        return [(line, None)]
    cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", stripped.strip("|"))]
    if not cells or all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
        return []
    kind = next((_KIND_LABELS[c.lower()] for c in cells[1:] if c.lower() in _KIND_LABELS), None)
    rest = " \u2014 ".join(c for c in cells[1:] if c and c.lower() not in _KIND_LABELS)
    return [(f"{cells[0]} | {rest}" if rest else cells[0], kind)]


def _offset(zone: str | None):
    if not zone:
        return None
    zone = zone.replace(" ", "")
    if zone in ZONES:
        hours = ZONES[zone]
        return timezone(timedelta(minutes=round(hours * 60)))
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?", zone)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0)))
    return None


class _TimelineReader:
    def __init__(self, item: ImportedIncident, kinds, zone):
        self.item = item
        self.kinds = kinds
        self.zone = zone
        self.day: date | None = None  # the date in force
        self.first_day: date | None = None  # the first date the timeline states
        self.undated = 0
        self.zoneless = False

    def _start_day(self) -> date | None:
        return self.item.started_at.astimezone(UTC).date() if self.item.started_at else self.first_day

    def line(self, line: str) -> ImportedEvent | None:
        for pattern in _STAMPS:
            match = pattern.match(line)
            if match:
                return self._stamp(match, line[match.end() :])
        return None

    def _stamp(self, match: re.Match, after: str) -> ImportedEvent | None:
        groups = match.groupdict()
        day = self._day(groups)
        rest = _REST.match(after)
        if day is False:
            return None
        has_time = groups.get("hour") is not None
        if rest is None:
            # A date alone (a sub-heading, a bold line): the date in force from here on.
            if day is not None and not has_time and not groups.get("dayno"):
                self.day = day
                self.first_day = self.first_day or day
            return None
        if day is None:
            self.undated += 1
            return None
        if groups.get("year") or groups.get("month") or groups.get("dayno"):
            self.day = day
            self.first_day = self.first_day or day
        description = rest.group("text").strip().rstrip("|").strip()
        description = re.sub(r"^(?:\*\*|__)\s*|\s*(?:\*\*|__)$", "", description)
        if groups.get("about"):
            description = f"(About this time) {description}"
        if not has_time:
            when = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return ImportedEvent(when, description, TimePrecision.DAY, self._kind(description))
        hour, minute = int(groups["hour"]), int(groups["minute"])
        if groups.get("ampm"):
            pm = groups["ampm"].lower().startswith("p")
            hour = hour % 12 + (12 if pm else 0)
        if hour > 23 or minute > 59:
            return None
        zone = _offset(groups.get("zone")) or self.zone
        if zone is None:
            self.zoneless = True
            zone = UTC
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        return ImportedEvent(when, description, TimePrecision.MINUTE, self._kind(description))

    def _day(self, groups: dict) -> date | bool | None:
        """The event's date; None if it cannot be known; False if the text is no date at all."""
        try:
            if groups.get("mon"):
                return date(int(groups["year"]), int(groups["mon"]), int(groups["day"]))
            if groups.get("month"):
                month = _MONTHS.index(groups["month"][:3].lower()) + 1
                known = self.day or self._start_day()
                year = int(groups["year"]) if groups.get("year") else (known.year if known else None)
                return date(year, month, int(groups["day"])) if year else None
            if groups.get("dayno"):
                first = self._start_day()
                return first + timedelta(days=int(groups["dayno"]) - 1) if first else None
        except ValueError:
            return False
        return self.day or self._start_day()

    def _kind(self, description: str) -> str:
        lowered = description.lower()
        for kind, pattern in _kind_patterns(self.kinds):
            if pattern.search(lowered):
                return kind
        return TimelineKind.CONTEXT


@functools.cache
def _kind_patterns(kinds) -> tuple[tuple[str, re.Pattern], ...]:
    """One pattern per kind: any of its words, at word boundaries."""
    return tuple(
        (kind, re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b")) for kind, words in kinds
    )
