"""Reported or ours, and demo workflow states, as the pages show them: `{% load provenance %}`.

{% basis record %}              "Reported by <source>" (linked), or a labelled "Our reading" (with
                                the source it reads, if any); controls name each of their sources
{{ record|basis_text }}         the same in plain text, for Markdown
{% demo_mark incident %}        "Demo workflow" beside a COE approval or an action item's progress
{% demo_note incident %}        the page's note saying what of a demo incident is demo
{% demo_label %}, {% demo_note_text %}   the same words in plain text (Markdown)
{% ai_field_source ai "role" %}  the source cited for one AI involvement field, or "our reading"
{{ text|ours_marked }}           plain text with its "Our reading:" markers labelled (Markdown: the
                                markdown filter does it)
{{ incident.harm_level|harm_level }}
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from incidents import provenance

register = template.Library()


def _sources(record) -> list:
    # A control lists its sources; the other records cite one (prefetched either way).
    if hasattr(record, "sources"):
        return list(record.sources.all())
    source = getattr(record, "source", None)
    return [source] if source is not None else []


def _links(sources: list):
    return format_html_join(
        ", ", '<a href="{}" rel="noopener noreferrer">{}</a>', ((s.url, s.publisher or s.title) for s in sources)
    )


@register.simple_tag
def basis(record):
    sources = _sources(record)
    if not provenance.is_ours(record.basis):
        if not sources:
            return mark_safe('<span class="basis basis-reported">Reported</span>')
        return format_html('<span class="basis basis-reported">Reported by {}</span>', _links(sources))
    label = format_html('<span class="badge badge-ours">{}</span>', provenance.basis_label(record.basis))
    if not sources:
        return format_html('<span class="basis basis-ours">{}</span>', label)
    return format_html('<span class="basis basis-ours">{} from {}</span>', label, _links(sources))


@register.filter
def basis_text(record) -> str:
    return provenance.basis_text(record.basis, [s.publisher or s.title for s in _sources(record)])


@register.simple_tag
def demo_mark(incident):
    if not incident.demo:
        return ""
    return format_html(
        '<span class="badge badge-demo" title="Made by demo users, not the company">{}</span>', provenance.DEMO_LABEL
    )


@register.simple_tag
def demo_note(incident):
    if not incident.demo:
        return ""
    return format_html(
        '<p class="demo-note" role="note" data-testid="demo-note"><span class="badge badge-demo">{}</span> {}</p>',
        provenance.DEMO_LABEL,
        provenance.DEMO_NOTE,
    )


@register.simple_tag
def demo_label() -> str:
    return provenance.DEMO_LABEL


@register.simple_tag
def demo_note_text() -> str:
    """The note in plain text (Markdown), its label first."""
    return f"{provenance.DEMO_LABEL}: {provenance.DEMO_NOTE}"


@register.simple_tag
def ai_field_source(involvement, field: str):
    """The source cited for `field` ([publisher], linked), or "our reading" when the field says
    something no source is cited for; nothing for an empty or unknown field."""
    for citation in involvement.citations.all():
        if citation.field == field:
            source = citation.source
            return format_html(
                ' <a class="cite-link small" href="{}" rel="noopener noreferrer" title="{}">[{}]</a>',
                source.url,
                source.title,
                source.publisher,
            )
    if not provenance.ai_field_populated(involvement, field):
        return ""
    return format_html(' <span class="badge badge-ours">{}</span>', provenance.UNCITED_AI_FIELD)


@register.filter
def ours_marked(text):
    return provenance.ours_marked(text)


@register.filter
def harm_level(value: str) -> str:
    return provenance.harm_level_label(value)
