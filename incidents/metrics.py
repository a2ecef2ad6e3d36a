"""The figures leadership reads: one module for the dashboard page and the API.

Every figure starts from Incident.objects.visible_to(user), so a restricted
incident counts only for people allowed to see it. Aggregation happens in
the database; durations are reported as median and 90th percentile, never as
means, because incident durations are long-tailed (The VOID).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import (
    Aggregate,
    BooleanField,
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
    Window,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from .models import ActionItem, AIInvolvement, Claim, Control, Incident
from .models.vocab import (
    ACTION_STATUSES_OPEN,
    ActionStatus,
    AttributionStatus,
    AutonomyLevel,
    PrimaryCause,
    Severity,
    SourceKind,
    TimePrecision,
    TriState,
)
from .times import MILESTONE_BY_FIELD

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


# The dashboard's preset periods (with no other filter, its default views, which
# incidents/figures.py keeps computed): all time, this month and the eleven before it (whole
# months, so the monthly charts start clean), and the last 90 days.
PRESETS = ("all", "12m", "90d")


def preset_period(choice: str, today: date) -> Period:
    if choice == "90d":
        return Period(today - timedelta(days=90), None)
    if choice == "12m":
        month = today.year * 12 + today.month - 1 - 11
        return Period(date(month // 12, month % 12 + 1, 1), None)
    if choice == "all":
        return Period()
    raise ValueError(f"Unknown preset period {choice!r}")


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


def ai_counts(incidents: QuerySet[Incident]) -> dict:
    """Distinct incidents with an agent: overall, per autonomy level, per cause, with a failed gate.

    From the incidents joined to their (few) involvement rows, so the incidents are read once, from
    the covering index, cause included (starting from the involvements read them twice).
    """
    has_ai = Q(ai_involvements__isnull=False)
    gate_failed = Q(ai_involvements__gate_present=TriState.NO) | Q(ai_involvements__gate_bypassed=TriState.YES)
    return incidents.order_by().aggregate(
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


def _approximate(end_field: str) -> Q:
    """A duration from the start to `end_field` that is approximate: either end estimated, or known
    less precisely than to the minute (incidents/times.py). Counted apart, as "estimated"."""
    end = MILESTONE_BY_FIELD[end_field]
    start = MILESTONE_BY_FIELD["started_at"]
    exact = TimePrecision.MINUTE
    return (
        Q(**{start.estimated: True})
        | Q(**{end.estimated: True})
        | ~Q(**{start.precision: exact})
        | ~Q(**{end.precision: exact})
    )


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
    which COUNT and percentile_cont skip. Each measure also counts apart its incidents measured
    from a time marked estimated or known less precisely than to the minute (`estimated`). The
    covering index (incident_dashboard_cov) holds every column the pass reads.
    """
    base = incidents.order_by().annotate(month=TruncMonth("started_at"))
    aggregates = {f"sev_{i}": Count("id", filter=Q(severity=sev)) for i, sev in enumerate(Severity.values)}
    for name, end_field in DURATION_FIELDS.items():
        known = Q(**{f"{end_field}__isnull": False, f"{end_field}__gte": F("started_at")})
        aggregates[f"{name}_n"] = Count("id", filter=known)
        aggregates[f"{name}_estimated"] = Count("id", filter=known & _approximate(end_field))
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
        for name in DURATION_FIELDS:
            if row[f"{name}_n"]:
                p50, p90 = row[f"{name}_p50"].total_seconds(), row[f"{name}_p90"].total_seconds()
                stats.setdefault(key, {})[name] = (row[f"{name}_n"], p50, p90, row[f"{name}_estimated"])
    empty = {"count": 0, "median_seconds": None, "p90_seconds": None, "estimated": 0}
    durations = []
    for key in sorted(stats):
        row = {"month": key}
        for name in DURATION_FIELDS:
            n, p50, p90, estimated = stats[key].get(name, (0, None, None, 0))
            row[name] = (
                {"count": n, "median_seconds": _round(p50), "p90_seconds": _round(p90), "estimated": estimated}
                if n
                else empty
            )
        durations.append(row)
    return months, durations


def _round(value):
    return round(value) if value is not None else None


COE_STATES = ("approved_within_target", "approved_late", "awaiting_approval", "imported_not_judged")
# An imported incident's COE was written (and approved, or not) in another tool, maybe years before it
# came here: the timeliness figures judge this team's own COEs and count imported ones apart.
JUDGED = Q(imported_at__isnull=True)


def coe_incidents(incidents: QuerySet[Incident], state: str) -> QuerySet[Incident]:
    """Resolved incidents whose COE was approved within the target, late, or not yet; or imported ones.

    Days run from the incident's resolution to the COE's approval; a COE
    approved before the resolution counts as zero days.
    """
    target = timedelta(days=settings.COE_APPROVAL_TARGET_DAYS)
    if state == "imported_not_judged":
        return incidents.filter(resolved_at__isnull=False).exclude(JUDGED)
    resolved = incidents.filter(JUDGED, resolved_at__isnull=False)
    if state == "approved_within_target":
        return resolved.filter(coe__approved_at__lte=F("resolved_at") + target)
    if state == "approved_late":
        return resolved.filter(coe__approved_at__gt=F("resolved_at") + target)
    if state == "awaiting_approval":
        return resolved.filter(Q(coe__isnull=True) | Q(coe__approved_at__isnull=True))
    raise ValueError(f"Unknown COE state {state!r}")


