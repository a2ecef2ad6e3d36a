"""Stored tsvector columns for the knowledge-base search, and GIN indexes on them.

The columns replace the expression indexes of migration 0005: ranking reads a
stored vector instead of re-parsing every candidate's text. The indexes keep
0005's names. On SQLite the columns are always NULL and no index is built.
"""

from importlib import import_module

import django.contrib.postgres.search
import incidents.models.fulltext
from django.db import migrations, models

INDEXED = {
    "incident": "incident_search_gin",
    "coedocument": "coedocument_search_gin",
    "timelineevent": "timeline_search_gin",
    "actionitem": "actionitem_search_gin",
}


def _postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def drop_indexes(apps, schema_editor):
    # First, so adding the columns does not rebuild indexes about to go.
    if _postgres(schema_editor):
        for name in INDEXED.values():
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def expression_indexes(apps, schema_editor):
    # Back to 0005's, which that migration's reverse expects to find.
    if _postgres(schema_editor):
        import_module("incidents.migrations.0005_search_indexes").create_indexes(apps, schema_editor)


def column_indexes(apps, schema_editor):
    if _postgres(schema_editor):
        for model_name, name in INDEXED.items():
            table = apps.get_model("incidents", model_name)._meta.db_table
            schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" USING gin ("search_vector")')


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0006_incident_started_id_idx'),
    ]

    operations = [
        migrations.RunPython(drop_indexes, expression_indexes, elidable=False),
        migrations.AddField(
            model_name='actionitem',
            name='search_vector',
            field=models.GeneratedField(db_persist=True, expression=incidents.models.fulltext.PostgresOnly(django.contrib.postgres.search.SearchVector('title', 'description', config='english', weight='C'), output_field=django.contrib.postgres.search.SearchVectorField()), output_field=django.contrib.postgres.search.SearchVectorField(null=True)),
        ),
        migrations.AddField(
            model_name='coedocument',
            name='search_vector',
            field=models.GeneratedField(db_persist=True, expression=incidents.models.fulltext.PostgresOnly(django.contrib.postgres.search.SearchVector('summary', 'impact', 'background', 'timeline_narrative', 'metrics', 'trigger', 'root_cause', 'resolution', 'detection', 'q_detection', 'q_diagnosis', 'q_mitigation', 'q_prevention', 'pillar_implications', 'lessons_went_well', 'lessons_went_wrong', 'lessons_lucky', 'related_items', config='english', weight='C'), output_field=django.contrib.postgres.search.SearchVectorField()), output_field=django.contrib.postgres.search.SearchVectorField(null=True)),
        ),
        migrations.AddField(
            model_name='incident',
            name='search_vector',
            field=models.GeneratedField(db_persist=True, expression=incidents.models.fulltext.PostgresOnly(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.SearchVector('title', config='english', weight='A'), '||', django.contrib.postgres.search.SearchVector('summary', config='english', weight='B'), django.contrib.postgres.search.SearchConfig('english')), '||', django.contrib.postgres.search.SearchVector('customer_impact', 'trigger_text', config='english', weight='C'), django.contrib.postgres.search.SearchConfig('english')), output_field=django.contrib.postgres.search.SearchVectorField()), output_field=django.contrib.postgres.search.SearchVectorField(null=True)),
        ),
        migrations.AddField(
            model_name='timelineevent',
            name='search_vector',
            field=models.GeneratedField(db_persist=True, expression=incidents.models.fulltext.PostgresOnly(django.contrib.postgres.search.SearchVector('description', config='english', weight='C'), output_field=django.contrib.postgres.search.SearchVectorField()), output_field=django.contrib.postgres.search.SearchVectorField(null=True)),
        ),
        migrations.RunPython(column_indexes, drop_indexes, elidable=False),
    ]
