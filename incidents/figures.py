"""The dashboard's figures for its default views, kept in Django's cache (stale-while-revalidate).

Computing the all-time figures reads every incident and action item a viewer may see (about half
a second at 100,000 incidents), and leadership opens the same few views all day. So the figures of
each default view (a preset period, no other filter; metrics.PRESETS) are kept whole in the cache,
under a key that covers everything they depend on:

- the audience: what decides which restricted incidents the viewer may see (their groups and the
  restricted incidents they own; superusers see all), so a team shares one entry;
- the view, the day (overdue items and the burn-down move at midnight) and the time zone;
- the COE approval target, and a digest of the code and vocabularies the figures are computed by
  (a deploy that adds a cause never reads counts laid out by the code before it).

Every write the figures read goes through incidents/services.py, which calls data_changed(): on
commit, the generation (a random token) moves on. A reader whose entry belongs to an older
generation, or is older than DASHBOARD_MAX_AGE_SECONDS (the bound for writes that bypass the
services: the admin, raw SQL), is served it at once with its "computed at" time, and a Celery task
recomputes it. One refresh per entry is queued per DASHBOARD_REFRESH_SECONDS, so a burst of
writes costs one computation. With no entry (first read of the day, a new audience), or the cache
unreachable, the figures are computed in the request. Any other filter is computed live.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache as memoize
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db import transaction
from django.db.models import OuterRef
from django.utils import timezone

from . import metrics
from .metrics import Scope
from .models import Incident

logger = logging.getLogger(__name__)

GENERATION_KEY = "dashboard:generation"


def data_changed() -> None:
    """Mark every kept figure stale once the current transaction commits (at once outside one)."""
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # an unreachable cache must not fail a committed write; it keeps nothing either
        logger.warning("Could not mark the dashboard's figures stale", exc_info=True)


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:  # evicted or never set: start one, so no entry can look current by chance
        generation = uuid.uuid4().hex
        cache.add(GENERATION_KEY, generation, timeout=None)
        generation = cache.get(GENERATION_KEY, generation)
    return generation


@memoize
def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in (here / "metrics.py", here / "models" / "vocab.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def preset_of(scope: Scope, today: date) -> str | None:
    """Which default view the scope is, or None for any other filter."""
    for choice in metrics.PRESETS:
        if scope == Scope(period=metrics.preset_period(choice, today)):
            return choice
    return None


def _audience(user) -> list:
    """What decides which restricted incidents the viewer sees (Incident.objects.visible_to): all
    of them for a superuser, else those of the viewer's groups and those the viewer owns. Viewers
    with the same groups and owned restricted incidents see the same incidents. One query
    (listing the incidents hidden from a viewer instead cost 19 ms at 100,000 incidents)."""
    if user.is_superuser:
        return ["all"]
    membership = get_user_model().groups.through.objects.filter(user_id=OuterRef("pk")).order_by("group_id")
    owned = Incident.objects.filter(restricted=True, owner_id=OuterRef("pk")).order_by("pk")
    groups, incidents = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values_list(ArraySubquery(membership.values("group_id")), ArraySubquery(owned.values("pk")))
        .get()
    )
    return [groups, incidents]


def _key(user, preset: str, today: date) -> str:
    parts = [
        _code_digest(),
        _audience(user),
        preset,
        today.isoformat(),
        settings.TIME_ZONE,
        settings.COE_APPROVAL_TARGET_DAYS,
    ]
    return "dashboard:" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Figures:
    metrics: dict
    computed_at: datetime
    kept: bool  # served from the cache (a default view), not computed for this request


def _store(key: str, generation: str, figures: dict) -> None:
    cache.set(key, {"generation": generation, "metrics": figures}, timeout=settings.DASHBOARD_CACHE_SECONDS)


def _computed(figures: dict, *, kept: bool) -> Figures:
    return Figures(figures, datetime.fromisoformat(figures["computed_at"]), kept)


def dashboard(user, scope: Scope, *, today: date | None = None) -> Figures:
    """The figures for this viewer and scope: kept ones for a default view, else computed."""
    today = today or timezone.localdate()
    preset = preset_of(scope, today)
    if preset is None or settings.DASHBOARD_CACHE_SECONDS == 0:
        return _computed(metrics.compute_dashboard_metrics(user, scope, today=today), kept=False)
    try:
        key = _key(user, preset, today)
        generation = _generation()
        entry = cache.get(key)
    except Exception:
        logger.warning("Dashboard cache unreachable: computing the figures", exc_info=True)
        return _computed(metrics.compute_dashboard_metrics(user, scope, today=today), kept=False)
    if entry is None:
        figures = metrics.compute_dashboard_metrics(user, scope, today=today)
        # Kept under the generation read before computing: a write committed meanwhile leaves it stale.
        _store_quietly(key, generation, figures)
        return _computed(figures, kept=False)
    kept = _computed(entry["metrics"], kept=True)
    age = (timezone.now() - kept.computed_at).total_seconds()
    if entry["generation"] != generation or age > settings.DASHBOARD_MAX_AGE_SECONDS:
        _queue_refresh(key, user, preset, today)
    return kept


def _store_quietly(key: str, generation: str, figures: dict) -> None:
    try:
        _store(key, generation, figures)
    except Exception:
        logger.warning("Could not keep the dashboard's figures", exc_info=True)


def _queue_refresh(key: str, user, preset: str, today: date) -> None:
    """Queue one recomputation of this entry, unless one was queued in the last DASHBOARD_REFRESH_SECONDS."""
    from .tasks import refresh_dashboard

    def send() -> None:
        try:
            refresh_dashboard.delay(user.pk, preset, today.isoformat())
        except Exception:  # no broker: the kept figures are served until they expire
            logger.warning("Could not queue the dashboard's refresh", exc_info=True)

    try:
        queued = cache.add(f"{key}:refresh", 1, timeout=settings.DASHBOARD_REFRESH_SECONDS)
    except Exception:
        logger.warning("Dashboard cache unreachable: no refresh queued", exc_info=True)
        return
    if queued:
        transaction.on_commit(send)


def refresh(user, preset: str, today: date) -> None:
    """Recompute and keep one default view's figures for this viewer's audience (the Celery task)."""
    key = _key(user, preset, today)
    generation = _generation()
    figures = metrics.compute_dashboard_metrics(user, Scope(period=metrics.preset_period(preset, today)), today=today)
    _store(key, generation, figures)
