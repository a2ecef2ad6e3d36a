"""GIN indexes for the knowledge-base search, on PostgreSQL only.

Expression indexes over the same tsvector expressions incidents/search.py
queries with (frozen copies here: change both together; a PostgreSQL test
checks the plan uses incident_search_gin). SQLite has no GIN and its simple
search does not use them, so there this migration does nothing.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

CONFIG = "english"
SECTION_KEYS = (
    "summary",
    "impact",
    "background",
    "timeline_narrative",
    "metrics",
    "trigger",
    "root_cause",
    "resolution",
    "detection",
    "q_detection",
    "q_diagnosis",
    "q_mitigation",
    "q_prevention",
    "pillar_implications",
    "lessons_went_well",
    "lessons_went_wrong",
    "lessons_lucky",
    "related_items",
)


def indexes():
    return {
        "incident": GinIndex(
            SearchVector("title", weight="A", config=CONFIG)
            + SearchVector("summary", weight="B", config=CONFIG)
            + SearchVector("customer_impact", "trigger_text", weight="C", config=CONFIG),
            name="incident_search_gin",
        ),
        "coedocument": GinIndex(SearchVector(*SECTION_KEYS, weight="C", config=CONFIG), name="coedocument_search_gin"),
        "timelineevent": GinIndex(SearchVector("description", weight="C", config=CONFIG), name="timeline_search_gin"),
        "actionitem": GinIndex(
            SearchVector("title", "description", weight="C", config=CONFIG), name="actionitem_search_gin"
        ),
    }


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in indexes().items():
        schema_editor.add_index(apps.get_model("incidents", model_name), index)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in indexes().items():
        schema_editor.remove_index(apps.get_model("incidents", model_name), index)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_reminder_delivery"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
