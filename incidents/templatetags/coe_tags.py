from datetime import timedelta

from django import template

from incidents.markdown import render_markdown
from incidents.provenance import ours_marked

register = template.Library()


@register.filter
def markdown(text):
    # "Our reading:" begins the text's own statements among the reported ones: shown as a label.
    return ours_marked(render_markdown(text))


@register.filter
def duration(value: timedelta | None) -> str:
    """A span as people say it: '14 h 32 min', '3 d 4 h', '45 min'."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 0:
        return "—"
    days, minutes = divmod(minutes, 60 * 24)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@register.filter
def in_tz(value, tz_name: str):
    """Wall-clock time in the zone the source states, with the zone's abbreviation.

    Formatted here because the date filter would convert back to the site's zone.
    """
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M %Z") if value else ""


@register.filter
def in_tz_date(value, tz_name: str):
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d") if value else ""


@register.filter
def in_tz_month(value, tz_name: str):
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz_name)).strftime("%B %Y") if value else ""


@register.filter
def split(value: str) -> list[str]:
    return value.split()


@register.filter
def field(form, name: str):
    """A bound field by name, for templates that lay fields out by hand."""
    return form[name]


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def field_value(obj, name: str):
    return getattr(obj, name, "")


@register.filter
def md_cell(value) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks."""
    return " ".join(str(value).split()).replace("|", "\\|")
