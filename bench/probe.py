"""The parts of the benchmark that run inside Django, each printing one JSON object.

    python -m bench.probe setup             the bench user, a session, the keys and terms the cases use
    python -m bench.probe check SPEC.json   queries per request, EXPLAIN ANALYZE of each, replay files
    python -m bench.probe sweep DAY         the reminder sweep, timed; its claims are removed afterwards
    python -m bench.probe reminders-sent    today's reminders claimed and marked sent (before the worker starts)

run.py calls these with the benchmark's environment (DATABASE_URL and the rest).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

# Tables big enough that a sequential scan of one is worth a line in the report.
BIG_TABLES = {
    "incidents_incident",
    "incidents_timelineevent",
    "incidents_actionitem",
    "incidents_coedocument",
    "incidents_coedocument_authors",
    "incidents_claim",
    "incidents_source",
    "incidents_aiinvolvement",
    "incidents_incidentfactor",
    "incidents_impactfigure",
    "incidents_incident_services",
    "incidents_incident_regions",
    "incidents_incident_tags",
    "incidents_incident_sources",
    "incidents_reminderlog",
}
# Below this many rows read, a sequential scan is not worth reporting.
SEQ_SCAN_ROWS = 10_000


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def setup(search_term: str) -> dict:
    """The bench user (a reviewer in one access group, not a superuser), a session, and what the cases ask for."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.db.models import Count

    from incidents.generate import USER_PREFIX
    from incidents.models import Incident, Service
    from incidents.roles import REVIEWERS

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"email": "bench@example.com", "password": "!bench"}
    )
    groups = [Group.objects.get(name=REVIEWERS)]
    groups += list(Group.objects.filter(name=f"{USER_PREFIX}restricted-1"))
    user.groups.add(*groups)

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()

    visible = Incident.objects.visible_to(user)
    keys = list(visible.order_by("pk").values_list("key", flat=True))
    end = Incident.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    end_day = (end.date() + timedelta(days=1)) if end else date.today()
    # For "constant queries": two incidents with every kind of part (an empty kind skips its
    # prefetch query), one with the most parts and one with the fewest.
    complete = (
        visible.filter(started_at__gte=end - timedelta(days=365))
        .filter(ai_involvements__isnull=False, claims__isnull=False, impact_figures__source__isnull=False)
        .distinct()
        .annotate(n=Count("timeline", distinct=True) + Count("claims", distinct=True))
    )
    richest = complete.order_by("-n", "pk").values_list("key", flat=True).first() or keys[-1]
    poorest = complete.order_by("n", "pk").values_list("key", flat=True).first() or keys[0]
    year_start = end_day - timedelta(days=365)
    # The dashboard's filtered case: the service with the most incidents in the last year.
    service = (
        Service.objects.filter(incidents__started_at__date__gte=year_start)
        .annotate(n=Count("incidents"))
        .order_by("-n", "name")
        .values_list("name", flat=True)
        .first()
    )
    return {
        "user_id": user.pk,
        "username": user.username,
        "session_key": session.session_key,
        "incidents": Incident.objects.count(),
        "visible": len(keys),
        # 200 keys spread over the whole table, the detail cases cycle through them.
        "keys": keys[:: max(1, len(keys) // 200)][:200],
        "richest_key": richest,
        "poorest_key": poorest,
        "search_term": search_term,
        "end": end_day.isoformat(),
        "year_start": year_start.isoformat(),
        "service": service,
        # What the app runs with (the product's settings, the benchmark's URLconf).
        "settings": {
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
            "dashboard_cache_seconds": settings.DASHBOARD_CACHE_SECONDS,
            "dashboard_max_age_seconds": settings.DASHBOARD_MAX_AGE_SECONDS,
            "dashboard_refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
            "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
            "root_urlconf": settings.ROOT_URLCONF,
        },
    }


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explain(cursor, sql: str) -> dict:
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
    raw = cursor.fetchone()[0]
    document = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    scans = []
    for node in _plan_nodes(document["Plan"]):
        if node.get("Node Type") in ("Seq Scan", "Parallel Seq Scan") and node.get("Relation Name") in BIG_TABLES:
            loops = node.get("Actual Loops", 1)
            rows = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
            if rows >= SEQ_SCAN_ROWS:
                scans.append(
                    {"relation": node["Relation Name"], "rows_read": rows, "ms": round(node["Actual Total Time"], 1)}
                )
    return {"ms": round(document.get("Execution Time", 0.0), 2), "seq_scans": scans}


def _capture(client, url: str, *, cached: bool = False):
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    # A dashboard's default view: its figures kept (by the first call here) and served from the
    # cache; any other page, or cached=False, computed (the cache off).
    keep = settings.DASHBOARD_CACHE_SECONDS if cached else 0
    with override_settings(DASHBOARD_CACHE_SECONDS=keep):
        for _ in range(2):  # warm: the token's last use is written (once a minute), then its row read and remembered
            client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


def _same_bytes(app, floor) -> bool:
    """The floor answers with the app's very bytes."""
    return floor.status_code == 200 and floor.content == app.content


def check(spec_path: str) -> dict:
    """Per case: queries per request (at two sizes), EXPLAIN ANALYZE of each SELECT, replay files."""
    from django.db import connection, transaction
    from django.test import Client

    spec = json.loads(Path(spec_path).read_text())
    replay_dir = Path(spec["replay_dir"])
    replay_dir.mkdir(parents=True, exist_ok=True)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=spec["username"])
    token_client = Client(HTTP_AUTHORIZATION=f"Bearer {spec['token']}")
    session_client = Client()
    session_client.force_login(user)
    report = {}
    for case in spec["cases"]:
        client = token_client if case["auth"] == "token" else session_client
        response, queries = _capture(client, case["url"], cached=case.get("cached", False))
        entry = {"status": response.status_code, "queries": len(queries)}
        if response.status_code != 200:
            report[case["name"]] = entry
            continue
        if case.get("variant"):
            variant_response, variant_queries = _capture(client, case["variant"], cached=case.get("cached", False))
            entry["variant_status"] = variant_response.status_code
            entry["variant_queries"] = len(variant_queries)
            entry["constant_queries"] = len(variant_queries) == len(queries)
        if case.get("floor_url") and case.get("compare"):
            entry["floor_same_bytes"] = _same_bytes(response, Client().get(case["floor_url"]))
        selects = [q for q in queries if q.lstrip().upper().startswith(("SELECT", "WITH"))]
        explained = []
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in selects:
                try:
                    with transaction.atomic():
                        result = _explain(cursor, sql)
                except Exception as error:  # a query the text of which cannot be replayed
                    result = {"ms": None, "seq_scans": [], "error": str(error)[:200]}
                explained.append({"sql": sql[:300], **result})
            transaction.set_rollback(True)
        entry["sql_ms"] = round(sum(e["ms"] or 0 for e in explained), 1)
        entry["seq_scans"] = [{"query": n, **scan} for n, e in enumerate(explained) for scan in e["seq_scans"]]
        entry["slowest"] = sorted(explained, key=lambda e: -(e["ms"] or 0))[:3]
        if case.get("replay"):
            (replay_dir / f"{case['name']}.json").write_text(json.dumps(selects))
        report[case["name"]] = entry
    return report


def _rss_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _forget_reminders() -> None:
    """Empty the reminder log, so every run claims the same things (the benchmark database only)."""
    from django.db import connection

    from incidents.models import ReminderLog

    tables = [ReminderLog._meta.db_table, ReminderLog.action_items.through._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(connection.ops.quote_name(t) for t in tables))


def sweep(day: str) -> dict:
    """reminders.sweep(today=day) over everything open, as the task runs it (autocommit, a transaction a chunk).

    Not inside one transaction rolled back afterwards: each chunk would be a savepoint in one
    transaction, and past 64 of them PostgreSQL's snapshots slow everything down.
    The claims are removed afterwards instead.
    """
    from incidents import reminders
    from incidents.models import ActionItem

    today = date.fromisoformat(day)
    open_items = ActionItem.objects.open().count()
    overdue = ActionItem.objects.overdue(today).count()
    _forget_reminders()
    baseline = _rss_mb("VmRSS")
    with contextlib.suppress(OSError):  # restart the high-water mark here, so the peak is the sweep's own
        Path("/proc/self/clear_refs").write_text("5")
    began = time.monotonic()
    try:
        result = reminders.sweep(today=today)
        seconds = time.monotonic() - began
        peak = _rss_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        _forget_reminders()
    return {
        "seconds": round(seconds, 2),
        "open_items": open_items,
        "overdue_items": overdue,
        "claimed": len(result.claimed),
        "baseline_rss_mb": round(baseline or 0, 1),
        "peak_rss_mb": round(peak, 1),
        "growth_mb": round(peak - (baseline or 0), 1),
    }


def reminders_sent() -> dict:
    """Today's reminders claimed and marked sent, as in a deployment that has run all day: the
    Celery worker the benchmark starts sweeps on start (incidents.tasks.sweep_on_start) and then
    finds nothing to deliver, instead of thousands of digests the sweep case's clean-up left due."""
    from django.utils import timezone

    from incidents import reminders
    from incidents.models import ReminderLog
    from incidents.models.vocab import ReminderState

    began = time.monotonic()
    result = reminders.sweep()
    marked = ReminderLog.objects.filter(state__in=[ReminderState.CLAIMED, ReminderState.QUEUED]).update(
        state=ReminderState.SENT, sent_at=timezone.now()
    )
    return {"claimed": len(result.to_deliver), "marked_sent": marked, "seconds": round(time.monotonic() - began, 1)}


def main(argv: list[str]) -> None:
    _django()
    task, *args = argv
    if task == "setup":
        result = setup(*args)
    elif task == "check":
        result = check(*args)
    elif task == "sweep":
        result = sweep(*args)
    elif task == "reminders-sent":
        result = reminders_sent()
    else:
        raise SystemExit(f"unknown task {task!r}")
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
