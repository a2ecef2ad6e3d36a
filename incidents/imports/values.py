"""Values as earlier tools and people wrote them, read into our vocabularies.

Each reader returns the value it understood and, when it had to guess or gave up, a warning saying so; a
value it could not read is returned empty, and the caller keeps the original text as a note, so nothing
is lost. The choices made here (shown on the import pages too):

- Severity: a number is taken as it is ("Sev 2", "S2", "P2", "2", "SEV2 (major)" are SEV2); our scale
  is 1 (worst) to 4, so 0 reads as SEV1 and 5 or more as SEV4, each with a warning. Words: critical,
  blocker, urgent, highest are SEV1; major, high SEV2; minor, medium, moderate, normal SEV3; low,
  lowest, trivial, info SEV4.
- Status: our values and labels, and the words status pages use (open, identified, monitoring, fixed).
- Primary cause: our values and labels, and a few common words; "human error" is refused, since a
  person's action is a trigger and the cause is what let it do harm.
- Times: ISO 8601 and the usual written forms (python-dateutil). The precision is what the text states:
  "2024-03-05 14:05" to the minute, "2024-03-05" to the day, "March 2024" to the month. A text without a
  year, or with a time zone name we cannot place ("PST"), is not read rather than guessed. A time with no
  zone is in the site's time zone (UTC unless TIME_ZONE says otherwise). Numeric dates are month first
  ("03/04/2024" is 4 March) unless the caller says day first; an ambiguous one gets a warning.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, time

from dateutil import parser as dateparser
from dateutil.parser import UnknownTimezoneWarning
from django.utils import timezone

from incidents.models.vocab import IncidentStatus, PrimaryCause, Severity, TimePrecision


def _plain(text: str) -> str:
    """Lower case, words separated by single spaces: "Sev-1 " and "sev 1" compare equal."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


SEVERITY_WORDS = {
    **dict.fromkeys(("critical", "crit", "blocker", "urgent", "highest"), Severity.SEV1),
    **dict.fromkeys(("major", "high"), Severity.SEV2),
    **dict.fromkeys(("minor", "medium", "moderate", "normal"), Severity.SEV3),
    **dict.fromkeys(("low", "lowest", "trivial", "info", "informational"), Severity.SEV4),
}
_SEVERITY_NUMBER = re.compile(r"^(?:sev(?:erity)?|s|p|priority|level)?\s*(\d+)\b")


def severity_of(text: str) -> tuple[str, str | None]:
    plain = _plain(text)
    if not plain:
        return "", None
    if match := _SEVERITY_NUMBER.match(plain):
        number = int(match.group(1))
        if 1 <= number <= 4:
            return f"SEV{number}", None
        if number == 0:
            return Severity.SEV1, f"Severity {text!r} is above our highest; read as SEV1."
        return Severity.SEV4, f"Severity {text!r} is below our lowest; read as SEV4."
    if severity := SEVERITY_WORDS.get(plain.split(" ")[0]):
        return severity, None
    return "", f"Unknown severity {text!r}."


STATUS_WORDS = {
    **{_plain(choice.label): choice.value for choice in IncidentStatus},
    **{choice.value: choice.value for choice in IncidentStatus},
    **dict.fromkeys(("open", "ongoing", "active", "in progress", "identified", "triage"), IncidentStatus.INVESTIGATING),
    **dict.fromkeys(("monitoring", "mitigating", "workaround"), IncidentStatus.MITIGATED),
    **dict.fromkeys(("fixed", "recovered", "restored"), IncidentStatus.RESOLVED),
    **dict.fromkeys(("done", "complete", "completed", "postmortem complete", "archived"), IncidentStatus.CLOSED),
}


def status_of(text: str) -> tuple[str, str | None]:
    plain = _plain(text)
    if not plain:
        return "", None
    if status := STATUS_WORDS.get(plain):
        return status, None
    return "", f"Unknown status {text!r}."


