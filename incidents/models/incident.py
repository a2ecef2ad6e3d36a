"""The incident, its classification, its impact figures and its timeline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from .bounds import in_near_future, stored_range
from .fulltext import incident_vector, search_index, stored_vector, timeline_vector
from .keys import public_key, restricted_key, take_numbers
from .vocab import (
    ActorKind,
    AttributionStatus,
    Basis,
    ContributingFactor,
    HarmLevel,
    IncidentStatus,
    PrimaryCause,
    Severity,
    TimelineKind,
    TimePrecision,
    TriggerKind,
)


def _choice_check(
    field: str, choices: type[models.TextChoices], *, allow_blank: bool = False
) -> models.CheckConstraint:
    """A database-level guard so a raw insert cannot smuggle in, say, 'human_error'."""
    values = list(choices.values) + ([""] if allow_blank else [])
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": values}),
        name=f"%(app_label)s_%(class)s_{field}_valid",
    )


def signed_in(user) -> bool:
    """A real, authenticated user (not None, not the anonymous one): who visibility rules apply to."""
    return user is not None and not isinstance(user, AnonymousUser) and user.is_authenticated


def group_ids_of(user) -> RawSQL:
    """The ids of the user's groups, as a subquery of the user-group link table alone.

    The same rows as `user.groups.all()`, which builds a related manager and a join on every call:
    the visibility filter is on every request's path, and building and compiling it that way cost
    about 0.4 ms of an API list page.
    """
    field = user._meta.get_field("groups")
    through = field.remote_field.through._meta.db_table
    quote = connection.ops.quote_name
    return RawSQL(
        f"SELECT {quote(field.m2m_reverse_name())} FROM {quote(through)} WHERE {quote(field.m2m_column_name())} = %s",
        (user.pk,),
    )


class IncidentQuerySet(models.QuerySet):
    def visible_to(self, user) -> IncidentQuerySet:
        """Incidents this user may know exist.

        A restricted incident is visible only to superusers, its owner and
        members of its access group. Everyone else must not learn that it
        exists: every list, count, search and export starts here.
        """
        if not signed_in(user):
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(Q(restricted=False) | Q(owner_id=user.pk) | Q(access_group__in=group_ids_of(user)))

    def hidden_from(self, user) -> IncidentQuerySet:
        """The complement of visible_to(user): the incidents this user must not learn of.

        A few restricted ones for most people, so "not among these" filters rows that belong to
        incidents (action items, say) without joining the hundred thousand visible incidents.
        """
        if not signed_in(user):
            return self.all()
        if user.is_superuser:
            return self.none()
        return self.filter(restricted=True).exclude(owner_id=user.pk).exclude(access_group__in=group_ids_of(user))

    def with_ai_flag(self) -> IncidentQuerySet:
        """Annotate `has_ai` (an EXISTS subquery, so lists stay one query)."""
        from .ai import AIInvolvement

        return self.annotate(has_ai=models.Exists(AIInvolvement.objects.filter(incident=models.OuterRef("pk"))))

    def ai_involved(self, involved: bool = True) -> IncidentQuerySet:
        return self.with_ai_flag().filter(has_ai=involved)


class Incident(models.Model):
    key = models.CharField(
        max_length=20,
        unique=True,
        editable=False,
        help_text="Human-readable key: INC-2025-0001, or RST-2025-7KQ3XM2D if restricted (incidents/models/keys.py).",
    )
    external_id = models.CharField(
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text="The incident's id in another system (an import, or the seeded knowledge base).",
    )
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    status = models.CharField(max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING)
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="incidents")
    regions = models.ManyToManyField("incidents.Region", blank=True, related_name="incidents")
    tags = models.ManyToManyField("incidents.Tag", blank=True, related_name="incidents")
    team = models.ForeignKey(
        "incidents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_incidents"
    )

    # Times are stored apart from the reported duration (The VOID): a source
    # may say "about 13 hours" without giving either end.
    started_at = models.DateTimeField(validators=[in_near_future])
    time_precision = models.CharField(
        max_length=10,
        choices=TimePrecision.choices,
        default=TimePrecision.MINUTE,
        help_text="How exactly the sources pin down the start.",
    )
    started_estimated = models.BooleanField(default=False, help_text="The start is an estimate, not a report.")
    detected_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    detected_precision = models.CharField(max_length=10, choices=TimePrecision.choices, default=TimePrecision.MINUTE)
    detected_estimated = models.BooleanField(default=False)
    mitigated_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    mitigated_precision = models.CharField(max_length=10, choices=TimePrecision.choices, default=TimePrecision.MINUTE)
    mitigated_estimated = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    resolved_precision = models.CharField(max_length=10, choices=TimePrecision.choices, default=TimePrecision.MINUTE)
    resolved_estimated = models.BooleanField(default=False)
    reported_duration = models.DurationField(
        null=True, blank=True, help_text="Duration as reported by a source, when the ends are not known."
    )
    reported_duration_source = models.ForeignKey(
        "incidents.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    customer_impact = models.TextField(blank=True)

    primary_cause = models.CharField(max_length=30, choices=PrimaryCause.choices, default=PrimaryCause.UNDETERMINED)
    trigger_kind = models.CharField(max_length=20, choices=TriggerKind.choices, blank=True)
    trigger_text = models.TextField(blank=True)
    harm_level = models.CharField(max_length=10, choices=HarmLevel.choices, default=HarmLevel.NONE)

    attribution_status = models.CharField(
        max_length=20, choices=AttributionStatus.choices, default=AttributionStatus.UNDISPUTED
    )
    adopted_cause = models.CharField(max_length=30, choices=PrimaryCause.choices, blank=True)
    adopted_cause_rationale = models.TextField(blank=True)

    sources = models.ManyToManyField("incidents.Source", blank=True, related_name="incidents")

    restricted = models.BooleanField(default=False)
    access_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="restricted_incidents",
        help_text="Who may see this incident when it is restricted.",
    )

    # Whether an earlier incident (any, or an unrestricted one) on one of this incident's services,
    # with the same primary cause, started within the 90 days before it. The services keep them
    # current (incidents/repeats.py), so the dashboard's repeats are a filter, not a look-back.
    repeat_any = models.BooleanField(default=False, db_default=False, editable=False)
    repeat_public = models.BooleanField(default=False, db_default=False, editable=False)

    # Demo data (the seeded knowledge base): its workflow states (COE approvals, action item
    # progress) were made by demo users and are shown as such, never as the company's progress.
    demo = models.BooleanField(default=False, db_default=False)
    # An incident brought in from an earlier tool keeps its own dates; rules and charts that judge
    # timeliness leave it out or show it apart (incidents/imports/).
    imported_at = models.DateTimeField(null=True, blank=True, help_text="When it was imported; empty if entered here.")
    import_origin = models.CharField(max_length=500, blank=True, help_text="The file or URL it was imported from.")

    # A default rather than auto_now_add, so an import can keep the original record's date.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    search_vector = stored_vector(incident_vector())

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            _choice_check("primary_cause", PrimaryCause),
            _choice_check("adopted_cause", PrimaryCause, allow_blank=True),
            _choice_check("severity", Severity),
            models.CheckConstraint(
                condition=Q(restricted=False) | Q(access_group__isnull=False),
                name="incident_restricted_has_group",
                violation_error_message="A restricted incident needs a group of people allowed to see it.",
            ),
            *(
                stored_range("incident", column)
                for column in (
                    "started_at",
                    "detected_at",
                    "mitigated_at",
                    "resolved_at",
                    "imported_at",
                    "created_at",
                    "updated_at",
                )
            ),
        ]
        indexes = [
            models.Index(fields=["severity", "started_at"]),
            models.Index(fields=["primary_cause", "started_at"]),
            # The lists' order (newest first, id breaking ties) and period filters, read as an index range.
            models.Index(fields=["started_at", "id"], name="incident_started_id_idx"),
            # The few incidents with an adopted cause (the dashboard's vendor disagreements), newest first.
            models.Index(fields=["started_at", "id"], condition=~Q(adopted_cause=""), name="incident_adopted_idx"),
            # The few restricted incidents, with what decides who may see them: hidden_from() reads
            # these rows alone rather than every incident.
            models.Index(
                fields=["id", "owner", "access_group"], condition=Q(restricted=True), name="incident_restricted_idx"
            ),
            # The dashboard's passes read a few narrow columns of every incident in the period; the heap is
            # wide (prose, the search vector), so this index answers them with index-only scans (about
            # 12 MB instead of 160 MB at 100,000 incidents).
            models.Index(
                fields=["started_at"],
                include=[
                    "id",
                    "primary_cause",
                    "severity",
                    "status",
                    "attribution_status",
                    "adopted_cause",
                    "restricted",
                    "owner",
                    "access_group",
                    "team",
                    "detected_at",
                    "mitigated_at",
                    "resolved_at",
                    "repeat_any",
                    "repeat_public",
                    # Whether a duration is measured from an estimated or imprecise time.
                    "time_precision",
                    "started_estimated",
                    "detected_precision",
                    "detected_estimated",
                    "mitigated_precision",
                    "mitigated_estimated",
                    "resolved_precision",
                    "resolved_estimated",
                    # Imported incidents' COE timeliness is counted apart.
                    "imported_at",
                ],
                name="incident_dashboard_cov",
            ),
            search_index("incident_search_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def save(self, *args, **kwargs) -> None:
        if self.key:
            return super().save(*args, **kwargs)
        year = self.started_at.year
        if not self.restricted:
            # The year's counter row stays locked until this transaction ends: no other writer can
            # take this number, and a rollback (of the savepoint too) gives it back.
            with transaction.atomic():
                self.key = public_key(year, take_numbers(year)[0])
                return super().save(*args, **kwargs)
        # 40 random bits: a clash with another restricted incident of the year is all but
        # impossible, and the unique index would catch it; then draw again.
        for _attempt in range(5):
            self.key = restricted_key(year)
            try:
                with transaction.atomic():
                    return super().save(*args, **kwargs)
            except IntegrityError:
                if Incident.objects.filter(key=self.key).exists():
                    continue
                raise
        raise IntegrityError("Could not allocate an incident key")

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", kwargs={"key": self.key})

    # Derived durations. None when either end is unknown; never guessed.
    @staticmethod
    def _span(start, end) -> timedelta | None:
        return end - start if start and end else None

    @property
    def time_to_detect(self) -> timedelta | None:
        return self._span(self.started_at, self.detected_at)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._span(self.started_at, self.mitigated_at)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._span(self.started_at, self.resolved_at)

    @property
    def duration(self) -> timedelta | None:
        """Measured duration if both ends are known, else the reported one."""
        return self.time_to_resolve or self.reported_duration

    @property
    def is_disputed(self) -> bool:
        return self.attribution_status != AttributionStatus.UNDISPUTED

    @property
    def adopted_differs_from_primary(self) -> bool:
        return bool(self.adopted_cause) and self.adopted_cause != self.primary_cause

    def is_visible_to(self, user) -> bool:
        return Incident.objects.visible_to(user).filter(pk=self.pk).exists()

    def clean(self) -> None:
        from incidents.times import MILESTONES, not_before

        errors: dict[str, str] = {}
        # In order, each as precisely as it is known: a detection known only to the day may share
        # that day with a start known to the minute.
        previous, previous_name = MILESTONES[0].of(self), "the start"
        for milestone in MILESTONES[1:]:
            value = milestone.of(self)
            if value is None:
                continue
            if previous is not None and not not_before(value, previous):
                errors[milestone.at] = f"The {milestone.name} cannot come before {previous_name}."
            previous, previous_name = value, f"the {milestone.name}"
        if self.restricted and not self.access_group_id:
            errors["access_group"] = "A restricted incident needs a group of people allowed to see it."
        if self.adopted_cause and not self.adopted_cause_rationale.strip():
            errors["adopted_cause_rationale"] = "Say why this cause was adopted, citing the claims."
        if errors:
            raise ValidationError(errors)


class IncidentFactor(models.Model):
    """One contributing factor of an incident; factors are a list, not one value."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="factors")
    factor = models.CharField(max_length=40, choices=ContributingFactor.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "factor"], name="incidentfactor_unique"),
            _choice_check("factor", ContributingFactor),
        ]
        indexes = [models.Index(fields=["factor"])]

    def __str__(self) -> str:
        return self.get_factor_display()


