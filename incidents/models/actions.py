"""Corrective actions (action items) and the standing controls they lead to."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .bounds import in_near_future, in_planning_horizon, stored_range, validate_web_url
from .fulltext import action_vector, search_index, stored_vector
from .vocab import (
    ACTION_STATUSES_CLOSED,
    ACTION_STATUSES_OPEN,
    ActionStatus,
    ActionType,
    Basis,
    ControlStatus,
    Priority,
)


class ActionItemQuerySet(models.QuerySet):
    def visible_to(self, user) -> ActionItemQuerySet:
        from .incident import Incident

        return self.filter(incident__in=Incident.objects.visible_to(user))

    def open(self) -> ActionItemQuerySet:
        """Not yet done, won't-do or verified: still owed, whatever the incident's status."""
        return self.filter(status__in=ACTION_STATUSES_OPEN)

    def overdue(self, today: date | None = None) -> ActionItemQuerySet:
        return self.open().filter(due_date__lt=today or timezone.localdate())

    def due_within(self, days: int, today: date | None = None) -> ActionItemQuerySet:
        today = today or timezone.localdate()
        return self.open().filter(due_date__gte=today, due_date__lte=today + timedelta(days=days))


class ActionItem(models.Model):
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    action_type = models.CharField(max_length=10, choices=ActionType.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P2)
    status = models.CharField(max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="action_items"
    )
    team = models.ForeignKey(
        "incidents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="action_items"
    )
    due_date = models.DateField(null=True, blank=True, validators=[in_planning_horizon])
    ticket_url = models.URLField(max_length=500, blank=True, validators=[validate_web_url])
    answers_why = models.TextField(blank=True, help_text="Which why (or cause) this action answers.")
    # A corrective action reported by a source rather than decided by us, and
    # whether another source disputes it (e.g. senior sign-off for AI changes).
    source = models.ForeignKey(
        "incidents.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="action_items"
    )
    disputed = models.BooleanField(default=False)
    basis = models.CharField(
        max_length=20,
        choices=Basis.choices,
        default=Basis.REPORTED,
        help_text="Reported (its source says it) or ours: a reading, a classification, a proposal, a demo value.",
    )
    completed_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    # Who closed it and who then verified it worked: never the same person, nor its owner
    # (the two-person rule, kept by services.action_item_update).
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A default rather than auto_now_add: an imported item keeps the date it was raised.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    search_vector = stored_vector(action_vector())

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            # The dashboard's states and burn-down read these columns of every item, index-only.
            models.Index(
                fields=["incident"],
                include=["id", "status", "due_date", "completed_at", "created_at"],
                name="actionitem_dashboard_cov",
            ),
            search_index("actionitem_search_gin"),
            # The dashboard's oldest overdue items. Of everything: the open items in due order,
            # read from the oldest until ten visible ones are found (two open statuses would
            # otherwise mean a sort). Of a period: its incidents' open items, index-only.
            models.Index(
                fields=["due_date", "id"],
                condition=models.Q(status__in=ACTION_STATUSES_OPEN),
                name="actionitem_open_due_idx",
            ),
            models.Index(
                fields=["incident", "due_date", "id"],
                condition=models.Q(status__in=ACTION_STATUSES_OPEN),
                name="actionitem_open_incident_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ActionStatus.values), name="actionitem_status_valid"),
            stored_range("actionitem", "due_date", date_only=True),
            *(stored_range("actionitem", column) for column in ("completed_at", "created_at", "updated_at")),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in ACTION_STATUSES_OPEN

    def is_overdue(self, today: date | None = None) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < (today or timezone.localdate())

    def days_overdue(self, today: date | None = None) -> int:
        if not self.is_overdue(today):
            return 0
        return ((today or timezone.localdate()) - self.due_date).days

    def close(self, status: str = ActionStatus.DONE) -> None:
        if status not in ACTION_STATUSES_CLOSED:
            raise ValueError(f"{status!r} is not a closing status")
        self.status = status
        self.completed_at = self.completed_at or timezone.now()


class Control(models.Model):
    """A standing rule (mandate) put in place after incidents."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    scope = models.CharField(max_length=300, help_text="What it applies to, e.g. '~335 Tier-1 systems'.")
    owner_name = models.CharField(max_length=200, blank=True, help_text="Who owns it, as the sources name them.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="controls"
    )
    status = models.CharField(max_length=20, choices=ControlStatus.choices, default=ControlStatus.ACTIVE)
    starts_on = models.DateField(null=True, blank=True, validators=[in_planning_horizon])
    ends_on = models.DateField(null=True, blank=True, validators=[in_planning_horizon])
    disputed = models.BooleanField(default=False)
    dispute_note = models.TextField(blank=True)
    incidents = models.ManyToManyField("incidents.Incident", blank=True, related_name="controls")
    sources = models.ManyToManyField("incidents.Source", blank=True, related_name="controls")
    basis = models.CharField(
        max_length=20,
        choices=Basis.choices,
        default=Basis.REPORTED,
        help_text="Reported (its source says it) or ours: a reading, a classification, a proposal, a demo value.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [stored_range("control", column, date_only=True) for column in ("starts_on", "ends_on")]

    def __str__(self) -> str:
        return self.name
