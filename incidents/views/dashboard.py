"""The leadership dashboard: the figures of incidents.metrics as charts, tables and CSV.

Every number on the page comes from figures.dashboard (metrics computed or kept), the function
behind /api/v1/metrics/, so the page and the API cannot disagree. The charts
are drawn by static/js/dashboard.js from one JSON blob (json_script: data,
not code, so the CSP allows it); each bar, slice or point carries the URL of
the incidents behind it. Where the list page's filters can say which
incidents those are, the link goes to /incidents/?...; where they cannot
(a gate bypassed, a COE approved late), it goes to /dashboard/incidents/,
which lists them with the same definitions the figure counted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from incidents import figures as dashboard_figures
from incidents import metrics, provenance
from incidents.metrics import Period, Scope
from incidents.models import Control, Region, Service, Team
from incidents.models.bounds import EARLIEST_DATE, STORED_BEFORE_DATE, in_stored_range, latest_date
from incidents.models.vocab import AttributionStatus, PrimaryCause, Severity

PERIOD_CHOICES = [
    ("all", "All time"),
    ("12m", "Last 12 months"),
    ("90d", "Last 90 days"),
    ("custom", "Between the dates below"),
]

COLORS = {
    "SEV1": "#b3261e",
    "SEV2": "#e8871e",
    "SEV3": "#1f5fbf",
    "SEV4": "#8a94a3",
    "ai": "#6b3fa0",
    "no_ai": "#9cc3ff",
    "median": "#1f5fbf",
    "p90": "#f0a35e",
    "good": "#1b6e3a",
    "late": "#e8871e",
    "bad": "#b3261e",
    "neutral": "#b9c0c8",
    "ink": "#14213d",
    "accent": "#1f5fbf",
}
ATTRIBUTION_COLORS = {
    AttributionStatus.UNDISPUTED: COLORS["neutral"],
    AttributionStatus.DISPUTED: COLORS["bad"],
    AttributionStatus.VENDOR_CORRECTED: COLORS["late"],
}
MEASURES = {"ttd": "Time to detect", "ttm": "Time to mitigate", "ttr": "Time to resolve"}
ACTION_LABELS = {"open": "Open", "overdue": "Overdue", "done_on_time": "Done on time", "done_late": "Done late"}


class DashboardForm(forms.Form):
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False, label="Period")
    start = forms.DateField(
        required=False,
        label="Started on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[in_stored_range],
    )
    end = forms.DateField(
        required=False,
        label="Started before",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[in_stored_range],
    )
    service = forms.ChoiceField(required=False)
    region = forms.ChoiceField(required=False)
    team = forms.ChoiceField(required=False)
    severity = forms.MultipleChoiceField(choices=Severity.choices, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, data=None, *, today: date, user):
        super().__init__(data)
        self.today = today
        # The names the reader's incidents use, as the incident list offers them (visible_to).
        self.fields["service"].choices = [("", "All services")] + [
            (name, name) for name in Service.objects.visible_to(user).values_list("name", flat=True)
        ]
        self.fields["region"].choices = [("", "All regions")] + [
            (code, code) for code in Region.objects.visible_to(user).values_list("code", flat=True)
        ]
        self.fields["team"].choices = [("", "All teams"), *Team.objects.values_list("slug", "name")]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start or end:
            data["period"] = "custom"
        if start and end and end <= start:
            self.add_error("end", "The end must come after the start.")
        return data

    def chosen_period(self) -> Period:
        data = self.cleaned_data
        choice = data.get("period") or "all"
        if choice == "custom":
            return Period(data.get("start"), data.get("end"))
        return metrics.preset_period(choice, self.today)

    def scope(self) -> Scope:
        data = self.cleaned_data
        return Scope(
            period=self.chosen_period(),
            services=(data["service"],) if data.get("service") else (),
            regions=(data["region"],) if data.get("region") else (),
            severities=tuple(data.get("severity") or ()),
            team=data.get("team") or None,
        )

    def query(self) -> QueryDict:
        """The filters as query parameters, for the CSV and drill-down links."""
        data = self.cleaned_data
        query = QueryDict(mutable=True)
        choice = data.get("period") or "all"
        if choice != "all":
            query["period"] = choice
        for name in ("start", "end"):
            if data.get(name):
                query[name] = data[name].isoformat()
        for name in ("service", "region", "team"):
            if data.get(name):
                query[name] = data[name]
        if data.get("severity"):
            query.setlist("severity", list(data["severity"]))
        return query

    def describe(self) -> str:
        period = self.chosen_period()
        choice = self.cleaned_data.get("period") or "all"
        if choice != "custom":
            text = dict(PERIOD_CHOICES)[choice]
        elif period.start and period.end:
            text = f"Started {period.start:%Y-%m-%d} to {period.end - timedelta(days=1):%Y-%m-%d}"
        elif period.start:
            text = f"Started on or after {period.start:%Y-%m-%d}"
        elif period.end:
            text = f"Started before {period.end:%Y-%m-%d}"
        else:
            text = "All time"
        parts = [text]
        data = self.cleaned_data
        if data.get("severity"):
            parts.append(", ".join(data["severity"]))
        for name in ("service", "region", "team"):
            if data.get(name):
                parts.append(f"{name} {data[name]}")
        return " · ".join(parts)


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class Links:
    """Drill-down URLs: the incidents behind one bar, slice or number, in the current scope.

    A page holds about a thousand of them (every cell of every table), so the paths are reversed
    once and the queries written with urlencode (what QueryDict.urlencode does, without a
    QueryDict per link).
    """

    def __init__(self, scope: Scope, query: QueryDict):
        self.scope = scope
        self.pairs = list(query.lists())

    @cached_property
    def _paths(self) -> dict[str, str]:
        return {name: reverse(name) for name in ("incidents:list", "dashboard-incidents", "dashboard-csv")}

    def incidents(self, *, month: str | None = None, severity: str | None = None, **params) -> str:
        """/incidents/ with the list page's own filter names (IncidentFilter)."""
        start, end = self.scope.period.start, self.scope.period.end
        if month:
            first = date.fromisoformat(f"{month}-01")
            start = max(start, first) if start else first
            end = min(end, _next_month(first)) if end else _next_month(first)
        query: dict[str, list[str]] = {}
        if start:
            query["started_after"] = [start.isoformat()]
        if end:
            query["started_before"] = [end.isoformat()]
        if severity:
            query["severity"] = [severity]
        elif self.scope.severities:
            query["severity"] = list(self.scope.severities)
        if self.scope.services:
            query["service"] = [self.scope.services[0]]
        if self.scope.regions:
            query["region"] = [self.scope.regions[0]]
        if self.scope.team:
            query["team"] = [self.scope.team]
        for name, value in params.items():
            query[name] = [value]
        return self._url("incidents:list", query.items())

    def subset(self, subset: str, **params) -> str:
        """/dashboard/incidents/: for subsets the list page's filters cannot express."""
        query = dict(self.pairs)
        query["subset"] = [subset]
        for name, value in params.items():
            query[name] = [str(value)]
        return self._url("dashboard-incidents", query.items())

    def csv(self, figure: str) -> str:
        query = dict(self.pairs)
        query["figure"] = [figure]
        return self._url("dashboard-csv", query.items())

    def _url(self, name: str, lists) -> str:
        return f"{self._paths[name]}?{urlencode([(key, value) for key, values in lists for value in values])}"


