"""concurrent.gather: side by side on PostgreSQL outside a transaction, one after another otherwise."""

import threading
import time

import pytest
from django.db import connection, transaction

from incidents.concurrent import gather
from incidents.models import Service

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)")


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
class TestSideBySide:
    def test_calls_run_at_once_on_connections_of_their_own(self, settings):
        settings.DB_QUERY_THREADS = 3
        # Each call waits for the other two: only calls that run at the same time get past it.
        meet = threading.Barrier(3, timeout=10)

        def call(n):
            def run():
                meet.wait()
                return n, backend_pid(), threading.get_ident()

            return run

        results = gather(call(0), call(1), call(2))
        assert [n for n, _pid, _thread in results] == [0, 1, 2]
        assert len({pid for _n, pid, _thread in results}) == 3
        assert len({thread for _n, _pid, thread in results}) == 3
        # The caller takes a share on its own connection.
        assert threading.get_ident() in {thread for _n, _pid, thread in results}

    def test_the_helpers_close_their_connections(self, settings):
        settings.DB_QUERY_THREADS = 3
        before = sessions()
        meet = threading.Barrier(3, timeout=10)

        def met_pid():
            meet.wait()
            return backend_pid()

        assert len(set(gather(met_pid, met_pid, met_pid))) == 3
        # DB_CONN_MAX_AGE is 0 here, as by default: a helper's connection ends with its share. (A
        # server process leaves pg_stat_activity a moment after its client says goodbye.)
        for _ in range(50):
            if sessions() == before:
                break
            time.sleep(0.1)
        assert sessions() == before

    def test_a_helpers_error_reaches_the_caller(self, settings):
        settings.DB_QUERY_THREADS = 2
        meet = threading.Barrier(2, timeout=10)

        def fails():
            meet.wait()
            raise ValueError("no such figure")

        def waits():
            meet.wait()
            return "done"

        with pytest.raises(ValueError, match="no such figure"):
            gather(waits, fails)

    def test_the_helpers_use_the_callers_time_zone(self, settings):
        from django.utils import timezone

        settings.DB_QUERY_THREADS = 2
        meet = threading.Barrier(2, timeout=10)

        def zone():
            meet.wait()
            return str(timezone.get_current_timezone())

        with timezone.override("Europe/Berlin"):
            assert gather(zone, zone) == ["Europe/Berlin", "Europe/Berlin"]


@pytest.mark.django_db
def test_inside_a_transaction_the_calls_run_in_the_callers_thread(settings):
    """Another connection would not see the transaction's rows (every wrapped test's, too)."""
    settings.DB_QUERY_THREADS = 4
    with transaction.atomic():
        Service.objects.create(name="uncommitted")
        seen = gather(*[lambda: (threading.get_ident(), Service.objects.filter(name="uncommitted").exists())] * 3)
    assert seen == [(threading.get_ident(), True)] * 3


@pytest.mark.django_db
def test_one_thread_means_one_after_another(settings):
    settings.DB_QUERY_THREADS = 1
    assert gather(threading.get_ident, threading.get_ident) == [threading.get_ident()] * 2
