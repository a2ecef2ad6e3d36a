"""Reminders through a real broker and real Celery worker processes.

These tests start `celery worker` as separate processes against the test's
database, send the sweep through the broker the settings configure (Redis with
REDIS_URL, else the embedded default's message folder), and read the mail the
workers wrote to files.
"""

import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.db.models import Min, Q
from django.utils import timezone

from incidents.models import ReminderLog
from incidents.models.vocab import ReminderChannel, ReminderState

from .factories import ActionItemFactory, IncidentFactory, TeamFactory, UserFactory
from .support.receiver import Receiver
from .support.servers import Broker, database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    yield broker
    broker.close()


@pytest.fixture
def due_reminders(db):
    """Three owners with something due, and one item overdue past escalation.

    Expected messages: a digest to ann, bob and cai, and an escalation to
    dee, who owns the incident of cai's long-overdue item.
    """
    today = timezone.localdate()
    ann, bob, cai, dee = (UserFactory(username=name) for name in ("ann", "bob", "cai", "dee"))
    ActionItemFactory(owner=ann, due_date=today + timedelta(days=1))
    ActionItemFactory(owner=bob, due_date=today)
    ActionItemFactory(owner=cai, due_date=today - timedelta(days=30), incident=IncidentFactory(owner=dee))
    ActionItemFactory(owner=dee, due_date=today + timedelta(days=60))  # not due: dee gets no digest
    return {"ann@example.com": 1, "bob@example.com": 1, "cai@example.com": 1, "dee@example.com": 1}


