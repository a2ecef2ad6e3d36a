"""The dashboard's figures, kept month by month until the data of that month changes.

At 100,000 incidents the all-time figures take half a second to compute, and a team edits its
incidents all day: caching the whole page until any write would compute it again after nearly
every edit. The figures are computed instead in parts, one per calendar month of incident
starts (metrics.compute_parts), and added up (metrics.merge_parts). Each part is cached under a
key that holds everything it depends on:

- the versions (data_version.months) of the months its incidents started in, and of the writes
  that concern every month: a committed write to a table the figures read makes a new key for
  the months it touched (a write to an incident touches the next 90 days' months too, whose
  repeats look back at it), so a cached part is never stale, only unused;
- the viewer: id, superuser flag and groups, which decide the restricted incidents they see
  (one viewer's figures are never served to another);
- the scope (its filters, its period: the burn-down's points), the part's span, today's date
  and the time zone (overdue items, months), and the COE target.

An edit to an action item recomputes one month's part, an edit to an incident four, not five
years' (all of them in one pass per figure: metrics.compute_parts). A part is stored only
when the versions it depends on are the same after computing as before: the passes run on
connections of their own, each seeing the data as its query starts, so a write committed
meanwhile could have reached some passes and not others.

PostgreSQL only (the versions need the triggers of migrations 0012 and 0013), and outside
transactions (the dashboard's views run in autocommit); DASHBOARD_CACHE_SECONDS=0 turns it off.
A cache that cannot be reached costs the speed-up, not the page.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from . import metrics
from .data_version import MONTHS_SQL, available, versions_of
from .models.incident import signed_in

logger = logging.getLogger(__name__)


@functools.cache
def _code_version() -> str:
    """The figures' code: after a deploy that changes how they are computed (or their shape),
    figures the previous code kept are not read."""
    return hashlib.sha256(Path(__file__).with_name("metrics.py").read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class State:
    versions: dict[int, tuple[int, int]]  # data_version.months()
    groups: tuple[int, ...]
    first: datetime | None  # the earliest and latest incident start
    last: datetime | None


def _state(user) -> State:
    """The months' versions, the viewer's groups and the span of incident starts, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ({MONTHS_SQL}), "
            "ARRAY(SELECT group_id FROM auth_user_groups WHERE user_id = %s ORDER BY group_id), "
            "(SELECT min(started_at) FROM incidents_incident), (SELECT max(started_at) FROM incidents_incident)",
            [user.pk],
        )
        versions, groups, first, last = cursor.fetchone()
    return State(versions_of(versions), tuple(groups), first, last)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_parts(period: metrics.Period, first: datetime | None, last: datetime | None) -> list[metrics.Period]:
    """The period cut at month boundaries, within the months incidents started in (first to last)."""
    if first is None or last is None:
        return []
    start = timezone.localdate(first).replace(day=1)
    end = _next_month(timezone.localdate(last))
    start, end = max(start, period.start or start), min(end, period.end or end)
    parts = []
    while start < end:
        nxt = min(_next_month(start), end)
        parts.append(metrics.Period(start, nxt))
        start = nxt
    return parts


def _utc_months(part: metrics.Period) -> list[int]:
    """The log's months (yyyymm, UTC) a part's figures depend on: those its local days fall in."""
    start, end = part.bounds()
    cursor = start.astimezone(UTC).date().replace(day=1)
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    months = []
    while cursor <= last:
        months.append(cursor.year * 100 + cursor.month)
        cursor = _next_month(cursor)
    return months


def _key(state: State, user, scope: metrics.Scope, part: metrics.Period, today: date) -> str:
    versions = [(month, state.versions.get(month)) for month in [0, *_utc_months(part)]]
    parts = (
        _code_version(),
        connection.settings_dict["NAME"],
        versions,
        state.groups,
        user.pk,
        user.is_superuser,
        user.is_active,
        scope,
        part,
        today.isoformat(),
        timezone.get_current_timezone_name(),
        settings.COE_APPROVAL_TARGET_DAYS,
    )
    return "dashboard-part:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _get_many(keys: list[str]) -> dict:
    try:
        return cache.get_many(keys)
    except Exception:  # an unreachable cache server: compute instead
        logger.warning("Dashboard cache unavailable; computing the figures", exc_info=True)
        return {}


def _set_many(values: dict) -> None:
    try:
        cache.set_many(values, settings.DASHBOARD_CACHE_SECONDS)
    except Exception:
        logger.warning("Dashboard cache unavailable; figures not kept", exc_info=True)


def used() -> bool:
    # In a transaction the figures would include its own uncommitted writes, which the versions
    # do not count (the log has a row per transaction): they are neither cached nor served.
    return bool(settings.DASHBOARD_CACHE_SECONDS) and available() and not connection.in_atomic_block


def figures(user, scope: metrics.Scope, today: date) -> dict:
    """The scope's figures for this viewer: each month's part from the cache where its data has
    not changed, the others computed (all of them side by side), then added up."""
    if not used() or not signed_in(user):
        return metrics.compute_dashboard_metrics(user, scope, today=today)
    before = _state(user)
    parts = month_parts(scope.period, before.first, before.last)
    if not parts:  # no incidents in the period: nothing worth keeping
        return metrics.compute_dashboard_metrics(user, scope, today=today)
    keys = [_key(before, user, scope, part, today) for part in parts]
    found = _get_many(keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing:
        computed = metrics.compute_parts(user, scope, [parts[i] for i in missing], today)
        after = _state(user)
        keep = {}
        for i, part in zip(missing, computed, strict=True):
            found[keys[i]] = part
            if _key(after, user, scope, parts[i], today) == keys[i]:
                keep[keys[i]] = part
        if keep:
            _set_many(keep)
    return metrics.merge_parts(user, scope, today, [found[key] for key in keys])
