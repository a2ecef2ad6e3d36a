"""The figures leadership reads: one module for the dashboard page and the API.

Every figure starts from Incident.objects.visible_to(user), so a restricted
incident counts only for people allowed to see it. Aggregation happens in
the database; durations are reported as median and 90th percentile, never as
means, because incident durations are long-tailed (The VOID).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from itertools import chain

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.db.models.lookups import IsNull, LessThan
from django.utils import timezone

from . import dashboard_cache
from .concurrent import gather
from .models import ActionItem, AIInvolvement, Claim, Control, Incident
from .models.vocab import (
    ACTION_STATUSES_OPEN,
    ActionStatus,
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

    def rows_of(self, rows: QuerySet, user) -> QuerySet:
        """`rows` (of a model with an `incident` foreign key) that belong to the scope's incidents.

        With no filter the scope is every incident the user may see, so the rows are those not
        of an incident hidden from the user: a hash of a few restricted ids, not a join with all
        the visible incidents (at 100,000 incidents, a fifth of the dashboard's action-item pass).
        """
        if self == Scope():
            return rows.exclude(incident__in=Incident.objects.hidden_from(user))
        return rows.filter(incident__in=self.incidents(user))

    def action_items(self, user) -> QuerySet[ActionItem]:
        return self.rows_of(ActionItem.objects.all(), user)

    def control_links(self, user) -> QuerySet:
        return self.rows_of(Control.incidents.through.objects.all(), user)


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate percentile_cont(p) WITHIN GROUP (ORDER BY expr), with an
    optional filter (FILTER (WHERE ...)); a float by default, an interval for DurationField."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _seconds_expr(end_field: str):
    return ExpressionWrapper(F(end_field) - F("started_at"), output_field=DurationField())


def _quantile(values, fraction: float, *, ordered: bool = False) -> float | None:
    """Linear interpolation between closest ranks: the same definition as percentile_cont."""
    if not values:
        return None
    ordered = values if ordered else sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _aggregate_by_part(rows: QuerySet, aggregates: dict, parts: int, part=None) -> dict[int, dict]:
    """`aggregates` over `rows` in each of `parts` parts, numbered from 1 by `part` (an expression;
    None: one part, all the rows): a row per part, the aggregates' empty values where it has none."""
    if part is None:
        return {1: rows.order_by().aggregate(**aggregates)}
    found = {row.pop("part"): row for row in rows.order_by().values(part=part).annotate(**aggregates)}
    empty = rows.none().aggregate(**aggregates)  # no query: each aggregate's value over no rows
    return {n: found.get(n, empty) for n in range(1, parts + 1)}


def _top_by_part(rows: QuerySet, fields: tuple, order: tuple, limit: int, parts: int, part=None, window=None):
    """The first `limit` of `rows` in `order` (field names, "-" for descending) in each of `parts`
    parts numbered by `part` (None: one part), as {part: [dict of `fields`]}. `window(partition)`
    gives extra window annotations over each part's rows (a count of them, say)."""
    partition = [part] if part is not None else []
    extra = window(partition) if window else {}
    if part is None:
        return {1: list(rows.annotate(**extra).order_by(*order).values(*fields, *extra)[:limit])}
    ordering = [F(name[1:]).desc() if name.startswith("-") else F(name).asc() for name in order]
    ranked = rows.annotate(part=part, rank=Window(RowNumber(), partition_by=partition, order_by=ordering), **extra)
    found: dict[int, list[dict]] = {n: [] for n in range(1, parts + 1)}
    for row in ranked.filter(rank__lte=limit).order_by("part", *order).values("part", *fields, *extra):
        found[row.pop("part")].append(row)
    return found


def _by_cause(row: dict, ai: dict) -> list[dict]:
    """Incidents per cause (whole_set's `row`) and how many of them had an agent (ai_counts' `ai`)."""
    labels = dict(PrimaryCause.choices)
    causes = [
        {"cause": cause, "label": labels[cause], "count": row[f"cause_{i}"], "with_ai": ai[f"cause_{i}"]}
        for i, cause in enumerate(PrimaryCause.values)
        if row[f"cause_{i}"]
    ]
    return sorted(causes, key=lambda c: (-c["count"], c["cause"]))


def gate_failed_incidents(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Incidents where an agent's authorization gate was absent or bypassed."""
    failed = AIInvolvement.objects.filter(incident=OuterRef("pk")).filter(
        Q(gate_present=TriState.NO) | Q(gate_bypassed=TriState.YES)
    )
    return incidents.filter(Exists(failed))


def autonomy_level_incidents(incidents: QuerySet[Incident], level: str) -> QuerySet[Incident]:
    """Incidents with an agent at this autonomy level ("" for not recorded)."""
    return incidents.filter(Exists(AIInvolvement.objects.filter(incident=OuterRef("pk"), autonomy_level=level)))


LEVELS = [*AutonomyLevel.values, ""]


def ai_counts(incidents: QuerySet[Incident], *, parts: int = 1, part=None) -> dict:
    """Distinct incidents with an agent: overall, per autonomy level, per cause, with a failed gate
    (in each part, by `part`: see _aggregate_by_part; a single dict without).

    From the incidents joined to their (few) involvement rows, so the incidents are read once, from
    the covering index, cause included (starting from the involvements read them twice).
    """
    has_ai = Q(ai_involvements__isnull=False)
    gate_failed = Q(ai_involvements__gate_present=TriState.NO) | Q(ai_involvements__gate_bypassed=TriState.YES)
    aggregates = dict(
        with_ai=Count("id", distinct=True, filter=has_ai),
        gate_failed=Count("id", distinct=True, filter=gate_failed),
        **{
            f"level_{i}": Count("id", distinct=True, filter=Q(ai_involvements__autonomy_level=level))
            for i, level in enumerate(LEVELS)
        },
        **{
            f"cause_{i}": Count("id", distinct=True, filter=has_ai & Q(primary_cause=cause))
            for i, cause in enumerate(PrimaryCause.values)
        },
    )
    found = _aggregate_by_part(incidents, aggregates, parts, part)
    return found if part is not None else found[1]


def ai_involvement(row: dict, *, by_cause: list[dict]) -> dict:
    """AI involvement figures from ai_counts' `row`; the total and access-control count come from `by_cause`."""
    total = sum(cause["count"] for cause in by_cause)
    access_control = next((c["count"] for c in by_cause if c["cause"] == PrimaryCause.ACCESS_CONTROL), 0)
    with_ai, gate_failed = row["with_ai"], row["gate_failed"]
    by_level = {level: row[f"level_{i}"] for i, level in enumerate(LEVELS)}
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


DURATION_FIELDS = {"ttd": "detected_at", "ttm": "mitigated_at", "ttr": "resolved_at"}


def _measured(incidents: QuerySet[Incident], measure: str) -> QuerySet[Incident]:
    end_field = DURATION_FIELDS[measure]
    return incidents.filter(**{f"{end_field}__isnull": False, f"{end_field}__gte": F("started_at")})


def measured_incidents(incidents: QuerySet[Incident], measure: str, month: date) -> QuerySet[Incident]:
    """The incidents started in `month` whose time to detect, mitigate or resolve is known."""
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    in_month = incidents.filter(started_at__gte=start_of_day(month), started_at__lt=start_of_day(nxt))
    return _measured(in_month, measure)


def by_month(incidents: QuerySet[Incident]) -> tuple[list[dict], list[dict]]:
    """Incidents per month by severity, and the months' time to detect, mitigate and resolve.

    One grouped pass on PostgreSQL: severities are conditional counts, and each
    measure's seconds are NULL where it is not known (or ends before the start),
    which COUNT and percentile_cont skip. SQLite has no percentile aggregate;
    the embedded default holds demo-sized data, so its durations are ranked here.
    """
    base = incidents.order_by().annotate(month=TruncMonth("started_at"))
    aggregates = {f"sev_{i}": Count("id", filter=Q(severity=sev)) for i, sev in enumerate(Severity.values)}
    postgres = connection.vendor == "postgresql"
    if postgres:
        for name, end_field in DURATION_FIELDS.items():
            known = Q(**{f"{end_field}__isnull": False, f"{end_field}__gte": F("started_at")})
            aggregates[f"{name}_n"] = Count("id", filter=known)
            # Ranked as intervals and filtered, not as a CASE of EXTRACT(EPOCH ...) per row: the same
            # figures, a quarter less time over five years of incidents.
            for suffix, fraction in (("p50", 0.5), ("p90", 0.9)):
                aggregates[f"{name}_{suffix}"] = PercentileCont(
                    _seconds_expr(end_field), fraction, filter=known, output_field=DurationField()
                )
    months, stats = [], {}
    for row in base.values("month").annotate(**aggregates).order_by("month"):
        key = row["month"].strftime("%Y-%m")
        counts = {sev: row[f"sev_{i}"] for i, sev in enumerate(Severity.values)}
        months.append({"month": key, **counts, "total": sum(counts.values())})
        if postgres:
            for name in DURATION_FIELDS:
                if row[f"{name}_n"]:
                    p50, p90 = row[f"{name}_p50"].total_seconds(), row[f"{name}_p90"].total_seconds()
                    stats.setdefault(key, {})[name] = (row[f"{name}_n"], p50, p90)
    if not postgres:
        for name, end_field in DURATION_FIELDS.items():
            values: dict = {}
            for month, start, end in _measured(base, name).values_list("month", "started_at", end_field):
                values.setdefault(month.strftime("%Y-%m"), []).append((end - start).total_seconds())
            for key, v in values.items():
                stats.setdefault(key, {})[name] = (len(v), _quantile(v, 0.5), _quantile(v, 0.9))
    empty = {"count": 0, "median_seconds": None, "p90_seconds": None}
    durations = []
    for key in sorted(stats):
        row = {"month": key}
        for name in DURATION_FIELDS:
            n, p50, p90 = stats[key].get(name, (0, None, None))
            row[name] = {"count": n, "median_seconds": _round(p50), "p90_seconds": _round(p90)} if n else empty
        durations.append(row)
    return months, durations


def _round(value):
    return round(value) if value is not None else None


COE_STATES = ("approved_within_target", "approved_late", "awaiting_approval")


def coe_incidents(incidents: QuerySet[Incident], state: str) -> QuerySet[Incident]:
    """Resolved incidents whose COE was approved within the target, late, or not yet.

    Days run from the incident's resolution to the COE's approval; a COE
    approved before the resolution counts as zero days.
    """
    target = timedelta(days=settings.COE_APPROVAL_TARGET_DAYS)
    resolved = incidents.filter(resolved_at__isnull=False)
    if state == "approved_within_target":
        return resolved.filter(coe__approved_at__lte=F("resolved_at") + target)
    if state == "approved_late":
        return resolved.filter(coe__approved_at__gt=F("resolved_at") + target)
    if state == "awaiting_approval":
        return resolved.filter(Q(coe__isnull=True) | Q(coe__approved_at__isnull=True))
    raise ValueError(f"Unknown COE state {state!r}")


def whole_set(incidents: QuerySet[Incident], user, *, parts: int = 1, part=None) -> dict:
    """One pass over the incidents for the figures that do not group by time (in each part, by
    `part`: see _aggregate_by_part; a single dict without).

    Per cause, per attribution status, the repeats (of incidents `user` may see),
    and the COE timeliness of the resolved ones: conditional counts, and on
    PostgreSQL the percentiles of days from resolution to approval (NULL, and
    so skipped, where there is no approval).
    """
    target = timedelta(days=settings.COE_APPROVAL_TARGET_DAYS)
    resolved = Q(resolved_at__isnull=False)
    aggregates = {}
    for i, cause in enumerate(PrimaryCause.values):
        aggregates[f"cause_{i}"] = Count("id", filter=Q(primary_cause=cause))
    for i, status in enumerate(AttributionStatus.values):
        aggregates[f"status_{i}"] = Count("id", filter=Q(attribution_status=status))
    aggregates.update(
        coe_approved=Count("id", filter=resolved & Q(coe__approved_at__isnull=False)),
        coe_within=Count("id", filter=resolved & Q(coe__approved_at__lte=F("resolved_at") + target)),
        coe_awaiting=Count("id", filter=resolved & Q(coe__approved_at__isnull=True)),
        repeats=Count("id", filter=repeat_q(user)),
    )
    if connection.vendor == "postgresql":
        # The days from resolution to approval of the approved ones (a COE approved before the
        # resolution counts as zero), in order: their percentiles are taken by coe_timeliness,
        # after the days of other months are merged in (percentiles do not add up; sorted days do).
        days = Func(
            ExpressionWrapper(F("coe__approved_at") - F("resolved_at"), output_field=DurationField()),
            template="EXTRACT(EPOCH FROM GREATEST(%(expressions)s, INTERVAL '0'))::float8 / 86400",
            output_field=FloatField(),
        )
        approved = resolved & Q(coe__approved_at__isnull=False)
        aggregates["coe_days"] = ArrayAgg(days, filter=approved, order_by=days, default=[])
    found = _aggregate_by_part(incidents, aggregates, parts, part)
    for row in found.values():
        if "coe_days" in row:
            row["coe_days"] = array("d", row["coe_days"])
    return found if part is not None else found[1]


def coe_days(incidents: QuerySet[Incident]) -> array:
    """whole_set's `coe_days` where SQL cannot gather them (SQLite): one more query."""
    pairs = incidents.filter(resolved_at__isnull=False, coe__approved_at__isnull=False).values_list(
        "coe__approved_at", "resolved_at"
    )
    return array("d", sorted(max(0.0, (a - r).total_seconds() / 86400) for a, r in pairs))


def coe_timeliness(row: dict) -> dict:
    """COE timeliness from whole_set's `row` (its `coe_days` in order)."""
    days = row["coe_days"]
    p50, p90 = _quantile(days, 0.5, ordered=True), _quantile(days, 0.9, ordered=True)
    approved = row["coe_approved"]
    return {
        "target_days": settings.COE_APPROVAL_TARGET_DAYS,
        "approved": approved,
        "approved_within_target": row["coe_within"],
        "awaiting_approval": row["coe_awaiting"],
        "median_days_to_approval": round(p50, 1) if p50 is not None else None,
        "p90_days_to_approval": round(p90, 1) if p90 is not None else None,
        "share_approved_within_target": round(row["coe_within"] / approved, 4) if approved else None,
    }


# "Done" means done or verified: an item closed as won't-do was not done,
# on time or otherwise (it still counts as no longer open).
ACTION_STATUSES_DONE = (ActionStatus.DONE, ActionStatus.VERIFIED)
ACTION_STATES = ("open", "overdue", "done_on_time", "done_late")


def _action_state(state: str, today: date) -> Q:
    done = Q(status__in=ACTION_STATUSES_DONE, completed_at__isnull=False)
    states = {
        "open": Q(status__in=ACTION_STATUSES_OPEN),
        "overdue": Q(status__in=ACTION_STATUSES_OPEN, due_date__lt=today),
        "done_on_time": done & Q(due_date__gte=F("completed_at__date")),
        "done_late": done & Q(due_date__lt=F("completed_at__date")),
    }
    return states[state]


class _WidthBucket(Func):
    """PostgreSQL's width_bucket(value, ARRAY[...]): how many of the ascending moments are <= value."""

    function = "width_bucket"
    output_field = IntegerField()

    def __init__(self, expression, moments: list[datetime]):
        self.moments = moments
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra):
        inner, params = compiler.compile(self.source_expressions[0])
        marks = ", ".join(["%s"] * len(self.moments))
        # Most values (five years of items against a year of moments) come before the first moment:
        # one comparison answers those, cheaper than width_bucket's search. NULL stays NULL.
        return (
            f"CASE WHEN {inner} < %s THEN 0 ELSE width_bucket({inner}, ARRAY[{marks}]::timestamptz[]) END",
            [*params, self.moments[0], *params, *self.moments],
        )


def _moments_before(expression, moments: list[datetime]):
    """How many of `moments` (ascending) come at or before the value; NULL for NULL."""
    if connection.vendor == "postgresql" and moments:
        return _WidthBucket(expression, moments)
    # Elsewhere a CASE, first match wins: below moment i means i moments come before it.
    return Case(
        When(IsNull(expression, True), then=None),
        *(When(LessThan(expression, Value(m)), then=Value(i)) for i, m in enumerate(moments)),
        default=Value(len(moments)),
        output_field=IntegerField(),
    )


def _open_at(moment: datetime) -> Q:
    """Open at a moment: created before it and not closed by then.

    An item's last state decides: one still open counts as open since its
    creation (even if it was closed once and reopened); one closed counts
    until its completion time.
    """
    return Q(created_at__lt=moment) & (Q(status__in=ACTION_STATUSES_OPEN) | Q(completed_at__gte=moment))


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in the current time zone (as Period.bounds does)."""
    return datetime.combine(day, time.min, timezone.get_current_timezone())


def action_item_incidents(
    incidents: QuerySet[Incident], state: str, *, today: date | None = None, open_on: date | None = None
) -> QuerySet[Incident]:
    """Incidents with at least one action item in this state (or open at the end of `open_on`)."""
    items = ActionItem.objects.filter(incident=OuterRef("pk"))
    if state == "open_on":
        items = items.filter(_open_at(start_of_day(open_on + timedelta(days=1))))
    else:
        items = items.filter(_action_state(state, today or timezone.localdate()))
    return incidents.filter(Exists(items))


def action_items(
    incidents: QuerySet[Incident],
    *,
    period: Period,
    today: date | None = None,
    items: QuerySet[ActionItem] | None = None,
) -> dict:
    """Action items by state, the oldest overdue and the burn-down, of `items` (by default those
    of `incidents`; Scope.action_items gives the same rows more cheaply)."""
    today = today or timezone.localdate()
    items = ActionItem.objects.filter(incident__in=incidents) if items is None else items
    counts, burn_down = action_item_states(items, period=period, today=today)
    return {**counts, "oldest_overdue": oldest_overdue(items, period=period, today=today), "burn_down": burn_down}


def action_item_states(
    items: QuerySet[ActionItem], *, period: Period, today: date, parts: int = 1, part=None
) -> tuple[dict, list[dict]] | dict[int, tuple[dict, list[dict]]]:
    """The items' counts per state, and the burn-down: how many were open at each month's end
    (in each part, by `part`, as {part: (counts, burn-down)}; without, the one pair)."""
    points = _burn_down_points(period=period, today=today)
    moments = [start_of_day(point) for point in points]
    # One grouped pass: each item's status, whether it is past due today and whether it was done
    # by its due date (the states of _action_state, decided here per group rather than by a CASE
    # per row), and how many of the burn-down's moments come at or before its creation and its
    # completion. It is open at moment i when created before it and not closed by then:
    # created_bucket <= i < closed_bucket. A few hundred groups, summed here.
    groups = (
        items.order_by()
        .values(
            "status",
            past_due=ExpressionWrapper(Q(due_date__lt=today), output_field=BooleanField()),
            by_due=ExpressionWrapper(Q(due_date__gte=F("completed_at__date")), output_field=BooleanField()),
            created=_moments_before(F("created_at"), moments),
            closed=_moments_before(F("completed_at"), moments),
            part=part if part is not None else Value(1),
        )
        .annotate(n=Count("id"))
    )
    found = {n: (dict.fromkeys(("total", *ACTION_STATES), 0), [0] * len(moments)) for n in range(1, parts + 1)}
    for group in groups:
        counts, open_at = found[group["part"]]
        n, status = group["n"], group["status"]
        counts["total"] += n
        if status in ACTION_STATUSES_OPEN:
            counts["open"] += n
            counts["overdue"] += n if group["past_due"] else 0  # NULL: no due date, never overdue
            until = len(moments)
        else:
            if status in ACTION_STATUSES_DONE and group["by_due"] is not None:  # NULL: no due date or completion
                counts["done_on_time" if group["by_due"] else "done_late"] += n
            until = group["closed"] or 0  # closed with no time: never open at a moment
        for i in range(group["created"], until):
            open_at[i] += n
    dates = [(point - timedelta(days=1)).isoformat() for point in points]
    found = {
        n: (counts, [{"date": day, "open": n_open} for day, n_open in zip(dates, open_at, strict=True)])
        for n, (counts, open_at) in found.items()
    }
    return found if part is not None else found[1]


def oldest_overdue(
    items: QuerySet[ActionItem], *, period: Period, today: date, parts: int = 1, part=None
) -> list[dict] | dict[int, list[dict]]:
    """The ten items of `items` overdue longest (in each part, by `part`: {part: rows})."""
    fields = ("id", "title", "incident__key", "owner__username", "due_date")
    overdue = items.overdue(today)
    if part is not None:
        found = _top_by_part(overdue, fields, ("due_date", "id"), 10, parts, part)
        return {n: [_overdue_row(row, today) for row in rows] for n, rows in found.items()}
    overdue = overdue.order_by("due_date", "id")
    if period.start:
        # The oldest overdue items of all mostly belong to incidents before the period, so walking
        # the open items in due order would pass over thousands: sort the period's items instead
        # (COALESCE keeps the planner from choosing that walk).
        overdue = overdue.order_by(Coalesce("due_date", "due_date"), "id")
    return [_overdue_row(row, today) for row in overdue.values(*fields)[:10]]


def _overdue_row(row: dict, today: date) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "incident": row["incident__key"],
        "owner": row["owner__username"],
        "due_date": row["due_date"].isoformat(),
        "days_overdue": (today - row["due_date"]).days,
    }


def _burn_down_points(*, period: Period, today: date) -> list[date]:
    """The burn-down's moments: the end of each month of the period (the last is today), at most 24."""
    end = min(period.end or today + timedelta(days=1), today + timedelta(days=1))
    start = period.start or (end - timedelta(days=365))
    points: list[date] = []
    cursor = date(start.year, start.month, 1)
    while cursor < end:
        nxt = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        points.append(min(nxt, end))
        cursor = nxt
    return points[-24:]


def vendor_differs_incidents(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Incidents whose adopted cause differs from a cause the vendor itself claimed."""
    vendor_disagrees = (
        Claim.objects.filter(incident=OuterRef("pk"), source__kind=SourceKind.VENDOR_PRIMARY)
        .exclude(claimed_cause="")
        .exclude(claimed_cause=OuterRef("adopted_cause"))
    )
    return incidents.exclude(adopted_cause="").filter(Exists(vendor_disagrees))


LATEST = 50


def _latest_first(row: dict) -> tuple:
    return (row["started_at"], row["id"])


def _newest(rows: list[dict]) -> list[dict]:
    """The LATEST newest of rows from several months, without the fields that ordered them."""
    merged = sorted(rows, key=_latest_first, reverse=True)[:LATEST]
    return [{k: v for k, v in row.items() if k != "id"} for row in merged]


def vendor_disagreements(
    incidents: QuerySet[Incident], *, parts: int = 1, part=None
) -> tuple[int, list[dict]] | dict[int, tuple[int, list[dict]]]:
    """How many incidents' adopted cause differs from their vendor's, and the latest 50 of them
    (with `started_at` and `id`, which order them); in each part, by `part`: {part: (count, rows)}."""
    found = _top_by_part(
        vendor_differs_incidents(incidents),
        ("id", "key", "title", "adopted_cause", "started_at"),
        ("-started_at", "-id"),
        LATEST,
        parts,
        part,
        window=lambda partition: {"total": Window(Count("*"), partition_by=partition or None)},
    )
    counted = {}
    for n, rows in found.items():
        counted[n] = (rows[0]["total"] if rows else 0, rows)
        for row in rows:
            del row["total"]
    return counted if part is not None else counted[1]


def attribution(incidents: QuerySet[Incident], row: dict, differing: tuple[int, list[dict]] | None = None) -> dict:
    """Attribution figures; the counts per status come from whole_set's `row`, the disagreements
    from vendor_disagreements (run here if not given)."""
    by_status = {status: row[f"status_{i}"] for i, status in enumerate(AttributionStatus.values)}
    total, rows = differing if differing is not None else vendor_disagreements(incidents)
    shown = [{k: v for k, v in row.items() if k != "started_at"} for row in _newest(rows)]
    return {
        "by_status": [
            {"status": s.value, "label": s.label, "incidents": by_status.get(s.value, 0)} for s in AttributionStatus
        ],
        "adopted_differs_from_vendor": total,
        "adopted_differs_from_vendor_incidents": shown,
    }


def _earlier_among(among: QuerySet[Incident]) -> Exists:
    """An incident of `among` on one of the outer incident's services, with its cause, in the 90 days before it."""
    through = Incident.services.through
    return Exists(
        through.objects.filter(
            service_id__in=through.objects.filter(incident_id=OuterRef(OuterRef("pk"))).values("service_id"),
            incident__primary_cause=OuterRef("primary_cause"),
            incident__started_at__lt=OuterRef("started_at"),
            incident__started_at__gte=OuterRef("started_at") - REPEAT_WINDOW,
            incident_id__in=among.values("pk"),
        )
    )


def repeat_q(user) -> Q:
    """Incidents that repeat an earlier one this user may see: same service and cause, within 90 days.

    On PostgreSQL the incidents' repeat flags (kept by triggers, migration 0009)
    answer it: everyone sees the unrestricted incidents, so `repeat_public`
    settles most; only an incident whose earlier ones are all restricted is
    looked back on. SQLite looks back for every incident.
    """
    among = Incident.objects.visible_to(user)
    if connection.vendor != "postgresql":
        return ~Q(primary_cause=PrimaryCause.UNDETERMINED) & Q(_earlier_among(among))
    if user.is_superuser:
        return Q(repeat_any=True)
    return Q(repeat_public=True) | (Q(repeat_any=True) & Q(_earlier_among(among)))


def repeat_incidents(incidents: QuerySet[Incident], user) -> QuerySet[Incident]:
    """The `incidents` that repeat an earlier one `user` may see, even one from before the period."""
    return incidents.filter(repeat_q(user))


def latest_repeats(incidents: QuerySet[Incident], user, *, parts: int = 1, part=None) -> list[dict] | dict:
    """The latest 50 of the `incidents` that repeat an earlier one `user` may see (in each part,
    by `part`: {part: rows})."""
    found = _top_by_part(
        repeat_incidents(incidents, user),
        ("id", "key", "title", "primary_cause", "started_at"),
        ("-started_at", "-id"),
        LATEST,
        parts,
        part,
    )
    return found if part is not None else found[1]


def repeats(incidents: QuerySet[Incident], user, *, count: int, latest: list[dict] | None = None) -> dict:
    """The latest 50 repeats (latest_repeats' rows, of one or more months; run here if not
    given); `count` is whole_set's, which counts them in its pass."""
    rows = _newest(latest if latest is not None else latest_repeats(incidents, user))
    return {"count": count, "incidents": [{**row, "started_at": row["started_at"].isoformat()} for row in rows]}


def control_incidents(incidents: QuerySet[Incident], control_id: int) -> QuerySet[Incident]:
    return incidents.filter(controls=control_id)


def controls(
    incidents: QuerySet[Incident], links: QuerySet | None = None, *, parts: int = 1, part=None
) -> list[dict] | dict[int, list[dict]]:
    """Every control with how many of the incidents it is linked to. `links` are the
    control-incident links of those incidents (Scope.control_links, or here from `incidents`).
    In each part, by `part` (an expression on the links): {part: controls}."""
    if links is None:
        links = Control.incidents.through.objects.filter(incident__in=incidents)
    # The links counted per control in one grouped pass (a link is one control and one incident, so
    # no DISTINCT): the incidents' filter is hashed once, where a count per control in a subquery
    # looked each link's incident up again (at 100,000 incidents, one year: 24 -> 10 ms).
    grouped = links.order_by().values("control", part=part if part is not None else Value(1)).annotate(n=Count("*"))
    counts: dict[int, dict[int, int]] = {n: {} for n in range(1, parts + 1)}
    for row in grouped:
        counts[row["part"]][row["control"]] = row["n"]
    listed = list(Control.objects.order_by("name", "id"))
    found = {n: _control_rows(listed, of_part) for n, of_part in counts.items()}
    return found if part is not None else found[1]


def _control_rows(listed: list[Control], counts: dict[int, int]) -> list[dict]:
    return [
        {
            "id": c.pk,
            "name": c.name,
            "status": c.status,
            "disputed": c.disputed,
            "scope": c.scope,
            "incidents": counts.get(c.pk, 0),
        }
        for c in listed
    ]


def dashboard_metrics(user, scope: Scope, *, today: date | None = None) -> dict:
    """The dashboard's figures for this viewer and scope: each month's from the cache while its
    data is unchanged, the others computed (dashboard_cache)."""
    today = today or timezone.localdate()
    return dashboard_cache.figures(user, scope, today)


def compute_dashboard_metrics(user, scope: Scope, *, today: date | None = None) -> dict:
    """The dashboard's figures straight from the data, in one part."""
    today = today or timezone.localdate()
    return merge_parts(user, scope, today, compute_parts(user, scope, [scope.period], today))


class Parts:
    """Spans of incident starts (`periods`, ascending, within the scope's period) computed in one
    pass each: every row is numbered from 1 by the span its incident started in (`of_incident`
    on incidents, `of_row` on rows of an incident)."""

    def __init__(self, user, scope: Scope, periods: list[Period]):
        self.count = len(periods)
        self.of_incident = self.of_row = None
        if periods == [scope.period]:  # the whole scope
            self.incidents, self.items, self.links = (
                scope.incidents(user),
                scope.action_items(user),
                scope.control_links(user),
            )
            return
        joined = _joined(periods)
        unbounded = replace(scope, period=Period())
        self.incidents = unbounded.incidents(user).filter(_started_within(joined))
        # Rows of an incident: joined to it by its start (the join that numbers them too) and
        # among the parts' incidents.
        within = _started_within(joined, "incident__")
        self.items = ActionItem.objects.filter(within, incident__in=self.incidents)
        self.links = Control.incidents.through.objects.filter(within, incident__in=self.incidents)
        if len(periods) > 1:
            starts = [start_of_day(period.start) for period in periods]
            self.of_incident = _moments_before(F("started_at"), starts)
            self.of_row = _moments_before(F("incident__started_at"), starts)

    def kw(self, on_rows: bool = False) -> dict:
        return {"parts": self.count, "part": self.of_row if on_rows else self.of_incident}


def _started_within(spans: list[tuple[datetime, datetime]], prefix: str = "") -> Q:
    within = Q()
    for start, end in spans:
        within |= Q(**{f"{prefix}started_at__gte": start, f"{prefix}started_at__lt": end})
    return within


def _joined(periods: list[Period]) -> list[tuple[datetime, datetime]]:
    """The periods' bounds, adjacent ones joined (fewer conditions for the planner)."""
    spans: list[list[datetime]] = []
    for period in periods:
        start, end = period.bounds()
        if spans and spans[-1][1] == start:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(start, end) for start, end in spans]


def compute_parts(user, scope: Scope, periods: list[Period], today: date) -> list[dict]:
    """The figures of the scope's incidents started in each of `periods` (spans of the scope's
    period, each within a month), as merge_parts adds them up: counts, the ordered COE days, each
    month's rows and durations, and the top rows of each list. The same passes as for one part,
    grouped by part: as many queries for one part as for sixty."""
    parts = Parts(user, scope, periods)
    incidents, items, one = parts.incidents, parts.items, parts.of_incident is None

    def by_part(result):
        return {1: result} if one else result

    # The passes do not depend on each other: run side by side (concurrent.gather), slowest first.
    calls = [
        lambda: action_item_states(items, period=scope.period, today=today, **parts.kw(on_rows=True)),
        lambda: whole_set(incidents, user, **parts.kw()),
        lambda: by_month(incidents),
        lambda: ai_counts(incidents, **parts.kw()),
        lambda: oldest_overdue(items, period=periods[0] if one else scope.period, today=today, **parts.kw(True)),
        lambda: controls(incidents, parts.links, **parts.kw(on_rows=True)),
        lambda: vendor_disagreements(incidents, **parts.kw()),
        lambda: latest_repeats(incidents, user, **parts.kw()),
    ]
    if connection.vendor != "postgresql":
        calls.append(lambda: coe_days(incidents))
    states, rows, (months, durations), ai, oldest, control_rows, differing, latest, *days = gather(*calls)
    states, rows, ai, oldest = by_part(states), by_part(rows), by_part(ai), by_part(oldest)
    control_rows, differing, latest = by_part(control_rows), by_part(differing), by_part(latest)
    if days:  # SQLite: one part (no cache)
        rows[1]["coe_days"] = days[0]
    # Each month's rows belong to the part that month is in (a part never spans two months).
    number = {(p.start.year, p.start.month): n for n, p in enumerate(periods, 1) if p.start}
    months_of = {n: [] for n in range(1, len(periods) + 1)}
    durations_of = {n: [] for n in range(1, len(periods) + 1)}
    for target, found in ((months_of, months), (durations_of, durations)):
        for row in found:
            year, month = map(int, row["month"].split("-"))
            target[1 if one else number[(year, month)]].append(row)
    return [
        {
            "action_counts": states[n][0],
            "burn_down": states[n][1],
            "row": rows[n],
            "months": months_of[n],
            "durations": durations_of[n],
            "ai": ai[n],
            "oldest_overdue": oldest[n],
            "controls": control_rows[n],
            "differing": differing[n],
            "latest_repeats": latest[n],
        }
        for n in range(1, len(periods) + 1)
    ]


def _sum(dicts: list[dict]) -> dict:
    return {key: sum(d[key] for d in dicts) for key in dicts[0]}


def merge_parts(user, scope: Scope, today: date, parts: list[dict]) -> dict:
    """The dashboard's figures from its parts' (compute_parts), in the parts' order."""
    row = _sum([{k: v for k, v in part["row"].items() if k != "coe_days"} for part in parts])
    row["coe_days"] = sorted(chain.from_iterable(part["row"]["coe_days"] for part in parts))
    ai = _sum([part["ai"] for part in parts])
    counts = _sum([part["action_counts"] for part in parts])
    burn_down = [
        {**point, "open": sum(part["burn_down"][i]["open"] for part in parts)}
        for i, point in enumerate(parts[0]["burn_down"])
    ]
    oldest = sorted(
        chain.from_iterable(part["oldest_overdue"] for part in parts), key=lambda r: (r["due_date"], r["id"])
    )
    control_rows: dict[int, dict] = {}
    for control in chain.from_iterable(part["controls"] for part in parts):
        so_far = control_rows.get(control["id"], {}).get("incidents", 0)
        control_rows[control["id"]] = {**control, "incidents": so_far + control["incidents"]}
    differing = (
        sum(part["differing"][0] for part in parts),
        list(chain.from_iterable(part["differing"][1] for part in parts)),
    )
    latest = list(chain.from_iterable(part["latest_repeats"] for part in parts))
    by_cause = _by_cause(row, ai)
    incidents = scope.incidents(user)  # not queried: the figures' functions take it for what they would run
    return {
        "period": {
            "start": scope.period.start.isoformat() if scope.period.start else None,
            "end": scope.period.end.isoformat() if scope.period.end else None,
        },
        # Every incident has exactly one cause, so the causes' counts add up to the total.
        "incidents_total": sum(cause["count"] for cause in by_cause),
        "incidents_by_month": list(chain.from_iterable(part["months"] for part in parts)),
        "incidents_by_cause": by_cause,
        "ai": ai_involvement(ai, by_cause=by_cause),
        "durations_by_month": list(chain.from_iterable(part["durations"] for part in parts)),
        "coe_timeliness": coe_timeliness(row),
        "action_items": {**counts, "oldest_overdue": oldest[:10], "burn_down": burn_down},
        "attribution": attribution(incidents, row, differing),
        "repeats": repeats(incidents, user, count=row["repeats"], latest=latest),
        # By name, as each part lists them (a control added while a part was computed is in that one only).
        "controls": sorted(control_rows.values(), key=lambda c: (c["name"], c["id"])),
    }
