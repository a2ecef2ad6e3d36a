"""Repeat flags: which incidents repeat an earlier one on the same service and cause within 90 days.

PostgreSQL triggers keep Incident.repeat_any and repeat_public current on every write
(migration 0009, which explains them). Two writers on the same service at the same moment can
each miss the other's uncommitted row, and a bulk load defers the triggers; `rebuild` sets every
flag in one sorted pass, changing only those that are wrong. generate_data calls it after its
load, and Celery beat once a day. On SQLite the flags are not used (the dashboard looks back).
"""

from django.db import connection, transaction


def rebuild() -> int | None:
    """Set every incident's repeat flags from the data; how many changed (None: not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT incidents_repeat_rebuild()")
        return cursor.fetchone()[0]
