"""A faster loader for PostgreSQL timestamps, installed on each new connection in UTC.

Django's psycopg 3 adapter for `timestamptz` subclasses psycopg's pure-Python
loader (the C one cannot be subclassed), so every time a query returns costs
about 5 µs: a page of 100 incidents with five times each spent more time parsing
them than PostgreSQL spent finding the rows. In a UTC session PostgreSQL writes
them as ISO 8601 with a `+00` offset, which `datetime.fromisoformat` (C) parses
to the same aware datetime in a fraction of the time. Anything else, or
anything it cannot parse, goes to Django's loader as before.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from django.db.backends.signals import connection_created


@functools.cache
def _iso_loader():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class IsoUtcLoader(BaseTzLoader):
        # Django compares this with the connection's zone before each cursor; equal, it keeps the loader.
        timezone = UTC

        def load(self, data):
            text = bytes(data).decode()
            if text.endswith("+00"):
                try:
                    return datetime.fromisoformat(text)
                except ValueError:
                    pass
            return super().load(data)

    return IsoUtcLoader


def install(sender, connection, **kwargs) -> None:
    if connection.timezone is not UTC:
        return
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if is_psycopg3:
        connection.connection.adapters.register_loader("timestamptz", _iso_loader())


def connect() -> None:
    connection_created.connect(install, dispatch_uid="incidents.postgres_times")
