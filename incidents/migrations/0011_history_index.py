"""An incident's change history in one index lookup.

Each change-history entry (auditlog's LogEntry) lists the incidents it belongs to in
additional_data["incidents"]; the history reads `additional_data -> 'incidents' @> '[id]'`
(incidents/history.py: entries_for), which this GIN index answers. The table is auditlog's, so
the index is plain SQL rather than a model's Meta.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_review_notifications"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX logentry_incidents_gin ON auditlog_logentry "
                "USING gin ((additional_data -> 'incidents') jsonb_path_ops)"
            ),
            reverse_sql="DROP INDEX logentry_incidents_gin",
        ),
    ]
