"""The dashboard's figures kept in Django's cache (stale-while-revalidate).

Every write that changes what the dashboard reads goes through incidents/services.py, which calls
data_changed(): on commit, the figures' generation moves on.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "dashboard:generation"


def _bump() -> None:
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - an unreachable cache must not fail a committed write
        pass


def data_changed() -> None:
    """Mark the cached figures stale once the current transaction commits (at once outside one)."""
    transaction.on_commit(_bump)
