"""The data change log names the months a write touched, so the dashboard recomputes only those.

A write to an incident, or to a row of one (its action items, agents, claims, services,
regions, controls, COE approval), logs the month (UTC) each touched incident started in, the
old one and the new one for an update: statement triggers with transition tables, one insert
per statement whatever its size. A write to an incident or its services logs the months of the
next 90 days too: the incidents started then may repeat it (metrics.repeat_q looks back 90
days at the incidents a viewer may see, by start, cause, services and visibility).

Writes that concern no incident in particular (sources, controls, services, regions, teams,
group memberships, usernames) and TRUNCATE keep logging a row without a month, which stands
for every month (migration 0012's function, now NULL-aware).
A row whose incident cannot be found (deleted meanwhile) has no month either: when in doubt,
everything is recomputed.

A COE counts only for a change of its approval or incident: a row trigger with that condition
(a statement trigger with transition tables cannot name columns).
"""

from django.db import migrations, models

INCIDENT_CHILDREN = [
    "incidents_incident_regions",
    "incidents_aiinvolvement",
    "incidents_actionitem",
    "incidents_claim",
    "incidents_control_incidents",
]

FUNCTIONS = """
-- The months (UTC) from an incident's start to `ahead` later; none for NULL.
CREATE FUNCTION incidents_change_months(started timestamptz, ahead interval) RETURNS SETOF date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT generate_series(
        date_trunc('month', started AT TIME ZONE 'UTC'),
        date_trunc('month', (started AT TIME ZONE 'UTC') + ahead),
        interval '1 month'
    )::date
$$;

CREATE FUNCTION incidents_log_months(months date[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    me bigint := pg_current_xact_id()::text::bigint;
BEGIN
    -- Once per transaction and month: its later statements find their rows (the index on xact).
    INSERT INTO incidents_datachange (xact, month)
    SELECT me, m FROM (SELECT DISTINCT m FROM unnest(months) m) touched
    WHERE NOT EXISTS (
        SELECT 1 FROM incidents_datachange d WHERE d.xact = me AND d.month IS NOT DISTINCT FROM touched.m
    );
END
$$;

CREATE OR REPLACE FUNCTION incidents_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM incidents_log_months(ARRAY[NULL::date]);
    RETURN NULL;
END
$$;

-- The months of each start and of `ahead` after it; a NULL start (an incident not found) logs
-- every month.
CREATE FUNCTION incidents_log_starts(starts timestamptz[], ahead interval) RETURNS void LANGUAGE sql AS $$
    SELECT incidents_log_months(ARRAY(
        SELECT m FROM unnest(starts) s LEFT JOIN LATERAL incidents_change_months(s, ahead) m ON true
    ))
$$;

-- The starts of these incidents (NULL for one not found).
CREATE FUNCTION incidents_starts_of(ids bigint[]) RETURNS timestamptz[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY(SELECT i.started_at FROM unnest(ids) r (id) LEFT JOIN incidents_incident i ON i.id = r.id)
$$;

-- TG_ARGV[0]: 'incident' (the rows are incidents) or 'child' (rows with an incident_id, whose
-- incidents are looked up). TG_ARGV[1]: how far ahead of each start to log months too. Each
-- branch names only the transition tables its event has.
CREATE FUNCTION incidents_note_months() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    starts timestamptz[] := '{}';
    ids bigint[] := '{}';
BEGIN
    IF TG_ARGV[0] = 'incident' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            starts := ARRAY(SELECT DISTINCT started_at FROM old_rows);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            starts := starts || ARRAY(SELECT DISTINCT started_at FROM new_rows);
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            ids := ARRAY(SELECT DISTINCT incident_id FROM old_rows);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            ids := ids || ARRAY(SELECT DISTINCT incident_id FROM new_rows);
        END IF;
        starts := incidents_starts_of(ids);
    END IF;
    PERFORM incidents_log_starts(starts, TG_ARGV[1]::interval);
    RETURN NULL;
END
$$;

CREATE FUNCTION incidents_note_coe_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM incidents_log_starts(incidents_starts_of(ARRAY[OLD.incident_id, NEW.incident_id]), interval '0');
    RETURN NULL;
END
$$;
"""

# A write to an incident or its services can make the incidents of the next 90 days repeats
# (or not): metrics.REPEAT_WINDOW.
REPEAT_WINDOW = "90 days"


def _month_triggers(table: str, kind: str, ahead: str = "0") -> list[str]:
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_months('{kind}', '{ahead}')"
    return [
        f"DROP TRIGGER incidents_note_change ON {table}",
        f"CREATE TRIGGER incidents_note_change AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_change()",
        f"CREATE TRIGGER incidents_note_inserted AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER incidents_note_updated AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER incidents_note_deleted AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows {run}",
    ]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS)
    statements = _month_triggers("incidents_incident", "incident", REPEAT_WINDOW)
    statements += _month_triggers("incidents_incident_services", "child", REPEAT_WINDOW)
    for table in INCIDENT_CHILDREN:
        statements += _month_triggers(table, "child")
    coe = "incidents_coedocument"
    statements += [
        f"DROP TRIGGER incidents_note_change ON {coe}",
        f"CREATE TRIGGER incidents_note_change AFTER TRUNCATE ON {coe} "
        "FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_change()",
        f"CREATE TRIGGER incidents_note_inserted AFTER INSERT ON {coe} REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_months('child', '0')",
        f"CREATE TRIGGER incidents_note_deleted AFTER DELETE ON {coe} REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_months('child', '0')",
        f"CREATE TRIGGER incidents_note_updated AFTER UPDATE ON {coe} FOR EACH ROW "
        "WHEN (OLD.approved_at IS DISTINCT FROM NEW.approved_at OR OLD.incident_id IS DISTINCT FROM NEW.incident_id) "
        "EXECUTE FUNCTION incidents_note_coe_change()",
    ]
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ["incidents_incident", "incidents_incident_services", *INCIDENT_CHILDREN, "incidents_coedocument"]:
        for name in ("incidents_note_change", "incidents_note_inserted", "incidents_note_updated"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS incidents_note_deleted ON {table}")
    schema_editor.execute("DROP FUNCTION incidents_note_months(), incidents_note_coe_change()")
    # Migration 0012's function and triggers, as they were.
    schema_editor.execute(
        """
        CREATE OR REPLACE FUNCTION incidents_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            me bigint := pg_current_xact_id()::text::bigint;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM incidents_datachange WHERE xact = me) THEN
                INSERT INTO incidents_datachange (xact) VALUES (me);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    schema_editor.execute(
        "DROP FUNCTION incidents_log_starts(timestamptz[], interval), incidents_starts_of(bigint[]), "
        "incidents_log_months(date[]), incidents_change_months(timestamptz, interval)"
    )
    run = "FOR EACH STATEMENT EXECUTE FUNCTION incidents_note_change()"
    for table in ["incidents_incident", "incidents_incident_services", *INCIDENT_CHILDREN]:
        schema_editor.execute(
            f"CREATE TRIGGER incidents_note_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} {run}"
        )
    schema_editor.execute(
        "CREATE TRIGGER incidents_note_change AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF incident_id, "
        f"approved_at ON incidents_coedocument {run}"
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0012_data_change_log")]

    operations = [
        migrations.AddField(model_name="datachange", name="month", field=models.DateField(null=True)),
        migrations.AddField(
            model_name="datachange", name="commits", field=models.PositiveIntegerField(db_default=1)
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
