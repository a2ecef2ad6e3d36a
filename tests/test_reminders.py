"""Reminders and escalation for open follow-ups: sweep, claim, deliver, exactly once.

Everything runs in-process: mail goes to Django's locmem outbox, webhooks to a
small HTTP server on 127.0.0.1, and the Celery tasks run eagerly. Dates are
pinned with time-machine (a Wednesday unless a test needs a Monday).
"""

import json
import random
import smtplib
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import reminders, tasks
from incidents.models import ActionItem, Incident, NotificationPreference, ReminderLog
from incidents.models.vocab import (
    ActionStatus,
    CoeStatus,
    IncidentStatus,
    ReminderChannel,
    ReminderKind,
    ReminderState,
)
from incidents.roles import LEADERSHIP

from .factories import (
    ActionItemFactory,
    CoeDocumentFactory,
    GroupFactory,
    IncidentFactory,
    TeamFactory,
    UserFactory,
)

WEDNESDAY = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
TODAY = WEDNESDAY.date()
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Factories set passwords; a slow hasher would dominate these tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def wednesday():
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def reminder_settings(settings):
    settings.SITE_URL = "https://coe.example.com"
    settings.REMINDER_DUE_SOON_DAYS = 3
    settings.REMINDER_ESCALATE_AFTER_DAYS = 7
    settings.REMINDER_CHANNELS = ["email", "webhook"]
    settings.REMINDER_RETRY_HOURS = 24
    settings.REMINDER_STUCK_AFTER_SECONDS = 120
    settings.REMINDER_QUEUED_LEASE_SECONDS = 900
    settings.REMINDER_WEBHOOK_TIMEOUT_SECONDS = 1
    settings.COE_APPROVAL_TARGET_DAYS = 14
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


def item_url(item: ActionItem) -> str:
    return f"https://coe.example.com/incidents/{item.incident.key}/actions/{item.pk}/"


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def only_mail_to(address: str):
    found = mails_to(address)
    assert len(found) == 1, [m.subject for m in found]
    return found[0]


