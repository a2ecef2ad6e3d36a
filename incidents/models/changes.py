"""A log of committed writes to the tables the dashboard reads, so its figures can be cached exactly.

PostgreSQL statement triggers (migrations 0012 and 0013) add a row for every statement that
writes one of those tables, in the writer's transaction: the row becomes visible exactly when
the write does. The row names the month (UTC) of the incidents the write touched, so figures of
other months stay cached; a write that concerns no incident in particular (a source, a control,
a group membership) has no month and concerns them all. incidents/data_version.py reads each
month's count of rows and newest transaction as a version that changes with every such commit.
Rows are only ever inserted (no counter row to lock, so writers never wait on each other);
Celery beat compacts the log (data_version.compact).
"""

from django.db import models


class DataChange(models.Model):
    # The writing transaction's id (pg_current_xact_id()): ids are never reused in a cluster, not
    # even after a rollback or a TRUNCATE, so a version never comes back with other data behind it.
    xact = models.BigIntegerField(db_index=True)
    at = models.DateTimeField(db_default=models.functions.Now())
    # The first day of the month (UTC) the touched incidents started in; NULL: every month.
    month = models.DateField(null=True)
    # How many commits the row stands for: one, or after a compaction all the month's it replaced.
    commits = models.PositiveIntegerField(db_default=1)

    class Meta:
        db_table = "incidents_datachange"

    def __str__(self) -> str:
        return f"change in transaction {self.xact} at {self.at:%Y-%m-%d %H:%M:%S}"