class Workers:
    """Start and stop `celery worker` processes that share the test database."""

    def __init__(self, tmp_path: Path, broker: Broker, *, slow_mail_seconds: float = 0.0):
        self.broker = broker
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir()
        self.processes: list[subprocess.Popen] = []
        self.command = [sys.executable, "-m", "celery"]
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "coe.settings",
            "ENV_FILE": "",
            "DEBUG": "false",
            "SECRET_KEY": "worker-test-secret",
            # The test database (connection.settings_dict names it), over TCP or a Unix socket.
            "DATABASE_URL": database_url(connection.settings_dict),
            **broker.env,
            "EMAIL_BACKEND": "tests.support.slow_mail.SlowFileBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "SLOW_MAIL_SECONDS": str(slow_mail_seconds),
            # A killed worker's deliveries come back quickly in a test: its lease on the one it was
            # sending (longer than the webhook timeout), and on those queued for it.
            "REMINDER_STUCK_AFTER_SECONDS": "3",
            "REMINDER_WEBHOOK_TIMEOUT_SECONDS": "2",
            "REMINDER_QUEUED_LEASE_SECONDS": "5",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "STATIC_MANIFEST": "false",
        }

    def start(self, name: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                *self.command,
                "-A",
                "coe",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def recipients(self) -> Counter:
        """Who got mail, counted per message the workers wrote."""
        seen = Counter()
        for path in self.mail_dir.iterdir():
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    seen[email.message_from_string(chunk.strip())["To"]] += 1
        return seen


@pytest.fixture
def workers(tmp_path, broker):
    pool = Workers(tmp_path, broker)
    yield pool
    pool.stop()


def wait_until(condition, *, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"Timed out after {timeout}s waiting for {what}")


def sent_count() -> int:
    return ReminderLog.objects.filter(state=ReminderState.SENT).count()


def test_sweep_sends_each_reminder_once_and_a_second_sweep_sends_nothing(workers, due_reminders):
    workers.start("w1")
    workers.broker.send("incidents.sweep_reminders")
    wait_until(lambda: sent_count() == len(due_reminders), what="every reminder sent")
    assert workers.recipients() == due_reminders

    workers.broker.send("incidents.sweep_reminders")
    workers.broker.send("incidents.sweep_reminders")
    time.sleep(3)
    assert ReminderLog.objects.count() == len(due_reminders)
    assert workers.recipients() == due_reminders


def test_two_workers_sweeping_at_once_send_no_duplicates(workers, due_reminders):
    workers.env["SLOW_MAIL_SECONDS"] = "0.3"
    workers.start("w1")
    workers.start("w2")
    for _ in range(4):
        workers.broker.send("incidents.sweep_reminders")
    wait_until(lambda: sent_count() == len(due_reminders), what="every reminder sent")
    time.sleep(2)  # let any late duplicate show itself
    assert ReminderLog.objects.count() == len(due_reminders)
    assert workers.recipients() == due_reminders


def test_worker_killed_mid_sweep_leaves_every_reminder_sent_exactly_once(workers, due_reminders):
    # Each message takes 1.5 s to "send", so the kill lands mid-delivery.
    workers.env["SLOW_MAIL_SECONDS"] = "1.5"
    first = workers.start("w1")
    workers.broker.send("incidents.sweep_reminders")
    wait_until(lambda: sent_count() >= 1, what="the first reminder")
    assert sent_count() < len(due_reminders), "the worker finished before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert ReminderLog.objects.exclude(state=ReminderState.SENT).exists()

    workers.start("w2")
    # A restarted worker sweeps on start; rows the dead worker held are handed
    # out again once they count as stuck, as beat's next sweep would find them.
    time.sleep(4)
    workers.broker.send("incidents.sweep_reminders")
    wait_until(lambda: sent_count() == len(due_reminders), timeout=90, what="every reminder sent after the restart")
    assert workers.recipients() == due_reminders
    assert ReminderLog.objects.count() == len(due_reminders)


class SharedClock:
    """The test's wall clock and its workers' (tests/support/clocked_celery.py), moved together."""

    def __init__(self, path: Path, start: datetime):
        self.path, self.now = path, start.timestamp()
        path.write_text(str(self.now))
        self.traveller = time_machine.travel(start, tick=True)
        self.coordinates = self.traveller.start()

    def advance(self, seconds: float, workers: Workers) -> None:
        self.now += seconds
        staged = self.path.with_suffix(".new")
        staged.write_text(str(self.now))
        staged.replace(self.path)
        self.coordinates.move_to(datetime.fromtimestamp(self.now, UTC))

        def followed():
            acks = [Path(f"{self.path}.{p.pid}") for p in workers.processes if p.poll() is None]
            return all(ack.exists() and ack.read_text() == str(self.now) for ack in acks)

        wait_until(followed, timeout=10, what="the workers' clocks to follow")

    def stop(self) -> None:
        self.traveller.stop()


def idle() -> bool:
    """Nothing queued or being sent, and nothing due that the last dispatch should have queued."""
    due = Q(state=ReminderState.CLAIMED, next_attempt_at__lte=timezone.now() - timedelta(seconds=2))
    return not ReminderLog.objects.filter(Q(state__in=[ReminderState.QUEUED, ReminderState.SENDING]) | due).exists()


def test_webhook_down_for_30_minutes_then_back_every_message_delivered_exactly_once(tmp_path, broker):
    """A real worker, its clock moved with the test's: 15 minutes of 500s, 15 of refused connections, then up."""
    receiver = Receiver()
    receiver.mode = "error"
    start = datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=UTC).replace(hour=9)
    clock = SharedClock(tmp_path / "clock", start)
    workers = Workers(tmp_path, broker)
    try:
        for n in range(4):
            team = TeamFactory(name=f"Team {n}", webhook_url=f"{receiver.url}/{n}")
            member = UserFactory(username=f"member{n}")
            team.members.add(member)
            ActionItemFactory(owner=member, due_date=start.date())
        workers.command = [sys.executable, "-m", "tests.support.clocked_celery"]
        workers.env.update(
            CLOCK_FILE=str(clock.path),
            REMINDER_CHANNELS="email,webhook",
            REMINDER_WEBHOOK_TIMEOUT_SECONDS="2",
            REMINDER_STUCK_AFTER_SECONDS="30",
        )
        workers.start("w1")  # it sweeps on start
        hooks = ReminderLog.objects.filter(channel=ReminderChannel.WEBHOOK)
        wait_until(lambda: hooks.count() == 4 and idle(), what="the first sweep's deliveries")

        # Beat: the dispatcher every minute, the sweep every 15.
        for minute in range(1, 31):
            if minute == 15:
                receiver.down()
            clock.advance(60, workers)
            workers.broker.send("incidents.sweep_reminders" if minute % 15 == 0 else "incidents.dispatch_reminders")
            wait_until(idle, timeout=30, what=f"minute {minute}'s deliveries")
        assert not hooks.filter(state__in=[ReminderState.SENT, ReminderState.FAILED]).exists()
        assert all(1 < row.attempts <= 7 for row in hooks)  # retried, with backoff

        receiver.mode = "ok"
        receiver.up()
        for _ in range(10):  # beat's next dispatch after each retry comes due (minutes with nothing due skipped)
            if not hooks.exclude(state=ReminderState.SENT).exists():
                break
            due = hooks.filter(state=ReminderState.CLAIMED).aggregate(at=Min("next_attempt_at"))["at"]
            clock.advance(max(60.0, (due - timezone.now()).total_seconds() + 1), workers)
            workers.broker.send("incidents.dispatch_reminders")
            wait_until(idle, timeout=30, what="the retries' deliveries")
        assert set(hooks.values_list("state", flat=True)) == {ReminderState.SENT}

        keys = {str(row.idempotency_key) for row in hooks}
        assert set(receiver.taken) == keys  # every message arrived ...
        assert receiver.accepted_per_key == dict.fromkeys(keys, 1)  # ... exactly once
        for request in receiver.requests:  # each payload with its idempotency key
            assert request["json"]["idempotency_key"] == request["key"] in keys
        assert workers.recipients() == {f"member{n}@example.com": 1 for n in range(4)}
    finally:
        workers.stop()
        clock.stop()
        receiver.down()