def html_of(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def run_all() -> reminders.SweepResult:
    """One sweep and one delivery attempt per reminder, as send_reminders does."""
    result = reminders.sweep()
    for pk in result.to_deliver:
        reminders.attempt_delivery(pk)
    return result


def next_attempt(traveller, pk: int) -> reminders.Attempt:
    """Move the clock to the row's next attempt, dispatch as beat would, deliver what it queued."""
    traveller.move_to(ReminderLog.objects.get(pk=pk).next_attempt_at)
    assert reminders.dispatch() == [pk]
    return reminders.attempt_delivery(pk)


def retry_until_settled(traveller, pk: int) -> list[reminders.Attempt]:
    """After a first attempt to retry: each next attempt at its time, until one is not retried."""
    attempts = [next_attempt(traveller, pk)]
    while attempts[-1].outcome == "retry":
        attempts.append(next_attempt(traveller, pk))
    return attempts


@pytest.fixture
def seeded(db, wednesday, reminder_settings, approver):
    """Three owners with work due, and everything that must not be reminded.

    ann: overdue 3 d, due in 2 d, due in 30 d (and a done overdue item)
    bob: overdue 10 d (escalated), overdue 1 d, due today (and a won't-do and a verified item)
    cai: overdue 5 d on a closed incident
    dee: owns incident 1, whose COE arun approved; her own item is due in 30 d only
    eve: only a done item
    """
    ann, bob, cai, dee, eve = (UserFactory(username=n) for n in ("ann", "bob", "cai", "dee", "eve"))
    inc1 = IncidentFactory(owner=dee, title="Config push took down the API")
    CoeDocumentFactory(incident=inc1, approver=approver, status=CoeStatus.APPROVED)
    inc2 = IncidentFactory(title="DNS outage")
    closed = IncidentFactory(title="Old outage", status=IncidentStatus.CLOSED)
    items = {
        "ann_overdue3": ActionItemFactory(owner=ann, incident=inc2, due_date=days(-3), title="Ann overdue 3"),
        "ann_soon": ActionItemFactory(owner=ann, incident=inc1, due_date=days(2), title="Ann due in 2"),
        "ann_later": ActionItemFactory(owner=ann, incident=inc2, due_date=days(30), title="Ann due in 30"),
        "ann_done": ActionItemFactory(
            owner=ann, incident=inc1, due_date=days(-4), title="Ann done", status=ActionStatus.DONE
        ),
        "bob_escalated": ActionItemFactory(
            owner=bob, incident=inc1, due_date=days(-10), title="Bob ten days late", status=ActionStatus.IN_PROGRESS
        ),
        "bob_overdue1": ActionItemFactory(owner=bob, incident=inc2, due_date=days(-1), title="Bob a day late"),
        "bob_today": ActionItemFactory(owner=bob, incident=inc2, due_date=TODAY, title="Bob due today"),
        "bob_wont": ActionItemFactory(
            owner=bob, incident=inc1, due_date=days(-9), title="Bob wont do", status=ActionStatus.WONT_DO
        ),
        "bob_verified": ActionItemFactory(
            owner=bob, incident=inc1, due_date=days(-20), title="Bob verified", status=ActionStatus.VERIFIED
        ),
        "cai_closed_incident": ActionItemFactory(
            owner=cai, incident=closed, due_date=days(-5), title="Cai on closed incident"
        ),
        "dee_later": ActionItemFactory(owner=dee, incident=inc2, due_date=days(30), title="Dee due in 30"),
        "eve_done": ActionItemFactory(
            owner=eve, incident=inc2, due_date=days(-2), title="Eve done", status=ActionStatus.DONE
        ),
    }
    return {"users": {u.username: u for u in (ann, bob, cai, dee, eve, approver)}, "items": items, "inc1": inc1}


def listed_titles(text: str, items: dict) -> list[str]:
    """The seeded items a message lists, in the order it lists them."""
    found = [(text.index(item.title), item.title) for item in items.values() if item.title in text]
    return [title for _, title in sorted(found)]


# 1. Who gets what ------------------------------------------------------------


def test_sweep_sends_one_digest_per_owner_and_escalates(seeded):
    items = seeded["items"]
    call_command("send_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115

    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == [
        "ann@example.com",
        "arun@example.com",  # escalation: approver of inc1's COE
        "bob@example.com",
        "cai@example.com",
        "dee@example.com",  # escalation: owner of inc1
    ]
    assert ReminderLog.objects.filter(state=ReminderState.SENT).count() == 5
    assert not ReminderLog.objects.exclude(state=ReminderState.SENT).exists()

    ann = only_mail_to("ann@example.com")
    assert ann.subject == "Your follow-ups: 3 open, 1 overdue"
    assert listed_titles(ann.body, items) == ["Ann overdue 3", "Ann due in 2", "Ann due in 30"]
    assert listed_titles(html_of(ann), items) == ["Ann overdue 3", "Ann due in 2", "Ann due in 30"]
    for key in ("ann_overdue3", "ann_soon", "ann_later"):
        assert item_url(items[key]) in ann.body
        assert f'href="{item_url(items[key])}"' in html_of(ann)
    assert "OVERDUE by 3 days" in ann.body
    assert "(escalated)" not in ann.body
    assert "escalated" not in html_of(ann)

    bob = only_mail_to("bob@example.com")
    assert bob.subject == "Your follow-ups: 3 open, 2 overdue, 1 escalated"
    assert listed_titles(bob.body, items) == ["Bob ten days late", "Bob a day late", "Bob due today"]
    assert listed_titles(html_of(bob), items) == ["Bob ten days late", "Bob a day late", "Bob due today"]
    assert "Bob ten days late [" in bob.body
    assert "(escalated)" in bob.body.split("Bob ten days late")[1].splitlines()[0]
    assert "been escalated to the COE's approver and the incident's owner" in bob.body
    assert "<em>(escalated)</em>" in html_of(bob)
    assert "DUE TODAY" in bob.body

    cai = only_mail_to("cai@example.com")
    assert listed_titles(cai.body, items) == ["Cai on closed incident"]
    assert item_url(items["cai_closed_incident"]) in cai.body

    for address in ("arun@example.com", "dee@example.com"):
        escalation = only_mail_to(address)
        assert escalation.subject.startswith("Escalation: 1 action item overdue")
        assert listed_titles(escalation.body, items) == ["Bob ten days late"]
        assert item_url(items["bob_escalated"]) in escalation.body
        assert item_url(items["bob_escalated"]) in html_of(escalation)

    # The claims say what each reminder was about.
    digest = ReminderLog.objects.get(kind=ReminderKind.DIGEST, recipient=seeded["users"]["ann"])
    assert set(digest.action_items.all()) == {items["ann_overdue3"], items["ann_soon"], items["ann_later"]}
    assert digest.claim_key == f"digest:{TODAY.isoformat()}:email:user={seeded['users']['ann'].pk}"
    escalations = ReminderLog.objects.filter(kind=ReminderKind.ESCALATION)
    assert sorted(e.recipient.username for e in escalations) == ["arun", "dee"]
    assert all(list(e.action_items.all()) == [items["bob_escalated"]] for e in escalations)


def test_item_owner_who_owns_the_incident_is_not_escalated_to_twice(db, wednesday, reminder_settings):
    dee = UserFactory(username="dee")
    incident = IncidentFactory(owner=dee)
    ActionItemFactory(owner=dee, incident=incident, due_date=days(-12), title="Dee long overdue")

    run_all()

    message = only_mail_to("dee@example.com")
    assert message.subject.startswith("Your follow-ups")
    assert "(escalated)" in message.body
    assert not ReminderLog.objects.filter(kind=ReminderKind.ESCALATION).exists()


def test_item_overdue_exactly_the_threshold_is_not_yet_escalated(db, wednesday, reminder_settings):
    incident = IncidentFactory(owner=UserFactory(username="dee"))
    ActionItemFactory(owner=UserFactory(username="ann"), incident=incident, due_date=days(-7))

    run_all()

    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert "(escalated)" not in mail.outbox[0].body


def test_inactive_owner_and_owner_without_email_get_no_digest(db, wednesday, reminder_settings):
    ActionItemFactory(owner=UserFactory(username="gone", is_active=False), due_date=TODAY)
    ActionItemFactory(owner=UserFactory(username="noemail", email=""), due_date=TODAY)

    run_all()

    assert mail.outbox == []


# 2. Exactly once ---------------------------------------------------------------


def test_sweeping_twice_sends_nothing_new(seeded):
    call_command("send_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115
    sent, logs = len(mail.outbox), ReminderLog.objects.count()
    assert sent == 5

    again = reminders.sweep()
    assert again.claimed == []
    assert again.to_deliver == []
    call_command("send_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert len(mail.outbox) == sent
    assert ReminderLog.objects.count() == logs


def test_sweep_hands_out_each_claim_once(seeded):
    result = reminders.sweep()

    assert len(result.claimed) == 5
    assert sorted(result.to_deliver) == sorted(result.claimed)  # no id twice
    outcomes = [reminders.attempt_delivery(pk).outcome for pk in result.to_deliver]
    assert outcomes == ["sent"] * 5
    # A second delivery of the same row (a duplicate task) sends nothing.
    assert reminders.attempt_delivery(result.claimed[0]).outcome == "taken"
    assert len(mail.outbox) == 5


def test_send_reminders_command_reports(seeded, capsys):
    call_command("send_reminders")
    assert "Claimed 5; sent 5, to retry 0, failed 0." in capsys.readouterr().out
    call_command("send_reminders")
    assert "Claimed 0; sent 0, to retry 0, failed 0." in capsys.readouterr().out


# 3. The next day ---------------------------------------------------------------


def test_next_day_digest_goes_out_again_without_closed_items(seeded, wednesday):
    items = seeded["items"]
    run_all()
    assert len(mail.outbox) == 5

    items["ann_overdue3"].close()
    items["ann_overdue3"].save()
    wednesday.move_to(WEDNESDAY + timedelta(days=1))
    mail.outbox.clear()
    run_all()

    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["ann@example.com", "bob@example.com", "cai@example.com", "arun@example.com", "dee@example.com"]
    )
    ann = only_mail_to("ann@example.com")
    assert listed_titles(ann.body, items) == ["Ann due in 2", "Ann due in 30"]
    assert "due 2026-03-06" in ann.body  # the due date, now tomorrow
    bob = only_mail_to("bob@example.com")
    assert "OVERDUE by 11 days" in bob.body
    assert ReminderLog.objects.filter(period="2026-03-05").count() == 5
    assert ReminderLog.objects.filter(period="2026-03-04").count() == 5


def test_item_closed_between_claim_and_delivery_is_not_listed(seeded):
    items = seeded["items"]
    result = reminders.sweep()
    items["ann_soon"].close(ActionStatus.WONT_DO)
    items["ann_soon"].save()
    for pk in result.to_deliver:
        reminders.attempt_delivery(pk)

    assert listed_titles(only_mail_to("ann@example.com").body, items) == ["Ann overdue 3", "Ann due in 30"]


# 4. Opting out -------------------------------------------------------------------


def test_opted_out_owner_gets_no_digest_but_still_escalations(seeded):
    users = seeded["users"]
    NotificationPreference.objects.create(user=users["ann"], reminders_opt_out=True)
    NotificationPreference.objects.create(user=users["dee"], reminders_opt_out=True)
    NotificationPreference.objects.create(user=users["arun"], reminders_opt_out=True)
    # dee also owns an item due today: no digest for it.
    ActionItemFactory(owner=users["dee"], due_date=TODAY, title="Dee due today")

    run_all()

    assert mails_to("ann@example.com") == []
    assert only_mail_to("dee@example.com").subject.startswith("Escalation")
    assert only_mail_to("arun@example.com").subject.startswith("Escalation")
    assert only_mail_to("bob@example.com").subject.startswith("Your follow-ups")


def test_opted_out_owner_of_an_escalated_item_still_hears_of_it(seeded):
    users, items = seeded["users"], seeded["items"]
    NotificationPreference.objects.create(user=users["bob"], reminders_opt_out=True)

    run_all()

    message = only_mail_to("bob@example.com")
    assert message.subject.startswith("Escalation")
    assert listed_titles(message.body, items) == ["Bob ten days late"]
    assert "Bob due today" not in message.body


def test_notification_settings_page_toggles_opt_out(db, client_for):
    ann = UserFactory(username="ann")
    client = client_for(ann)

    page = client.get("/incidents/settings/notifications/")
    assert page.status_code == 200
    assert b"Stop my reminders" in page.content
    assert b" checked" not in page.content

    response = client.post("/incidents/settings/notifications/", {"reminders_opt_out": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == "/incidents/settings/notifications/"
    assert b"Reminders are off; escalations about overdue items will still reach you." in response.content
    assert b" checked" in response.content
    assert NotificationPreference.objects.get(user=ann).reminders_opt_out is True

    response = client.post("/incidents/settings/notifications/", {}, follow=True)
    assert b"Reminders are on." in response.content
    assert NotificationPreference.objects.get(user=ann).reminders_opt_out is False


def test_notification_settings_needs_login(client, db):
    response = client.get("/incidents/settings/notifications/")
    assert response.status_code == 302


# Restricted incidents ----------------------------------------------------------


def test_digest_and_escalation_name_only_incidents_the_recipient_may_see(
    db, wednesday, reminder_settings, restricted_incident, approver, outsider
):
    """A restricted incident is named only to people allowed to see it."""
    ActionItemFactory(owner=outsider, incident=restricted_incident, due_date=TODAY, title="Rotate leaked keys")
    ActionItemFactory(owner=outsider, due_date=days(-12), title="Olga long overdue", incident=IncidentFactory())
    CoeDocumentFactory(incident=restricted_incident, approver=approver, status=CoeStatus.APPROVED)
    stranger = UserFactory(username="stan")
    other = IncidentFactory(restricted=True, access_group=GroupFactory(name="other-group"), owner=stranger)
    CoeDocumentFactory(incident=other, approver=UserFactory(username="apu"), status=CoeStatus.APPROVED)
    ActionItemFactory(owner=approver, incident=other, due_date=days(-12), title="Other secret overdue")

    run_all()

    olga = only_mail_to("olga@example.com")
    assert "Rotate leaked keys" not in olga.body + html_of(olga)
    assert restricted_incident.key not in olga.body + html_of(olga)
    assert "Olga long overdue" in olga.body
    # The item arun owns is on an incident he may not see: no digest names it,
    # while its incident's owner (who may see it) is told of the escalation.
    assert mails_to("arun@example.com") == []
    assert "Other secret overdue" in only_mail_to("stan@example.com").body
    assert mails_to("apu@example.com") == []  # approver outside the group


def test_escaping_in_html_mail(db, wednesday, reminder_settings):
    ActionItemFactory(owner=UserFactory(username="ann"), due_date=TODAY, title="Fix <script>alert(1)</script> & co")
    run_all()
    message = only_mail_to("ann@example.com")
    assert "<script>" not in html_of(message)
    assert "Fix &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html_of(message)
    assert "Fix <script>alert(1)</script> & co" in message.body  # the text part is plain text


# 5. COEs not approved in time ---------------------------------------------------


def test_late_coe_reminds_its_owner_once(db, wednesday, reminder_settings):
    carl, dora, fay = (UserFactory(username=n) for n in ("carl", "dora", "fay"))
    resolved_long_ago = WEDNESDAY - timedelta(days=20)
    late = CoeDocumentFactory(
        owner=carl,
        status=CoeStatus.DRAFT,
        incident=IncidentFactory(owner=dora, started_at=resolved_long_ago - timedelta(hours=5)),
    )
    CoeDocumentFactory(
        owner=dora,
        status=CoeStatus.APPROVED,
        incident=IncidentFactory(started_at=resolved_long_ago - timedelta(hours=5)),
    )
    CoeDocumentFactory(  # resolved 10 days ago: not late yet
        owner=fay,
        status=CoeStatus.IN_REVIEW,
        incident=IncidentFactory(started_at=WEDNESDAY - timedelta(days=10, hours=5)),
    )

    run_all()
    run_all()

    message = only_mail_to("carl@example.com")
    assert message.subject == f"COE for {late.incident.key} is not approved yet"
    assert f"https://coe.example.com/incidents/{late.incident.key}/coe/" in message.body
    assert "still draft" in message.body
    assert html_of(message)
    assert len(mail.outbox) == 1
    log = ReminderLog.objects.get(kind=ReminderKind.COE_OVERDUE)
    assert (log.recipient, log.coe, log.state) == (carl, late, ReminderState.SENT)


def test_late_coe_without_owner_goes_to_incident_owner_and_respects_opt_out(db, wednesday, reminder_settings):
    dora, gus = UserFactory(username="dora"), UserFactory(username="gus")
    started = WEDNESDAY - timedelta(days=30)
    CoeDocumentFactory(owner=None, incident=IncidentFactory(owner=dora, started_at=started))
    CoeDocumentFactory(owner=gus, incident=IncidentFactory(started_at=started))
    NotificationPreference.objects.create(user=gus, reminders_opt_out=True)

    run_all()

    assert [m.to for m in mail.outbox] == [["dora@example.com"]]


def test_coe_deadline_follows_the_sweep_day(db, wednesday, reminder_settings):
    """sweep(today=...) decides lateness by that day, not by the clock."""
    carl = UserFactory(username="carl")
    CoeDocumentFactory(owner=carl, incident=IncidentFactory(started_at=WEDNESDAY - timedelta(days=10, hours=5)))

    assert reminders.sweep(today=TODAY).claimed == []
    claimed = reminders.sweep(today=days(10)).claimed
    assert [ReminderLog.objects.get(pk=pk).kind for pk in claimed] == [ReminderKind.COE_OVERDUE]


# 6. Leadership weekly ------------------------------------------------------------


@pytest.fixture
def leadership_data(db, reminder_settings, leader, restricted_group):
    payments, search = TeamFactory(name="Payments"), TeamFactory(name="Search")
    with time_machine.travel(MONDAY, tick=False):
        today = MONDAY.date()
        for n in (5, 9, 40):
            ActionItemFactory(team=payments, due_date=today - timedelta(days=n), title=f"Payments {n}")
        ActionItemFactory(team=search, due_date=today - timedelta(days=2), title="Search 2")
        ActionItemFactory(due_date=today - timedelta(days=1), title="No team 1")
        ActionItemFactory(team=search, due_date=today - timedelta(days=60), status=ActionStatus.DONE, title="Done")
    return {"payments": payments, "search": search}


def test_leadership_weekly_on_mondays_only_once_a_week(leadership_data, leader, settings):
    settings.REMINDER_CHANNELS = ["email"]
    with time_machine.travel(MONDAY + timedelta(days=2), tick=False):
        reminders.sweep()
    assert not ReminderLog.objects.filter(kind=ReminderKind.LEADERSHIP_WEEKLY).exists()

    with time_machine.travel(MONDAY, tick=False):
        run_all()
        run_all()
    weekly = only_mail_to("lee@example.com")
    assert weekly.subject == "Weekly follow-ups: 5 corrective actions overdue"
    # Most overdue first; equal counts by team name, "No team" last.
    assert "- Payments: 3\n- Search: 1\n- No team: 1" in weekly.body
    oldest = [line for line in weekly.body.splitlines() if "OVERDUE" in line]
    assert [line.split(": ")[1].split(" [")[0] for line in oldest] == [
        "Payments 40",
        "Payments 9",
        "Payments 5",
        "Search 2",
        "No team 1",
    ]
    assert "Payments: <strong>3</strong>" in html_of(weekly)
    log = ReminderLog.objects.get(kind=ReminderKind.LEADERSHIP_WEEKLY)
    assert log.period == "2026-W10"

    # Later the same ISO week: nothing new.
    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        run_all()
    assert len(mails_to("lee@example.com")) == 1

    # Next Monday: the next week's summary.
    with time_machine.travel(MONDAY + timedelta(days=7), tick=False):
        run_all()
    assert len(mails_to("lee@example.com")) == 2
    assert ReminderLog.objects.filter(kind=ReminderKind.LEADERSHIP_WEEKLY, period="2026-W11").count() == 1


def test_leadership_weekly_goes_only_to_the_leadership_group(leadership_data, leader, reviewer, approver):
    other_leader = UserFactory(username="lena")
    other_leader.groups.add(Group.objects.get(name=LEADERSHIP))
    with time_machine.travel(MONDAY, tick=False):
        reminders.sweep()
    weekly = ReminderLog.objects.filter(kind=ReminderKind.LEADERSHIP_WEEKLY)
    assert sorted(w.recipient.username for w in weekly) == ["lee", "lena"]


def test_leadership_weekly_respects_opt_out(leadership_data, leader):
    NotificationPreference.objects.create(user=leader, reminders_opt_out=True)
    with time_machine.travel(MONDAY, tick=False):
        reminders.sweep()
    assert not ReminderLog.objects.filter(kind=ReminderKind.LEADERSHIP_WEEKLY).exists()


def test_leadership_weekly_lists_only_incidents_the_leader_may_see(leadership_data, leader, settings):
    settings.REMINDER_CHANNELS = ["email"]
    secret_group = GroupFactory(name="secret-squad")
    secret = IncidentFactory(title="Secret", restricted=True, access_group=secret_group)
    with time_machine.travel(MONDAY, tick=False):
        ActionItemFactory(incident=secret, due_date=MONDAY.date() - timedelta(days=90), title="Rotate the secret")
        run_all()
    weekly = only_mail_to("lee@example.com")
    assert "Rotate the secret" not in weekly.body
    assert secret.key not in weekly.body
    assert "Rotate the secret" not in html_of(weekly)
    assert weekly.subject == "Weekly follow-ups: 5 corrective actions overdue"


# 7. Webhooks --------------------------------------------------------------------


class Hook:
    """A chat webhook on 127.0.0.1 that records what it is sent."""

    def __init__(self):
        self.status = 200
        self.delay = 0.0
        self.garble = False
        self.requests: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers["Content-Type"],
                        "key": self.headers["Idempotency-Key"],
                        "json": json.loads(body),
                    }
                )
                if hook.delay:
                    time.sleep(hook.delay)
                if hook.garble:
                    self.wfile.write(b"HELLO THERE\r\n\r\n")
                    return
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/team"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def team_with_hook(db, wednesday, reminder_settings, hook):
    team = TeamFactory(name="Payments", webhook_url=hook.url)
    member = UserFactory(username="mia")
    team.members.add(member)
    items = {
        "team_overdue": ActionItemFactory(team=team, due_date=days(-4), title="Team overdue 4"),
        "member_today": ActionItemFactory(owner=member, due_date=TODAY, title="Mia due today"),
        "team_later": ActionItemFactory(team=team, due_date=days(30), title="Team due in 30"),
        "team_done": ActionItemFactory(team=team, due_date=days(-4), status=ActionStatus.DONE, title="Team done"),
        "other_team": ActionItemFactory(team=TeamFactory(), due_date=TODAY, title="Other team today"),
    }
    return {"team": team, "items": items, "wednesday": wednesday}


def webhook_log() -> ReminderLog:
    return ReminderLog.objects.get(channel=ReminderChannel.WEBHOOK)


def test_webhook_receives_one_chat_message(team_with_hook, hook):
    items = team_with_hook["items"]
    run_all()
    run_all()

    assert len(hook.requests) == 1
    request = hook.requests[0]
    assert request["path"] == "/hooks/team"
    assert request["content_type"] == "application/json"
    payload = request["json"]
    assert set(payload) == {"text", "title", "idempotency_key"}
    assert payload["idempotency_key"] == request["key"] == str(webhook_log().idempotency_key)
    assert payload["text"].startswith("*Payments: open follow-ups due soon or overdue*")
    assert listed_titles(payload["text"], items) == ["Team overdue 4", "Mia due today"]
    assert f"<{item_url(items['team_overdue'])}|Team overdue 4>" in payload["text"]
    assert payload["title"] == "Payments: 2 follow-ups due soon or overdue, 1 overdue"
    log = webhook_log()
    assert (log.state, log.team, log.recipient, log.attempts) == (ReminderState.SENT, team_with_hook["team"], None, 1)


def test_webhook_server_error_is_retried_with_backoff_until_the_budget_is_spent(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    hook.status = 500
    [pk] = reminders.sweep().to_deliver

    first = reminders.attempt_delivery(pk)
    assert (first.outcome, first.attempts) == ("retry", 1)
    log = webhook_log()
    assert (log.state, log.attempts, log.sending_since, log.lease_owner) == (ReminderState.CLAIMED, 1, None, "")
    assert "500" in log.error
    # 30 s with jitter: between 15 and 30 s from now, and not a moment sooner.
    assert timedelta(seconds=15) <= log.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    assert reminders.sweep().to_deliver == []
    assert reminders.attempt_delivery(pk).outcome == "taken"

    attempts = retry_until_settled(team_with_hook["wednesday"], pk)
    log = webhook_log()
    assert attempts[-1].outcome == "failed"
    assert log.state == ReminderState.FAILED
    assert f"gave up after {log.attempts} attempts in 24 hours" in log.error
    # Retried for a day, the gaps doubling to an hour, each drawn between half and all of its ceiling:
    # from about 30 attempts (every gap its ceiling) to about 55 (every gap half of it), not 3 in three
    # and a half minutes.
    assert 25 <= log.attempts <= 60
    assert timezone.now() - log.created_at > timedelta(hours=22)
    assert len(hook.requests) == log.attempts
    assert {r["key"] for r in hook.requests} == {str(log.idempotency_key)}
    # A failed reminder is final: the next sweep leaves it alone (a day on, it claims the new day's digest).
    assert pk not in reminders.sweep().to_deliver
    assert reminders.attempt_delivery(pk).outcome == "taken"


def test_webhook_recovers_after_a_server_error(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    hook.status = 503
    [pk] = reminders.sweep().to_deliver
    assert reminders.attempt_delivery(pk).outcome == "retry"
    hook.status = 200
    assert reminders.sweep().to_deliver == []  # not before its backoff
    team_with_hook["wednesday"].shift(timedelta(seconds=31))
    assert reminders.sweep().to_deliver == [pk]  # a later sweep hands it out again
    assert reminders.attempt_delivery(pk).outcome == "sent"
    log = webhook_log()
    assert (log.state, log.attempts, log.error) == (ReminderState.SENT, 2, "")


def test_webhook_client_error_fails_at_once(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    hook.status = 400
    [pk] = reminders.sweep().to_deliver

    assert reminders.attempt_delivery(pk).outcome == "failed"
    log = webhook_log()
    assert (log.state, log.attempts) == (ReminderState.FAILED, 1)
    assert "400" in log.error


def test_webhook_that_never_answers_is_retried(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    hook.delay = 2.5  # REMINDER_WEBHOOK_TIMEOUT_SECONDS is 1
    [pk] = reminders.sweep().to_deliver

    started = time.monotonic()
    attempt = reminders.attempt_delivery(pk)
    assert time.monotonic() - started < 2.4
    assert attempt.outcome == "retry"
    log = webhook_log()
    assert (log.state, log.attempts) == (ReminderState.CLAIMED, 1)
    assert "timed out" in log.error


def test_webhook_unreachable_is_retried(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    hook.close()
    [pk] = reminders.sweep().to_deliver
    assert reminders.attempt_delivery(pk).outcome == "retry"
    assert webhook_log().error.startswith("webhook:")


def test_webhook_garbled_answer_is_retried(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    hook.garble = True  # not HTTP at all: http.client.BadStatusLine
    [pk] = reminders.sweep().to_deliver
    assert reminders.attempt_delivery(pk).outcome == "retry"
    assert webhook_log().state == ReminderState.CLAIMED


def test_webhook_leaves_out_restricted_incidents(team_with_hook, hook, restricted_incident):
    ActionItemFactory(
        team=team_with_hook["team"], incident=restricted_incident, due_date=days(-1), title="Rotate leaked keys"
    )
    run_all()
    [request] = hook.requests
    assert "Rotate leaked keys" not in request["json"]["text"]
    assert restricted_incident.key not in request["json"]["text"]


def test_no_webhook_when_the_channel_is_off(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["email"]
    run_all()
    assert hook.requests == []
    assert not ReminderLog.objects.filter(channel=ReminderChannel.WEBHOOK).exists()
    assert mails_to("mia@example.com")


def test_no_email_when_the_channel_is_off(team_with_hook, hook, settings):
    settings.REMINDER_CHANNELS = ["webhook"]
    run_all()
    assert mail.outbox == []
    assert len(hook.requests) == 1


# 8. SMTP failures ------------------------------------------------------------------


class FailingBackend(BaseEmailBackend):
    """A mail server that hangs up every time."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class SlowBackend(BaseEmailBackend):
    """A mail server slow enough for the task's soft time limit to fire."""

    def send_messages(self, email_messages):
        raise SoftTimeLimitExceeded()


class BrokenBackend(BaseEmailBackend):
    """Not a transient failure: a bug."""

    def send_messages(self, email_messages):
        raise ValueError("no such header")


@pytest.fixture
def one_digest(db, wednesday, reminder_settings):
    ann = UserFactory(username="ann")
    item = ActionItemFactory(owner=ann, due_date=TODAY, title="Ann due today")
    [pk] = reminders.sweep().to_deliver
    return {"pk": pk, "item": item, "owner": ann}


def test_smtp_failure_is_retried_then_recorded(one_digest, settings, client, wednesday):
    settings.EMAIL_BACKEND = "tests.test_reminders.FailingBackend"
    settings.REMINDER_RETRY_HOURS = 1
    pk = one_digest["pk"]

    first = reminders.attempt_delivery(pk)
    assert (first.outcome, first.attempts) == ("retry", 1)
    log = ReminderLog.objects.get(pk=pk)
    assert (log.state, log.attempts) == (ReminderState.CLAIMED, 1)
    assert "Connection unexpectedly closed" in log.error

    assert retry_until_settled(wednesday, pk)[-1].outcome == "failed"
    log = ReminderLog.objects.get(pk=pk)
    assert (log.state, log.sent_at) == (ReminderState.FAILED, None)
    assert 4 <= log.attempts <= 8
    assert f"gave up after {log.attempts} attempts in 1 hours" in log.error
    assert "Connection unexpectedly closed" in log.error

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    changelist = client.get("/admin/incidents/reminderlog/?state=failed")
    assert changelist.status_code == 200
    assert log.claim_key in changelist.content.decode()
    assert client.get("/admin/incidents/reminderlog/?state=sent").content.decode().count(log.claim_key) == 0
    change = client.get(f"/admin/incidents/reminderlog/{pk}/change/")
    assert change.status_code == 200
    assert "gave up after" in change.content.decode()


def test_smtp_failure_via_send_reminders_is_retried_by_the_next_run(one_digest, settings, capsys, wednesday):
    settings.EMAIL_BACKEND = "tests.test_reminders.FailingBackend"
    # The fixture's sweep queued the reminder for a task that never ran: after the lease it is queued again.
    wednesday.shift(timedelta(seconds=settings.REMINDER_QUEUED_LEASE_SECONDS + 1))
    call_command("send_reminders")
    captured = capsys.readouterr()
    assert "to retry 1" in captured.out
    assert "Connection unexpectedly closed" in captured.err

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("send_reminders")
    assert "sent 0" in capsys.readouterr().out  # not before its backoff
    wednesday.shift(timedelta(seconds=31))
    call_command("send_reminders")
    assert "sent 1" in capsys.readouterr().out
    assert len(mail.outbox) == 1
    log = ReminderLog.objects.get(pk=one_digest["pk"])
    assert (log.state, log.attempts, log.error) == (ReminderState.SENT, 2, "")


def test_soft_time_limit_is_retried_not_failed(one_digest, settings):
    settings.EMAIL_BACKEND = "tests.test_reminders.SlowBackend"
    assert reminders.attempt_delivery(one_digest["pk"]).outcome == "retry"
    assert ReminderLog.objects.get(pk=one_digest["pk"]).state == ReminderState.CLAIMED


def test_a_bug_fails_at_once(one_digest, settings):
    settings.EMAIL_BACKEND = "tests.test_reminders.BrokenBackend"
    attempt = reminders.attempt_delivery(one_digest["pk"])
    assert attempt.outcome == "failed"
    log = ReminderLog.objects.get(pk=one_digest["pk"])
    assert (log.state, log.attempts) == (ReminderState.FAILED, 1)
    assert log.error == "ValueError: no such header"


# 9. Celery tasks -------------------------------------------------------------------


def test_deliver_task_sends(one_digest):
    result = tasks.deliver_reminder.apply(args=[one_digest["pk"]])
    assert result.get() == "sent"
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert tasks.deliver_reminder.apply(args=[one_digest["pk"]]).get() == "taken"
    assert len(mail.outbox) == 1


def test_deliver_task_leaves_a_transient_failure_to_the_outbox(one_digest, settings, monkeypatch):
    """The task does not retry a failed send itself: the row's next_attempt_at does, through the dispatcher."""
    settings.EMAIL_BACKEND = "tests.test_reminders.FailingBackend"
    task = tasks.deliver_reminder
    monkeypatch.setattr(task, "retry", lambda *a, **kw: pytest.fail("no Celery retry for a failed send"))

    assert task.apply(args=[one_digest["pk"]]).get() == "retry"

    log = ReminderLog.objects.get(pk=one_digest["pk"])
    assert (log.state, log.attempts) == (ReminderState.CLAIMED, 1)
    assert log.next_attempt_at > timezone.now()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 30), (2, 60), (3, 120), (5, 480), (7, 1920), (8, 3600), (40, 3600)]
)
def test_retry_delay_doubles_with_jitter_up_to_an_hour(attempts, ceiling):
    rng = random.Random(attempts)
    delays = [reminders.retry_delay(attempts, rng=rng).total_seconds() for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 4  # spread: rows that failed together come back apart


def test_sweep_task_queues_deliveries_on_commit(seeded, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks.deliver_reminder, "delay", lambda pk: queued.append(pk))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert tasks.sweep_reminders.apply().get() == 5
        assert queued == []  # not before the claims are committed
    assert len(callbacks) == 1
    assert sorted(queued) == sorted(ReminderLog.objects.values_list("pk", flat=True))
    assert mail.outbox == []


@pytest.fixture
def celery_eager():
    """CELERY_TASK_ALWAYS_EAGER for one test: .delay() runs the task in this process."""
    conf = tasks.deliver_reminder.app.conf
    before = conf.task_always_eager
    conf.task_always_eager = True
    yield
    conf.task_always_eager = before


def test_sweep_task_eagerly_delivers(seeded, celery_eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep_reminders.apply()
    assert len(mail.outbox) == 5
    assert set(ReminderLog.objects.values_list("state", flat=True)) == {ReminderState.SENT}

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_reminders.apply().get() == 0
    assert len(mail.outbox) == 5


# 10. Rows left behind by a dead worker ------------------------------------------------


def test_stuck_sending_row_is_handed_out_again_once(one_digest, wednesday, settings):
    pk = one_digest["pk"]
    assert reminders.begin_delivery(pk)  # a worker took it, then died
    wednesday.move_to(WEDNESDAY + timedelta(seconds=settings.REMINDER_STUCK_AFTER_SECONDS + 1))

    result = reminders.sweep()
    assert result.claimed == []
    assert result.requeued == [pk]
    assert [reminders.attempt_delivery(p).outcome for p in result.to_deliver] == ["sent"]
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    log = ReminderLog.objects.get(pk=pk)
    assert (log.state, log.attempts) == (ReminderState.SENT, 2)
    assert reminders.sweep().to_deliver == []


def test_recent_sending_row_is_left_alone(one_digest, wednesday):
    pk = one_digest["pk"]
    assert reminders.begin_delivery(pk)
    wednesday.move_to(WEDNESDAY + timedelta(seconds=60))

    assert reminders.sweep().to_deliver == []
    assert reminders.attempt_delivery(pk).outcome == "taken"
    assert ReminderLog.objects.get(pk=pk).state == ReminderState.SENDING
    assert mail.outbox == []


def test_row_that_keeps_getting_stuck_is_given_up(one_digest, wednesday, settings):
    """A row whose worker dies on every attempt is sent again after each lease, until the budget is spent."""
    pk = one_digest["pk"]
    settings.REMINDER_RETRY_HOURS = 1
    while ReminderLog.objects.get(pk=pk).state == ReminderState.QUEUED:
        assert reminders.begin_delivery(pk)  # and the worker dies every time
        wednesday.shift(timedelta(seconds=settings.REMINDER_STUCK_AFTER_SECONDS + 1))
        reminders.sweep()
    log = ReminderLog.objects.get(pk=pk)
    assert log.state == ReminderState.FAILED
    assert 29 <= log.attempts <= 30  # one every 2 minutes for an hour
    assert "not delivered within 1 hours" in log.error
    assert "lease ran out" in log.error


# 11. The action item page -------------------------------------------------------------


def test_action_item_page_lists_its_reminders(seeded, client_for, reviewer):
    items = seeded["items"]
    run_all()
    item = items["bob_escalated"]

    page = client_for(reviewer).get(f"/incidents/{item.incident.key}/actions/{item.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Reminders sent" in html
    for kind, username in (("Owner digest", "bob"), ("Escalation", "arun"), ("Escalation", "dee")):
        assert f"<td>{kind}</td>" in html
        assert f"<td>{username}</td>" in html
    assert html.count("<td>Sent") == 3
    # Only this item's reminders: ann's digest is not about it.
    assert "<td>ann</td>" not in html


def test_action_item_page_shows_failures(one_digest, settings, client_for, reviewer):
    settings.EMAIL_BACKEND = "tests.test_reminders.BrokenBackend"
    reminders.attempt_delivery(one_digest["pk"])
    item = one_digest["item"]
    page = client_for(reviewer).get(f"/incidents/{item.incident.key}/actions/{item.pk}/")
    html = page.content.decode()
    assert "<td>Failed" in html
    assert "ValueError: no such header" in html


def test_action_item_page_without_reminders(db, client_for, reviewer):
    item = ActionItemFactory()
    page = client_for(reviewer).get(f"/incidents/{item.incident.key}/actions/{item.pk}/")
    assert page.status_code == 200
    assert b"No reminders yet." in page.content


def test_action_item_page_is_hidden_from_outsiders(db, client_for, outsider, reviewer, restricted_incident):
    item = ActionItemFactory(incident=restricted_incident)
    url = f"/incidents/{restricted_incident.key}/actions/{item.pk}/"
    assert client_for(reviewer).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404


def test_action_item_page_404_for_item_of_another_incident(db, client_for, reviewer):
    item = ActionItemFactory()
    other = IncidentFactory()
    assert client_for(reviewer).get(f"/incidents/{other.key}/actions/{item.pk}/").status_code == 404


def test_action_item_page_needs_login(db, client):
    item = ActionItemFactory()
    assert client.get(f"/incidents/{item.incident.key}/actions/{item.pk}/").status_code == 302


def test_sent_at_is_recorded(one_digest):
    reminders.attempt_delivery(one_digest["pk"])
    log = ReminderLog.objects.get(pk=one_digest["pk"])
    assert log.sent_at == timezone.now()
    assert log.subject == "Your follow-ups: 1 open"


# 12. At scale: streamed, claimed in chunks ----------------------------------------


@pytest.fixture
def workload(db, wednesday, reminder_settings, approver):
    """make(n): n owners, each with an item due today, one escalated and a late COE, all in a team with a webhook.

    The sweep claims 2n + 3: n digests, n COE reminders, escalations to arun
    (the COE's approver) and dee (the incident's owner), one team digest.
    """
    incident = IncidentFactory(owner=UserFactory(username="dee"))
    CoeDocumentFactory(incident=incident, approver=approver, status=CoeStatus.APPROVED)
    team = TeamFactory(name="Payments", webhook_url="https://chat.example.com/hooks/payments")

    def make(n: int) -> dict:
        items = {}
        for _ in range(n):
            owner = UserFactory()
            team.members.add(owner)
            items[owner.pk] = {
                ActionItemFactory(owner=owner, incident=incident, due_date=TODAY).pk,
                ActionItemFactory(owner=owner, incident=incident, due_date=days(-10)).pk,
            }
            CoeDocumentFactory(owner=owner, incident=IncidentFactory(started_at=WEDNESDAY - timedelta(days=20)))
        return items

    return make


@pytest.mark.parametrize("n", [3, 9])
def test_sweep_queries_do_not_grow_with_the_items(workload, n, django_assert_num_queries):
    workload(n)
    # 1     users opted out
    # 2-4   digests: the owners' groups, the owners, their open items (one streamed query)
    # 5-7   escalations: items past the threshold (streamed), the recipients' groups, the recipients
    # 8     late COEs (streamed)
    # 9-10  webhooks: the teams that have one, that team's items
    # 11-14 one chunk of claims: savepoint, INSERT ... RETURNING, INSERT of the item links, release
    # 15-18 dispatch: lapsed queued rows, lapsed sending rows, rows past the budget, queue the due rows
    with django_assert_num_queries(18):
        result = reminders.sweep()
    assert len(result.claimed) == 2 * n + 3


def test_claims_and_links_survive_chunk_boundaries(workload, monkeypatch):
    items = workload(5)
    monkeypatch.setattr(reminders, "CLAIM_CHUNK", 2)
    monkeypatch.setattr(reminders, "LINK_CHUNK", 3)

    with CaptureQueriesContext(connection) as queries:
        result = reminders.sweep()

    claim_inserts = [
        q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "incidents_reminderlog" (')
    ]
    assert len(claim_inserts) == 7  # 13 claims, two at a time
    # The ids come back in the order the claims were made, whatever order they were inserted in.
    logs = ReminderLog.objects.in_bulk(result.claimed)
    assert [(logs[pk].kind, logs[pk].channel) for pk in result.claimed] == (
        [(ReminderKind.DIGEST, ReminderChannel.EMAIL)] * 5
        + [(ReminderKind.ESCALATION, ReminderChannel.EMAIL)] * 2
        + [(ReminderKind.COE_OVERDUE, ReminderChannel.EMAIL)] * 5
        + [(ReminderKind.DIGEST, ReminderChannel.WEBHOOK)]
    )
    assert ReminderLog.objects.count() == 13
    linked = {log.pk: set(log.action_items.values_list("pk", flat=True)) for log in logs.values()}
    for owner_id, owned in items.items():
        digest = ReminderLog.objects.get(kind=ReminderKind.DIGEST, recipient_id=owner_id)
        assert linked[digest.pk] == owned
        assert ReminderLog.objects.get(kind=ReminderKind.COE_OVERDUE, recipient_id=owner_id).coe.owner_id == owner_id
    escalated = set(ActionItem.objects.filter(due_date=days(-10)).values_list("pk", flat=True))
    for log in logs.values():
        if log.kind == ReminderKind.ESCALATION:
            assert linked[log.pk] == escalated  # five links, split over two batches
    webhook = ReminderLog.objects.get(channel=ReminderChannel.WEBHOOK)
    assert linked[webhook.pk] == set().union(*items.values())  # every member's item is due or overdue
    assert reminders.sweep().claimed == []


def test_sweep_builds_no_model_instance_per_item(workload, monkeypatch):
    workload(3)
    built = Counter()
    real_init = Model.__init__

    def counting_init(self, *args, **kwargs):
        built[self._meta.label] += 1
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Model, "__init__", counting_init)
    result = reminders.sweep()
    monkeypatch.undo()

    assert len(result.claimed) == 9
    # Items, incidents, COEs and users are read as columns; only the claim
    # rows and their links (a chunk at a time) are model instances.
    assert set(built) == {"incidents.ReminderLog", "incidents.ReminderLog_action_items"}
    assert built["incidents.ReminderLog"] == 9


def test_claim_taken_by_another_sweep_is_neither_returned_nor_linked(seeded):
    ann = seeded["users"]["ann"]
    theirs = ReminderLog.objects.create(
        kind=ReminderKind.DIGEST,
        period=TODAY.isoformat(),
        channel=ReminderChannel.EMAIL,
        recipient=ann,
        claim_key=f"digest:{TODAY.isoformat()}:email:user={ann.pk}",
        state=ReminderState.SENDING,
        sending_since=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=120),
    )

    result = reminders.sweep()

    assert theirs.pk not in result.to_deliver
    assert len(result.claimed) == 4
    assert not theirs.action_items.exists()
    assert ReminderLog.objects.count() == 5


def test_sweep_visibility_agrees_with_incident_visible_to(db, restricted_incident, reviewer, outsider):
    root = UserFactory(username="root", is_superuser=True)
    outsiders_own = IncidentFactory(owner=outsider, restricted=True, access_group=GroupFactory(name="elsewhere"))
    public = IncidentFactory()
    users = (reviewer, outsider, root)
    people = reminders._people(get_user_model().objects.filter(pk__in=[u.pk for u in users]))

    seen = []
    for user in users:
        for incident in (restricted_incident, outsiders_own, public):
            expected = Incident.objects.visible_to(user).filter(pk=incident.pk).exists()
            assert people[user.pk].may_see(incident.restricted, incident.owner_id, incident.access_group_id) is expected
            seen.append(expected)
    assert seen.count(False) == 2  # the outsider and the reviewer each miss one restricted incident
