"""Covering indexes for the dashboard's aggregates and the search facets, on PostgreSQL only.

Each figure reads a few narrow columns of every incident (or action item) in
the period. The incident heap is wide (summaries, impact text, the stored
search vector), so a scan of it reads far more than the figures need; these
indexes hold just the columns the aggregates and the visibility check use, so
PostgreSQL answers them with index-only scans (about 12 MB instead of 160 MB
at 100,000 incidents). SQLite has no INCLUDE; there this migration does nothing.
"""

from django.db import migrations

INDEXES = {
    "incident_dashboard_cov": (
        "incidents_incident",
        "started_at",
        "id, primary_cause, severity, status, attribution_status, adopted_cause, restricted, owner_id, access_group_id, "
        "team_id, detected_at, mitigated_at, resolved_at",
    ),
    "coedocument_approval_cov": ("incidents_coedocument", "incident_id", "approved_at"),
    "actionitem_dashboard_cov": (
        "incidents_actionitem",
        "incident_id",
        "id, status, due_date, completed_at, created_at",
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, key, include) in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ({key}) INCLUDE ({include})')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_search_vector_columns"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
