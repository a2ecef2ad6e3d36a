"""Reminder delivery through outages (issue 16): the outbox's backoff, retry budget, leases and idempotency keys.

In-process: the sweep and the dispatcher run as beat would run them (the dispatcher every minute,
the sweep every 15), deliveries as a worker would make them, webhooks go to a receiver on
127.0.0.1 that drops repeats by idempotency key, and time is moved with time-machine.
tests/test_reminder_worker.py runs the webhook outage through a real Celery worker too.
"""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import OperationalError, close_old_connections, connection
from django.utils import timezone

import coe.settings as defaults
from incidents import reminders, tasks
from incidents.models import ReminderLog
from incidents.models.vocab import ReminderChannel, ReminderKind, ReminderState

from .factories import ActionItemFactory, TeamFactory, UserFactory
from .support.receiver import Receiver

WEDNESDAY = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock():
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def outbox_settings(settings):
    """The shipped retry budget and leases; a 1 s webhook timeout."""
    settings.SITE_URL = "https://coe.example.com"
    settings.REMINDER_CHANNELS = ["email", "webhook"]
    settings.REMINDER_WEBHOOK_TIMEOUT_SECONDS = 1
    for name in ("REMINDER_RETRY_HOURS", "REMINDER_STUCK_AFTER_SECONDS", "REMINDER_QUEUED_LEASE_SECONDS"):
        setattr(settings, name, getattr(defaults, name))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.down()


@pytest.fixture
def teams(db, clock, outbox_settings, receiver):
    """Six teams whose webhooks all go to the receiver, each with a member who has an item due today."""
    made = []
    for n in range(6):
        team = TeamFactory(name=f"Team {n}", webhook_url=f"{receiver.url}/{n}")
        member = UserFactory(username=f"member{n}")
        team.members.add(member)
        ActionItemFactory(owner=member, due_date=WEDNESDAY.date(), title=f"Item of team {n}")
        made.append(team)
    return made


def webhook_rows():
    return ReminderLog.objects.filter(channel=ReminderChannel.WEBHOOK)


def as_a_worker(log_ids) -> list[str]:
    """The deliveries the dispatcher queued, one task each, as a worker runs them."""
    return [tasks.deliver_reminder.apply(args=[pk]).get() for pk in log_ids]


def test_webhook_down_for_30_minutes_then_back_delivers_every_message_exactly_once(teams, receiver, clock):
    receiver.mode = "error"
    start = timezone.now()
    minute = 0
    queued = Counter()

    def beat():
        nonlocal minute
        # Every 15 minutes the sweep (which dispatches too), every minute the dispatcher.
        ids = reminders.sweep().to_deliver if minute % 15 == 0 else reminders.dispatch()
        queued.update(ids)
        as_a_worker(ids)
        minute += 1
        clock.move_to(start + timedelta(minutes=minute))

    while minute < 15:  # down: every post answered 500
        beat()
    receiver.down()
    while minute < 30:  # gone: connections refused
        beat()
    assert not webhook_rows().filter(state__in=[ReminderState.SENT, ReminderState.FAILED]).exists()
    assert all(queued[row.pk] > 1 for row in webhook_rows())  # retried while down ...
    # ... with backoff, not at every sweep: 30 s, 1, 2, 4, 8 minutes ... (about 6 tries in 30 minutes).
    assert max(row.attempts for row in webhook_rows()) <= 7
    assert len(receiver.requests) <= 6 * 7

    receiver.mode = "ok"
    receiver.up()
    while webhook_rows().exclude(state=ReminderState.SENT).exists():
        assert minute < 3 * 60, "not delivered within three hours of the webhook coming back"
        beat()

    keys = {str(row.idempotency_key) for row in webhook_rows()}
    assert len(keys) == 6
    assert set(receiver.taken) == keys  # every message arrived ...
    assert receiver.accepted_per_key == dict.fromkeys(keys, 1)  # ... exactly once
    for request in receiver.requests:  # each payload with its key, in the body and the header
        assert request["json"]["idempotency_key"] == request["key"] in keys
    assert not webhook_rows().exclude(error="").exists()
    # Mail was not down: each member's digest went out once, at the first sweep.
    assert sorted(m.to[0] for m in mail.outbox) == [f"member{n}@example.com" for n in range(6)]
    # One queued task per row per attempt: no sweep queued a row that was waiting out its backoff.
    assert sum(queued.values()) == sum(row.attempts for row in ReminderLog.objects.all())