def whole_set(incidents: QuerySet[Incident], user) -> dict:
    """One pass over the incidents for the figures that do not group by time.

    Per cause, per attribution status, the repeats (of incidents `user` may see), and the COE
    timeliness of the resolved ones: conditional counts, and the percentiles of days from
    resolution to approval (NULL, and so skipped, where there is no approval).
    """
    target = timedelta(days=settings.COE_APPROVAL_TARGET_DAYS)
    resolved = Q(resolved_at__isnull=False) & JUDGED
    aggregates = {}
    for i, cause in enumerate(PrimaryCause.values):
        aggregates[f"cause_{i}"] = Count("id", filter=Q(primary_cause=cause))
    for i, status in enumerate(AttributionStatus.values):
        aggregates[f"status_{i}"] = Count("id", filter=Q(attribution_status=status))
    aggregates.update(
        coe_approved=Count("id", filter=resolved & Q(coe__approved_at__isnull=False)),
        coe_within=Count("id", filter=resolved & Q(coe__approved_at__lte=F("resolved_at") + target)),
        coe_awaiting=Count("id", filter=resolved & Q(coe__approved_at__isnull=True)),
        coe_imported=Count("id", filter=Q(resolved_at__isnull=False) & ~JUDGED),
        repeats=Count("id", filter=repeat_q(user)),
    )
    # Intervals, filtered to the approved ones (a COE approved before the resolution counts as
    # zero), as by_month ranks its durations.
    waited = Func(
        ExpressionWrapper(F("coe__approved_at") - F("resolved_at"), output_field=DurationField()),
        template="GREATEST(%(expressions)s, INTERVAL '0')",
        output_field=DurationField(),
    )
    approved = resolved & Q(coe__approved_at__isnull=False)
    aggregates.update(
        coe_p50=PercentileCont(waited, 0.5, filter=approved, output_field=DurationField()),
        coe_p90=PercentileCont(waited, 0.9, filter=approved, output_field=DurationField()),
    )
    return incidents.order_by().aggregate(**aggregates)


def coe_timeliness(row: dict) -> dict:
    """COE timeliness from whole_set's `row`."""
    p50 = row["coe_p50"].total_seconds() / 86400 if row["coe_p50"] is not None else None
    p90 = row["coe_p90"].total_seconds() / 86400 if row["coe_p90"] is not None else None
    approved = row["coe_approved"]
    return {
        "target_days": settings.COE_APPROVAL_TARGET_DAYS,
        "approved": approved,
        "approved_within_target": row["coe_within"],
        "awaiting_approval": row["coe_awaiting"],
        "median_days_to_approval": round(p50, 1) if p50 is not None else None,
        "p90_days_to_approval": round(p90, 1) if p90 is not None else None,
        "share_approved_within_target": round(row["coe_within"] / approved, 4) if approved else None,
        "imported_not_judged": row["coe_imported"],
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
    if not moments:
        return Value(0, output_field=IntegerField())
    return _WidthBucket(expression, moments)


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


def action_item_states(items: QuerySet[ActionItem], *, period: Period, today: date) -> tuple[dict, list[dict]]:
    """The items' counts per state, and the burn-down: how many were open at each month's end."""
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
        )
        .annotate(n=Count("id"))
    )
    counts = dict.fromkeys(("total", *ACTION_STATES), 0)
    open_at = [0] * len(moments)
    for group in groups:
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
    burn_down = [
        {"date": (point - timedelta(days=1)).isoformat(), "open": open_at[i]} for i, point in enumerate(points)
    ]
    return counts, burn_down


def oldest_overdue(items: QuerySet[ActionItem], *, period: Period, today: date) -> list[dict]:
    """The ten items of `items` overdue longest."""
    overdue = items.overdue(today).order_by("due_date", "id")
    if period.start:
        # The oldest overdue items of all mostly belong to incidents before the period, so walking
        # the open items in due order would pass over thousands: sort the period's items instead
        # (COALESCE keeps the planner from choosing that walk).
        overdue = overdue.order_by(Coalesce("due_date", "due_date"), "id")
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "incident": row["incident__key"],
            "owner": row["owner__username"],
            "due_date": row["due_date"].isoformat(),
            "days_overdue": (today - row["due_date"]).days,
            # A demo incident's item is overdue only in the demo's workflow, not the company's.
            "demo": row["incident__demo"],
        }
        for row in overdue.values("id", "title", "incident__key", "incident__demo", "owner__username", "due_date")[:10]
    ]


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


