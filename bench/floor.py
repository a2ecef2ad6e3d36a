"""The floor: the fastest plain way to serve the same rows, measured beside the app in the same run.

- constant: a bare Django view returning a constant (the cost of Django's stack alone);
- incident_list / incident_detail: the rows the API list and detail return, from hand-written SQL
  run with psycopg on Django's connection and dumped with orjson; no ORM, no DRF, no templates;
- replay: for the search page, the app's own SELECTs (captured by probe.py) run with psycopg and
  dumped with orjson, so the ratio is what Python and templates add to them. (The dashboard has
  no floor: its default views are served from kept figures, computed by a Celery worker.)

The views trust a `uid` parameter for visibility instead of authenticating: they are only in the
benchmark's URLconf (bench/urlconf.py, selected by bench.settings), never in the product's.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import orjson
from django.db import connection
from django.http import Http404, HttpResponse
from psycopg.types.json import set_json_loads

from incidents.api.serializers import IncidentListSerializer

_VISIBLE = (
    "(NOT i.restricted OR i.owner_id = %(uid)s"
    " OR i.access_group_id IN (SELECT group_id FROM auth_user_groups WHERE user_id = %(uid)s))"
)

_LIST = """
WITH page AS (
    SELECT i.id, i.key, i.title, i.severity, i.status, i.primary_cause, i.attribution_status, i.adopted_cause,
           i.harm_level, i.started_at, i.time_precision, i.started_estimated, i.detected_at, i.detected_precision,
           i.detected_estimated, i.mitigated_at, i.mitigated_precision, i.mitigated_estimated, i.resolved_at,
           i.resolved_precision, i.resolved_estimated, i.restricted, i.updated_at
    FROM incidents_incident i {join}
    WHERE {where}
    ORDER BY i.started_at DESC, i.id DESC
    LIMIT %(limit)s
)
SELECT p.key, p.title, p.severity, p.status, p.primary_cause, p.attribution_status, p.adopted_cause, p.harm_level,
       p.started_at, p.time_precision, p.started_estimated, p.detected_at, p.detected_precision, p.detected_estimated,
       p.mitigated_at, p.mitigated_precision, p.mitigated_estimated, p.resolved_at, p.resolved_precision,
       p.resolved_estimated,
       EXTRACT(EPOCH FROM p.detected_at - p.started_at)::bigint,
       EXTRACT(EPOCH FROM p.mitigated_at - p.started_at)::bigint,
       EXTRACT(EPOCH FROM p.resolved_at - p.started_at)::bigint,
       ARRAY(SELECT s.name FROM incidents_incident_services x JOIN incidents_service s ON s.id = x.service_id
             WHERE x.incident_id = p.id ORDER BY s.name),
       ARRAY(SELECT r.code FROM incidents_incident_regions x JOIN incidents_region r ON r.id = x.region_id
             WHERE x.incident_id = p.id ORDER BY r.code),
       EXISTS(SELECT 1 FROM incidents_aiinvolvement a WHERE a.incident_id = p.id),
       p.restricted,
       (SELECT c.status FROM incidents_coedocument c WHERE c.incident_id = p.id),
       p.updated_at
