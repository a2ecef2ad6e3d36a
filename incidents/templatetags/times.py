"""Times at the precision they are known: `{% load times %}`.

    {% incident_time incident "detected" %}   the incident's detection time, as <time>
    {% incident_time incident "started" short=True %}   no finer than the day, for lists
    {% event_time event %}                   a timeline event's time, in its source's zone
    {{ incident|incident_time_text:"resolved" }}   plain text (Markdown), estimate in words
    {{ event|event_time_text }}
    {% incident_span incident "resolved" %}   the time from the start: a range when an end is imprecise,
                                               "≈" when one is an estimate

An estimated time reads "≈" with the word "estimated" for screen readers (and as a tooltip).
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from incidents.times import ESTIMATED_LABEL, MILESTONES, PreciseTime, elapsed, event_time

from .coe_tags import duration

register = template.Library()

_BY_NAME = {m.at.removesuffix("_at"): m for m in MILESTONES}


def _milestone_time(incident, which: str) -> PreciseTime | None:
    try:
        milestone = _BY_NAME[which]
    except KeyError:
        raise template.TemplateSyntaxError(f"No incident time named {which!r}: one of {', '.join(_BY_NAME)}") from None
    return milestone.of(incident)


def _html(value: PreciseTime | None, *, short: bool = False, empty: str = "—") -> str:
    if value is None:
        return empty
    text = value.date_text() if short else value.text()
    mark = ""
    if value.estimated:
        mark = format_html(
            '<span class="estimated" title="{}"><span aria-hidden="true">≈</span>'
            '<span class="visually-hidden">{}</span></span> ',
            ESTIMATED_LABEL,
            ESTIMATED_LABEL,
        )
    return format_html(
        '{}<time datetime="{}" data-precision="{}">{}</time>', mark, value.machine(), value.precision, text
    )


@register.simple_tag
def incident_time(incident, which: str, short: bool = False, empty: str = "—"):
    """One of the incident's times (started, detected, mitigated, resolved) as HTML."""
    return _html(_milestone_time(incident, which), short=short, empty=empty)


@register.simple_tag(name="event_time")
def event_time_tag(event, short: bool = False):
    """A timeline event's time as HTML, in the zone its source states it in."""
    return _html(event_time(event), short=short)


@register.filter
def incident_time_text(incident, which: str) -> str:
    value = _milestone_time(incident, which)
    return value.label() if value else "—"


@register.filter
def event_time_text(event) -> str:
    return event_time(event).label()


def span_text(start: PreciseTime, end: PreciseTime) -> str | None:
    """The time from `start` to `end` as plain text: '2 h 5 min'; '≈ 2 h 5 min' when an end is an
    estimate; 'between 1 h 45 min and 1 d 1 h' when an end is known only to the hour or coarser."""
    low_high = elapsed(start, end)
    if low_high is None:
        return None
    low, high = low_high
    text = duration(low) if low == high else f"between {duration(low)} and {duration(high)}"
    return f"≈ {text}" if start.estimated or end.estimated else text


@register.simple_tag
def incident_span(incident, which: str):
    """The time from the start to one of the incident's times (span_text), "—" if either is unknown;
    an estimate's "≈" is said in words to screen readers."""
    start, end = MILESTONES[0].of(incident), _milestone_time(incident, which)
    text = span_text(start, end) if start and end else None
    if text is None:
        return "—"
    if not text.startswith("≈ "):
        return text
    return format_html(
        '<span class="estimated" title="from an estimated time"><span aria-hidden="true">≈</span>'
        '<span class="visually-hidden">approximately</span></span> {}',
        text.removeprefix("≈ "),
    )
