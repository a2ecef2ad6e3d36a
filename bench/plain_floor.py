"""The plain floor: the API list and detail served by a bare WSGI app, outside Django.

What the app's answer costs at the least, by the plainest fast means: one persistent psycopg
connection per worker with every statement prepared (planned once), the API token checked
(the same lookup and hash as the app's), the same SQL as the in-Django floor (floor_sql.py),
rows turned into the app's JSON with orjson. Its answers are the app's bytes: bench/run.py
checks that before it times anything. No Django is imported here; bench/run.py serves it with
gunicorn beside the app.

    GET /api/v1/incidents/?page_size=&primary_cause=&started_after=&started_before=
    GET /api/v1/incidents/<key>/
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlencode

import orjson
import psycopg

from . import floor_sql

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
# incidents.models.vocab.AUTONOMY_TO_CSET
_CSET = {"L1": "Autonomy3", "L2": "Autonomy3", "L3": "Autonomy3", "L4": "Autonomy2", "L5": "Autonomy1"}
_TOKEN = """
SELECT t.user_id, t.key_hash, u.is_superuser
FROM incidents_apitoken t JOIN auth_user u ON u.id = t.user_id
WHERE t.key_id = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.is_active
"""
_TIME_FIELDS = tuple(
    name
    for at, precision, estimated in (
        ("started_at", "time_precision", "started_estimated"),
        ("detected_at", "detected_precision", "detected_estimated"),
        ("mitigated_at", "mitigated_precision", "mitigated_estimated"),
        ("resolved_at", "resolved_precision", "resolved_estimated"),
    )
    for name in (at, precision, estimated)
)

_connection: psycopg.Connection | None = None


def _cursor() -> psycopg.Cursor:
    global _connection
    if _connection is None or _connection.closed:
        # prepare_threshold=0: every statement is prepared on its first use and reused after.
        _connection = psycopg.connect(
            os.environ["PLAIN_FLOOR_DATABASE_URL"], autocommit=True, prepare_threshold=0, options="-c TimeZone=UTC"
        )
    return _connection.cursor()


def _answer(start_response, status: str, body: bytes):
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _user(environ) -> tuple[int, bool] | None:
    """The token's user id and whether a superuser, as ApiToken.authenticate checks it."""
    kind, _, plain = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    prefix, _, rest = plain.partition("_")
    key_id, _, secret = rest.partition("_")
    if kind.lower() != "bearer" or prefix != "coe" or not key_id or not secret:
        return None
    with _cursor() as cursor:
        row = cursor.execute(_TOKEN, (key_id,)).fetchone()
    if row is None or not hmac.compare_digest(row[1], hashlib.sha256(secret.encode()).hexdigest()):
        return None
    return row[0], row[2]


def _seconds(end: datetime | None, start: datetime | None) -> int | None:
    return int((end - start).total_seconds()) if end is not None and start is not None else None


def _cursor_link(url: str, query: str, started_at: datetime, pk: int) -> str:
    """The list's `next` link, as the app's keyset pagination writes it."""
    payload = {"o": ["-started_at", "-id"], "p": [started_at.isoformat(), pk]}
    token = base64.urlsafe_b64encode(orjson.dumps(payload)).decode()
    params = dict(parse_qs(query, keep_blank_values=True))
    params["cursor"] = [token]
    return f"{url}?{urlencode(sorted(params.items()), doseq=True)}"


def list_body(cursor, *, host: str, path: str, query: str, uid: int | None) -> bytes:
    """The API list's bytes for `uid` (None: a superuser) and the query string's filters."""
    args = dict(parse_qsl(query))
    limit = min(int(args.get("page_size", 50)), 200)
    sql, params = floor_sql.list_statement(
        uid=uid,
        limit=limit + 1,
        cause=args.get("primary_cause"),
        start=args.get("started_after"),
        end=args.get("started_before"),
        search=args.get("search", ""),
    )
    rows = cursor.execute(sql, params).fetchall()
    prefix = f"{host}/api/v1/incidents/"
    results = []
    for row in rows[:limit]:
        item = dict(zip(floor_sql.LIST_FIELDS, row, strict=True))
        item.pop("id")
        results.append(_summary(item, f"{prefix}{item['key']}/"))
    following = None
    if len(rows) > limit:
        last = dict(zip(floor_sql.LIST_FIELDS, rows[limit - 1], strict=True))
        following = _cursor_link(f"{host}{path}", query, last["started_at"], last["id"])
    return orjson.dumps({"next": following, "previous": None, "results": results}, option=_OPTIONS)


