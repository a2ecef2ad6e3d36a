"""Repeat flags on incidents, kept current by PostgreSQL triggers.

An incident repeats when an earlier one (strictly earlier, at most 90 days
before) shares one of its services and its primary cause (not
"undetermined"). The dashboard used to find repeats by sorting every
service link of the period; at 100,000 incidents that took half a second for
all time. Here each incident carries two flags, written when it or its links
change:

- repeat_any: such an earlier incident exists;
- repeat_public: such an earlier, unrestricted incident exists (every viewer sees those).

The triggers recompute the flags of the incident written and of the incidents
up to 90 days after it on its services, for the old values and the new: per row for
an incident's start, cause or restriction, per statement for service links (deleting
many incidents removes their links in one statement, recomputed in one pass). A
session that sets `coe.defer_repeat_flags` to `on` (generate_data's bulk load)
skips them and calls incidents_repeat_rebuild() once at the end, which sets
every flag in one sorted pass. Two writers at the same moment on the same service
can each miss the other's uncommitted row; a daily Celery task runs the same rebuild to
mend that (incidents/repeats.py). The covering index of migration 0008 gains
the two flags, so counting repeats stays an index-only scan.

On SQLite the flags stay False; the dashboard looks back there instead.
"""

from django.db import migrations, models

WINDOW = "interval '90 days'"
DEFERRED = "current_setting('coe.defer_repeat_flags', true) = 'on'"


def _earlier(extra: str = "") -> str:
    """An earlier incident on one of x's services with x's cause, within the window."""
    return f"""EXISTS (
        SELECT 1 FROM incidents_incident_services lx
        JOIN incidents_incident_services ly ON ly.service_id = lx.service_id
        JOIN incidents_incident y ON y.id = ly.incident_id
        WHERE lx.incident_id = x.id AND y.primary_cause = x.primary_cause
          AND y.started_at < x.started_at AND y.started_at >= x.started_at - {WINDOW}{extra})"""


