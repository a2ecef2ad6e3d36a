"""The incident detail as one row: one query for the incident and every part of it.

The detail used to be the incident, then about ten prefetch queries, then DRF's
nested serializers over the model instances: most of a request's time. Here one
statement selects the incident's own columns and all its parts (tags, factors,
owner, COE status, impact figures, timeline, AI involvements with their evidence and
field citations, claims with their sources, the sources it lists or any of its records
cites, the controls it led to, services, regions) as one JSON document built
from json_agg/ARRAY subqueries; which incident, and whether the caller may see it,
is the ORM's queryset (visible_to, the filters, the key) compiled as its subquery. `shape` turns that into exactly
IncidentDetailSerializer's JSON: the same keys in the same order, child lists in
the order the serializer's prefetches give, datetimes as DRF writes them (in the
current time zone, `Z` for UTC), decimals as DRF's DecimalField strings.
Reads and the answers to writes are both shaped here; IncidentDetailSerializer only
describes the detail in the schema, and a test checks both give the same JSON. The row
is also what the incident's ETag digests (conditional.incident_etag).

The subqueries are written as SQL over the models' own table and column names
(as in rows.py): resolving them as ORM subqueries would cost more than running them.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import orjson
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from incidents.models import (
    ActionItem,
    AIFieldCitation,
    AIInvolvement,
    Claim,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    IncidentFactor,
    Source,
    Team,
    TimelineEvent,
)
from incidents.models import vocab as v

from . import rows

# The incident's own columns the detail answers with, plus the id the ETag names.
COLUMNS = (
    *rows.COLUMNS,
    "summary",
    "customer_impact",
    "trigger_kind",
    "trigger_text",
    "adopted_cause_rationale",
    "reported_duration",
    "created_at",
)

_CSET = {level.value: cset.value for level, cset in v.AUTONOMY_TO_CSET.items()}


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _col(model, field: str) -> str:
    return _q(model._meta.get_field(field).column)


def _table(model) -> str:
    return _q(model._meta.db_table)


def _json_object(alias: str, model, fields: tuple[str, ...], **computed: str) -> str:
    """json_build_object of `fields` (model field names, read from `alias`) and `computed` SQL, in that order."""
    pairs = []
    for name in fields:
        pairs.append(f"'{name}', {computed.pop(name) if name in computed else f'{alias}.{_col(model, name)}'}")
    assert not computed, computed
    return f"json_build_object({', '.join(pairs)})"


def _utc_text(expression: str) -> str:
    # Text in UTC with all six fractional digits: one fixed form for shape() to read back.
    return f"""to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""


def _list(element: str, source: str, order: str) -> str:
    return f"(SELECT COALESCE(json_agg({element} ORDER BY {order}), '[]') FROM {source})"


def _related_ids(field, owner: str) -> str:
    """ARRAY(the ids a many-to-many `field` links the row `owner` to).

    `t.id = ANY(ARRAY(...))` rather than a join: the same rows (the link table is unique), and
    PostgreSQL plans it in less time, which for this query matters more than running it.
    """
    through = field.remote_field.through._meta.db_table
    return (
        f"ARRAY(SELECT x.{_q(field.m2m_reverse_name())} FROM {_q(through)} x "
        f"WHERE x.{_q(field.m2m_column_name())} = {owner})"
    )


def _m2m_names(m2m: str, column: str) -> str:
    field = Incident._meta.get_field(m2m)
    return (
        f"ARRAY(SELECT t.{_q(column)} FROM {_table(field.related_model)} t "
        f"WHERE t.{_q('id')} = ANY({_related_ids(field, _outer('id'))}) ORDER BY t.{_q(column)})"
    )


def _outer(field: str) -> str:
    return f"{_table(Incident)}.{_col(Incident, field)}"


SOURCE_FIELDS = ("id", "url", "title", "publisher", "kind", "published_on", "published_approx", "retrieved_on", "note")
IMPACT_FIELDS = ("id", "name", "value", "unit", "is_estimate", "as_of", "note", "source_id", "basis")
TIMELINE_FIELDS = (
    "id",
    "incident",
    "occurred_at",
    "precision",
    "estimated",
    "display_tz",
    "kind",
    "actor_kind",
    "description",
    "moment",
    "source_id",
    "basis",
)
AI_FIELDS = (
    "id",
    "agent_name",
    "vendor",
    "role",
    "autonomy_level",
    "cset_autonomy",
    "gate_present",
    "gate_type",
    "gate_bypassed",
    "permissions_held",
    "permissions_inherited",
    "action_taken",
    "action_class",
    "reversible",
    "excessive_functionality",
    "excessive_permissions",
    "excessive_autonomy",
    "evidence",
    "citations",
)
CLAIM_FIELDS = (
    "id",
    "incident",
    "claimant",
    "stance",
    "claimed_cause",
    "claimed_ai_role",
    "statement",
    "quote",
    "source",
)


