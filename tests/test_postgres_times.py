"""PostgreSQL connections in UTC load timestamps with datetime.fromisoformat (incidents/postgres_times.py)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

MOMENTS = [
    datetime(2025, 12, 15, 7, 0, tzinfo=UTC),
    datetime(2025, 12, 15, 7, 0, 0, 120000, tzinfo=UTC),  # PostgreSQL writes ".12"
    datetime(2025, 12, 15, 7, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 59, 999999, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
]


def _loaded(sql: str, params=()) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _loader_class():
    from psycopg.pq import Format

    from incidents.postgres_times import _iso_loader

    oid = connection.connection.adapters.types["timestamptz"].oid
    return connection.connection.adapters.get_loader(oid, Format.TEXT), _iso_loader(), oid


def test_connections_use_the_iso_loader():
    connection.ensure_connection()
    used, ours, _ = _loader_class()
    assert used is ours


@pytest.mark.parametrize("moment", MOMENTS)
def test_times_round_trip_exactly_and_in_utc(moment):
    value = _loaded("SELECT %s::timestamptz", [moment])
    assert value == moment
    assert value.tzinfo is UTC


def test_another_offset_comes_back_as_the_same_instant_in_utc():
    value = _loaded("SELECT '2025-06-01 12:00:00+02'::timestamptz")
    assert (value, value.tzinfo) == (datetime(2025, 6, 1, 10, 0, tzinfo=UTC), UTC)
    assert value == datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))


def test_what_it_cannot_parse_goes_to_djangos_loader():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    connection.ensure_connection()
    _, ours, oid = _loader_class()
    django_loader = type("DjangoUtc", (BaseTzLoader,), {"timezone": UTC})(oid, connection.connection)
    iso_loader = ours(oid, connection.connection)
    for text in (b"2025-12-15 07:00:00.5+00", b"2025-12-15 07:00:00+05:30"):
        assert iso_loader.load(text) == django_loader.load(text)
    from psycopg import DataError

    with pytest.raises(DataError):
        django_loader.load(b"infinity")
    with pytest.raises(DataError):
        iso_loader.load(b"infinity")


def test_with_psycopgs_c_implementation_the_values_go_to_its_c_loader():
    from psycopg import _cmodule

    connection.ensure_connection()
    _, ours, oid = _loader_class()
    loader = ours(oid, connection.connection)
    assert _cmodule._psycopg is not None  # pyproject asks for psycopg[binary]
    assert type(loader.load.__self__) is _cmodule._psycopg.TimestamptzLoader