def vendor_disagreements(incidents: QuerySet[Incident]) -> tuple[int, list[dict]]:
    """How many incidents' adopted cause differs from their vendor's, and the latest 50 of them."""
    differing = vendor_differs_incidents(incidents).annotate(total=Window(Count("*")))
    rows = list(differing.order_by("-started_at").values("key", "title", "adopted_cause", "total")[:50])
    total = rows[0]["total"] if rows else 0
    for row in rows:
        del row["total"]
    return total, rows


def attribution(incidents: QuerySet[Incident], row: dict, differing: tuple[int, list[dict]] | None = None) -> dict:
    """Attribution figures; the counts per status come from whole_set's `row`, the disagreements
    from vendor_disagreements (run here if not given)."""
    by_status = {status: row[f"status_{i}"] for i, status in enumerate(AttributionStatus.values)}
    total, rows = differing if differing is not None else vendor_disagreements(incidents)
    return {
        "by_status": [
            {"status": s.value, "label": s.label, "incidents": by_status.get(s.value, 0)} for s in AttributionStatus
        ],
        "adopted_differs_from_vendor": total,
        "adopted_differs_from_vendor_incidents": rows,
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

    The incidents' repeat flags (incidents/repeats.py) answer it: everyone sees the unrestricted
    incidents, so `repeat_public` settles most; only an incident whose earlier ones are all
    restricted is looked back on.
    """
    among = Incident.objects.visible_to(user)
    if user.is_superuser:
        return Q(repeat_any=True)
    return Q(repeat_public=True) | (Q(repeat_any=True) & Q(_earlier_among(among)))


def repeat_incidents(incidents: QuerySet[Incident], user) -> QuerySet[Incident]:
    """The `incidents` that repeat an earlier one `user` may see, even one from before the period."""
    return incidents.filter(repeat_q(user))


def latest_repeats(incidents: QuerySet[Incident], user) -> list[dict]:
    """The latest 50 of the `incidents` that repeat an earlier one `user` may see."""
    found = repeat_incidents(incidents, user).order_by("-started_at", "-id")
    rows = list(found.values("key", "title", "primary_cause", "started_at")[:50])
    for row in rows:
        row["started_at"] = row["started_at"].isoformat()
    return rows


def repeats(incidents: QuerySet[Incident], user, *, count: int, latest: list[dict] | None = None) -> dict:
    """The latest 50 repeats (latest_repeats, run here if not given); `count` is whole_set's,
    which counts them in its pass."""
    return {"count": count, "incidents": latest if latest is not None else latest_repeats(incidents, user)}


def control_incidents(incidents: QuerySet[Incident], control_id: int) -> QuerySet[Incident]:
    return incidents.filter(controls=control_id)


def controls(incidents: QuerySet[Incident], links: QuerySet | None = None) -> list[dict]:
    """Every control with how many of the incidents it is linked to. `links` are the
    control-incident links of those incidents (Scope.control_links, or here from `incidents`)."""
    if links is None:
        links = Control.incidents.through.objects.filter(incident__in=incidents)
    # The links counted per control in one grouped pass (a link is one control and one incident, so
    # no DISTINCT): the incidents' filter is hashed once, where a count per control in a subquery
    # looked each link's incident up again (at 100,000 incidents, one year: 24 -> 10 ms).
    counts = dict(links.order_by().values("control").annotate(n=Count("*")).values_list("control", "n"))
    return [
        {
            "id": c.pk,
            "name": c.name,
            "status": c.status,
            "disputed": c.disputed,
            "scope": c.scope,
            "incidents": counts.get(c.pk, 0),
        }
        for c in Control.objects.order_by("name")
    ]


def compute_dashboard_metrics(user, scope: Scope, *, today: date | None = None) -> dict:
    """The dashboard's figures for this viewer and scope, straight from the data
    (incidents/figures.py keeps them for the default views)."""
    incidents = scope.incidents(user)
    today = today or timezone.localdate()
    items = scope.action_items(user)
    counts, burn_down = action_item_states(items, period=scope.period, today=today)
    row = whole_set(incidents, user)
    months, durations = by_month(incidents)
    ai = ai_counts(incidents)
    by_cause = _by_cause(row, ai)
    return {
        "computed_at": timezone.now().isoformat(),
        "period": {
            "start": scope.period.start.isoformat() if scope.period.start else None,
            "end": scope.period.end.isoformat() if scope.period.end else None,
        },
        # Every incident has exactly one cause, so the causes' counts add up to the total.
        "incidents_total": sum(cause["count"] for cause in by_cause),
        "incidents_by_month": months,
        "incidents_by_cause": by_cause,
        "ai": ai_involvement(ai, by_cause=by_cause),
        "durations_by_month": durations,
        "coe_timeliness": coe_timeliness(row),
        "action_items": {
            **counts,
            "oldest_overdue": oldest_overdue(items, period=scope.period, today=today),
            "burn_down": burn_down,
        },
        "attribution": attribution(incidents, row),
        "repeats": repeats(incidents, user, count=row["repeats"]),
        "controls": controls(incidents, scope.control_links(user)),
    }