def _cited_ids() -> str:
    """ARRAY(the ids of the sources the incident lists or any of its records cites): its events, claims,
    impact figures, action items, AI involvements' evidence and field citations, its reported duration."""
    incident_id = _outer("id")
    ai = f"(SELECT a.{_q('id')} FROM {_table(AIInvolvement)} a "
    ai += f"WHERE a.{_col(AIInvolvement, 'incident')} = {incident_id})"
    evidence = AIInvolvement._meta.get_field("evidence")
    through = evidence.remote_field.through._meta.db_table
    selects = [
        f"SELECT x.{_q(field.m2m_reverse_name())} FROM {_q(table)} x WHERE x.{_q(field.m2m_column_name())} {match}"
        for field, table, match in [
            (Incident._meta.get_field("sources"), Incident.sources.through._meta.db_table, f"= {incident_id}"),
            (evidence, through, f"IN {ai}"),
        ]
    ]
    for model in (Claim, TimelineEvent, ImpactFigure, ActionItem):
        source = _col(model, "source")
        selects.append(f"SELECT r.{source} FROM {_table(model)} r WHERE r.{_col(model, 'incident')} = {incident_id}")
    selects.append(
        f"SELECT c.{_col(AIFieldCitation, 'source')} FROM {_table(AIFieldCitation)} c "
        f"WHERE c.{_col(AIFieldCitation, 'involvement')} IN {ai}"
    )
    selects.append(f"SELECT {_outer('reported_duration_source')}")
    return f"ARRAY({' UNION '.join(selects)})"


