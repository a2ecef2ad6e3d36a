"""The figures leadership reads: one module for the dashboard page and the API.

Every figure starts from Incident.objects.visible_to(user), so a restricted
incident counts only for people allowed to see it. Aggregation happens in
the database; durations are reported as median and 90th percentile, never as
means, because incident durations are long-tailed (The VOID).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from .models import ActionItem, AIInvolvement, Claim, CoeDocument, Control, Incident
from .models.vocab import (
    ACTION_STATUSES_CLOSED,
    ACTION_STATUSES_OPEN,
    AttributionStatus,
    AutonomyLevel,
    PrimaryCause,
    Severity,
    SourceKind,
    TriState,
)

REPEAT_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Period:
    """A half-open span of incident start dates: start <= started_at < end."""

    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        tz = timezone.get_current_timezone()
        start = datetime.combine(self.start, time.min, tz) if self.start else None
        end = datetime.combine(self.end, time.min, tz) if self.end else None
        return start, end


@dataclass(frozen=True)
class Scope:
    period: Period = field(default_factory=Period)
    services: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    team: str | None = None

    def incidents(self, user) -> QuerySet[Incident]:
        queryset = Incident.objects.visible_to(user)
        start, end = self.period.bounds()
        if start:
            queryset = queryset.filter(started_at__gte=start)
        if end:
            queryset = queryset.filter(started_at__lt=end)
        # Filters on many-to-many use EXISTS-style subqueries so no incident is counted twice.
        if self.services:
            queryset = queryset.filter(
                pk__in=Incident.services.through.objects.filter(service__name__in=self.services).values("incident_id")
            )
        if self.regions:
            queryset = queryset.filter(
                pk__in=Incident.regions.through.objects.filter(region__code__in=self.regions).values("incident_id")
            )
        if self.severities:
            queryset = queryset.filter(severity__in=self.severities)
        if self.team:
            queryset = queryset.filter(team__slug=self.team)
        return queryset


class PercentileCont(Func):
    """PostgreSQL's ordered-set aggregate percentile_cont(p) WITHIN GROUP (ORDER BY expr)."""

    contains_aggregate = True
    output_field = FloatField()

    def __init__(self, expression, fraction: float):
        self.fraction = float(fraction)
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra):
        inner, params = compiler.compile(self.source_expressions[0])
        return f"percentile_cont({self.fraction}) WITHIN GROUP (ORDER BY {inner})", params


def _seconds_expr(end_field: str):
    return ExpressionWrapper(F(end_field) - F("started_at"), output_field=DurationField())


def _quantile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks: the same definition as percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def incidents_by_month(incidents: QuerySet[Incident]) -> list[dict]:
    rows = (
        incidents.order_by()
        .annotate(month=TruncMonth("started_at"))
        .values("month", "severity")
        .annotate(n=Count("id"))
        .order_by("month")
    )
    months: dict[str, dict] = {}
    for row in rows:
        key = row["month"].strftime("%Y-%m")
        bucket = months.setdefault(key, {"month": key, **dict.fromkeys(Severity.values, 0), "total": 0})
        bucket[row["severity"]] += row["n"]
        bucket["total"] += row["n"]
    return list(months.values())


def incidents_by_cause(incidents: QuerySet[Incident]) -> list[dict]:
    rows = (
        incidents.order_by()
        .with_ai_flag()
        .values("primary_cause")
        .annotate(n=Count("id"), with_ai=Count("id", filter=Q(has_ai=True)))
        .order_by("-n", "primary_cause")
    )
    labels = dict(PrimaryCause.choices)
    return [
        {"cause": r["primary_cause"], "label": labels[r["primary_cause"]], "count": r["n"], "with_ai": r["with_ai"]}
        for r in rows
    ]


def ai_involvement(incidents: QuerySet[Incident]) -> dict:
    total = incidents.count()
    involvements = AIInvolvement.objects.filter(incident__in=incidents)
    with_ai = involvements.values("incident_id").distinct().count()
    by_level = dict(
        involvements.order_by().values_list("autonomy_level").annotate(n=Count("incident_id", distinct=True))
    )
    gate_failed = (
        involvements.filter(Q(gate_present=TriState.NO) | Q(gate_bypassed=TriState.YES))
        .values("incident_id")
        .distinct()
        .count()
    )
    access_control = incidents.filter(primary_cause=PrimaryCause.ACCESS_CONTROL).count()
    return {
        "incidents": total,
        "with_ai": with_ai,
        "share_with_ai": round(with_ai / total, 4) if total else None,
        "by_autonomy_level": [
            {
                "level": level.value,
                "label": level.label,
                "cset": level.cset.value,
                "incidents": by_level.get(level.value, 0),
            }
            for level in AutonomyLevel
        ]
        + (
            [{"level": "", "label": "Not recorded", "cset": None, "incidents": by_level[""]}]
            if by_level.get("")
            else []
        ),
        "gate_absent_or_bypassed": gate_failed,
        "share_gate_absent_or_bypassed": round(gate_failed / with_ai, 4) if with_ai else None,
        "access_control_incidents": access_control,
    }


