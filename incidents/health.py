"""Liveness and readiness probes for load balancers and orchestrators."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request):
    """The process is up. Touches nothing else, so it cannot fail on a dependency."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; report it, don't raise
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    from coe.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_cache() -> str | None:
    from django.core.cache import cache

    try:
        cache.get("readyz")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _ready(needed: tuple[str, ...]) -> JsonResponse:
    checks = {"database": _check_database(), "broker": _check_broker(), "cache": _check_cache()}
    down = {name for name, error in checks.items() if error is not None}
    body = {
        "status": "unavailable" if down & set(needed) else "degraded" if down else "ok",
        "needs": list(needed),
        "checks": {name: ("ok" if error is None else f"down: {error}") for name, error in checks.items()},
        "broker": "redis" if settings.REDIS_URL else "embedded (files)",
    }
    return JsonResponse(body, status=503 if body["status"] == "unavailable" else 200)


@require_GET
@never_cache
def readyz(request):
    """The web tier is ready: 503 only when the database is down, the one thing its pages and API need.

    The body lists every dependency and says which is down, so the person paged knows where to look. With the
    broker or the cache (Redis) down the site still serves ("degraded"): the API's rate limits count per
    process, the dashboard computes its figures in the request. A load balancer must not take the site down
    for that; /readyz/workers is the probe that does care about the broker.
    """
    return _ready(needed=("database",))


@require_GET
@never_cache
def readyz_workers(request):
    """Celery's workers and beat are ready: they need the database and the broker (503 if either is down)."""
    return _ready(needed=("database", "broker"))
