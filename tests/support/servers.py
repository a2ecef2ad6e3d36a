"""The servers a test's own processes share with it: the database and Celery's broker.

In CI every one of them must be there: a missing one fails the test there, never skips it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from celery.exceptions import AlwaysEagerIgnored
from django.conf import settings
from kombu import Connection

from coe.celery import app


def database_url(db: dict) -> str:
    """A postgres:// URL for the database a Django DATABASES entry names, for another process.

    TCP (HOST and PORT) or a Unix socket directory: HOST starting with "/", or OPTIONS["host"]
    as the embedded server's URL gives it (coe/local_postgres.py). The other connection options
    go along as query parameters, except "options", which the settings add themselves.
    """
    options = {k: v for k, v in db.get("OPTIONS", {}).items() if k != "options" and isinstance(v, str | int)}
    host, port = db.get("HOST") or "", db.get("PORT") or ""
    if host.startswith("/"):  # a socket directory cannot be a URL's host
        options.update(host=host, **({"port": port} if port else {}))
        host = port = ""
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    netloc = f"{user}{password}@" if user else ""
    netloc += f"{host}:{port}" if host and port else host
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{netloc}/{quote(db['NAME'], safe='')}{query}"


def _missing(what: str) -> None:
    message = f"needs {what}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run this test, but it {message}")
    pytest.skip(message)


class Broker:
    """Celery's broker as the settings configure it, shared with worker processes.

    With REDIS_URL, that Redis (which must answer). Without, the embedded default's message
    folder (`filesystem://`), in a folder of this test's own: the children get it through
    LOCAL_STATE_DIR, and this process sends through a connection of its own to it, so nothing
    is left from another run or taken by another run's workers (or `make run`'s).
    """

    def __init__(self, tmp_path: Path):
        self.redis_url = os.environ.get("REDIS_URL", "")
        if self.redis_url:
            import redis

            try:
                redis.Redis.from_url(self.redis_url, socket_connect_timeout=2).ping()
            except redis.RedisError as exc:
                _missing(f"Redis at {self.redis_url} ({exc})")
            self.env = {"REDIS_URL": self.redis_url}
            self.connection: Connection = app.connection_for_write(self.redis_url)
        else:
            # The settings' folders (under LOCAL_STATE_DIR), moved to this test's own.
            state = tmp_path / "local-state"
            self.env = {"REDIS_URL": "", "LOCAL_STATE_DIR": str(state)}
            folders = {
                name: str(state / Path(value).relative_to(settings.LOCAL_STATE_DIR))
                for name, value in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items()
                if Path(str(value)).is_relative_to(settings.LOCAL_STATE_DIR)
            }
            for folder in folders.values():
                Path(folder).mkdir(parents=True, exist_ok=True)
            self.connection = app.connection_for_write(settings.CELERY_BROKER_URL, transport_options=folders)
        app.control.purge(connection=self.connection)  # nothing left over from another test in the queue

    def send(self, task: str) -> None:
        with warnings.catch_warnings():
            # The rest of the suite runs tasks eagerly; this one is for the workers, as meant.
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            app.send_task(task, connection=self.connection)

    def close(self) -> None:
        self.connection.release()
