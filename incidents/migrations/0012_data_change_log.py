"""The data change log (models/changes.py) and the PostgreSQL triggers that write it.

Every statement that writes a table the dashboard's figures read adds, once per transaction, a
row naming the transaction; the log's size and newest transaction are the version the cached
figures are keyed on (incidents/data_version.py). Statement triggers, not row triggers: a bulk
update of 40,000 action items costs one check, not 40,000. auth_user counts only for its
usernames (owners of overdue items): logins update last_login and must not empty the cache. A
COE counts only for its approval (the figures read nothing else of it): a draft saved every
minute while it is written leaves the cached figures in place.
tests/test_dashboard_cache.py checks that every table the dashboard reads is here.

SQLite gets no triggers; the figures are not cached there (data_version.current() is None).
"""

import django.db.models.functions.datetime
from django.db import migrations, models

WATCHED = [
    "incidents_incident",
    "incidents_incident_services",
    "incidents_incident_regions",
    "incidents_aiinvolvement",
    "incidents_actionitem",
    "incidents_claim",
    "incidents_source",
    "incidents_control",
    "incidents_control_incidents",
    "incidents_service",
    "incidents_region",
    "incidents_team",
    "auth_user_groups",
]

FUNCTION = """
CREATE FUNCTION incidents_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me bigint := pg_current_xact_id()::text::bigint;
BEGIN
    -- Once per transaction: its later statements find their row (the index on xact).
    IF NOT EXISTS (SELECT 1 FROM incidents_datachange WHERE xact = me) THEN
        INSERT INTO incidents_datachange (xact) VALUES (me);
    END IF;
    RETURN NULL;
END
$$
"""


def _trigger(table: str, events: str) -> str:
    return (
        f"CREATE TRIGGER incidents_note_change AFTER {events} ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_change()"
    )


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in WATCHED:
        schema_editor.execute(_trigger(table, "INSERT OR UPDATE OR DELETE OR TRUNCATE"))
    schema_editor.execute(_trigger("auth_user", "INSERT OR DELETE OR TRUNCATE OR UPDATE OF username"))
    schema_editor.execute(
        _trigger("incidents_coedocument", "INSERT OR DELETE OR TRUNCATE OR UPDATE OF incident_id, approved_at")
    )
    # A first row, so the version is never empty.
    schema_editor.execute("INSERT INTO incidents_datachange (xact) VALUES (pg_current_xact_id()::text::bigint)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in [*WATCHED, "auth_user", "incidents_coedocument"]:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS incidents_note_change ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS incidents_note_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("incidents", "0011_restricted_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("xact", models.BigIntegerField(db_index=True)),
                ("at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                "db_table": "incidents_datachange",
            },
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