def _summary(item: dict, url: str) -> dict:
    """The fields the list and the detail share, in the API's order."""
    return {
        "key": item["key"],
        "url": url,
        "title": item["title"],
        "severity": item["severity"],
        "status": item["status"],
        "primary_cause": item["primary_cause"],
        "attribution_status": item["attribution_status"],
        "adopted_cause": item["adopted_cause"],
        "harm_level": item["harm_level"],
        **{name: item[name] for name in _TIME_FIELDS},
        "time_to_detect_seconds": _seconds(item["detected_at"], item["started_at"]),
        "time_to_mitigate_seconds": _seconds(item["mitigated_at"], item["started_at"]),
        "time_to_resolve_seconds": _seconds(item["resolved_at"], item["started_at"]),
        "services": item["services"],
        "regions": item["regions"],
        "ai_involved": item["ai_involved"],
        "restricted": item["restricted"],
        "demo": item["demo"],
        "coe_status": item["coe_status"],
        "updated_at": item["updated_at"],
    }


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def detail_body(cursor, *, host: str, key: str, uid: int | None) -> bytes | None:
    """The API detail's bytes, or None if `uid` (None: a superuser) may not see an incident with this key."""
    sql, params = floor_sql.detail_statement(uid=uid, key=key)
    row = cursor.execute(sql, params).fetchone()
    if row is None:
        return None
    item = dict(zip(floor_sql.DETAIL_FIELDS, row, strict=True))
    parts = orjson.loads(item["parts"])
    for figure in parts["impact_figures"]:
        figure["as_of"] = _time(figure["as_of"])
    for event in parts["timeline"]:
        event["occurred_at"] = _time(event["occurred_at"])
    for ai in parts["ai_involvements"]:
        ai["cset_autonomy"] = _CSET.get(ai["autonomy_level"])
    duration = item["reported_duration"]
    item.update(
        services=parts["services"],
        regions=parts["regions"],
        ai_involved=bool(parts["ai_involvements"]),
        coe_status=parts["coe_status"],
    )
    body = {
        **_summary(item, f"{host}/api/v1/incidents/{key}/"),
        "summary": item["summary"],
        "customer_impact": item["customer_impact"],
        "trigger_kind": item["trigger_kind"],
        "trigger_text": item["trigger_text"],
        "contributing_factors": parts["contributing_factors"],
        "adopted_cause_rationale": item["adopted_cause_rationale"],
        "reported_duration_seconds": int(duration.total_seconds()) if duration is not None else None,
        "tags": parts["tags"],
        "owner": parts["owner"],
        "team": parts["team"],
        "impact_figures": parts["impact_figures"],
        "timeline": parts["timeline"],
        "ai_involvements": parts["ai_involvements"],
        "claims": parts["claims"],
        "sources": parts["sources"],
        "controls": parts["controls"],
        "links": {
            "html": f"{host}/incidents/{key}/",
            "coe": f"{host}/api/v1/coes/{key}/" if parts["coe_status"] is not None else None,
            "action_items": f"{host}/api/v1/action-items/?incident={key}",
        },
        "created_at": item["created_at"],
    }
    return orjson.dumps(body, option=_OPTIONS)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/healthz":
        return _answer(start_response, "200 OK", b'{"ok":true}')
    if not path.startswith("/api/v1/incidents/"):
        return _answer(start_response, "404 Not Found", b'{"detail":"Not found."}')
    user = _user(environ)
    if user is None:
        return _answer(start_response, "401 Unauthorized", b'{"detail":"Invalid, expired or revoked token."}')
    uid = None if user[1] else user[0]
    host, key = f"http://{environ['HTTP_HOST']}", path[len("/api/v1/incidents/") :].strip("/")
    with _cursor() as cursor:
        if not key:
            query = environ.get("QUERY_STRING", "")
            return _answer(start_response, "200 OK", list_body(cursor, host=host, path=path, query=query, uid=uid))
        body = detail_body(cursor, host=host, key=key, uid=uid)
    if body is None:
        return _answer(start_response, "404 Not Found", b'{"detail":"No incident with that key."}')
    return _answer(start_response, "200 OK", body)
