"""Sources: the documents claims, timeline events and impact figures cite.

The dashboard reads a source's kind (an incident's adopted cause differing from what its vendor
itself claimed counts only claims from vendor sources), so both writes tell it on commit.
"""

from __future__ import annotations

from incidents.models import Source

from ._base import service

# What a caller may set; keys of `data` outside these are ignored.
FIELDS = ("url", "title", "publisher", "kind", "published_on", "published_approx", "retrieved_on", "note")
# Empty text is "", never NULL.
_TEXT = {"title", "publisher", "note"}


def _apply(source: Source, data: dict) -> Source:
    for name in FIELDS:
        if name in data:
            value = data[name]
            setattr(source, name, "" if value is None and name in _TEXT else value)
    source.full_clean()
    source.save()
    return source


@service(dashboard=True)
def source_create(*, data: dict) -> Source:
    return _apply(Source(), data)


@service(dashboard=True)
def source_update(*, source: Source, data: dict) -> Source:
    """Change what `data` holds (its kind, say: press found to be the vendor's own statement)."""
    return _apply(source, data)
