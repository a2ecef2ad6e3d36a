"""The log of reminders sent, which doubles as the claim that makes them exactly-once."""

from django.conf import settings
from django.db import models

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
    sent_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    # A readable key of what was claimed, e.g. "digest:2026-11-25:email:user=7".
    claim_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"])]

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
