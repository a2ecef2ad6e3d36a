"""The SQL both floors run for the API list and detail (floor.py inside Django, plain_floor.py outside it).

Hand-written over the tables, answering with what the app's answers hold: the list's columns with
services, regions, the AI flag and the COE status; the detail's columns with every part of the
incident as one JSON document, in the app's shape and order (incidents/api/detail.py).
"""

from __future__ import annotations

_VISIBLE = (
    "(NOT i.restricted OR i.owner_id = %(uid)s"
    " OR i.access_group_id IN (SELECT group_id FROM auth_user_groups WHERE user_id = %(uid)s))"
)

_TIMES = (
    "i.started_at, i.time_precision, i.started_estimated, i.detected_at, i.detected_precision, i.detected_estimated,"
    " i.mitigated_at, i.mitigated_precision, i.mitigated_estimated, i.resolved_at, i.resolved_precision,"
    " i.resolved_estimated"
)

# The API's ?search= word match (incidents.filters.IncidentFilter.filter_search), on the COE joined as
# the ORM joins it (an EXISTS here makes PostgreSQL scan every COE).
_WORD = (
    "(i.title ILIKE {p} OR i.summary ILIKE {p} OR upper(i.key) = upper({w})"
    " OR c.summary ILIKE {p} OR c.root_cause ILIKE {p})"
)
_COE_JOIN = "LEFT JOIN incidents_coedocument c ON c.incident_id = i.id"

_LIST = f"""
SELECT i.id, i.key, i.title, i.severity, i.status, i.primary_cause, i.attribution_status, i.adopted_cause,
       i.harm_level, {_TIMES},
       ARRAY(SELECT s.name FROM incidents_incident_services x JOIN incidents_service s ON s.id = x.service_id
             WHERE x.incident_id = i.id ORDER BY s.name),
       ARRAY(SELECT r.code FROM incidents_incident_regions x JOIN incidents_region r ON r.id = x.region_id
             WHERE x.incident_id = i.id ORDER BY r.code),
       (SELECT 1 FROM incidents_aiinvolvement a WHERE a.incident_id = i.id LIMIT 1) IS NOT NULL,
       i.restricted, i.demo,
       (SELECT c.status FROM incidents_coedocument c WHERE c.incident_id = i.id),
       i.updated_at
FROM incidents_incident i {{join}}
WHERE {{where}}
ORDER BY i.started_at DESC, i.id DESC
LIMIT %(limit)s
"""
LIST_FIELDS = (
    "id",
    "key",
    "title",
    "severity",
    "status",
    "primary_cause",
    "attribution_status",
    "adopted_cause",
    "harm_level",
    "started_at",
    "time_precision",
    "started_estimated",
    "detected_at",
    "detected_precision",
    "detected_estimated",
    "mitigated_at",
    "mitigated_precision",
    "mitigated_estimated",
    "resolved_at",
    "resolved_precision",
    "resolved_estimated",
    "services",
    "regions",
    "ai_involved",
    "restricted",
    "demo",
    "coe_status",
    "updated_at",
)

_SOURCE = (
    "json_build_object('id', s.id, 'url', s.url, 'title', s.title, 'publisher', s.publisher, 'kind', s.kind,"
    " 'published_on', s.published_on, 'published_approx', s.published_approx, 'retrieved_on', s.retrieved_on,"
    " 'note', s.note)"
)
_UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""

