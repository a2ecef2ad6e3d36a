"""The version of the data the dashboard reads: it changes with every commit that writes it.

Triggers (migrations 0012 and 0013) add a row to the change log, once per transaction and month
touched, for each write to those tables; the row commits with the write. A month's version is
the count of commits its rows stand for and its newest transaction id; the rows without a month
(writes that concern every month) have a version of their own, part of every month's. A month's
count grows by one with each commit that touches it, so equal versions mean equal data.
`compact` replaces each month's rows by one standing for all their commits, with their newest
transaction: every version stays as it was, and so do the figures kept under it. Transaction
ids are never reused, so a log emptied otherwise (a TRUNCATE) cannot bring an old version back.

PostgreSQL only: SQLite has no triggers here, and `current` gives None (nothing is cached).
"""

from __future__ import annotations

from django.db import OperationalError, connection, transaction

from .models import DataChange

TABLE = DataChange._meta.db_table
VERSION_SQL = f"SELECT sum(commits), max(xact) FROM {TABLE}"
# Each month's version as an array of [month as yyyymm (0 for every month), commits, newest].
MONTHS_SQL = (
    "SELECT array_agg(ARRAY[COALESCE(to_char(month, 'YYYYMM')::bigint, 0), n, newest]) "
    f"FROM (SELECT month, sum(commits) n, max(xact) newest FROM {TABLE} GROUP BY month) m"
)


def available() -> bool:
    return connection.vendor == "postgresql"


def current() -> tuple[int, int] | None:
    """(commits in the log, newest transaction), or None where writes are not logged."""
    if not available():
        return None
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL)
        count, newest = cursor.fetchone()
    return count, newest


def months() -> dict[int, tuple[int, int]] | None:
    """Each month's version: {yyyymm (0 for the rows of every month): (commits, newest transaction)}."""
    if not available():
        return None
    with connection.cursor() as cursor:
        cursor.execute(MONTHS_SQL)
        return versions_of(cursor.fetchone()[0])


def versions_of(rows: list | None) -> dict[int, tuple[int, int]]:
    return {month: (count, newest) for month, count, newest in rows or ()}


def compact(lock_timeout: str = "2s") -> int | None:
    """Replace each month's rows by one with the same version; how many rows went (None: skipped).

    The table lock waits for transactions that have logged a write to end and holds off new
    ones for the moment it takes, so no row of an open transaction is deleted (its write would
    then go unseen). A writer that keeps it waiting longer than `lock_timeout` makes this a
    no-op until the next run rather than a pause for every writer.
    """
    if not available():
        return None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [lock_timeout])
            cursor.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
            cursor.execute(f"SELECT count(*) FROM {TABLE}")
            (deleted,) = cursor.fetchone()
            cursor.execute(
                f"WITH gone AS (DELETE FROM {TABLE} RETURNING xact, month, commits) "
                f"INSERT INTO {TABLE} (xact, month, commits) SELECT max(xact), month, sum(commits) "
                "FROM gone GROUP BY month"
            )
            return deleted
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            return None
        raise