def durations_by_month(incidents: QuerySet[Incident]) -> list[dict]:
    """Median and p90 of time to detect, mitigate and resolve, per month, in seconds."""
    measures = {"ttd": "detected_at", "ttm": "mitigated_at", "ttr": "resolved_at"}
    base = incidents.order_by().annotate(month=TruncMonth("started_at"))
    result: dict[str, dict] = {}
    for name, end_field in measures.items():
        measured = base.filter(**{f"{end_field}__isnull": False, f"{end_field}__gte": F("started_at")})
        if connection.vendor == "postgresql":
            seconds = Func(_seconds_expr(end_field), function="EXTRACT", template="EXTRACT(EPOCH FROM %(expressions)s)")
            rows = measured.values("month").annotate(
                n=Count("id"), p50=PercentileCont(seconds, 0.5), p90=PercentileCont(seconds, 0.9)
            )
            stats = {r["month"]: (r["n"], r["p50"], r["p90"]) for r in rows}
        else:
            # SQLite has no percentile aggregate; the embedded default holds
            # demo-sized data, so the values are ranked here instead.
            values: dict = {}
            for month, start, end in measured.values_list("month", "started_at", end_field):
                values.setdefault(month, []).append((end - start).total_seconds())
            stats = {m: (len(v), _quantile(v, 0.5), _quantile(v, 0.9)) for m, v in values.items()}
        for month, (n, p50, p90) in stats.items():
            key = month.strftime("%Y-%m")
            bucket = result.setdefault(key, {"month": key})
            bucket[name] = {"count": n, "median_seconds": _round(p50), "p90_seconds": _round(p90)}
    empty = {"count": 0, "median_seconds": None, "p90_seconds": None}
    return [{"month": k, **{m: result[k].get(m, empty) for m in measures}} for k in sorted(result)]


def _round(value):
    return round(value) if value is not None else None


def coe_timeliness(incidents: QuerySet[Incident]) -> dict:
    target = settings.COE_APPROVAL_TARGET_DAYS
    resolved = incidents.filter(resolved_at__isnull=False)
    approved = CoeDocument.objects.filter(incident__in=resolved, approved_at__isnull=False).values_list(
        "approved_at", "incident__resolved_at"
    )
    days = [max(0.0, (a - r).total_seconds() / 86400) for a, r in approved]
    awaiting = resolved.exclude(coe__approved_at__isnull=False).count()
    within = sum(1 for d in days if d <= target)
    return {
        "target_days": target,
        "approved": len(days),
        "awaiting_approval": awaiting,
        "median_days_to_approval": round(statistics.median(days), 1) if days else None,
        "p90_days_to_approval": round(_quantile(days, 0.9), 1) if days else None,
        "share_approved_within_target": round(within / len(days), 4) if days else None,
    }


def action_items(incidents: QuerySet[Incident], *, period: Period, today: date | None = None) -> dict:
    today = today or timezone.localdate()
    items = ActionItem.objects.filter(incident__in=incidents)
    counts = items.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(status__in=ACTION_STATUSES_OPEN)),
        overdue=Count("id", filter=Q(status__in=ACTION_STATUSES_OPEN, due_date__lt=today)),
        done_on_time=Count(
            "id",
            filter=Q(
                status__in=ACTION_STATUSES_CLOSED, completed_at__isnull=False, due_date__gte=F("completed_at__date")
            ),
        ),
        done_late=Count(
            "id",
            filter=Q(
                status__in=ACTION_STATUSES_CLOSED, completed_at__isnull=False, due_date__lt=F("completed_at__date")
            ),
        ),
    )
    oldest = [
        {
            "id": item.pk,
            "title": item.title,
            "incident": item.incident.key,
            "owner": item.owner.get_username() if item.owner else None,
            "due_date": item.due_date.isoformat(),
            "days_overdue": (today - item.due_date).days,
        }
        for item in items.overdue(today).select_related("incident", "owner").order_by("due_date", "id")[:10]
    ]
    return {**counts, "oldest_overdue": oldest, "burn_down": _burn_down(items, period=period, today=today)}