_DETAIL = f"""
SELECT i.key, i.title, i.severity, i.status, i.primary_cause, i.attribution_status, i.adopted_cause, i.harm_level,
       {_TIMES}, i.restricted, i.demo, i.updated_at, i.summary, i.customer_impact, i.trigger_kind, i.trigger_text,
       i.adopted_cause_rationale, i.reported_duration, i.created_at,
       json_build_object(
        'services', ARRAY(SELECT s.name FROM incidents_incident_services x JOIN incidents_service s
                          ON s.id = x.service_id WHERE x.incident_id = i.id ORDER BY s.name),
        'regions', ARRAY(SELECT r.code FROM incidents_incident_regions x JOIN incidents_region r
                         ON r.id = x.region_id WHERE x.incident_id = i.id ORDER BY r.code),
        'tags', ARRAY(SELECT t.name FROM incidents_incident_tags x JOIN incidents_tag t ON t.id = x.tag_id
                      WHERE x.incident_id = i.id ORDER BY t.name),
        'contributing_factors', ARRAY(SELECT f.factor FROM incidents_incidentfactor f WHERE f.incident_id = i.id
                                      ORDER BY f.id),
        'owner', (SELECT u.username FROM auth_user u WHERE u.id = i.owner_id),
        'team', (SELECT t.slug FROM incidents_team t WHERE t.id = i.team_id),
        'coe_status', (SELECT c.status FROM incidents_coedocument c WHERE c.incident_id = i.id),
        'impact_figures', (SELECT COALESCE(json_agg(json_build_object(
            'id', f.id, 'name', f.name, 'value', f.value::text, 'unit', f.unit, 'is_estimate', f.is_estimate,
            'as_of', {_UTC.format("f.as_of")}, 'note', f.note, 'source_id', f.source_id, 'basis', f.basis)
            ORDER BY f.name, f.as_of, f.id), '[]') FROM incidents_impactfigure f WHERE f.incident_id = i.id),
        'timeline', (SELECT COALESCE(json_agg(json_build_object(
            'id', t.id, 'incident', i.key, 'occurred_at', {_UTC.format("t.occurred_at")}, 'precision', t.precision,
            'estimated', t.estimated, 'display_tz', t.display_tz, 'kind', t.kind, 'actor_kind', t.actor_kind,
            'description', t.description, 'moment', t.moment, 'source_id', t.source_id, 'basis', t.basis)
            ORDER BY t.occurred_at, t.id), '[]') FROM incidents_timelineevent t WHERE t.incident_id = i.id),
        'ai_involvements', (SELECT COALESCE(json_agg(json_build_object(
            'id', a.id, 'agent_name', a.agent_name, 'vendor', a.vendor, 'role', a.role,
            'autonomy_level', a.autonomy_level, 'cset_autonomy', NULL,
            'gate_present', a.gate_present, 'gate_type', a.gate_type, 'gate_bypassed', a.gate_bypassed,
            'permissions_held', a.permissions_held, 'permissions_inherited', a.permissions_inherited,
            'action_taken', a.action_taken, 'action_class', a.action_class, 'reversible', a.reversible,
            'excessive_functionality', a.excessive_functionality, 'excessive_permissions', a.excessive_permissions,
            'excessive_autonomy', a.excessive_autonomy,
            'evidence', ARRAY(SELECT s.id FROM incidents_aiinvolvement_evidence e JOIN incidents_source s
                              ON s.id = e.source_id WHERE e.aiinvolvement_id = a.id
                              ORDER BY s.published_on, s.publisher, s.id),
            'citations', (SELECT COALESCE(json_object_agg(k.field, k.source_id ORDER BY k.field), '{{{{}}}}')
                          FROM incidents_aifieldcitation k WHERE k.involvement_id = a.id))
            ORDER BY a.id), '[]') FROM incidents_aiinvolvement a WHERE a.incident_id = i.id),
        'claims', (SELECT COALESCE(json_agg(json_build_object(
            'id', c.id, 'incident', i.key, 'claimant', c.claimant, 'stance', c.stance,
            'claimed_cause', c.claimed_cause, 'claimed_ai_role', c.claimed_ai_role, 'statement', c.statement,
            'quote', c.quote, 'source', {_SOURCE}) ORDER BY s.published_on, c.id), '[]')
            FROM incidents_claim c JOIN incidents_source s ON s.id = c.source_id WHERE c.incident_id = i.id),
        'sources', (SELECT COALESCE(json_agg({_SOURCE} ORDER BY s.published_on, s.publisher, s.id), '[]')
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
                UNION SELECT i.reported_duration_source_id)),
        'controls', ARRAY(SELECT control_id FROM incidents_control_incidents WHERE incident_id = i.id ORDER BY 1)
       )::text
FROM incidents_incident i
WHERE i.key = %(key)s AND {{visible}}
"""
DETAIL_FIELDS = (
    "key",
    "title",
    "severity",
    "status",
    "primary_cause",
    "attribution_status",
    "adopted_cause",
    "harm_level",
    *LIST_FIELDS[9:21],
    "restricted",
    "demo",
    "updated_at",
    "summary",
    "customer_impact",
    "trigger_kind",
    "trigger_text",
    "adopted_cause_rationale",
    "reported_duration",
    "created_at",
    "parts",
)


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_statement(*, uid: int | None, limit: int, cause=None, start=None, end=None, search="") -> tuple[str, dict]:
    """The list's SQL and parameters: visible to `uid` (None: a superuser), the filters given, newest first."""
    where, params = ["TRUE" if uid is None else _VISIBLE], {"uid": uid, "limit": limit}
    for value, condition, name in (
        (cause, "i.primary_cause = %(cause)s", "cause"),
        (start, "i.started_at >= %(start)s", "start"),
        (end, "i.started_at < %(end)s", "end"),
    ):
        if value:
            where.append(condition)
            params[name] = value
    words = search.split()[:8]
    for n, word in enumerate(words):
        params[f"w{n}"], params[f"p{n}"] = word, _like(word)
        where.append(_WORD.format(w=f"%(w{n})s", p=f"%(p{n})s"))
    return _LIST.format(join=_COE_JOIN if words else "", where=" AND ".join(where)), params


def detail_statement(*, uid: int | None, key: str) -> tuple[str, dict]:
    return _DETAIL.format(visible="TRUE" if uid is None else _VISIBLE), {"key": key, "uid": uid}