FROM page p
ORDER BY p.started_at DESC, p.id DESC
"""
# The columns _LIST selects, in order: the API list's fields but its url (built per row below).
_LIST_FIELDS = tuple(name for name in IncidentListSerializer.Meta.fields if name != "url")

# The same word search as the API's ?search= (incidents.filters.IncidentFilter.filter_search),
# on the COE joined as the ORM joins it (an EXISTS here makes PostgreSQL scan every COE).
_WORD = (
    "(i.title ILIKE {p} OR i.summary ILIKE {p} OR upper(i.key) = upper({w})"
    " OR c.summary ILIKE {p} OR c.root_cause ILIKE {p})"
)
_COE_JOIN = "LEFT JOIN incidents_coedocument c ON c.incident_id = i.id"

_DETAIL = """
SELECT i.id, i.key, i.title, i.severity, i.status, i.primary_cause, i.attribution_status, i.adopted_cause,
       i.harm_level, i.started_at, i.time_precision, i.started_estimated, i.detected_at, i.detected_precision,
       i.detected_estimated, i.mitigated_at, i.mitigated_precision, i.mitigated_estimated, i.resolved_at,
       i.resolved_precision, i.resolved_estimated,
       EXTRACT(EPOCH FROM i.detected_at - i.started_at)::bigint AS time_to_detect_seconds,
       EXTRACT(EPOCH FROM i.mitigated_at - i.started_at)::bigint AS time_to_mitigate_seconds,
       EXTRACT(EPOCH FROM i.resolved_at - i.started_at)::bigint AS time_to_resolve_seconds,
       ARRAY(SELECT s.name FROM incidents_incident_services x JOIN incidents_service s ON s.id = x.service_id
             WHERE x.incident_id = i.id ORDER BY s.name) AS services,
       ARRAY(SELECT r.code FROM incidents_incident_regions x JOIN incidents_region r ON r.id = x.region_id
             WHERE x.incident_id = i.id ORDER BY r.code) AS regions,
       EXISTS(SELECT 1 FROM incidents_aiinvolvement a WHERE a.incident_id = i.id) AS ai_involved,
       i.restricted,
       (SELECT c.status FROM incidents_coedocument c WHERE c.incident_id = i.id) AS coe_status,
       i.updated_at, i.summary, i.customer_impact, i.trigger_kind, i.trigger_text,
       ARRAY(SELECT f.factor FROM incidents_incidentfactor f WHERE f.incident_id = i.id ORDER BY f.id)
           AS contributing_factors,
       i.adopted_cause_rationale,
       EXTRACT(EPOCH FROM i.reported_duration)::bigint AS reported_duration_seconds,
       ARRAY(SELECT t.name FROM incidents_incident_tags x JOIN incidents_tag t ON t.id = x.tag_id
             WHERE x.incident_id = i.id ORDER BY t.name) AS tags,
       (SELECT u.username FROM auth_user u WHERE u.id = i.owner_id) AS owner,
       (SELECT t.slug FROM incidents_team t WHERE t.id = i.team_id) AS team,
       (SELECT COALESCE(json_agg(json_build_object(
            'id', f.id, 'name', f.name, 'value', f.value, 'unit', f.unit, 'is_estimate', f.is_estimate,
            'as_of', f.as_of,
            'note', f.note, 'source_id', f.source_id) ORDER BY f.name, f.as_of, f.id), '[]')
        FROM incidents_impactfigure f WHERE f.incident_id = i.id) AS impact_figures,
       (SELECT COALESCE(json_agg(json_build_object(
            'id', t.id, 'incident', i.key, 'occurred_at', t.occurred_at, 'precision', t.precision,
            'estimated', t.estimated, 'display_tz', t.display_tz, 'kind', t.kind, 'actor_kind', t.actor_kind,
            'description', t.description,
            'moment', t.moment, 'source_id', t.source_id) ORDER BY t.occurred_at, t.id), '[]')
        FROM incidents_timelineevent t WHERE t.incident_id = i.id) AS timeline,
       (SELECT COALESCE(json_agg(json_build_object(
            'id', a.id, 'agent_name', a.agent_name, 'vendor', a.vendor, 'role', a.role,
            'autonomy_level', a.autonomy_level,
            'cset_autonomy', CASE a.autonomy_level WHEN 'L4' THEN 'Autonomy2' WHEN 'L5' THEN 'Autonomy1'
                                 WHEN '' THEN NULL ELSE 'Autonomy3' END,
            'gate_present', a.gate_present, 'gate_type', a.gate_type, 'gate_bypassed', a.gate_bypassed,
            'permissions_held', a.permissions_held, 'permissions_inherited', a.permissions_inherited,
            'action_taken', a.action_taken, 'action_class', a.action_class, 'reversible', a.reversible,
            'excessive_functionality', a.excessive_functionality, 'excessive_permissions', a.excessive_permissions,
            'excessive_autonomy', a.excessive_autonomy,
            'evidence', ARRAY(SELECT e.source_id FROM incidents_aiinvolvement_evidence e
                              WHERE e.aiinvolvement_id = a.id ORDER BY e.source_id),
            'citations', (SELECT COALESCE(json_object_agg(k.field, k.source_id ORDER BY k.field), '{{}}')
                          FROM incidents_aifieldcitation k WHERE k.involvement_id = a.id)) ORDER BY a.id), '[]')
        FROM incidents_aiinvolvement a WHERE a.incident_id = i.id) AS ai_involvements,
       (SELECT COALESCE(json_agg(json_build_object(
            'id', c.id, 'incident', i.key, 'claimant', c.claimant, 'stance', c.stance,
            'claimed_cause', c.claimed_cause, 'claimed_ai_role', c.claimed_ai_role, 'statement', c.statement,
            'quote', c.quote, 'source', json_build_object(
                'id', s.id, 'url', s.url, 'title', s.title, 'publisher', s.publisher, 'kind', s.kind,
                'published_on', s.published_on, 'published_approx', s.published_approx,
                'retrieved_on', s.retrieved_on, 'note', s.note)) ORDER BY s.published_on, c.id), '[]')
        FROM incidents_claim c JOIN incidents_source s ON s.id = c.source_id WHERE c.incident_id = i.id) AS claims,
       (SELECT COALESCE(json_agg(json_build_object(
            'id', s.id, 'url', s.url, 'title', s.title, 'publisher', s.publisher, 'kind', s.kind,
            'published_on', s.published_on, 'published_approx', s.published_approx,
            'retrieved_on', s.retrieved_on, 'note', s.note) ORDER BY s.published_on, s.publisher), '[]')
        FROM incidents_source s WHERE s.id IN (
            SELECT source_id FROM incidents_incident_sources WHERE incident_id = i.id
            UNION SELECT e.source_id FROM incidents_aiinvolvement_evidence e
                  JOIN incidents_aiinvolvement a ON a.id = e.aiinvolvement_id WHERE a.incident_id = i.id
            UNION SELECT source_id FROM incidents_claim WHERE incident_id = i.id
            UNION SELECT source_id FROM incidents_timelineevent WHERE incident_id = i.id
            UNION SELECT source_id FROM incidents_impactfigure WHERE incident_id = i.id
            UNION SELECT source_id FROM incidents_actionitem WHERE incident_id = i.id
            UNION SELECT k.source_id FROM incidents_aifieldcitation k
                  JOIN incidents_aiinvolvement a ON a.id = k.involvement_id WHERE a.incident_id = i.id
            UNION SELECT i.reported_duration_source_id)) AS sources,
       ARRAY(SELECT control_id FROM incidents_control_incidents WHERE incident_id = i.id ORDER BY 1) AS controls,
       i.created_at
       {page_only}
