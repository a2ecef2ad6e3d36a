"""The incident list as plain rows: one query for a page, no model instances, no serializer fields.

A list page is the API's hottest read. Building a hundred model instances and
running DRF's field machinery over them cost several times the query itself,
so the list selects exactly the columns it answers with (`.values()`),
fetches services and regions as arrays in the same query, and shapes each
row in one small function. The JSON pages and the CSV export are both shaped
here; IncidentListSerializer only describes the fields in the schema, and a test
checks both give the same JSON for every row.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import BooleanField, CharField, F, QuerySet
from django.db.models.expressions import RawSQL
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from incidents.models import AIInvolvement, Incident
from incidents.times import MILESTONES, PreciseTime

# The model columns the list answers with, plus the id the cursor ends on.
COLUMNS = (
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
    "restricted",
    "demo",
    "updated_at",
)


# The correlated subqueries below are written as SQL over the models' own table and
# column names rather than built with the ORM: resolving three ORM subqueries took
# longer (about a millisecond) than PostgreSQL took to run them for a whole page.
def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _outer_id() -> str:
    return f"{_q(Incident._meta.db_table)}.{_q('id')}"


def _has_ai() -> RawSQL:
    # Not EXISTS: PostgreSQL plans an EXISTS in the select list for every incident there
    # could be and hashes the whole AI table first (a few ms); a LIMIT 1 scalar subquery
    # runs only for the rows the page returns. A boolean, as the row needs it: a column that
    # needs no converter spares Django's per-row conversion of the whole page.
    fk = AIInvolvement._meta.get_field("incident").column
    return RawSQL(
        f"((SELECT 1 FROM {_q(AIInvolvement._meta.db_table)} a WHERE a.{_q(fk)} = {_outer_id()} LIMIT 1) IS NOT NULL)",
        (),
        output_field=BooleanField(),
    )


def _sorted_names(m2m: str, column: str) -> RawSQL:
    """ARRAY(the related rows' `column`, sorted) for a many-to-many field of Incident."""
    field = Incident._meta.get_field(m2m)
    through, target = field.remote_field.through._meta.db_table, field.related_model._meta.db_table
    return RawSQL(
        f"ARRAY(SELECT t.{_q(column)} FROM {_q(through)} x JOIN {_q(target)} t ON t.{_q('id')} = "
        f"x.{_q(field.m2m_reverse_name())} WHERE x.{_q(field.m2m_column_name())} = {_outer_id()} "
        f"ORDER BY t.{_q(column)})",
        (),
        output_field=ArrayField(CharField()),
    )


def list_values(incidents: QuerySet[Incident]) -> QuerySet:
    """The page's rows as dicts; `incidents` is already visible-to-the-caller and filtered."""
    rows = incidents.annotate(
        has_ai=_has_ai(),
        coe_status=F("coe__status"),
        service_names=_sorted_names("services", "name"),
        region_codes=_sorted_names("regions", "code"),
    )
    return rows.values(*COLUMNS, "has_ai", "coe_status", "service_names", "region_codes")


def _local(value):
    return timezone.localtime(value) if value is not None else None


def _seconds(end, start) -> int | None:
    return int((end - start).total_seconds()) if end is not None and start is not None else None


# Each of the incident's times with how precisely it is known and whether it is an estimate, in the
# serializer's order: the start's precision is the model's time_precision.
TIME_FIELDS = tuple(name for m in MILESTONES for name in (m.at, m.precision, m.estimated))


def _times(row: dict) -> dict:
    return {name: row[name] for name in TIME_FIELDS}


def csv_shape(rows: list[dict], request) -> list[dict]:
    """shape()'s objects for the CSV: each time written at its precision (incidents.times.PreciseTime.csv),
    so a time known to the day is a date (2025-12-10), never a clock time someone could take as known."""
    shaped = shape(rows, request)
    for item in shaped:
        for m in MILESTONES:
            if item[m.at] is not None:
                item[m.at] = PreciseTime(item[m.at], item[m.precision]).csv()
    return shaped


def _in_path(key: str) -> str:
    # Keys are letters, digits and hyphens, which a path keeps as they are: quote() only for anything else
    # (quoting a hundred keys cost about 0.4 ms of a page).
    return key if key.isascii() and key.replace("-", "").isalnum() else quote(key, safe="")


@functools.cache
def _keyed_path(name: str, prefix: str) -> tuple[str, str]:
    """The path of URL `name` around its key, reversed once per process (and script prefix)."""
    marker = "__key__"
    before, after = reverse(name, kwargs={"key": marker}).split(marker)
    return before, after


def keyed_url(origin: str, name: str, key: str) -> str:
    """The absolute URL named `name` for an incident key; `origin` is origin_of(request)."""
    before, after = _keyed_path(name, get_script_prefix())
    return f"{origin}{before}{_in_path(key)}{after}"


def origin_of(request) -> str:
    """scheme://host of the request, as build_absolute_uri() writes it (validated once per response)."""
    return request.build_absolute_uri("/")[:-1]


def shape(rows: list[dict], request) -> list[dict]:
    """The JSON objects of IncidentListSerializer, field for field and in its order."""
    # Every detail URL differs only in the key.
    path_before, after = _keyed_path("api:incident-detail", get_script_prefix())
    before = origin_of(request) + path_before
    if timezone.get_current_timezone_name() != "UTC":
        # As DRF's DateTimeField does; in UTC the renderer writes the database's values as they are.
        for row in rows:
            for name in ("started_at", "detected_at", "mitigated_at", "resolved_at", "updated_at"):
                row[name] = _local(row[name])
    return [
        {
            "key": row["key"],
            "url": f"{before}{_in_path(row['key'])}{after}",
            "title": row["title"],
            "severity": row["severity"],
            "status": row["status"],
            "primary_cause": row["primary_cause"],
            "attribution_status": row["attribution_status"],
            "adopted_cause": row["adopted_cause"],
            "harm_level": row["harm_level"],
            **_times(row),
            "time_to_detect_seconds": _seconds(row["detected_at"], row["started_at"]),
            "time_to_mitigate_seconds": _seconds(row["mitigated_at"], row["started_at"]),
            "time_to_resolve_seconds": _seconds(row["resolved_at"], row["started_at"]),
            "services": row["service_names"],
            "regions": row["region_codes"],
            "ai_involved": row["has_ai"],
            "restricted": row["restricted"],
            "demo": row["demo"],
            "coe_status": row["coe_status"],
            "updated_at": row["updated_at"],
        }
        for row in rows
    ]
