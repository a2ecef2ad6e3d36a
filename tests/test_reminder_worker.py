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
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from incidents.models import ReminderLog
from incidents.models.vocab import ReminderState

from .factories import ActionItemFactory, IncidentFactory, UserFactory
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
            # A killed worker's deliveries come back quickly in a test.
            "REMINDER_STUCK_AFTER_SECONDS": "3",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "STATIC_MANIFEST": "false",
        }

    def start(self, name: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
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