FROM incidents_incident i
WHERE i.key = %(key)s AND {visible}
"""

# What the HTML page shows besides the API's fields.
_PAGE_ONLY = """,
       (SELECT COALESCE(json_agg(json_build_object(
            'id', a.id, 'title', a.title, 'status', a.status, 'priority', a.priority, 'action_type', a.action_type,
            'due_date', a.due_date, 'owner', u.username, 'ticket_url', a.ticket_url, 'disputed', a.disputed)
            ORDER BY a.due_date, a.id), '[]')
        FROM incidents_actionitem a LEFT JOIN auth_user u ON u.id = a.owner_id
        WHERE a.incident_id = i.id) AS action_items,
       (SELECT COALESCE(json_agg(json_build_object('id', k.id, 'name', k.name, 'status', k.status)
            ORDER BY k.name), '[]')
        FROM incidents_control_incidents x JOIN incidents_control k ON k.id = x.control_id
        WHERE x.incident_id = i.id) AS controls,
       (SELECT json_build_object('status', c.status, 'approver', u.username)
        FROM incidents_coedocument c LEFT JOIN auth_user u ON u.id = c.approver_id
        WHERE c.incident_id = i.id) AS coe
"""


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    raise TypeError(type(value).__name__)


def _json(body) -> HttpResponse:
    return HttpResponse(orjson.dumps(body, default=_default), content_type="application/json")


def _cursor():
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    set_json_loads(orjson.loads, cursor)
    return cursor


def constant(request):
    return HttpResponse(b'{"ok":true}', content_type="application/json")


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def incident_list(request):
    """The API list's rows: ?uid=&limit=100[&cause=&start=&end=][&search=]."""
    params = {"uid": int(request.GET["uid"]), "limit": min(int(request.GET.get("limit", 100)), 500)}
    where = [_VISIBLE]
    if request.GET.get("cause"):
        where.append("i.primary_cause = %(cause)s")
        params["cause"] = request.GET["cause"]
    if request.GET.get("start"):
        where.append("i.started_at >= %(start)s")
        params["start"] = request.GET["start"]
    if request.GET.get("end"):
        where.append("i.started_at < %(end)s")
        params["end"] = request.GET["end"]
    words = request.GET.get("search", "").split()[:8]
    for n, word in enumerate(words):
        params[f"w{n}"], params[f"p{n}"] = word, _like(word)
        where.append(_WORD.format(w=f"%(w{n})s", p=f"%(p{n})s"))
    with _cursor() as cursor:
        cursor.execute(_LIST.format(join=_COE_JOIN if words else "", where=" AND ".join(where)), params)
        rows = cursor.fetchall()
    prefix = request.build_absolute_uri("/api/v1/incidents/")
    results = []
    for row in rows:
        item = dict(zip(_LIST_FIELDS, row, strict=True))
        item["url"] = f"{prefix}{item['key']}/"
        results.append(item)
    return _json({"next": None, "previous": None, "results": results})


def incident_detail(request, key: str):
    """The API detail's fields (?page=1 adds what the HTML page shows: action items, controls, COE)."""
    sql = _DETAIL.format(visible=_VISIBLE, page_only=_PAGE_ONLY if request.GET.get("page") else "")
    with _cursor() as cursor:
        cursor.execute(sql, {"key": key, "uid": int(request.GET["uid"])})
        row = cursor.fetchone()
        if row is None:
            raise Http404("No such incident.")
        names = [column.name for column in cursor.description]
    item = dict(zip(names, row, strict=True))
    item.pop("id")
    absolute = request.build_absolute_uri
    item["url"] = absolute(f"/api/v1/incidents/{key}/")
    item["links"] = {
        "html": absolute(f"/incidents/{key}/"),
        "coe": absolute(f"/api/v1/coes/{key}/") if item["coe_status"] else None,
        "action_items": absolute("/api/v1/action-items/") + f"?incident={key}",
    }
    return _json(item)


_replays: dict[str, list[str]] = {}


def replay(request, case: str):
    """The SELECTs the app ran for this case (written by probe.py), run again with psycopg."""
    if case not in _replays:
        path = Path(os.environ.get("BENCH_REPLAY_DIR", "bench-results/replay")) / f"{case}.json"
        if not path.is_file():
            raise Http404("No captured queries for this case.")
        _replays[case] = json.loads(path.read_text())
    results = []
    with _cursor() as cursor:
        for sql in _replays[case]:
            cursor.execute(sql)  # no parameters: psycopg leaves % alone
            results.append(cursor.fetchall())
    return _json({"results": results})
