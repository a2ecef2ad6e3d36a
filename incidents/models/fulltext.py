"""The full-text vectors the knowledge-base search reads, stored as generated columns.

PostgreSQL computes each row's tsvector when the row is written and keeps it
(GENERATED ALWAYS ... STORED), so ranking reads the vector instead of
re-parsing a COE's prose for every candidate on every search; each model's
GIN index (`search_index`) is built on its column.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models

CONFIG = "english"


def stored_vector(vector: SearchVector) -> models.GeneratedField:
    return models.GeneratedField(
        expression=vector,
        output_field=SearchVectorField(null=True),
        db_persist=True,
        editable=False,
    )


def search_index(name: str) -> GinIndex:
    return GinIndex(fields=["search_vector"], name=name)


def incident_vector() -> SearchVector:
    return (
        SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("summary", weight="B", config=CONFIG)
        + SearchVector("customer_impact", "trigger_text", weight="C", config=CONFIG)
    )


def coe_vector() -> SearchVector:
    from .coe import SECTION_KEYS

    return SearchVector(*SECTION_KEYS, weight="C", config=CONFIG)


def timeline_vector() -> SearchVector:
    return SearchVector("description", weight="C", config=CONFIG)


def action_vector() -> SearchVector:
    return SearchVector("title", "description", weight="C", config=CONFIG)
