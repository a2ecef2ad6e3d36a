"""The incident FilterSet: one set of filters for the HTML list and the API."""

from datetime import UTC

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

from .models import ActionItem, AIInvolvement, Control, Incident, IncidentFactor, Region, Service
from .models.vocab import (
    ActionStatus,
    ActionType,
    AttributionStatus,
    AutonomyLevel,
    CoeStatus,
    ContributingFactor,
    ControlStatus,
    IncidentStatus,
    PrimaryCause,
    Priority,
    Severity,
)

_YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]
NO_COE = "none"
COE_STATUS_CHOICES = [(NO_COE, "No COE yet"), *CoeStatus.choices]


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time the database can compare: 0001-01-01T00:00+05:00 parses,
    but is before year 1 in UTC and would crash the query."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None and timezone.is_aware(result):
            try:
                result.astimezone(UTC)
            except OverflowError:
                raise forms.ValidationError("That time is outside the calendar.", code="overflow") from None
        return result


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error rather than "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # A plain Select hands the raw text to the field (NullBooleanSelect would turn nonsense into "any").
        kwargs.setdefault("widget", forms.Select(choices=_YES_NO))
        super().__init__(*args, **kwargs)


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    # The API's name for the same search.
    search = django_filters.CharFilter(method="filter_search", label="Search", widget=forms.HiddenInput)
    # Several values may be given (?severity=SEV1&severity=SEV2); they are OR-ed.
    # distinct=False: these are the incident's own columns, so no join can repeat a row, and a
    # DISTINCT would make PostgreSQL sort every match before it could stop at one page.
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    status = django_filters.MultipleChoiceFilter(
        choices=IncidentStatus.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    primary_cause = django_filters.MultipleChoiceFilter(
        choices=PrimaryCause.choices, label="Cause", widget=forms.SelectMultiple(attrs={"size": 4}), distinct=False
    )
    contributing_factor = django_filters.ChoiceFilter(
        choices=ContributingFactor.choices, method="filter_factor", label="Contributing factor"
    )
    ai_involved = StrictBooleanFilter(method="filter_ai", label="AI involved")
    autonomy_level = django_filters.ChoiceFilter(
        choices=AutonomyLevel.choices, method="filter_autonomy", label="Autonomy level"
    )
    attribution_status = django_filters.ChoiceFilter(choices=AttributionStatus.choices)
    # Several may be given, OR-ed; "none" is an incident with no COE yet.
    coe_status = django_filters.MultipleChoiceFilter(
        choices=COE_STATUS_CHOICES, method="filter_coe_status", label="COE status", widget=forms.CheckboxSelectMultiple
    )
    # Offered and accepted: the names the reader's incidents use (visible_to), so a name typed in
    # for a restricted incident is neither listed nor told apart from one that does not exist.
    service = django_filters.ModelChoiceFilter(
        queryset=lambda request: Service.objects.visible_to(getattr(request, "user", None)),
        field_name="services",
        to_field_name="name",
    )
    team = django_filters.CharFilter(field_name="team__slug", label="Team", widget=forms.HiddenInput)
    region = django_filters.ModelChoiceFilter(
        queryset=lambda request: Region.objects.visible_to(getattr(request, "user", None)),
        field_name="regions",
        to_field_name="code",
    )
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="Started on or after")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        # Every word somewhere in the title, summary, key or COE; the knowledge-base search page
        # (incidents/search.py) ranks. `ilike` is icontains that PostgreSQL can estimate (incidents/lookups.py).
        for word in value.split()[:8]:
            queryset = queryset.filter(
                Q(title__ilike=word)
                | Q(summary__ilike=word)
                | Q(key__iexact=word)
                | Q(coe__summary__ilike=word)
                | Q(coe__root_cause__ilike=word)
            )
        return queryset

    def filter_coe_status(self, queryset, name, value):
        if not value:
            return queryset
        wanted = Q(coe__status__in=[status for status in value if status != NO_COE])
        if NO_COE in value:
            wanted |= Q(coe__isnull=True)
        return queryset.filter(wanted)

    def filter_factor(self, queryset, name, value):
        return queryset.filter(Exists(IncidentFactor.objects.filter(incident=OuterRef("pk"), factor=value)))

    def filter_ai(self, queryset, name, value):
        if value is None:
            return queryset
        has_ai = Exists(AIInvolvement.objects.filter(incident=OuterRef("pk")))
        return queryset.filter(has_ai if value else ~has_ai)

    def filter_autonomy(self, queryset, name, value):
        return queryset.filter(Exists(AIInvolvement.objects.filter(incident=OuterRef("pk"), autonomy_level=value)))


class ActionItemFilter(django_filters.FilterSet):
    incident = django_filters.CharFilter(field_name="incident__key", label="Incident key")
    status = django_filters.MultipleChoiceFilter(choices=ActionStatus.choices)
    action_type = django_filters.ChoiceFilter(choices=ActionType.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    owner = django_filters.CharFilter(field_name="owner__username")
    open = StrictBooleanFilter(method="filter_open", label="Still open")
    overdue = StrictBooleanFilter(method="filter_overdue")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = ActionItem
        fields: list[str] = []

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.open() if value else queryset.exclude(pk__in=queryset.open().values("pk"))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.overdue() if value else queryset.exclude(pk__in=queryset.overdue().values("pk"))


class ControlFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ControlStatus.choices)
    disputed = StrictBooleanFilter()

    class Meta:
        model = Control
        fields: list[str] = []