def _parts_sql() -> str:
    """One JSON document with every part of the incident, each list in the serializer's order.

    The orders are the models' Meta.ordering (their leading "incident" is one value here),
    ended on id where that ordering can tie, as the retrieve prefetches in views.py do.
    Sources are read with scalar subqueries and ANY(ARRAY(...)) rather than joins: the
    same rows, in less planning time (planning costs more than running this query).
    """
    incident_id = _outer("id")
    pk = _q("id")

    def source_object(alias: str) -> str:
        return _json_object(alias, Source, SOURCE_FIELDS)

    published_on = _col(Source, "published_on")
    sources_by_date = f"s.{published_on}, s.{_col(Source, 'publisher')}, s.{pk}"

    impact = _json_object(
        "f",
        ImpactFigure,
        IMPACT_FIELDS,
        value=f"f.{_col(ImpactFigure, 'value')}::text",  # DRF's DecimalField writes a string
        as_of=_utc_text(f"f.{_col(ImpactFigure, 'as_of')}"),
    )
    timeline = _json_object(
        "t",
        TimelineEvent,
        TIMELINE_FIELDS,
        incident=_outer("key"),
        occurred_at=_utc_text(f"t.{_col(TimelineEvent, 'occurred_at')}"),
    )
    evidence = AIInvolvement._meta.get_field("evidence")
    ai = _json_object(
        "a",
        AIInvolvement,
        AI_FIELDS,
        cset_autonomy="NULL",  # shape() maps the autonomy level, as the model's property does
        evidence=(
            f"ARRAY(SELECT s.{pk} FROM {_table(Source)} s WHERE s.{pk} = ANY({_related_ids(evidence, f'a.{pk}')}) "
            f"ORDER BY {sources_by_date})"
        ),
        citations=(
            f"(SELECT COALESCE(json_object_agg(c.{_col(AIFieldCitation, 'field')}, c.{_col(AIFieldCitation, 'source')} "
            f"ORDER BY c.{_col(AIFieldCitation, 'field')}), '{{}}') FROM {_table(AIFieldCitation)} c "
            f"WHERE c.{_col(AIFieldCitation, 'involvement')} = a.{pk})"
        ),
    )

    def claim_source(expression: str) -> str:
        return f"(SELECT {expression} FROM {_table(Source)} s WHERE s.{pk} = c.{_col(Claim, 'source')})"

    claim = _json_object("c", Claim, CLAIM_FIELDS, incident=_outer("key"), source=claim_source(source_object("s")))
    user = Incident._meta.get_field("owner").related_model
    controls = Control._meta.get_field("incidents")
    controls_table = controls.remote_field.through._meta.db_table
    parts = {
        "services": _m2m_names("services", "name"),
        "regions": _m2m_names("regions", "code"),
        "tags": _m2m_names("tags", "name"),
        "contributing_factors": (
            f"ARRAY(SELECT f.{_col(IncidentFactor, 'factor')} FROM {_table(IncidentFactor)} f "
            f"WHERE f.{_col(IncidentFactor, 'incident')} = {incident_id} ORDER BY f.{pk})"
        ),
        "owner": (
            f"(SELECT u.{_col(user, 'username')} FROM {_table(user)} u "
            f"WHERE u.{_q(user._meta.pk.column)} = {_outer('owner')})"
        ),
        "team": (f"(SELECT t.{_col(Team, 'slug')} FROM {_table(Team)} t WHERE t.{_q('id')} = {_outer('team')})"),
        "coe_status": (
            f"(SELECT d.{_col(CoeDocument, 'status')} FROM {_table(CoeDocument)} d "
            f"WHERE d.{_col(CoeDocument, 'incident')} = {incident_id})"
        ),
        "impact_figures": _list(
            impact,
            f"{_table(ImpactFigure)} f WHERE f.{_col(ImpactFigure, 'incident')} = {incident_id}",
            f"f.{_col(ImpactFigure, 'name')}, f.{_col(ImpactFigure, 'as_of')}, f.{pk}",
        ),
        "timeline": _list(
            timeline,
            f"{_table(TimelineEvent)} t WHERE t.{_col(TimelineEvent, 'incident')} = {incident_id}",
            f"t.{_col(TimelineEvent, 'occurred_at')}, t.{pk}",
        ),
        "ai_involvements": _list(
            ai,
            f"{_table(AIInvolvement)} a WHERE a.{_col(AIInvolvement, 'incident')} = {incident_id}",
            f"a.{pk}",
        ),
        "claims": _list(
            claim,
            f"{_table(Claim)} c WHERE c.{_col(Claim, 'incident')} = {incident_id}",
            f"{claim_source(f's.{published_on}')}, c.{pk}",
        ),
        "sources": _list(source_object("s"), f"{_table(Source)} s WHERE s.{pk} = ANY({_cited_ids()})", sources_by_date),
        "controls": (
            f"ARRAY(SELECT x.{_q(controls.m2m_column_name())} FROM {_q(controls_table)} x "
            f"WHERE x.{_q(controls.m2m_reverse_name())} = {incident_id} ORDER BY 1)"
        ),
    }
    return "json_build_object(" + ", ".join(f"'{name}', {sql}" for name, sql in parts.items()) + ")"


def _select_sql() -> str:
    """SELECT the incident's columns and its parts (as JSON text) for the incident whose id the
    query appended after it, closed with a parenthesis, selects."""
    columns = ", ".join(f"{_outer(name)}" for name in COLUMNS)
    return f"SELECT {columns}, ({_parts_sql()})::text FROM {_table(Incident)} WHERE {_outer('id')} IN ("


_select: str | None = None


def fetch(incidents: QuerySet[Incident]) -> dict | None:
    """The row of the incident `incidents` selects (visible to the caller, filtered,
    by key): its COLUMNS and `parts`, or None. One query.

    Visibility and filters stay the ORM's (the queryset's SQL is the subquery that picks the
    incident); the rest is a fixed statement, built once.
    """
    try:
        picked, params = incidents.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. visible_to() of nobody: none()
        return None
    return _fetch_picked(picked, params)


def _fetch_picked(picked: str, params) -> dict | None:
    """The fixed statement (built once) for the incident the `picked` SQL selects."""
    global _select
    if _select is None:
        _select = _select_sql()
    with connection.cursor() as cursor:
        cursor.execute(_select + picked + ")", params)
        row = cursor.fetchone()
    return None if row is None else dict(zip((*COLUMNS, "parts"), row, strict=True))


# Stand for the caller and the key in the picking statement compiled once (see fetch_visible).
_USER_PLACEHOLDER = -0x5EED
_KEY_PLACEHOLDER = "\x00incident-key\x00"


