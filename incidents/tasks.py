"""Celery tasks: ids in, idempotent, thin. The logic lives in reminders.py, figures.py and repeats.py."""

from datetime import date

from celery import shared_task
from celery.signals import worker_ready
from django.contrib.auth import get_user_model
from django.db import transaction

from . import figures, reminders, repeats


@shared_task(name="incidents.sweep_reminders", acks_late=True, soft_time_limit=240, time_limit=300)
def sweep_reminders() -> int:
    """Claim what is due and queue one delivery per claimed reminder."""
    result = reminders.sweep()
    # Queue deliveries only once the claims are committed, so a delivery never
    # looks for a row that is not there yet.
    transaction.on_commit(lambda: [deliver_reminder.delay(pk) for pk in result.to_deliver])
    return len(result.to_deliver)


# Retries are counted on the row (attempts), which survives worker restarts,
# so Celery's own retry counter is not the limit.
@shared_task(
    bind=True, name="incidents.deliver_reminder", acks_late=True, soft_time_limit=60, time_limit=90, max_retries=None
)
def deliver_reminder(self, log_id: int) -> str:
    attempt = reminders.attempt_delivery(log_id)
    if attempt.outcome == "retry":
        # Exponential backoff with a cap: 30 s, 60 s, 120 s ... at most 15 minutes.
        raise self.retry(countdown=min(30 * 2 ** (attempt.attempts - 1), 900))
    return attempt.outcome


@shared_task(name="incidents.rebuild_repeat_flags", acks_late=True, soft_time_limit=240, time_limit=300)
def rebuild_repeat_flags() -> int | None:
    """Mend repeat flags two simultaneous writers left wrong (see incidents/repeats.py)."""
    return repeats.rebuild()


@shared_task(name="incidents.refresh_dashboard", acks_late=True, soft_time_limit=120, time_limit=150)
def refresh_dashboard(user_id: int, preset: str, day: str) -> None:
    """Recompute a default view's figures kept for this viewer's audience (see incidents/figures.py)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        figures.refresh(user, preset, date.fromisoformat(day))


@worker_ready.connect
def sweep_on_start(sender, **kwargs):
    """After a restart nothing that was due is skipped: sweep as soon as a worker is up."""
    sender.app.send_task("incidents.sweep_reminders")
