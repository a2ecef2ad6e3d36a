"""Run a request's independent queries at the same time, each on a database connection of its own.

The dashboard's figures come from half a dozen passes that do not depend on each other; one
after another they cost their sum, side by side about the longest of them (PostgreSQL runs each
connection's query in its own process, and psycopg releases the GIL while it waits). The same
idea as Rails' `load_async`.

Serial where that would be wrong or pointless: on SQLite (one writer, a file), inside a
transaction (another connection would not see its uncommitted rows: every test that wraps itself
in one, and any caller that does), and when DB_QUERY_THREADS is 1.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None


def _executor(helpers: int) -> ThreadPoolExecutor:
    """The process's pool of helper threads (made anew after a fork: threads do not survive one)."""
    global _pool, _pool_key
    key = (os.getpid(), helpers)
    with _lock:
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="coe-queries")
            _pool_key = key
        return _pool


def concurrent_allowed() -> bool:
    return settings.DB_QUERY_THREADS > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block


def gather(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result, in order. Give the slowest calls first: each thread, the caller's
    included, takes the next call waiting, so the long ones start at once."""
    width = min(settings.DB_QUERY_THREADS, len(calls))
    if width <= 1 or not concurrent_allowed():
        return [call() for call in calls]
    results: list[Any] = [None] * len(calls)
    waiting = deque(enumerate(calls))
    zone = timezone.get_current_timezone()  # thread-local: the helpers use the caller's

    def drain(helper: bool) -> None:
        try:
            with timezone.override(zone):
                while True:
                    try:
                        index, call = waiting.popleft()
                    except IndexError:
                        return
                    results[index] = call()
        finally:
            if helper:
                # What the end of a request does for its own thread: close the connection if it
                # is past DB_CONN_MAX_AGE (at once, by default) or broken.
                close_old_connections()

    helpers = [_executor(settings.DB_QUERY_THREADS - 1).submit(drain, True) for _ in range(width - 1)]
    try:
        drain(False)
    except BaseException:
        waiting.clear()
        for future in helpers:
            future.exception()  # wait: they must not outlive the call
        raise
    for future in helpers:
        future.result()  # raises a helper's error here
    return results
