"""Repeat flags: which incidents repeat an earlier one on the same service and cause within 90 days.

An incident repeats when an earlier one (strictly earlier, at most 90 days before) shares one of
its services and its primary cause (not "undetermined"). Each incident carries two flags so the
dashboard counts repeats from one index-only scan instead of sorting every service link:

- repeat_any: such an earlier incident exists;
- repeat_public: such an earlier, unrestricted incident exists (every viewer sees those).

The services keep them current: a write that changes an incident's start, cause, restriction or
services, or deletes it, calls `around()` for the incidents it touches before the write and
after it, then `refresh()` with both. Two writers on one service at the same moment can each miss
the other's uncommitted row, and bulk loads (generate_data) and admin edits skip the services;
`rebuild()` sets every flag in one sorted pass, changing only those that are wrong, and Celery
beat runs it daily.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

WINDOW = "interval '90 days'"


def _earlier(extra: str = "") -> str:
    """An earlier incident on one of x's services with x's cause, within the window."""
    return f"""EXISTS (
        SELECT 1 FROM incidents_incident_services lx
        JOIN incidents_incident_services ly ON ly.service_id = lx.service_id
        JOIN incidents_incident y ON y.id = ly.incident_id
        WHERE lx.incident_id = x.id AND y.primary_cause = x.primary_cause
          AND y.started_at < x.started_at AND y.started_at >= x.started_at - {WINDOW}{extra})"""


# The incidents given, and every incident up to 90 days after one of them on one of its services
# with its cause: the flags a change to the given ones can move.
_AROUND = f"""
SELECT x.id FROM incidents_incident x WHERE x.id = ANY(%(ids)s)
UNION
SELECT y.id FROM incidents_incident x
JOIN incidents_incident_services lx ON lx.incident_id = x.id
JOIN incidents_incident_services ly ON ly.service_id = lx.service_id
JOIN incidents_incident y ON y.id = ly.incident_id
WHERE x.id = ANY(%(ids)s) AND y.primary_cause = x.primary_cause
  AND y.started_at > x.started_at AND y.started_at <= x.started_at + {WINDOW}
"""

_REFRESH = f"""
UPDATE incidents_incident i SET repeat_any = f.any_, repeat_public = f.public_
FROM (
    SELECT x.id,
           x.primary_cause <> 'undetermined' AND {_earlier()} AS any_,
           x.primary_cause <> 'undetermined' AND {_earlier(" AND NOT y.restricted")} AS public_
    FROM incidents_incident x WHERE x.id = ANY(%(ids)s)
) f
WHERE i.id = f.id AND (i.repeat_any, i.repeat_public) IS DISTINCT FROM (f.any_, f.public_)
"""

# Every flag in one pass: per (service, cause) in time order, the links of the 90 days up to each
# moment less those at that very moment are the strictly earlier ones.
_REBUILD = f"""
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
"""


def around(incident_ids: Iterable[int]) -> set[int]:
    """The given incidents and those whose flags a change to them can move (see _AROUND)."""
    ids = [pk for pk in incident_ids if pk is not None]
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_AROUND, {"ids": ids})
        return {row[0] for row in cursor.fetchall()}


def refresh(incident_ids: Iterable[int]) -> None:
    """Set these incidents' flags from the data (ids of deleted incidents are ignored)."""
    ids = sorted(set(incident_ids))
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(_REFRESH, {"ids": ids})


def rebuild() -> int:
    """Set every incident's repeat flags from the data; how many changed."""
    with connection.cursor() as cursor:
        cursor.execute(_REBUILD)
        return cursor.fetchone()[0]