FUNCTIONS = f"""
CREATE FUNCTION incidents_repeat_refresh(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    UPDATE incidents_incident i SET repeat_any = f.any_, repeat_public = f.public_
    FROM (
        SELECT x.id,
               x.primary_cause <> 'undetermined' AND {_earlier()} AS any_,
               x.primary_cause <> 'undetermined' AND {_earlier(" AND NOT y.restricted")} AS public_
        FROM incidents_incident x WHERE x.id = ANY(ids)
    ) f
    WHERE i.id = f.id AND (i.repeat_any, i.repeat_public) IS DISTINCT FROM (f.any_, f.public_)
$$;

-- Every flag in one pass: per (service, cause) in time order, the links of the 90 days up to
-- each moment less those at that very moment are the strictly earlier ones. Returns how many
-- incidents' flags it changed (none, when the triggers have kept them).
CREATE FUNCTION incidents_repeat_rebuild() RETURNS integer LANGUAGE sql AS $$
    WITH changed AS (
        UPDATE incidents_incident i SET repeat_any = f.any_, repeat_public = f.public_
        FROM (
            SELECT a.id, COALESCE(r.any_, false) AS any_, COALESCE(r.public_, false) AS public_
            FROM incidents_incident a
            LEFT JOIN (
                SELECT incident_id, bool_or(n_window > n_now) AS any_, bool_or(p_window > p_now) AS public_
                FROM (
                    SELECT l.incident_id,
                           count(*) OVER w AS n_window,
                           count(*) OVER now_ AS n_now,
                           count(*) FILTER (WHERE NOT x.restricted) OVER w AS p_window,
                           count(*) FILTER (WHERE NOT x.restricted) OVER now_ AS p_now
                    FROM incidents_incident_services l
                    JOIN incidents_incident x ON x.id = l.incident_id
                    WHERE x.primary_cause <> 'undetermined'
                    WINDOW w AS (PARTITION BY l.service_id, x.primary_cause ORDER BY x.started_at
                                 RANGE BETWEEN {WINDOW} PRECEDING AND CURRENT ROW),
                           now_ AS (PARTITION BY l.service_id, x.primary_cause, x.started_at)
                ) counted
                GROUP BY incident_id
            ) r ON r.incident_id = a.id
        ) f
        WHERE i.id = f.id AND (i.repeat_any, i.repeat_public) IS DISTINCT FROM (f.any_, f.public_)
        RETURNING 1
    )
    SELECT count(*)::integer FROM changed
$$;

-- Service links added or removed (a list of pairs): those incidents, and those after each on that
-- service with its cause.
CREATE FUNCTION incidents_repeat_after_links(incident_ids bigint[], service_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    SELECT incidents_repeat_refresh(ARRAY(
        SELECT l.incident_id FROM unnest(incident_ids, service_ids) AS l(incident_id, service_id)
        UNION
        SELECT y.id FROM unnest(incident_ids, service_ids) AS l(incident_id, service_id)
        JOIN incidents_incident x ON x.id = l.incident_id
        JOIN incidents_incident y
          ON y.primary_cause = x.primary_cause
         AND y.started_at > x.started_at AND y.started_at <= x.started_at + {WINDOW}
        JOIN incidents_incident_services ly ON ly.incident_id = y.id AND ly.service_id = l.service_id
    ))
$$;

-- Once per statement, so deleting a thousand incidents (their links go in one DELETE) is one pass.
CREATE FUNCTION incidents_repeat_links_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {DEFERRED} THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM incidents_repeat_after_links(
            ARRAY(SELECT incident_id FROM added_links), ARRAY(SELECT service_id FROM added_links));
    ELSE
        PERFORM incidents_repeat_after_links(
            ARRAY(SELECT incident_id FROM removed_links), ARRAY(SELECT service_id FROM removed_links));
    END IF;
    RETURN NULL;
END
$$;

-- An incident's start, cause or restriction changed: it, and those after its old and new start.
CREATE FUNCTION incidents_repeat_incident_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {DEFERRED} THEN
        RETURN NULL;
    END IF;
    PERFORM incidents_repeat_refresh(ARRAY(
        SELECT NEW.id
        UNION
        SELECT y.id FROM incidents_incident_services lx
        JOIN incidents_incident_services ly ON ly.service_id = lx.service_id
        JOIN incidents_incident y ON y.id = ly.incident_id
        WHERE lx.incident_id = NEW.id AND (
            (y.primary_cause = OLD.primary_cause
             AND y.started_at > OLD.started_at AND y.started_at <= OLD.started_at + {WINDOW})
            OR (y.primary_cause = NEW.primary_cause
             AND y.started_at > NEW.started_at AND y.started_at <= NEW.started_at + {WINDOW}))
    ));
    RETURN NULL;
END
$$;

CREATE TRIGGER incidents_repeat_links_added
AFTER INSERT ON incidents_incident_services REFERENCING NEW TABLE AS added_links
FOR EACH STATEMENT EXECUTE FUNCTION incidents_repeat_links_changed();

CREATE TRIGGER incidents_repeat_links_removed
AFTER DELETE ON incidents_incident_services REFERENCING OLD TABLE AS removed_links
FOR EACH STATEMENT EXECUTE FUNCTION incidents_repeat_links_changed();

CREATE TRIGGER incidents_repeat_incident
AFTER UPDATE OF started_at, primary_cause, restricted ON incidents_incident
FOR EACH ROW WHEN (
    OLD.started_at IS DISTINCT FROM NEW.started_at
    OR OLD.primary_cause IS DISTINCT FROM NEW.primary_cause
    OR OLD.restricted IS DISTINCT FROM NEW.restricted
) EXECUTE FUNCTION incidents_repeat_incident_changed();
"""

DROP = """
DROP TRIGGER IF EXISTS incidents_repeat_incident ON incidents_incident;
DROP TRIGGER IF EXISTS incidents_repeat_links_added ON incidents_incident_services;
DROP TRIGGER IF EXISTS incidents_repeat_links_removed ON incidents_incident_services;
DROP FUNCTION IF EXISTS incidents_repeat_incident_changed();
DROP FUNCTION IF EXISTS incidents_repeat_links_changed();
DROP FUNCTION IF EXISTS incidents_repeat_after_links(bigint[], bigint[]);
DROP FUNCTION IF EXISTS incidents_repeat_rebuild();
DROP FUNCTION IF EXISTS incidents_repeat_refresh(bigint[]);
"""

# Migration 0008's covering index for the dashboard's passes over incidents, with the flags.
COVERING = (
    "id, primary_cause, severity, status, attribution_status, adopted_cause, restricted, owner_id, "
    "access_group_id, team_id, detected_at, mitigated_at, resolved_at"
)


def _covering(schema_editor, columns: str) -> None:
    schema_editor.execute('DROP INDEX IF EXISTS "incident_dashboard_cov"')
    schema_editor.execute(
        f'CREATE INDEX "incident_dashboard_cov" ON "incidents_incident" (started_at) INCLUDE ({columns})'
    )


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # One statement at a time (blank lines separate them): the driver prepares each.
    for statement in FUNCTIONS.strip().split("\n\n"):
        schema_editor.execute(statement)
    schema_editor.execute("SELECT incidents_repeat_rebuild()")
    _covering(schema_editor, f"{COVERING}, repeat_any, repeat_public")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in DROP.strip().splitlines():
        schema_editor.execute(statement)
    _covering(schema_editor, COVERING)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0008_dashboard_covering_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="repeat_any",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        migrations.AddField(
            model_name="incident",
            name="repeat_public",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