class ImpactFigure(models.Model):
    """A number describing the impact, with the source that reported it.

    Figures are not overwritten when a later source gives another number:
    each report is kept with its source and the time it refers to.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="impact_figures")
    name = models.CharField(max_length=120, help_text="e.g. 'Lost orders' or 'Downdetector reports'.")
    value = models.DecimalField(max_digits=20, decimal_places=2)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. orders, reports, %, hours")
    is_estimate = models.BooleanField(default=False)
    as_of = models.DateTimeField(
        null=True, blank=True, help_text="When the figure was reported.", validators=[in_near_future]
    )
    note = models.CharField(max_length=300, blank=True)
    source = models.ForeignKey("incidents.Source", null=True, blank=True, on_delete=models.PROTECT)
    basis = models.CharField(
        max_length=20,
        choices=Basis.choices,
        default=Basis.REPORTED,
        help_text="Reported (its source says it) or ours: a reading, a classification, a proposal, a demo value.",
    )

    class Meta:
        ordering = ["incident", "name", "as_of", "id"]
        constraints = [stored_range("impactfigure", "as_of")]

    def __str__(self) -> str:
        # The value may still be what a caller passed (an int, a string) when the change history
        # names a figure as it is saved, before the database hands back a Decimal.
        value = self.value if isinstance(self.value, Decimal) else Decimal(str(self.value))
        return f"{self.name}: {value.normalize():f} {self.unit}".strip()


class TimelineEvent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(validators=[in_near_future])
    precision = models.CharField(max_length=10, choices=TimePrecision.choices, default=TimePrecision.MINUTE)
    estimated = models.BooleanField(default=False, help_text="The time is an estimate, not a report.")
    display_tz = models.CharField(
        max_length=64, default="UTC", help_text="The time zone the source states the time in, e.g. America/Los_Angeles."
    )
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    description = models.TextField()
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices, default=ActorKind.UNKNOWN)
    source = models.ForeignKey(
        "incidents.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="timeline_events"
    )
    # Sources disagree on when the same thing happened. Events that report
    # the same moment share a key and are shown side by side.
    moment = models.SlugField(
        max_length=60,
        blank=True,
        help_text="Events with the same moment are one happening as told by different sources.",
    )
    basis = models.CharField(
        max_length=20,
        choices=Basis.choices,
        default=Basis.REPORTED,
        help_text="Reported (its source says it) or ours: a reading, a classification, a proposal, a demo value.",
    )
    search_vector = stored_vector(timeline_vector())

    class Meta:
        ordering = ["incident", "occurred_at", "id"]
        indexes = [models.Index(fields=["incident", "occurred_at"]), search_index("timeline_search_gin")]
        constraints = [_choice_check("kind", TimelineKind), stored_range("timelineevent", "occurred_at")]

    def __str__(self) -> str:
        # As precisely as it is known (the history names events so): a date is never "00:00".
        from incidents.times import event_time  # incidents.times reads this package's vocabulary

        return f"{event_time(self).label()} {self.get_kind_display()}"

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.display_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"display_tz": f"Unknown time zone {self.display_tz!r}."}) from None

    @property
    def local_time(self):
        from zoneinfo import ZoneInfo

        return self.occurred_at.astimezone(ZoneInfo(self.display_tz))