CAUSE_WORDS = {
    **{_plain(choice.label.split("(")[0]): choice.value for choice in PrimaryCause},
    **{_plain(choice.value): choice.value for choice in PrimaryCause},
    **dict.fromkeys(("config", "configuration", "misconfiguration", "config error"), PrimaryCause.CHANGE_CONFIG),
    **dict.fromkeys(("code", "deploy", "deployment", "bad deploy", "software bug", "bug"), PrimaryCause.CHANGE_CODE),
    **dict.fromkeys(("automation", "tooling"), PrimaryCause.AUTOMATION_DEFECT),
    **dict.fromkeys(
        ("capacity", "overload", "load", "cascading failure", "retry storm"), PrimaryCause.CAPACITY_OVERLOAD
    ),
    **dict.fromkeys(("dependency", "third party", "vendor", "upstream"), PrimaryCause.DEPENDENCY_FAILURE),
    **dict.fromkeys(("permissions", "access", "authorization"), PrimaryCause.ACCESS_CONTROL),
    **dict.fromkeys(("data", "data loss", "data corruption", "database"), PrimaryCause.DATA_INTEGRITY),
    **dict.fromkeys(("hardware", "power", "network hardware"), PrimaryCause.HARDWARE_POWER),
    **dict.fromkeys(("time", "clock", "leap second", "certificate expiry"), PrimaryCause.TIME_CLOCK),
    **dict.fromkeys(("security", "attack", "ddos", "breach"), PrimaryCause.SECURITY_ATTACK),
    **dict.fromkeys(("process", "documentation", "runbook"), PrimaryCause.PROCESS_DOCS),
    **dict.fromkeys(("unknown", "tbd", "undetermined", "unclear"), PrimaryCause.UNDETERMINED),
}
_NOT_A_CAUSE = {"human error", "operator error", "user error", "human"}


def cause_of(text: str) -> tuple[str, str | None]:
    plain = _plain(text)
    if not plain:
        return "", None
    if plain in _NOT_A_CAUSE:
        return "", (
            f"Cause {text!r} is not one we record: a person's action is a trigger, and the cause is the "
            "system or control that let it do harm."
        )
    if cause := CAUSE_WORDS.get(plain):
        return cause, None
    return "", f"Unknown primary cause {text!r}."


# Two far-apart defaults: whatever the text leaves out comes out different, which is how we learn
# how precisely it states the time.
_DEFAULTS = (datetime(2000, 1, 1, 0, 0), datetime(2004, 3, 3, 3, 3))
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\b")


def when_of(value: str | date | datetime | None, *, dayfirst: bool = False) -> tuple[datetime | None, str, str | None]:
    """(the time, its TimePrecision, a warning): (None, "", None) for an empty value, and
    (None, "", warning) for one that cannot be read."""
    if value is None or value == "":
        return None, "", None
    if isinstance(value, datetime):  # a spreadsheet's own date cell
        return _aware(value), TimePrecision.MINUTE, None
    if isinstance(value, date):
        return _aware(datetime.combine(value, time())), TimePrecision.DAY, None
    text = str(value).strip()
    if not text:
        return None, "", None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnknownTimezoneWarning)
            first, second = (dateparser.parse(text, default=d, dayfirst=dayfirst) for d in _DEFAULTS)
    except UnknownTimezoneWarning:
        return None, "", f"Time {text!r} names a time zone we cannot place; give an offset such as +02:00."
    except (ValueError, OverflowError):
        return None, "", f"Unparsed date {text!r}."
    if first.year != second.year or first.month != second.month:
        return None, "", f"Unparsed date {text!r}: it gives no year or month."
    if first.day != second.day:
        precision, when = TimePrecision.MONTH, first
    elif first.hour != second.hour:
        precision, when = TimePrecision.DAY, first
    elif first.minute != second.minute:
        precision, when = TimePrecision.HOUR, first
    else:
        precision, when = TimePrecision.MINUTE, first
    return _aware(when), precision, _ambiguity(text, dayfirst)


def _aware(when: datetime) -> datetime:
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_default_timezone())
    # In UTC, as stored, so reading the same file twice gives equal values whatever zone it named.
    return when.astimezone(UTC)


def _ambiguity(text: str, dayfirst: bool) -> str | None:
    match = _NUMERIC_DATE.match(text)
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if first == second or first > 12 or second > 12:
        return None
    read_as = "day/month" if dayfirst else "month/day"
    return f"Date {text!r} could be either day/month or month/day; read as {read_as}."


def names_of(text: str) -> list[str]:
    """A list written in one cell: split on semicolons, commas and line breaks, each name once."""
    names = (name.strip() for name in re.split(r"[;,\n]", text or ""))
    return list(dict.fromkeys(name for name in names if name))
