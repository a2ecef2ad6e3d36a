"""The dashboard's figures, kept until the data they come from changes.

At 100,000 incidents the all-time figures take half a second to compute; leadership opens the
same dashboard again and again between writes. Each result is cached under a key that holds
everything it depends on:

- the data version (data_version.current): any committed write to a table the figures read
  makes a new key, so a cached result is never stale, only unused;
- the viewer: id, superuser flag and groups, which decide the restricted incidents they see
  (one viewer's figures are never served to another);
- the scope, today's date and the time zone (overdue items, months), and the COE target.

A result is stored only when the version after computing equals the version before: the passes
run on connections of their own, each seeing the data as its query starts, so a write
committed meanwhile could have reached some passes and not others.

PostgreSQL only (the version needs migration 0012's triggers), and outside transactions (the
dashboard's views run in autocommit); DASHBOARD_CACHE_SECONDS=0 turns it off. A cache that
cannot be reached costs the speed-up, not the page.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from .data_version import VERSION_SQL, available
from .models.incident import signed_in

logger = logging.getLogger(__name__)


@functools.cache
def _code_version() -> str:
    """The figures' code: after a deploy that changes how they are computed (or their shape),
    figures the previous code kept are not read."""
    return hashlib.sha256(Path(__file__).with_name("metrics.py").read_bytes()).hexdigest()[:16]


def _state(user) -> tuple:
    """The data version and the viewer's groups, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v.*, ARRAY(SELECT group_id FROM auth_user_groups WHERE user_id = %s ORDER BY group_id) "
            f"FROM ({VERSION_SQL}) v",
            [user.pk],
        )
        count, newest, groups = cursor.fetchone()
    return count, newest, tuple(groups)


def _key(state: tuple, user, scope, today: date) -> str:
    parts = (
        _code_version(),
        connection.settings_dict["NAME"],
        state,
        user.pk,
        user.is_superuser,
        user.is_active,
        scope,
        today.isoformat(),
        timezone.get_current_timezone_name(),
        settings.COE_APPROVAL_TARGET_DAYS,
    )
    return "dashboard:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _get(key: str):
    try:
        return cache.get(key)
    except Exception:  # an unreachable cache server: compute instead
        logger.warning("Dashboard cache unavailable; computing the figures", exc_info=True)
        return None


def _set(key: str, value) -> None:
    try:
        cache.set(key, value, settings.DASHBOARD_CACHE_SECONDS)
    except Exception:
        logger.warning("Dashboard cache unavailable; figures not kept", exc_info=True)


def remembered(user, scope, today: date, compute: Callable[[], dict]) -> dict:
    """compute(), or what it gave for this viewer, scope and day while the data has not changed."""
    # In a transaction the figures would include its own uncommitted writes, which the version
    # does not count (the log has one row per transaction): they are neither cached nor served.
    if not settings.DASHBOARD_CACHE_SECONDS or not available() or not signed_in(user) or connection.in_atomic_block:
        return compute()
    before = _state(user)
    key = _key(before, user, scope, today)
    figures = _get(key)
    if figures is None:
        figures = compute()
        if _state(user) == before:
            _set(key, figures)
    return figures