@dataclass
class Cell:
    value: object
    text: str | None = None
    href: str | None = None
    numeric: bool = False
    nowrap: bool = False

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        return "—" if self.value is None else str(self.value)

    def td(self) -> SafeString:
        """The table cell, with its link where it drills down. Built here rather than in the
        template: an all-time page has some 1,500 cells, and their template nodes cost a third
        of its rendering."""
        css = _NUM if self.numeric else _NOWRAP if self.nowrap else ""
        if self.href:
            return format_html('<td{}><a href="{}">{}</a></td>', css, self.href, str(self))
        return format_html("<td{}>{}</td>", css, str(self))


def _days_overdue_text(item: dict) -> str | None:
    # Figures kept from before rows said whether they are a demo's have no "demo": not one, then.
    return f"{item['days_overdue']} ({provenance.DEMO_LABEL})" if item.get("demo") else None


_NUM = mark_safe(' class="num"')
_NOWRAP = mark_safe(' class="nowrap"')


@dataclass
class Figure:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    charts: list[dict] = field(default_factory=list)
    lead: str = ""
    # A headline count with its drill-down, for figures that are lists.
    count: dict | None = None
    # Column names for the CSV when they differ from the table's (raw units).
    csv_columns: list[str] | None = None
    csv_url: str = ""

    @property
    def empty(self) -> bool:
        return not self.rows

    @property
    def header(self) -> list[tuple[str, bool]]:
        """Column names, each with whether its cells are numbers (right-aligned)."""
        first = self.rows[0] if self.rows else []
        return [(name, i < len(first) and first[i].numeric) for i, name in enumerate(self.columns)]


def _num(value, href: str | None = None, text: str | None = None) -> Cell:
    return Cell(value, text=text, href=href if value else None, numeric=True)


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:g} d"


