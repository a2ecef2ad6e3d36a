"""The full-text vectors the knowledge-base search reads, stored as generated columns.

PostgreSQL computes each row's tsvector when the row is written and keeps it
(GENERATED ALWAYS ... STORED), so ranking reads the vector instead of
re-parsing a COE's prose for every candidate on every search; the GIN indexes
of migration 0007 are built on these columns. SQLite's simple search
(icontains) does not use them, so there the column is always NULL.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models

CONFIG = "english"


class PostgresOnly(models.Func):
    """The wrapped expression on PostgreSQL, NULL elsewhere."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra):
        return "NULL", []


def stored_vector(vector: SearchVector) -> models.GeneratedField:
    return models.GeneratedField(
        expression=PostgresOnly(vector, output_field=SearchVectorField()),
        output_field=SearchVectorField(null=True),
        db_persist=True,
        editable=False,
    )


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