@functools.cache
def _picking_statement(alias: str, superuser: bool) -> tuple[str, tuple]:
    """visible_to(user).filter(key=...) as SQL, compiled by the ORM once per process, database and
    kind of user (a superuser sees everything; anyone else through owner and groups)."""
    placeholder = get_user_model()(pk=_USER_PLACEHOLDER, is_superuser=superuser)
    picked = Incident.objects.visible_to(placeholder).filter(key=_KEY_PLACEHOLDER).order_by().values("pk")
    return picked.query.get_compiler(using=alias).as_sql()


def fetch_visible(user, key: str) -> dict | None:
    """fetch() of the incident with this key if `user` may see it, without building a queryset:
    the detail with no filter parameters, the API's most frequent request.

    The statement is visible_to()'s own SQL, compiled once with placeholders for the user's id
    and the key, which are put in per request (a test checks it picks as the queryset does).
    """
    if not user.is_authenticated:
        return None
    picked, params = _picking_statement(connection.alias, user.is_superuser)
    values = {_USER_PLACEHOLDER: user.pk, _KEY_PLACEHOLDER: key}
    return _fetch_picked(picked, [values.get(p, p) if isinstance(p, int | str) else p for p in params])


def _seconds(end, start) -> int | None:
    return int((end - start).total_seconds()) if end is not None and start is not None else None


def _time(text: str | None, zone):
    """A UTC time as written by _utc_text, as DRF's DateTimeField gives it (the renderer writes `Z` for UTC)."""
    if text is None:
        return None
    value = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return value if zone is None else value.astimezone(zone)


@functools.cache
def _action_items_path(prefix: str) -> str:
    return reverse("api:actionitem-list")


def shape(row: dict, request) -> dict:
    """IncidentDetailSerializer's JSON for a fetch() row, field for field and in its order."""
    parts = orjson.loads(row["parts"])
    zone = None if timezone.get_current_timezone_name() == "UTC" else timezone.get_current_timezone()
    times = {
        name: (row[name] if zone is None or row[name] is None else timezone.localtime(row[name], zone))
        for name in ("started_at", "detected_at", "mitigated_at", "resolved_at", "updated_at", "created_at")
    }
    for figure in parts["impact_figures"]:
        figure["as_of"] = _time(figure["as_of"], zone)
    for event in parts["timeline"]:
        event["occurred_at"] = _time(event["occurred_at"], zone)
    for ai in parts["ai_involvements"]:
        level = ai["autonomy_level"]
        ai["cset_autonomy"] = _CSET[level] if level else None
    key = row["key"]
    origin = rows.origin_of(request)
    duration = row["reported_duration"]
    has_coe = parts["coe_status"] is not None
    return {
        "key": key,
        "url": rows.keyed_url(origin, "api:incident-detail", key),
        "title": row["title"],
        "severity": row["severity"],
        "status": row["status"],
        "primary_cause": row["primary_cause"],
        "attribution_status": row["attribution_status"],
        "adopted_cause": row["adopted_cause"],
        "harm_level": row["harm_level"],
        **{name: times.get(name, row[name]) for name in rows.TIME_FIELDS},
        "time_to_detect_seconds": _seconds(row["detected_at"], row["started_at"]),
        "time_to_mitigate_seconds": _seconds(row["mitigated_at"], row["started_at"]),
        "time_to_resolve_seconds": _seconds(row["resolved_at"], row["started_at"]),
        "services": parts["services"],
        "regions": parts["regions"],
        "ai_involved": bool(parts["ai_involvements"]),
        "restricted": row["restricted"],
        "demo": row["demo"],
        "coe_status": parts["coe_status"],
        "updated_at": times["updated_at"],
        "summary": row["summary"],
        "customer_impact": row["customer_impact"],
        "trigger_kind": row["trigger_kind"],
        "trigger_text": row["trigger_text"],
        "contributing_factors": parts["contributing_factors"],
        "adopted_cause_rationale": row["adopted_cause_rationale"],
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
            "html": rows.keyed_url(origin, "incidents:detail", key),
            "coe": rows.keyed_url(origin, "api:coe-detail", key) if has_coe else None,
            "action_items": f"{origin}{_action_items_path(get_script_prefix())}?incident={key}",
        },
        "created_at": times["created_at"],
    }