def _span(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes = seconds // 60
    days, minutes = divmod(minutes, 60 * 24)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _short(label: str) -> str:
    """A cause's label without its parenthesis, for a chart axis."""
    return label.split(" (")[0]


# The most months a monthly chart lists: twenty years, the latest ones.
MAX_MONTHS = 240


def _months(present: list[str], period: Period, today: date) -> list[str]:
    """Every month from the period's (or the data's) first to its end or today, so empty months show as zero.

    Bounded by construction: the ends are clamped to what can be stored (incidents/models/bounds.py) and
    at most MAX_MONTHS are listed, the latest (an incident in 1970 does not push this year off the chart).
    """
    dates = [date.fromisoformat(f"{month}-01") for month in present]
    first = period.start or (min(dates) if dates else None)
    last = min(period.end - timedelta(days=1), today) if period.end else today
    if dates:
        last = max(last, max(dates))
    if first is not None:
        # Nothing can be entered later than a year ahead; a later start (set by hand) stays in the totals.
        first, last = max(first, EARLIEST_DATE), min(last, latest_date())
    if first is None or first > last:
        return sorted(present)[-MAX_MONTHS:]
    last_month = _month_start(last)
    span = (last_month.year - first.year) * 12 + last_month.month - first.month + 1
    if span > MAX_MONTHS:
        index = last_month.year * 12 + last_month.month - MAX_MONTHS
        first = date(index // 12, index % 12 + 1, 1)
    months, cursor = [], _month_start(first)
    while cursor <= last:
        months.append(f"{cursor:%Y-%m}")
        cursor = _next_month(cursor)
    return months


def _chart(chart_id: str, kind: str, labels: list, datasets: list[dict], **options) -> dict:
    return {"id": chart_id, "type": kind, "labels": labels, "datasets": datasets, **options}


def build_figures(m: dict, links: Links, *, period: Period, today: date) -> list[Figure]:
    by_month = {row["month"]: row for row in m["incidents_by_month"]}
    durations = {row["month"]: row for row in m["durations_by_month"]}
    months = _months(sorted(set(by_month) | set(durations)), period, today)
    severities = list(Severity.values)
    figures = []

    # Incidents per month by severity.
    rows = []
    for month in months:
        row = by_month.get(month, {"total": 0, **dict.fromkeys(severities, 0)})
        rows.append(
            [Cell(month, nowrap=True)]
            + [_num(row[s], links.incidents(month=month, severity=s)) for s in severities]
            + [_num(row["total"], links.incidents(month=month))]
        )
    figures.append(
        Figure(
            "incidents_by_month",
            "Incidents per month, by severity",
            ["Month", *severities, "Total"],
            rows if m["incidents_total"] else [],
            charts=[
                _chart(
                    "incidents_by_month",
                    "bar",
                    months,
                    [
                        {
                            "label": s,
                            "data": [by_month.get(mo, {}).get(s, 0) for mo in months],
                            "color": COLORS[s],
                            "links": [links.incidents(month=mo, severity=s) for mo in months],
                        }
                        for s in severities
                    ],
                    stacked=True,
                    unit="incidents",
                    label="Incidents per month, stacked by severity",
                )
            ],
        )
    )

    # Causes, with the AI-involved share of each.
    causes = m["incidents_by_cause"]
    figures.append(
        Figure(
            "incidents_by_cause",
            "Incidents by primary cause, with and without an AI agent",
            ["Cause", "Incidents", "AI agent involved", "No AI agent"],
            [
                [
                    Cell(r["cause"], text=r["label"]),
                    _num(r["count"], links.incidents(primary_cause=r["cause"])),
                    _num(r["with_ai"], links.incidents(primary_cause=r["cause"], ai_involved="true")),
                    _num(r["count"] - r["with_ai"], links.incidents(primary_cause=r["cause"], ai_involved="false")),
                ]
                for r in causes
            ],
            charts=[
                _chart(
                    "incidents_by_cause",
                    "bar",
                    [_short(r["label"]) for r in causes],
                    [
                        {
                            "label": "AI agent involved",
                            "data": [r["with_ai"] for r in causes],
                            "color": COLORS["ai"],
                            "links": [links.incidents(primary_cause=r["cause"], ai_involved="true") for r in causes],
                        },
                        {
                            "label": "No AI agent",
                            "data": [r["count"] - r["with_ai"] for r in causes],
                            "color": COLORS["no_ai"],
                            "links": [links.incidents(primary_cause=r["cause"], ai_involved="false") for r in causes],
                        },
                    ],
                    stacked=True,
                    horizontal=True,
                    unit="incidents",
                    label="Incidents by primary cause, split by AI involvement",
                )
            ],
            lead=_cause_lead(m),
        )
    )

    # AI involvement by autonomy level, and the authorization gate.
    ai = m["ai"]
    levels = ai["by_autonomy_level"]

    def level_link(level: str) -> str:
        return links.incidents(autonomy_level=level) if level else links.subset("autonomy_unrecorded")

    figures.append(
        Figure(
            "ai_autonomy",
            "Incidents with an AI agent, by autonomy level",
            ["Autonomy level", "CSET autonomy", "Incidents"],
            [
                [Cell(r["level"], text=r["label"]), Cell(r["cset"]), _num(r["incidents"], level_link(r["level"]))]
                for r in levels
            ]
            if ai["with_ai"]
            else [],
            charts=[
                _chart(
                    "ai_autonomy",
                    "bar",
                    [r["label"] for r in levels],
                    [
                        {
                            "label": "Incidents",
                            "data": [r["incidents"] for r in levels],
                            "color": COLORS["ai"],
                            "links": [level_link(r["level"]) for r in levels],
                        }
                    ],
                    unit="incidents",
                    label="Incidents with an AI agent at each autonomy level",
                )
            ],
            lead=(
                "L1 keeps a person choosing every step; at L5 the agent acts alone. "
                "An incident with agents at two levels counts at both."
            ),
        )
    )
    gate_ok = ai["with_ai"] - ai["gate_absent_or_bypassed"]
    figures.append(
        Figure(
            "ai_gate",
            "AI involvement and the authorization gate",
            ["Measure", "Incidents", "Share"],
            [
                [
                    Cell("incidents_with_ai_agent", text="Incidents with an AI agent"),
                    _num(ai["with_ai"], links.incidents(ai_involved="true")),
                    Cell(ai["share_with_ai"], text=_percent(ai["share_with_ai"]) + " of all incidents", numeric=True),
                ],
                [
                    Cell("gate_absent_or_bypassed", text="Authorization gate absent or bypassed"),
                    _num(ai["gate_absent_or_bypassed"], links.subset("gate_failed")),
                    Cell(
                        ai["share_gate_absent_or_bypassed"],
                        text=_percent(ai["share_gate_absent_or_bypassed"]) + " of AI incidents",
                        numeric=True,
                    ),
                ],
                [
                    Cell("gate_present_or_unknown", text="Gate present and kept, or not known"),
                    _num(gate_ok, links.subset("gate_not_failed")),
                    Cell(None, numeric=True),
                ],
            ]
            if ai["with_ai"]
            else [],
            charts=[
                _chart(
                    "ai_gate",
                    "doughnut",
                    ["Gate absent or bypassed", "Gate kept, or not known"],
                    [
                        {
                            "label": "Incidents with an AI agent",
                            "data": [ai["gate_absent_or_bypassed"], gate_ok],
                            "colors": [COLORS["bad"], COLORS["neutral"]],
                            "links": [links.subset("gate_failed"), links.subset("gate_not_failed")],
                        }
                    ],
                    unit="incidents",
                    label="Incidents with an AI agent, by whether its authorization gate was absent or bypassed",
                )
            ],
        )
    )

    # Time to detect, mitigate and resolve: median and 90th percentile per month.
    # Only months with a measurement are drawn: a month without one has no median to show.
    measured_months = sorted(durations)
    rows, charts = [], []
    for key, name in MEASURES.items():
        for month in measured_months:
            stats = durations.get(month, {}).get(key)
            if stats and stats["count"]:
                href = links.subset("measured", value=key, month=month)
                rows.append(
                    [
                        Cell(month),
                        Cell(key, text=name),
                        _num(stats["count"], href),
                        Cell(stats["estimated"], numeric=True),
                        Cell(stats["median_seconds"], text=_span(stats["median_seconds"]), numeric=True),
                        Cell(stats["p90_seconds"], text=_span(stats["p90_seconds"]), numeric=True),
                    ]
                )

        def hours(month: str, which: str, key=key) -> float | None:
            stats = durations.get(month, {}).get(key)
            return round(stats[which] / 3600, 2) if stats and stats[which] is not None else None

        charts.append(
            _chart(
                f"durations_{key}",
                "bar",
                measured_months,
                [
                    {
                        "label": "Median",
                        "data": [hours(mo, "median_seconds") for mo in measured_months],
                        "color": COLORS["median"],
                        "links": [links.subset("measured", value=key, month=mo) for mo in measured_months],
                    },
                    {
                        "label": "90th percentile",
                        "data": [hours(mo, "p90_seconds") for mo in measured_months],
                        "color": COLORS["p90"],
                        "links": [links.subset("measured", value=key, month=mo) for mo in measured_months],
                    },
                ],
                unit="hours",
                title=name,
                label=f"{name}: median and 90th percentile per month, in hours",
                empty=not any(durations[mo][key]["count"] for mo in measured_months),
            )
        )
    figures.append(
        Figure(
            "durations",
            "Time to detect, mitigate and resolve",
            ["Month", "Measure", "Incidents measured", "Of which estimated", "Median", "90th percentile"],
            rows,
            csv_columns=["month", "measure", "incidents_measured", "estimated", "median_seconds", "p90_seconds"],
            charts=charts,
            lead="Median and 90th percentile per month of start, not means: incident durations are long-tailed. "
            "Only incidents with both times recorded are measured, and only months with one are drawn. "
            "Of which estimated: measured from a time marked estimated or known less precisely than to the minute.",
        )
    )

    # COE timeliness.
    coe = m["coe_timeliness"]
    late = coe["approved"] - coe["approved_within_target"]
    target = coe["target_days"]
    coe_links = {state: links.subset("coe", value=state) for state in metrics.COE_STATES}
    figures.append(
        Figure(
            "coe_timeliness",
            "COE timeliness",
            ["Measure", "Value"],
            [
                [
                    Cell("approved_within_target", text=f"Approved within {target} days of resolution"),
                    _num(coe["approved_within_target"], coe_links["approved_within_target"]),
                ],
                [Cell("approved_late", text=f"Approved after {target} days"), _num(late, coe_links["approved_late"])],
                [
                    Cell("awaiting_approval", text="Resolved, COE not yet approved"),
                    _num(coe["awaiting_approval"], coe_links["awaiting_approval"]),
                ],
                [
                    Cell("median_days_to_approval", text="Median days from resolution to approval"),
                    Cell(coe["median_days_to_approval"], text=_days(coe["median_days_to_approval"]), numeric=True),
                ],
                [
                    Cell("p90_days_to_approval", text="90th percentile of days to approval"),
                    Cell(coe["p90_days_to_approval"], text=_days(coe["p90_days_to_approval"]), numeric=True),
                ],
                [
                    Cell("share_approved_within_target", text="Share of approved COEs within the target"),
                    Cell(
                        coe["share_approved_within_target"],
                        text=_percent(coe["share_approved_within_target"]),
                        numeric=True,
                    ),
                ],
                [
                    Cell("imported_not_judged", text="Imported from earlier tools, not judged"),
                    _num(coe["imported_not_judged"], coe_links["imported_not_judged"]),
                ],
            ]
            if coe["approved"] or coe["awaiting_approval"] or coe["imported_not_judged"]
            else [],
            lead=(
                f"Days from resolution to approval: median {_days(coe['median_days_to_approval'])}, "
                f"90th percentile {_days(coe['p90_days_to_approval'])}; "
                f"{_percent(coe['share_approved_within_target'])} of approved COEs within the {target}-day target."
                if coe["approved"]
                else f"No COE of a resolved incident in this view is approved yet (target: {target} days)."
            ),
            charts=[
                _chart(
                    "coe_timeliness",
                    "doughnut",
                    [f"Approved within {target} days", f"Approved after {target} days", "Awaiting approval"],
                    [
                        {
                            "label": "Resolved incidents",
                            "data": [coe["approved_within_target"], late, coe["awaiting_approval"]],
                            "colors": [COLORS["good"], COLORS["late"], COLORS["neutral"]],
                            "links": [coe_links[s] for s in metrics.COE_STATES[:3]],
                        }
                    ],
                    unit="incidents",
                    label="Resolved incidents by whether their COE was approved within the target",
                )
            ],
        )
    )

    # Action items.
    items = m["action_items"]
    item_links = {state: links.subset("items", value=state) for state in ACTION_LABELS}
    figures.append(
        Figure(
            "action_items",
            "Action items",
            ["State", "Items"],
            [[Cell(state, text=label), _num(items[state], item_links[state])] for state, label in ACTION_LABELS.items()]
            + [[Cell("total", text="All items"), _num(items["total"])]]
            if items["total"]
            else [],
            charts=[
                _chart(
                    "action_items",
                    "bar",
                    list(ACTION_LABELS.values()),
                    [
                        {
                            "label": "Action items",
                            "data": [items[state] for state in ACTION_LABELS],
                            "colors": [COLORS["accent"], COLORS["bad"], COLORS["good"], COLORS["late"]],
                            "links": [item_links[state] for state in ACTION_LABELS],
                        }
                    ],
                    unit="items",
                    label="Action items open, overdue, done on time and done late",
                )
            ],
            lead="Open includes overdue. Done means done or verified; won't-do items are neither open nor done.",
        )
    )
    burn = items["burn_down"]
    burn_links = [links.subset("items", value="open_on", date=p["date"]) for p in burn]
    figures.append(
        Figure(
            "burn_down",
            "Open action items over the period",
            ["Date", "Open items"],
            [[Cell(p["date"]), _num(p["open"], href)] for p, href in zip(burn, burn_links, strict=True)]
            if items["total"]
            else [],
            charts=[
                _chart(
                    "burn_down",
                    "line",
                    [p["date"] for p in burn],
                    [
                        {
                            "label": "Open items",
                            "data": [p["open"] for p in burn],
                            "color": COLORS["accent"],
                            "links": burn_links,
                            "fill": True,
                        }
                    ],
                    unit="items",
                    label="Open action items at the end of each month, the last point today",
                )
            ],
        )
    )
    figures.append(
        Figure(
            "oldest_overdue",
            "Oldest overdue action items",
            ["Item", "Incident", "Owner", "Due", "Days overdue"],
            [
                [
                    Cell(i["title"], href=reverse("incidents:action-item", args=[i["incident"], i["id"]])),
                    Cell(i["incident"], href=reverse("incidents:detail", args=[i["incident"]]), nowrap=True),
                    Cell(i["owner"]),
                    Cell(i["due_date"], nowrap=True),
                    Cell(i["days_overdue"], text=_days_overdue_text(i), numeric=True),
                ]
                for i in items["oldest_overdue"]
            ],
        )
    )

    # Attribution.
    attribution = m["attribution"]
    statuses = attribution["by_status"]
    figures.append(
        Figure(
            "attribution",
            "Attribution: undisputed, disputed, corrected by the vendor",
            ["Attribution", "Incidents"],
            [
                [
                    Cell(s["status"], text=s["label"]),
                    _num(s["incidents"], links.incidents(attribution_status=s["status"])),
                ]
                for s in statuses
            ]
            if m["incidents_total"]
            else [],
            charts=[
                _chart(
                    "attribution",
                    "doughnut",
                    [s["label"] for s in statuses],
                    [
                        {
                            "label": "Incidents",
                            "data": [s["incidents"] for s in statuses],
                            "colors": [ATTRIBUTION_COLORS[s["status"]] for s in statuses],
                            "links": [links.incidents(attribution_status=s["status"]) for s in statuses],
                        }
                    ],
                    unit="incidents",
                    label="Incidents by attribution status",
                )
            ],
        )
    )
    cause_labels = dict(PrimaryCause.choices)
    figures.append(
        Figure(
            "vendor_differs",
            "Adopted cause differs from the vendor's claim",
            ["Incident", "Title", "Adopted cause"],
            [
                [
                    Cell(r["key"], href=reverse("incidents:detail", args=[r["key"]]), nowrap=True),
                    Cell(r["title"]),
                    Cell(r["adopted_cause"], text=cause_labels.get(r["adopted_cause"], r["adopted_cause"])),
                ]
                for r in attribution["adopted_differs_from_vendor_incidents"]
            ],
            count=_count_lead(
                attribution["adopted_differs_from_vendor"],
                "incident",
                "incidents",
                "where the cause we adopted is not the one the vendor claimed",
                links.subset("vendor_differs"),
            ),
        )
    )

    # Repeats.
    repeats = m["repeats"]
    figures.append(
        Figure(
            "repeats",
            "Repeat incidents: same service and cause within 90 days",
            ["Incident", "Title", "Cause", "Started"],
            [
                [
                    Cell(r["key"], href=reverse("incidents:detail", args=[r["key"]]), nowrap=True),
                    Cell(r["title"]),
                    Cell(r["primary_cause"], text=cause_labels.get(r["primary_cause"], r["primary_cause"])),
                    Cell(r["started_at"], text=r["started_at"][:10], nowrap=True),
                ]
                for r in repeats["incidents"]
            ],
            count=_count_lead(
                repeats["count"],
                "incident",
                "incidents",
                "with an earlier one on the same service and cause in the 90 days before",
                links.subset("repeats"),
            ),
        )
    )

    # Controls.
    controls = m["controls"]
    control_links = [links.subset("control", value=c["id"]) for c in controls]
    figures.append(
        Figure(
            "controls",
            "Controls and the incidents that led to them",
            ["Control", "Status", "Disputed", "Scope", "Incidents"],
            [
                [
                    Cell(c["name"]),
                    Cell(c["status"], text=c["status"].capitalize()),
                    Cell("yes" if c["disputed"] else "no"),
                    Cell(c["scope"]),
                    _num(c["incidents"], href),
                ]
                for c, href in zip(controls, control_links, strict=True)
            ],
            charts=[
                _chart(
                    "controls",
                    "bar",
                    [c["name"] for c in controls],
                    [
                        {
                            "label": "Incidents in this view",
                            "data": [c["incidents"] for c in controls],
                            "color": COLORS["ink"],
                            "links": control_links,
                        }
                    ],
                    horizontal=True,
                    unit="incidents",
                    label="Incidents linked to each control",
                )
            ]
            if any(c["incidents"] for c in controls)
            else [],
        )
    )
    for figure in figures:
        figure.csv_url = links.csv(figure.name)
    return figures


def _cause_lead(m: dict) -> str:
    ai = m["ai"]
    access = next((r for r in m["incidents_by_cause"] if r["cause"] == PrimaryCause.ACCESS_CONTROL), None)
    if not m["incidents_total"]:
        return ""
    text = f"An AI agent was involved in {ai['with_ai']} of {ai['incidents']} incidents"
    if access:
        text += f"; in access-control incidents, {access['with_ai']} of {access['count']}"
    return text + "."


def _count_lead(count: int, one: str, many: str, what: str, href: str) -> dict:
    return {"count": count, "noun": one if count == 1 else many, "what": what, "href": href if count else None}


def _kpis(m: dict, links: Links) -> list[dict]:
    ai, coe, items = m["ai"], m["coe_timeliness"], m["action_items"]
    disputed = next(s["incidents"] for s in m["attribution"]["by_status"] if s["status"] == "disputed")
    return [
        {"label": "Incidents", "value": m["incidents_total"], "href": links.incidents()},
        {
            "label": "With an AI agent",
            "value": _percent(ai["share_with_ai"]),
            "note": f"{ai['with_ai']} incidents",
            "href": links.incidents(ai_involved="true"),
        },
        {
            "label": "Gate absent or bypassed",
            "value": ai["gate_absent_or_bypassed"],
            "note": f"{_percent(ai['share_gate_absent_or_bypassed'])} of AI incidents",
            "href": links.subset("gate_failed"),
        },
        {
            "label": "COEs approved in time",
            "value": _percent(coe["share_approved_within_target"]),
            "note": f"median {_days(coe['median_days_to_approval'])}, target {coe['target_days']} d",
            "href": links.subset("coe", value="approved_within_target"),
        },
        {
            "label": "Overdue action items",
            "value": items["overdue"],
            "note": f"of {items['open']} open",
            "href": links.subset("items", value="overdue"),
            "alert": bool(items["overdue"]),
        },
        {
            "label": "Disputed attributions",
            "value": disputed,
            "href": links.incidents(attribution_status="disputed"),
        },
        {"label": "Repeat incidents", "value": m["repeats"]["count"], "href": links.subset("repeats")},
    ]


def _form_and_scope(request):
    """The filter form (always bound: no parameters means all time, everything) and its scope, or None if invalid."""
    today = timezone.localdate()
    form = DashboardForm(request.GET, today=today, user=request.user)
    if not form.is_valid():
        return form, None, today
    return form, form.scope(), today


@login_required
def dashboard(request):
    form, scope, today = _form_and_scope(request)
    context = {"form": form, "figures": [], "charts": {}}
    if scope is not None:
        kept = dashboard_figures.dashboard(request.user, scope, today=today)
        m = kept.metrics
        links = Links(scope, form.query())
        figures = build_figures(m, links, period=scope.period, today=today)
        context.update(
            figures=figures,
            by_name={f.name: f for f in figures},
            charts={chart["id"]: chart for f in figures for chart in f.charts},
            kpis=_kpis(m, links),
            scope_text=form.describe(),
            api_url=_api_url(scope),
            metrics=m,
            computed_at=kept.computed_at,
        )
    return TemplateResponse(request, "incidents/dashboard.html", context)


def _api_url(scope: Scope) -> str:
    query = QueryDict(mutable=True)
    if scope.period.start:
        query["start"] = scope.period.start.isoformat()
    if scope.period.end:
        query["end"] = scope.period.end.isoformat()
    query.setlist("service", list(scope.services))
    query.setlist("region", list(scope.regions))
    query.setlist("severity", list(scope.severities))
    if scope.team:
        query["team"] = scope.team
    return f"{reverse('api:metrics')}?{query.urlencode()}" if query else reverse("api:metrics")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_text(value) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise it.
    if text[:1] in ("=", "+", "-", "@"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


@login_required
def dashboard_csv(request):
    form, scope, today = _form_and_scope(request)
    if scope is None:
        return HttpResponse("Invalid filters: " + form.errors.as_text(), status=400, content_type="text/plain")
    name = request.GET.get("figure", "")
    m = dashboard_figures.dashboard(request.user, scope, today=today).metrics
    figures = {f.name: f for f in build_figures(m, Links(scope, form.query()), period=scope.period, today=today)}
    if name not in figures:
        return HttpResponse(
            "Unknown figure; one of: " + ", ".join(figures), status=400, content_type="text/plain; charset=utf-8"
        )
    figure = figures[name]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="coe-dashboard-{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(figure.csv_columns or figure.columns)
    for row in figure.rows:
        writer.writerow([_csv_text(cell.value) for cell in row])
    return response


# The drill-down for what the list page's filters cannot say.
SUBSETS = {
    "gate_failed": "an AI agent's authorization gate was absent or bypassed",
    "gate_not_failed": "an AI agent was involved and its gate was kept, or it is not known",
    "autonomy_unrecorded": "an AI agent's autonomy level is not recorded",
    "coe": "COE timeliness",
    "items": "action items",
    "measured": "durations",
    "vendor_differs": "the adopted cause differs from the vendor's claim",
    "repeats": "an earlier incident on the same service and cause within 90 days",
    "control": "control",
}
COE_SUBSET_TEXT = {
    "approved_within_target": "the COE was approved within {target} days of resolution",
    "approved_late": "the COE was approved more than {target} days after resolution",
    "awaiting_approval": "resolved, and the COE is not yet approved",
    "imported_not_judged": "imported from an earlier tool, so its COE's timeliness is not judged",
}
ITEM_SUBSET_TEXT = {
    "open": "an action item is open",
    "overdue": "an action item is overdue",
    "done_on_time": "an action item was done on time",
    "done_late": "an action item was done late",
}


def _subset(request, incidents, scope: Scope, today: date):
    """The incidents behind a subset and a sentence saying which they are; Http404 if unknown."""
    name, value = request.GET.get("subset", ""), request.GET.get("value", "")
    if name == "gate_failed":
        return metrics.gate_failed_incidents(incidents), SUBSETS[name]
    if name == "gate_not_failed":
        with_ai = incidents.ai_involved()
        return with_ai.exclude(pk__in=metrics.gate_failed_incidents(incidents).values("pk")), SUBSETS[name]
    if name == "autonomy_unrecorded":
        return metrics.autonomy_level_incidents(incidents, ""), SUBSETS[name]
    if name == "coe" and value in metrics.COE_STATES:
        text = COE_SUBSET_TEXT[value].format(target=settings.COE_APPROVAL_TARGET_DAYS)
        return metrics.coe_incidents(incidents, value), text
    if name == "items" and value in ITEM_SUBSET_TEXT:
        return metrics.action_item_incidents(incidents, value, today=today), ITEM_SUBSET_TEXT[value]
    if name == "items" and value == "open_on":
        day = _parse_date(request.GET.get("date"))
        return metrics.action_item_incidents(incidents, "open_on", open_on=day), f"an action item was open on {day}"
    if name == "measured" and value in MEASURES:
        month = request.GET.get("month", "")
        found = metrics.measured_incidents(incidents, value, _parse_date(f"{month}-01"))
        return found, f"started in {month}, {MEASURES[value].lower()} known"
    if name == "vendor_differs":
        return metrics.vendor_differs_incidents(incidents), SUBSETS[name]
    if name == "repeats":
        return metrics.repeat_incidents(incidents, request.user), SUBSETS[name]
    if name == "control" and value.isdigit():
        control = Control.objects.filter(pk=int(value)).first()
        if control is None:
            raise Http404("No such control")
        return metrics.control_incidents(incidents, control.pk), f"linked to the control “{control.name}”"
    raise Http404("Unknown drill-down")


def _parse_date(text: str | None) -> date:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        raise Http404("Bad date") from None
    # Only the days incidents can have: 9999-12 would have no next month to end it.
    if not EARLIEST_DATE <= day < STORED_BEFORE_DATE:
        raise Http404("Bad date")
    return day


@login_required
def dashboard_incidents(request):
    form, scope, today = _form_and_scope(request)
    if scope is None:
        raise Http404("Invalid filters")
    incidents = scope.incidents(request.user)
    found, text = _subset(request, incidents, scope, today)
    found = found.with_ai_flag().select_related("coe").prefetch_related("services").order_by("-started_at", "-id")
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return TemplateResponse(
        request,
        "incidents/dashboard_incidents.html",
        {
            "page_obj": page,
            "description": text,
            "scope_text": form.describe(),
            "dashboard_url": f"{reverse('dashboard')}?{form.query().urlencode()}",
            "query": query.urlencode(),
        },
    )
