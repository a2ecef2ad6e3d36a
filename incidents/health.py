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


@require_GET
@never_cache
def readyz(request):
    """Ready to serve: the database answers and the broker accepts connections.

    Says which one is down, so the person paged knows where to look.
    """
    checks = {"database": _check_database(), "broker": _check_broker()}
    body = {
        "status": "ok" if not any(checks.values()) else "unavailable",
        "checks": {name: ("ok" if error is None else f"down: {error}") for name, error in checks.items()},
        "broker": "redis" if settings.REDIS_URL else "embedded (files)",
    }
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
