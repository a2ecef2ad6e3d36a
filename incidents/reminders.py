"""Reminders and escalation for open follow-ups.

Two steps, so that every message goes out exactly once:

1. The sweep decides what is due today and *claims* it by inserting a
   ReminderLog row whose claim_key is unique per kind, period, channel and
   recipient. A second sweep, a second worker or a retried task finds the key
   taken and does nothing. Items are read as columns, streamed, and the rows
   are inserted a chunk per statement (INSERT ... ON CONFLICT DO NOTHING).
2. Delivery takes one claimed row, moves it claimed -> sending with a
   conditional UPDATE (only one worker can win), sends, and marks it sent.
   A transient failure puts it back to claimed and the task retries with
   backoff; after the last attempt it is marked failed (visible in the admin).

A worker killed mid-delivery leaves its row "sending"; the next sweep hands
rows stuck longer than REMINDER_STUCK_AFTER_SECONDS out again (and gives up
on one stuck on each of REMINDER_MAX_ATTEMPTS attempts). The one window
this cannot close is a kill after the mail server accepted the message but
before the row was marked sent: that message may go out twice.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import smtplib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain, groupby, islice
from operator import attrgetter, itemgetter

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, Count, F, PositiveSmallIntegerField, Q, Value, When
from django.db.models.functions import Concat
from django.template.loader import render_to_string
from django.utils import timezone

from . import review_notices
from .models import ActionItem, CoeDocument, NotificationPreference, ReminderLog, Team
from .models.vocab import ACTION_STATUSES_OPEN, CoeStatus, ReminderChannel, ReminderKind, ReminderState
from .roles import LEADERSHIP

log = logging.getLogger(__name__)


class TransientDeliveryError(Exception):
    """Worth retrying: the mail server or webhook may answer next time."""


class DeliveredButUnrecorded(Exception):
    """The message went out but the database did not take the record of it: retry the record, never the send."""

    def __init__(self, subject: str):
        super().__init__(subject)
        self.subject = subject


@dataclass
class SweepResult:
    claimed: list[int]
    # The rows marked queued: one delivery task each.
    queued: list[int]

    @property
    def to_deliver(self) -> list[int]:
        return self.queued

    @property
    def requeued(self) -> list[int]:
        """Queued again: rows claimed before whose retry came due or whose lease ran out."""
        claimed = set(self.claimed)
        return [pk for pk in self.queued if pk not in claimed]


def _period_day(today: date) -> str:
    return today.isoformat()


def _period_week(today: date) -> str:
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


# Claims written per statement (one INSERT), and their item links per batch.
CLAIM_CHUNK = 500
LINK_CHUNK = 5000
# Rows fetched at a time while streaming items (a server-side cursor).
STREAM_CHUNK = 2000
# The incident columns Incident.objects.visible_to decides on, read alongside each item.
_ACCESS = ("incident__restricted", "incident__owner_id", "incident__access_group_id")


def _opted_out_ids() -> set[int]:
    return set(NotificationPreference.objects.filter(reminders_opt_out=True).values_list("user_id", flat=True))


@dataclass(frozen=True)
class _Person:
    """What the sweep needs of a user: whether to write to them, and what they may see."""

    pk: int
    email: str
    is_active: bool
    is_superuser: bool
    group_ids: frozenset[int]

    def may_see(self, restricted: bool, incident_owner_id: int | None, access_group_id: int | None) -> bool:
        # Incident.objects.visible_to over columns already read, so that
        # thousands of items need no query each.
        return self.is_superuser or not restricted or incident_owner_id == self.pk or access_group_id in self.group_ids


def _people(users) -> dict[int, _Person]:
    """The users of a queryset with their groups, by id: two queries however many there are."""
    groups = defaultdict(set)
    memberships = get_user_model().groups.through.objects.filter(user__in=users)
    for user_id, group_id in memberships.values_list("user_id", "group_id"):
        groups[user_id].add(group_id)
    return {
        pk: _Person(pk, email, is_active, is_superuser, frozenset(groups[pk]))
        for pk, email, is_active, is_superuser in users.values_list("pk", "email", "is_active", "is_superuser")
    }


@dataclass(frozen=True)
class _Claim:
    """One reminder to claim: a ReminderLog row and the items it is about."""

    kind: str
    period: str
    channel: str
    recipient_id: int | None = None
    team_id: int | None = None
    coe_id: int | None = None
    item_ids: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        target = f"user={self.recipient_id}" if self.recipient_id is not None else f"team={self.team_id}"
        if self.coe_id is not None:
            target += f":coe={self.coe_id}"
        return f"{self.kind}:{self.period}:{self.channel}:{target}"


def _claim_all(claims: Iterable[_Claim]) -> list[int]:
    """Insert the claim rows a chunk at a time; the ids of those not claimed before, in the order given."""
    fields = [f for f in ReminderLog._meta.concrete_fields if not f.primary_key]
    claims = iter(claims)
    claimed = []
    while chunk := list(islice(claims, CLAIM_CHUNK)):
        with transaction.atomic():  # a claim and its item links are written together or not at all
            taken = _insert_unclaimed(chunk, fields)
            # A digest may list hundreds of items: the links are built a batch
            # at a time, never as one model instance per link of the chunk.
            link = ReminderLog.action_items.through
            links = ((taken[c.key], item_id) for c in chunk if c.key in taken for item_id in c.item_ids)
            while batch := list(islice(links, LINK_CHUNK)):
                link.objects.bulk_create([link(reminderlog_id=log_id, actionitem_id=item) for log_id, item in batch])
        claimed += [taken[c.key] for c in chunk if c.key in taken]
    return claimed


def _insert_unclaimed(chunk: list[_Claim], fields: list) -> dict[str, int]:
    """INSERT ... ON CONFLICT (claim_key) DO NOTHING RETURNING: the ids of the rows inserted, by key.

    bulk_create(ignore_conflicts=True) cannot tell which rows it inserted, and
    a key another sweep took first must not be handed out again.
    """
    # In key order, so two sweeps inserting the same keys at once wait for
    # each other rather than deadlock.
    chunk = sorted(chunk, key=attrgetter("key"))
    rows = [
        ReminderLog(
            kind=c.kind,
            period=c.period,
            channel=c.channel,
            recipient_id=c.recipient_id,
            team_id=c.team_id,
            coe_id=c.coe_id,
            claim_key=c.key,
        )
        for c in chunk
    ]
    qn = connection.ops.quote_name
    values = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {qn(ReminderLog._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([values] * len(rows))} "
        f"ON CONFLICT ({qn('claim_key')}) DO NOTHING RETURNING {qn('id')}, {qn('claim_key')}"
    )
    # pre_save and get_db_prep_save as Model.save() uses them: defaults, created_at, the backend's types.
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for row in rows for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: pk for pk, key in cursor.fetchall()}


def _escalation_threshold(today: date) -> date:
    return today - timedelta(days=settings.REMINDER_ESCALATE_AFTER_DAYS)


def sweep(*, today: date | None = None) -> SweepResult:
    """Claim everything due today. Safe to run any number of times."""
    today = today or timezone.localdate()
    channels = set(settings.REMINDER_CHANNELS)
    opted_out = _opted_out_ids()
    day = _period_day(today)
    due_by = today + timedelta(days=settings.REMINDER_DUE_SOON_DAYS)

    # Generators, claimed a chunk at a time as they yield: items are read as
    # columns while the claims before them are written, never all held at once
    # as model instances (with their incidents' prose, that was gigabytes).
    claims: list[Iterable[_Claim]] = []
    if ReminderChannel.EMAIL in channels:
        claims.append(_owner_digests(period=day, due_by=due_by, opted_out=opted_out))
        claims.append(_escalations(period=day, threshold=_escalation_threshold(today), opted_out=opted_out))
        claims.append(_late_coes(today=today, period=day, opted_out=opted_out))
        if today.isoweekday() == 1:
            claims.append(_leadership_weekly(today=today, opted_out=opted_out))
    if ReminderChannel.WEBHOOK in channels:
        claims.append(_team_digests(period=day, due_by=due_by))
    claimed = _claim_all(chain.from_iterable(claims))
    return SweepResult(claimed=claimed, queued=dispatch())


def _owner_digests(*, period: str, due_by: date, opted_out: set[int]) -> Iterator[_Claim]:
    """Owners with something due soon, due today or overdue get one digest of ALL their open items.

    The whole picture, not one message per item.
    """
    owners = _people(
        get_user_model()
        .objects.filter(
            action_items__status__in=ACTION_STATUSES_OPEN, action_items__due_date__lte=due_by, is_active=True
        )
        .distinct()
    )
    wanted = [pk for pk, owner in owners.items() if owner.email and pk not in opted_out]
    items = (
        ActionItem.objects.open()
        .filter(owner__in=wanted)
        .order_by("owner_id", "id")
        .values_list("owner_id", "id", "due_date", *_ACCESS)
    )
    for owner_id, rows in groupby(items.iterator(chunk_size=STREAM_CHUNK), key=itemgetter(0)):
        owner = owners[owner_id]
        # Only items on incidents the owner may see: a restricted incident
        # must not be named to anyone outside its group.
        visible = [(item_id, due) for _, item_id, due, *access in rows if owner.may_see(*access)]
        if any(due is not None and due <= due_by for _, due in visible):
            yield _Claim(
                ReminderKind.DIGEST,
                period,
                ReminderChannel.EMAIL,
                recipient_id=owner_id,
                item_ids=[item_id for item_id, _ in visible],
            )


def _escalations(*, period: str, threshold: date, opted_out: set[int]) -> Iterator[_Claim]:
    """Items overdue past the threshold also go to the COE's approver and the incident's owner."""
    escalated = (
        ActionItem.objects.open()
        .filter(due_date__lt=threshold)
        .values_list("id", "owner_id", "incident__coe__approver_id", *_ACCESS)
    )
    # Ids and the three access columns per item, not items: a few MB even for every open item.
    by_recipient: dict[int, list[tuple]] = {}
    for item_id, owner_id, approver_id, *access in escalated.iterator(chunk_size=STREAM_CHUNK):
        incident_owner_id = access[1]
        for person_id in _escalation_recipients(owner_id, approver_id, incident_owner_id, opted_out=opted_out):
            by_recipient.setdefault(person_id, []).append((item_id, access))
    people = _people(get_user_model().objects.filter(pk__in=list(by_recipient)))
    for person_id, items in by_recipient.items():
        person = people.get(person_id)
        if person is None or not person.email or not person.is_active:
            continue
        visible = [item_id for item_id, access in items if person.may_see(*access)]
        if visible:
            yield _Claim(
                ReminderKind.ESCALATION, period, ReminderChannel.EMAIL, recipient_id=person_id, item_ids=visible
            )


def _escalation_recipients(
    owner_id: int | None, approver_id: int | None, incident_owner_id: int | None, *, opted_out: set[int]
) -> list[int]:
    # The owner already hears about it in their digest, unless they turned
    # digests off: escalations reach everyone, so then they get this one.
    owner_opted_out = owner_id is not None and owner_id in opted_out
    people = [approver_id, incident_owner_id] + ([owner_id] if owner_opted_out else [])
    return [pk for pk in dict.fromkeys(people) if pk is not None and (pk != owner_id or owner_opted_out)]


def _late_coes(*, today: date, period: str, opted_out: set[int]) -> Iterator[_Claim]:
    """COEs not approved a set number of days after their incident was resolved."""
    # Late from the day after the target: resolved on the 1st with a 14-day
    # target, the reminders start on the 16th. Counted from the sweep's day,
    # not the clock, so sweep(today=...) agrees with itself.
    deadline = today - timedelta(days=settings.COE_APPROVAL_TARGET_DAYS)
    person = ("owner_id", "owner__email", "owner__is_active")
    # An imported COE came as a draft from a tool where it was finished long ago: it is not late here.
    late = CoeDocument.objects.filter(
        incident__resolved_at__date__lt=deadline,
        incident__imported_at__isnull=True,
        status__in=[CoeStatus.DRAFT, CoeStatus.IN_REVIEW],
    ).values_list("id", *person, *(f"incident__{column}" for column in person))
    for coe_id, *candidates in late.iterator(chunk_size=STREAM_CHUNK):
        # The COE's owner; the incident's owner only when the COE has none
        # (an inactive or opted-out COE owner is not passed over).
        person_id, email, is_active = candidates[:3] if candidates[0] is not None else candidates[3:]
        if person_id is None or not email or not is_active or person_id in opted_out:
            continue
        yield _Claim(ReminderKind.COE_OVERDUE, period, ReminderChannel.EMAIL, recipient_id=person_id, coe_id=coe_id)


def _leadership_weekly(*, today: date, opted_out: set[int]) -> Iterator[_Claim]:
    week = _period_week(today)
    leaders = get_user_model().objects.filter(groups__name=LEADERSHIP, is_active=True).exclude(email="").distinct()
    for leader_id in leaders.values_list("pk", flat=True):
        if leader_id in opted_out:  # not an escalation: a leader may turn it off
            continue
        yield _Claim(ReminderKind.LEADERSHIP_WEEKLY, week, ReminderChannel.EMAIL, recipient_id=leader_id)


def _team_digests(*, period: str, due_by: date) -> Iterator[_Claim]:
    # A chat channel's audience is unknown: restricted incidents stay out of it.
    due = ActionItem.objects.open().filter(due_date__lte=due_by, incident__restricted=False)
    # One query per team with a webhook: a handful, set by configuration rather than by the data.
    for team_id in Team.objects.exclude(webhook_url="").values_list("pk", flat=True):
        items = list(due.filter(Q(team=team_id) | Q(owner__teams=team_id)).distinct().values_list("id", flat=True))
        if items:
            yield _Claim(ReminderKind.DIGEST, period, ReminderChannel.WEBHOOK, team_id=team_id, item_ids=items)


# The outbox ------------------------------------------------------------------

# Retries: 30 s doubling, at most an hour apart; each delay is between half and all of that (equal
# jitter), so rows that failed together (a webhook down) do not all come back in the same second.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
# Rows marked queued per statement.
DISPATCH_CHUNK = 1000


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """How long after its attempts-th failed attempt a reminder is tried again."""
    ceiling = min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)
    return timedelta(seconds=ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


def dispatch() -> list[int]:
    """The outbox's relay: mark the reminders due for an attempt queued; the ids, one delivery task each.

    Rows whose lease ran out (a task lost in the broker, a worker killed mid-send)
    are claimed again first, and rows past REMINDER_RETRY_HOURS given up. Two
    dispatchers at once take disjoint rows (SKIP LOCKED); a queued or sending
    row is never queued a second time while its lease holds.
    """
    now = timezone.now()
    _reclaim_lapsed(now)
    _give_up(now)
    queued: list[int] = []
    while True:
        batch = _mark_queued(now)
        queued += batch
        if len(batch) < DISPATCH_CHUNK:
            return queued


def _reclaim_lapsed(now) -> None:
    lapsed = {"state": ReminderState.CLAIMED, "next_attempt_at": now, "lease_expires_at": None, "lease_owner": ""}
    ReminderLog.objects.filter(state=ReminderState.QUEUED, lease_expires_at__lt=now).update(**lapsed)
    # The attempt counted; the message may have gone out: it goes again with the same idempotency key.
    ReminderLog.objects.filter(state=ReminderState.SENDING, lease_expires_at__lt=now).update(
        **lapsed, sending_since=None, error="the sending worker's lease ran out (worker died?)"
    )


def _give_up(now) -> None:
    deadline = now - timedelta(hours=settings.REMINDER_RETRY_HOURS)
    ReminderLog.objects.filter(state=ReminderState.CLAIMED, created_at__lt=deadline).update(
        state=ReminderState.FAILED,
        error=Concat(Value(f"gave up: not delivered within {settings.REMINDER_RETRY_HOURS} hours; "), F("error")),
    )


def _mark_queued(now) -> list[int]:
    table = connection.ops.quote_name(ReminderLog._meta.db_table)
    claimed, queued = ReminderState.CLAIMED.value, ReminderState.QUEUED.value
    sql = (
        f"UPDATE {table} SET state = %s, lease_expires_at = %s, lease_owner = '' "
        f"WHERE state = %s AND id IN (SELECT id FROM {table} WHERE state = %s AND next_attempt_at <= %s "
        f"ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    lease = now + timedelta(seconds=settings.REMINDER_QUEUED_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(sql, [queued, lease, claimed, claimed, now, DISPATCH_CHUNK])
        return sorted(pk for (pk,) in cursor.fetchall())


# Delivery ------------------------------------------------------------------


def begin_delivery(log_id: int, owner: str = "") -> bool:
    """Take the lease on one queued row. False if another task has it or it is done.

    The task that holds the lease may take it again (a Celery retry after a
    database error keeps its task id); that is the same attempt, not counted twice.
    """
    owner = owner or uuid.uuid4().hex
    now = timezone.now()
    fresh = Q(state=ReminderState.QUEUED)
    return (
        ReminderLog.objects.filter(fresh | Q(state=ReminderState.SENDING, lease_owner=owner), pk=log_id).update(
            state=ReminderState.SENDING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.REMINDER_STUCK_AFTER_SECONDS),
            sending_since=Case(When(fresh, then=Value(now)), default=F("sending_since")),
            attempts=Case(
                When(fresh, then=F("attempts") + 1), default=F("attempts"), output_field=PositiveSmallIntegerField()
            ),
        )
        == 1
    )


def deliver(log_id: int, *, today: date | None = None) -> str:
    """Render and send one reminder with its idempotency key; its subject. TransientDeliveryError asks for a retry."""
    row = ReminderLog.objects.select_related("recipient", "team", "coe__incident").get(pk=log_id)
    message = render(row, today=today or timezone.localdate())
    if row.channel == ReminderChannel.EMAIL:
        _send_email(row.recipient.email, message, key=str(row.idempotency_key))
    else:
        _post_webhook(row.team.webhook_url, message, key=str(row.idempotency_key))
    return message["subject"]


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "sent", "taken" (someone else has it or had it), "retry" or "failed"
    attempts: int = 0
    error: str = ""


def attempt_delivery(log_id: int, *, owner: str = "", sent_subject: str | None = None) -> Attempt:
    """One delivery attempt, as the task and the send_reminders command both make it.

    owner is the task holding the lease (its Celery task id; a fresh one if
    none). A database error is raised for the task to retry: before the send,
    the retry resumes the same attempt; after it, DeliveredButUnrecorded, and
    the retry (with sent_subject) only records what was sent.
    """
    owner = owner or uuid.uuid4().hex
    if sent_subject is None:
        if not begin_delivery(log_id, owner):
            return Attempt("taken")
        try:
            try:
                sent_subject = deliver(log_id)
            except SoftTimeLimitExceeded as exc:
                # A mail server or webhook too slow for the task's time limit: the
                # outcome is unknown, so like any timeout it is tried again.
                raise TransientDeliveryError("took longer than the task's time limit") from exc
        except TransientDeliveryError as exc:
            return release_for_retry(log_id, owner, str(exc))
        except (OperationalError, InterfaceError):
            raise  # the database, not the message: the task retries, the row keeps its lease
        except Exception as exc:
            # Not worth retrying (a template error, a 4xx from a webhook): record it for the admin.
            log.exception("Reminder %s failed", log_id)
            mark_failed(log_id, f"{type(exc).__name__}: {exc}", owner=owner)
            return Attempt("failed", error=str(exc))
    try:
        record_sent(log_id, owner, sent_subject)
    except (OperationalError, InterfaceError) as exc:
        raise DeliveredButUnrecorded(sent_subject) from exc
    return Attempt("sent")


def record_sent(log_id: int, owner: str, subject: str) -> bool:
    """Mark a sent message sent, once. Unless another task holds the row now: it sends (with the same key)."""
    taken_by_another = Q(state=ReminderState.SENDING) & ~Q(lease_owner=owner)
    updated = (
        ReminderLog.objects.filter(pk=log_id)
        .exclude(state=ReminderState.SENT)
        .exclude(taken_by_another)
        .update(
            state=ReminderState.SENT,
            sent_at=timezone.now(),
            error="",
            subject=subject[:300],
            lease_expires_at=None,
            lease_owner="",
        )
    )
    if not updated:
        log.warning("Reminder %s was sent, but another delivery holds or recorded it", log_id)
    return updated == 1


def release_for_retry(log_id: int, owner: str, error: str) -> Attempt:
    """Back to claimed, next tried after the backoff; failed if that would be past REMINDER_RETRY_HOURS."""
    attempts, created_at = ReminderLog.objects.values_list("attempts", "created_at").get(pk=log_id)
    retry_at = timezone.now() + retry_delay(attempts)
    hours = settings.REMINDER_RETRY_HOURS
    if retry_at > created_at + timedelta(hours=hours):
        mark_failed(log_id, f"gave up after {attempts} attempts in {hours} hours: {error}", owner=owner)
        return Attempt("failed", attempts, error)
    ReminderLog.objects.filter(pk=log_id, state=ReminderState.SENDING, lease_owner=owner).update(
        state=ReminderState.CLAIMED,
        next_attempt_at=retry_at,
        lease_expires_at=None,
        lease_owner="",
        sending_since=None,
        error=error[:2000],
    )
    return Attempt("retry", attempts, error)


def mark_failed(log_id: int, error: str, *, owner: str | None = None) -> None:
    rows = ReminderLog.objects.filter(pk=log_id).exclude(state=ReminderState.SENT)
    if owner is not None:
        rows = rows.filter(state=ReminderState.SENDING, lease_owner=owner)
    rows.update(
        state=ReminderState.FAILED, sending_since=None, lease_expires_at=None, lease_owner="", error=error[:2000]
    )


def _mail_domain() -> str:
    # The same on every worker (not the host's name), so that a message sent again has the same Message-ID.
    return urllib.parse.urlsplit(settings.SITE_URL).hostname or "coe-tracker.invalid"


def _send_email(address: str, message: dict, *, key: str) -> None:
    headers = {"Message-ID": f"<reminder.{key}@{_mail_domain()}>", "Idempotency-Key": key}
    email = EmailMultiAlternatives(message["subject"], message["text"], to=[address], headers=headers)
    if message.get("html"):
        email.attach_alternative(message["html"], "text/html")
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientDeliveryError(f"mail: {exc}") from exc


def _post_webhook(url: str, message: dict, *, key: str) -> None:
    body = json.dumps({"text": message["chat"], "title": message["subject"], "idempotency_key": key}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.REMINDER_WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in (408, 429):
            raise TransientDeliveryError(f"webhook answered {exc.code}") from exc
        raise  # a 4xx will not get better by retrying
    except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
        # A timeout is an unknown outcome (the receiver may have it): sent again with the same key.
        raise TransientDeliveryError(f"webhook: {exc}") from exc


# Rendering -----------------------------------------------------------------


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _item_rows(items: Iterable[ActionItem], *, today: date) -> list[dict]:
    threshold = _escalation_threshold(today)
    rows = []
    for item in items:
        overdue = item.due_date is not None and item.due_date < today
        rows.append(
            {
                "item": item,
                "url": _absolute(f"{item.incident.get_absolute_url()}actions/{item.pk}/"),
                "overdue": overdue,
                "days_overdue": (today - item.due_date).days if overdue else 0,
                "due_today": item.due_date == today,
                "escalated": item.due_date is not None and item.due_date < threshold,
            }
        )
    # Overdue first (most overdue at the top), then by due date; undated last.
    rows.sort(key=lambda r: (not r["overdue"], r["item"].due_date or date.max, r["item"].pk))
    return rows


def render(row: ReminderLog, *, today: date) -> dict:
    base = f"emails/{row.kind}"
    if row.kind in review_notices.KINDS:
        # One set of templates for every step of the review workflow.
        context = review_notices.context(row)
        base = review_notices.TEMPLATE_BASE
    elif row.kind == ReminderKind.LEADERSHIP_WEEKLY:
        context = {"summary": leadership_summary(today=today, user=row.recipient)}
    elif row.kind == ReminderKind.COE_OVERDUE:
        coe = row.coe
        context = {"coe": coe, "incident": coe.incident, "url": _absolute(f"{coe.incident.get_absolute_url()}coe/")}
    else:
        # The digest lists the owner's open items as they are now, not as claimed:
        # an item closed since the sweep is not nagged about.
        items = row.action_items.open().select_related("incident", "owner")
        context = {"rows": _item_rows(items, today=today)}
        context["escalated_count"] = sum(1 for r in context["rows"] if r["escalated"])
        context["overdue_count"] = sum(1 for r in context["rows"] if r["overdue"])
        context["escalate_after_days"] = settings.REMINDER_ESCALATE_AFTER_DAYS
    context.update(row=row, recipient=row.recipient, team=row.team, today=today, site_url=settings.SITE_URL)
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    if row.channel == ReminderChannel.WEBHOOK:
        # A team's chat message: the mail bodies greet a recipient a webhook does not have.
        return {"subject": subject, "text": "", "html": "", "chat": render_to_string(f"{base}_chat.txt", context)}
    return {
        "subject": subject,
        "text": render_to_string(f"{base}_body.txt", context),
        "html": render_to_string(f"{base}_body.html", context),
        "chat": "",
    }


def leadership_summary(*, today: date, user) -> dict:
    """Counts and oldest items over the incidents this user may see (never a restricted one they may not)."""
    visible = ActionItem.objects.visible_to(user)
    overdue = visible.overdue(today)
    by_team = (
        overdue.values(team_name=F("team__name"))
        .annotate(n=Count("id"))
        .order_by("-n", F("team_name").asc(nulls_last=True))
    )
    oldest = list(
        visible.open().select_related("incident", "owner").order_by(F("due_date").asc(nulls_last=True), "id")[:10]
    )
    return {
        "overdue_total": overdue.count(),
        "by_team": [{"team": r["team_name"] or "No team", "overdue": r["n"]} for r in by_team],
        "oldest": _item_rows(oldest, today=today),
    }
