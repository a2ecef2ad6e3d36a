"""Celery tasks: ids in, idempotent, thin. The logic lives in reminders.py, figures.py and repeats.py."""

from datetime import date

from celery import shared_task
from celery.signals import worker_ready
from celery.utils.time import get_exponential_backoff_interval
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, transaction

from . import figures, reminders, repeats


@shared_task(name="incidents.sweep_reminders", acks_late=True, soft_time_limit=240, time_limit=300)
def sweep_reminders() -> int:
    """Claim what is due and queue one delivery per reminder due for an attempt."""
    return _queue(reminders.sweep().to_deliver)


@shared_task(name="incidents.dispatch_reminders", acks_late=True, soft_time_limit=50, time_limit=60)
def dispatch_reminders() -> int:
    """The outbox's relay (beat, every minute): queue the reminders whose retry is due or whose lease ran out."""
    return _queue(reminders.dispatch())


def _queue(log_ids: list[int]) -> int:
    # Queue deliveries only once the rows are committed as queued, so a delivery
    # never finds its row still claimed. Exactly one task per row: a row stays
    # queued (and is not handed out again) until its task starts or its lease runs out.
    transaction.on_commit(lambda: [deliver_reminder.delay(pk) for pk in log_ids])
    return len(log_ids)


# A failed send is not retried here: the row goes back to the outbox with its
# next_attempt_at (backoff with jitter, within REMINDER_RETRY_HOURS) and the
# dispatcher queues a new task then. What this task retries is the database:
# an error before the send resumes the same attempt (the lease is this task
# id's, which a retry keeps); one after it only records the send.
@shared_task(
    bind=True,
    name="incidents.deliver_reminder",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=None,
)
def deliver_reminder(self, log_id: int, sent_subject: str | None = None) -> str:
    try:
        attempt = reminders.attempt_delivery(log_id, owner=self.request.id or "", sent_subject=sent_subject)
    except reminders.DeliveredButUnrecorded as exc:
        countdown = get_exponential_backoff_interval(2, self.request.retries, 300, True)
        raise self.retry(kwargs={"sent_subject": exc.subject}, countdown=countdown, exc=exc.__cause__) from exc
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


# An import of thousands of files takes minutes: its own limits, not the reminders'. A job is claimed
# once (pending to running); a redelivery after a worker died finds it running and leaves it, and
# importing it again (each postmortem is found by its id) creates nothing twice.
@shared_task(name="incidents.run_import", acks_late=True, soft_time_limit=3540, time_limit=3600)
def run_import(job_id: int) -> str | None:
    """Run an import job, a dry run or the real thing (incidents/imports/runner.py)."""
    from .imports.runner import run_claimed

    job = run_claimed(job_id)
    return job.state if job is not None else None
