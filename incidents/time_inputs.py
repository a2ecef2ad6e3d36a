"""Typing a time as precisely as it is known: a date and time, or just a date, a month or a quarter.

One text input per time (a date-and-time picker cannot take "just the 10th of December"), read
beside the precision chosen for it: "2025-12-10" is a day, "2025-12" a month, "2025-Q4" a
quarter. A time typed finer than its precision is cut to it; one typed coarser than its precision
asks for the missing part, naming what to add, and keeps what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from .models.vocab import TimePrecision
from .times import DATE_PRECISIONS, PreciseTime, anchor, date_anchor

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

# How finely each way of typing a time pins it down, coarsest last.
_GRAIN = [TimePrecision.MINUTE, TimePrecision.DAY, TimePrecision.MONTH, TimePrecision.QUARTER]
_FINEST_ALLOWED = {
    TimePrecision.MINUTE: TimePrecision.MINUTE,
    TimePrecision.HOUR: TimePrecision.MINUTE,
    TimePrecision.DAY: TimePrecision.DAY,
    TimePrecision.MONTH: TimePrecision.MONTH,
    TimePrecision.QUARTER: TimePrecision.QUARTER,
}
_ADD_WHAT = {
    TimePrecision.MINUTE: "the time of day (2025-12-10 14:32)",
    TimePrecision.DAY: "the day (2025-12-10)",
    TimePrecision.MONTH: "the month (2025-12)",
}

HELP_TEXT = "2025-12-10 14:32, or only 2025-12-10 (a day), 2025-12 (a month) or 2025-Q4 when that is all that is known."


@dataclass(frozen=True)
class TypedTime:
    """What was typed: a wall-clock time or a date (no zone yet), and how finely it was typed."""

    value: datetime
    grain: str

    def at(self, precision: str, zone: str) -> datetime:
        """As stored at `precision`, an instant typed in `zone` (incidents.times.anchor)."""
        if precision in DATE_PRECISIONS:
            return date_anchor(self.value.date(), precision)
        return anchor(self.value.replace(tzinfo=ZoneInfo(zone)), precision, zone)

    def missing_for(self, precision: str) -> str | None:
        """What to add for `precision`, or None if what was typed is fine enough."""
        needed = _FINEST_ALLOWED.get(precision, TimePrecision.MINUTE)
        if _GRAIN.index(self.grain) <= _GRAIN.index(needed):
            return None
        label = dict(TimePrecision.choices)[precision].lower()
        return f"Known {label}: add {_ADD_WHAT[needed]}, or choose a coarser precision."


def parse(text: str) -> TypedTime | None:
    text = text.strip()
    for fmt in DATETIME_FORMATS:
        try:
            return TypedTime(datetime.strptime(text, fmt), TimePrecision.MINUTE)
        except ValueError:
            continue
    try:
        return TypedTime(datetime.combine(date.fromisoformat(text), datetime.min.time()), TimePrecision.DAY)
    except ValueError:
        pass
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12 and year >= 1:
            return TypedTime(datetime(year, month, 1), TimePrecision.MONTH)
    if match := _QUARTER.match(text):
        return TypedTime(datetime(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1), TimePrecision.QUARTER)
    return None


class PreciseTimeField(forms.Field):
    """A time typed as text, as precisely as it is known (see the module); cleans to a TypedTime."""

    widget = forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "2025-12-10 14:32"})

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", HELP_TEXT)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        typed = parse(str(value))
        if typed is None:
            raise ValidationError(
                "Enter a date and time like 2025-10-20 06:48, or only a date (2025-10-20) or a month (2025-10).",
                code="invalid",
            )
        return typed


def shown(value: datetime | None, precision: str, zone: str) -> str:
    """A stored time as it is typed back into the input, at its precision, in `zone` if an instant."""
    if value is None:
        return ""
    if precision == TimePrecision.QUARTER:
        day = PreciseTime(value, precision).span()[0]
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if precision == TimePrecision.MONTH:
        return PreciseTime(value, precision).span()[0].strftime("%Y-%m")
    if precision == TimePrecision.DAY:
        return PreciseTime(value, precision).span()[0].strftime("%Y-%m-%d")
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def precision_field(label: str) -> forms.ChoiceField:
    # Not required: a form posted without it (an older page, a script) means "to the minute".
    return forms.ChoiceField(choices=TimePrecision.choices, required=False, initial=TimePrecision.MINUTE, label=label)


def estimated_field(label: str = "Estimated") -> forms.BooleanField:
    return forms.BooleanField(required=False, label=label)