def test_webhook_slower_than_the_timeout_is_delivered_and_recorded_once(teams, receiver, clock, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    receiver.mode = "slow"
    receiver.slow_seconds = 2.5  # the sender's timeout is 1 s

    first = reminders.sweep().to_deliver
    assert as_a_worker(first) == ["retry"] * 6  # the outcome is unknown: tried again, not failed
    assert len(receiver.taken) == 6  # though the receiver has them
    for row in webhook_rows():
        assert (row.state, row.attempts) == (ReminderState.CLAIMED, 1)
        assert "timed out" in row.error

    clock.shift(timedelta(seconds=31))
    assert as_a_worker(reminders.dispatch()) == ["sent"] * 6

    keys = {str(row.idempotency_key) for row in webhook_rows()}
    assert receiver.requests_per_key == dict.fromkeys(keys, 2)  # posted twice, with the same key ...
    assert set(receiver.taken) == keys  # ... taken once
    assert receiver.accepted_per_key == dict.fromkeys(keys, 1)
    for row in webhook_rows():  # recorded once, as sent
        assert (row.state, row.attempts, row.error) == (ReminderState.SENT, 2, "")
    assert reminders.sweep().to_deliver == []


@pytest.fixture
def many_due(db, clock, outbox_settings):
    """760 claimed rows, due now, as a sweep leaves them."""
    team = TeamFactory(name="Payments", webhook_url="http://127.0.0.1:9/hook")
    ReminderLog.objects.bulk_create(
        ReminderLog(
            kind=ReminderKind.DIGEST,
            period="2026-03-04",
            channel=ReminderChannel.WEBHOOK,
            team=team,
            claim_key=f"digest:2026-03-04:webhook:team={team.pk}:n={n}",
        )
        for n in range(760)
    )
    return set(ReminderLog.objects.values_list("pk", flat=True))


def test_a_sweep_over_many_due_rows_queues_exactly_one_task_per_row(
    many_due, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.deliver_reminder, "delay", lambda pk: queued.append(pk))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_reminders.apply().get() == 760
    assert sorted(queued) == sorted(many_due)
    assert set(ReminderLog.objects.values_list("state", flat=True)) == {ReminderState.QUEUED}

    # Twice in a row, and the dispatcher every minute while the tasks wait in the broker: nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_reminders.apply().get() == 0
        assert tasks.sweep_reminders.apply().get() == 0
        assert tasks.dispatch_reminders.apply().get() == 0
    assert len(queued) == 760


def test_a_queued_row_whose_task_was_lost_is_queued_once_more_after_its_lease(many_due, clock, settings):
    assert len(reminders.dispatch()) == 760
    clock.shift(timedelta(seconds=settings.REMINDER_QUEUED_LEASE_SECONDS - 1))
    assert reminders.dispatch() == []
    clock.shift(timedelta(seconds=2))
    assert set(reminders.dispatch()) == many_due
    assert reminders.dispatch() == []


@pytest.mark.django_db(transaction=True)
def test_dispatchers_running_at_once_take_disjoint_rows(many_due):
    barrier = threading.Barrier(4)
    taken: list[list[int]] = []

    def dispatcher():
        try:
            barrier.wait()
            taken.append(reminders.dispatch())
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [pk for ids in taken for pk in ids]
    assert sorted(everything) == sorted(many_due)  # each row once, by one of them


# A database blip --------------------------------------------------------------------------------


class Blip:
    """Fail the next `count` statements on the reminder log (a failover, a dropped connection)."""

    def __init__(self):
        self.count = 0
        self.failed: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        if self.count and "incidents_reminderlog" in sql:
            self.count -= 1
            self.failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


class BlipAfterSendBackend(LocmemBackend):
    """Mail is accepted; then the database goes away for the next two statements."""

    blip: Blip | None = None

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        BlipAfterSendBackend.blip.count = 2
        return sent


@pytest.fixture
def one_due(db, clock, outbox_settings):
    ActionItemFactory(owner=UserFactory(username="ann"), due_date=WEDNESDAY.date())
    outbox_settings.REMINDER_CHANNELS = ["email"]
    [pk] = reminders.sweep().to_deliver
    return pk


@pytest.mark.django_db(transaction=True)  # autocommit, as in a worker
def test_a_database_error_before_the_send_is_retried_by_the_task_and_sends_once(one_due, monkeypatch):
    blip = Blip()
    real_deliver = reminders.deliver

    def deliver_after_a_blip(log_id, **kwargs):
        # The task holds the lease; reading the row fails once. Its retry resumes the same attempt.
        monkeypatch.setattr(reminders, "deliver", real_deliver)
        blip.count = 1
        return real_deliver(log_id, **kwargs)

    monkeypatch.setattr(reminders, "deliver", deliver_after_a_blip)
    with connection.execute_wrapper(blip):
        assert tasks.deliver_reminder.apply(args=[one_due]).get() == "sent"
    assert len(blip.failed) == 1
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    row = ReminderLog.objects.get(pk=one_due)
    assert (row.state, row.attempts, row.error) == (ReminderState.SENT, 1, "")


@pytest.mark.django_db(transaction=True)
def test_a_database_error_after_the_send_records_it_without_sending_again(one_due, clock, settings):
    settings.EMAIL_BACKEND = "tests.test_reminder_outbox.BlipAfterSendBackend"
    blip = BlipAfterSendBackend.blip = Blip()
    with connection.execute_wrapper(blip):
        outcome = tasks.deliver_reminder.apply(args=[one_due]).get()
    assert len(blip.failed) == 2  # recording the send failed twice; the task's third try recorded it
    assert outcome == "sent"
    row = ReminderLog.objects.get(pk=one_due)
    assert (row.state, row.attempts, row.subject) == (ReminderState.SENT, 1, "Your follow-ups: 1 open")

    # Nothing left to send, however long the sweeps go on.
    clock.shift(timedelta(hours=1))
    assert reminders.sweep().to_deliver == []
    assert len(mail.outbox) == 1


# A killed worker ---------------------------------------------------------------------------------


def test_a_killed_workers_row_comes_back_after_its_lease_with_the_same_key(one_due, clock, settings):
    assert settings.REMINDER_STUCK_AFTER_SECONDS <= 150  # minutes, not half an hour
    assert settings.REMINDER_STUCK_AFTER_SECONDS > settings.REMINDER_WEBHOOK_TIMEOUT_SECONDS
    assert reminders.begin_delivery(one_due, "worker-that-dies")

    clock.shift(timedelta(seconds=settings.REMINDER_STUCK_AFTER_SECONDS - 1))
    assert reminders.dispatch() == []  # its lease still holds
    clock.shift(timedelta(seconds=2))
    assert reminders.dispatch() == [one_due]
    assert as_a_worker([one_due]) == ["sent"]
    # The dead worker's late word changes nothing.
    assert reminders.record_sent(one_due, "worker-that-dies", "late") is False
    row = ReminderLog.objects.get(pk=one_due)
    assert (row.state, row.attempts, row.subject) == (ReminderState.SENT, 2, "Your follow-ups: 1 open")
    [message] = mail.outbox
    assert message.extra_headers["Message-ID"] == f"<reminder.{row.idempotency_key}@coe.example.com>"


def test_mail_sent_again_carries_the_same_message_id(one_due, clock, settings):
    settings.EMAIL_BACKEND = "tests.test_reminders.FailingBackend"
    assert as_a_worker([one_due]) == ["retry"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock.shift(timedelta(seconds=31))
    assert as_a_worker(reminders.dispatch()) == ["sent"]
    row = ReminderLog.objects.get(pk=one_due)
    [message] = mail.outbox
    assert message.extra_headers["Message-ID"] == f"<reminder.{row.idempotency_key}@coe.example.com>"
    assert message.extra_headers["Idempotency-Key"] == str(row.idempotency_key)