def _burn_down(items: QuerySet[ActionItem], *, period: Period, today: date) -> list[dict]:
    """Open items at the end of each month of the period, in one query.

    An item is open at a moment if it was created before it and not
    completed by then (items reopened later are counted by their last state).
    """
    end = min(period.end or today + timedelta(days=1), today + timedelta(days=1))
    start = period.start or (end - timedelta(days=365))
    points: list[date] = []
    cursor = date(start.year, start.month, 1)
    while cursor < end:
        nxt = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        points.append(min(nxt, end))
        cursor = nxt
    points = points[-24:]
    if not points:
        return []
    tz = timezone.get_current_timezone()
    aggregates = {}
    for i, point in enumerate(points):
        moment = datetime.combine(point, time.min, tz)
        aggregates[f"p{i}"] = Count(
            "id",
            filter=Q(created_at__lt=moment) & (Q(completed_at__isnull=True) | Q(completed_at__gte=moment)),
        )
    row = items.aggregate(**aggregates)
    return [{"date": (p - timedelta(days=1)).isoformat(), "open": row[f"p{i}"]} for i, p in enumerate(points)]


def attribution(incidents: QuerySet[Incident]) -> dict:
    by_status = dict(incidents.order_by().values_list("attribution_status").annotate(n=Count("id")))
    vendor_disagrees = (
        Claim.objects.filter(incident=OuterRef("pk"), source__kind=SourceKind.VENDOR_PRIMARY)
        .exclude(claimed_cause="")
        .exclude(claimed_cause=OuterRef("adopted_cause"))
    )
    differing = (
        incidents.exclude(adopted_cause="")
        .filter(Exists(vendor_disagrees))
        .order_by("-started_at")
        .values("key", "title", "adopted_cause")
    )
    differing = list(differing[:50])
    return {
        "by_status": [
            {"status": s.value, "label": s.label, "incidents": by_status.get(s.value, 0)} for s in AttributionStatus
        ],
        "adopted_differs_from_vendor": len(differing),
        "adopted_differs_from_vendor_incidents": differing,
    }


def repeats(incidents: QuerySet[Incident]) -> dict:
    """Incidents with an earlier one on the same service and cause within 90 days."""
    through = Incident.services.through
    visible_ids = incidents.values("pk")
    earlier = through.objects.filter(
        service_id=OuterRef("service_id"),
        incident__primary_cause=OuterRef("incident__primary_cause"),
        incident__started_at__lt=OuterRef("incident__started_at"),
        incident__started_at__gte=OuterRef("incident__started_at") - REPEAT_WINDOW,
        incident_id__in=visible_ids,
    ).exclude(incident__primary_cause=PrimaryCause.UNDETERMINED)
    repeat_ids = (
        through.objects.filter(incident_id__in=visible_ids).filter(Exists(earlier)).values("incident_id").distinct()
    )
    rows = list(
        Incident.objects.filter(pk__in=repeat_ids)
        .order_by("-started_at")
        .values("key", "title", "primary_cause", "started_at")[:50]
    )
    for row in rows:
        row["started_at"] = row["started_at"].isoformat()
    return {"count": Incident.objects.filter(pk__in=repeat_ids).count(), "incidents": rows}


def controls(incidents: QuerySet[Incident]) -> list[dict]:
    rows = Control.objects.annotate(n=Count("incidents", filter=Q(incidents__in=incidents), distinct=True)).order_by(
        "name"
    )
    return [
        {"name": c.name, "status": c.status, "disputed": c.disputed, "scope": c.scope, "incidents": c.n} for c in rows
    ]


def dashboard_metrics(user, scope: Scope, *, today: date | None = None) -> dict:
    incidents = scope.incidents(user)
    return {
        "period": {
            "start": scope.period.start.isoformat() if scope.period.start else None,
            "end": scope.period.end.isoformat() if scope.period.end else None,
        },
        "incidents_total": incidents.count(),
        "incidents_by_month": incidents_by_month(incidents),
        "incidents_by_cause": incidents_by_cause(incidents),
        "ai": ai_involvement(incidents),
        "durations_by_month": durations_by_month(incidents),
        "coe_timeliness": coe_timeliness(incidents),
        "action_items": action_items(incidents, period=scope.period, today=today),
        "attribution": attribution(incidents),
        "repeats": repeats(incidents),
        "controls": controls(incidents),
    }
