"""The log of reminders sent, which doubles as the claim that makes them exactly-once.

It is an outbox: each row is one message, with its own retry schedule (next_attempt_at), a lease
while a task or worker holds it, and an idempotency key sent with every attempt.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .bounds import stored_range
from .vocab import ReminderChannel, ReminderKind, ReminderState


class ReminderLog(models.Model):
    """One message to one recipient for one kind and period.

    The unique constraint is the claim: a worker inserts the row before it
    sends, and a second worker (or a retried sweep) finds it taken.
    """

    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    period = models.CharField(max_length=20, help_text="The period the reminder covers, e.g. 2026-11-25 or 2026-W48.")
    channel = models.CharField(max_length=10, choices=ReminderChannel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    team = models.ForeignKey("incidents.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action_items = models.ManyToManyField("incidents.ActionItem", blank=True, related_name="reminders")
    coe = models.ForeignKey(
        "incidents.CoeDocument", null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    state = models.CharField(max_length=10, choices=ReminderState.choices, default=ReminderState.CLAIMED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    # The outbox: when a claimed row is next handed to a worker (backoff with jitter after a failure) ...
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # ... and, while queued or sending, when its task or worker counts as lost and the row is claimed again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The delivery task holding the lease (its Celery task id): only it may record the outcome.
    lease_owner = models.CharField(max_length=64, blank=True)
    # Sent with every attempt (the webhook's payload and Idempotency-Key header, the mail's Message-ID),
    # the same on each retry, so that a receiver drops a message it already has.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    # A readable key of what was claimed, e.g. "digest:2026-11-25:email:user=7".
    claim_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["state", "next_attempt_at"], name="incidents_reminder_due_idx"),
        ]
        constraints = [
            stored_range("reminderlog", column)
            for column in ("created_at", "sending_since", "sent_at", "next_attempt_at", "lease_expires_at")
        ]

    def __str__(self) -> str:
        return self.claim_key


class NotificationPreference(models.Model):
    """A person's choice about reminders. Escalations are always sent."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    reminders_opt_out = models.BooleanField(
        default=False,
        help_text="Stop digests, COE reminders and the weekly summary; escalations about overdue items still arrive.",
    )

    def __str__(self) -> str:
        return f"{self.user}: {'opted out' if self.reminders_opt_out else 'reminders on'}"
