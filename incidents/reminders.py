"""Reminders and escalation for open follow-ups.

Two steps, so that every message goes out exactly once:

1. The sweep decides what is due today and *claims* it by inserting a
   ReminderLog row whose claim_key is unique per kind, period, channel and
   recipient. A second sweep, a second worker or a retried task finds the key
   taken and does nothing.
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
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .models import ActionItem, CoeDocument, Incident, NotificationPreference, ReminderLog, Team
from .models.vocab import ACTION_STATUSES_OPEN, CoeStatus, ReminderChannel, ReminderKind, ReminderState
from .roles import LEADERSHIP

log = logging.getLogger(__name__)


class TransientDeliveryError(Exception):
    """Worth retrying: the mail server or webhook may answer next time."""


@dataclass
class SweepResult:
    claimed: list[int]
    requeued: list[int]

    @property
    def to_deliver(self) -> list[int]:
        return self.claimed + self.requeued


def _period_day(today: date) -> str:
    return today.isoformat()


def _period_week(today: date) -> str:
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def _opted_out_ids() -> set[int]:
    return set(NotificationPreference.objects.filter(reminders_opt_out=True).values_list("user_id", flat=True))


def _claim(*, kind, period, channel, recipient=None, team=None, items=(), coe=None, subject="") -> int | None:
    """Insert the claim row; None if another sweep already claimed it."""
    target = f"user={recipient.pk}" if recipient else f"team={team.pk}"
    if coe is not None:
        target += f":coe={coe.pk}"
    key = f"{kind}:{period}:{channel}:{target}"
    try:
        with transaction.atomic():
            row = ReminderLog.objects.create(
                kind=kind,
                period=period,
                channel=channel,
                recipient=recipient,
                team=team,
                coe=coe,
                claim_key=key,
                subject=subject[:300],
            )
            row.action_items.set(items)
    except IntegrityError:
        return None
    return row.pk


def _escalation_threshold(today: date) -> date:
    return today - timedelta(days=settings.REMINDER_ESCALATE_AFTER_DAYS)


def sweep(*, today: date | None = None) -> SweepResult:
    """Claim everything due today. Safe to run any number of times."""
    today = today or timezone.localdate()
    channels = set(settings.REMINDER_CHANNELS)
    claimed: list[int] = []
    opted_out = _opted_out_ids()
    day = _period_day(today)
    due_by = today + timedelta(days=settings.REMINDER_DUE_SOON_DAYS)

    open_items = ActionItem.objects.open().select_related("incident", "owner", "team")
    # Owners with something due soon, due today or overdue get one digest of
    # ALL their open items: the whole picture, not one message per item.
    owners = (
        get_user_model()
        .objects.filter(
            action_items__status__in=ACTION_STATUSES_OPEN, action_items__due_date__lte=due_by, is_active=True
        )
        .distinct()
    )
    if ReminderChannel.EMAIL in channels:
        for owner in owners:
            if owner.pk in opted_out or not owner.email:
                continue
            # Only items on incidents the owner may see: a restricted incident
            # must not be named to anyone outside its group.
            items = list(open_items.filter(owner=owner).visible_to(owner))
            if not any(item.due_date is not None and item.due_date <= due_by for item in items):
                continue
            row = _claim(
                kind=ReminderKind.DIGEST, period=day, channel=ReminderChannel.EMAIL, recipient=owner, items=items
            )
            if row:
                claimed.append(row)

        claimed += _claim_escalations(open_items, today=today, period=day, opted_out=opted_out)
        claimed += _claim_coe_overdue(today=today, period=day, opted_out=opted_out)
        if today.isoweekday() == 1:
            claimed += _claim_leadership_weekly(today=today, opted_out=opted_out)

    if ReminderChannel.WEBHOOK in channels:
        for team in Team.objects.exclude(webhook_url=""):
            # A chat channel's audience is unknown: restricted incidents stay out of it.
            items = list(
                open_items.filter(Q(team=team) | Q(owner__teams=team))
                .filter(due_date__lte=due_by, incident__restricted=False)
                .distinct()
            )
            if items:
                row = _claim(
                    kind=ReminderKind.DIGEST, period=day, channel=ReminderChannel.WEBHOOK, team=team, items=items
                )
                if row:
                    claimed.append(row)

    just_claimed = set(claimed)
    requeued = [pk for pk in _requeue_stuck() if pk not in just_claimed]
    return SweepResult(claimed=claimed, requeued=requeued)


def _claim_escalations(open_items, *, today: date, period: str, opted_out: set[int]) -> list[int]:
    """Items overdue past the threshold also go to the COE's approver and the incident's owner."""
    escalated = open_items.filter(due_date__lt=_escalation_threshold(today)).select_related(
        "incident__owner", "incident__coe__approver", "owner"
    )
    by_recipient: dict[int, tuple] = {}
    for item in escalated:
        for person in _escalation_recipients(item, opted_out=opted_out):
            by_recipient.setdefault(person.pk, (person, []))[1].append(item)
    claimed = []
    for person, items in by_recipient.values():
        if not person.email or not person.is_active:
            continue
        items = list(ActionItem.objects.filter(pk__in=[i.pk for i in items]).visible_to(person))
        if not items:
            continue
        row = _claim(
            kind=ReminderKind.ESCALATION, period=period, channel=ReminderChannel.EMAIL, recipient=person, items=items
        )
        if row:
            claimed.append(row)
    return claimed


def _escalation_recipients(item: ActionItem, *, opted_out: set[int]) -> list:
    people = []
    coe = _coe_of(item.incident)
    if coe is not None and coe.approver_id:
        people.append(coe.approver)
    if item.incident.owner_id:
        people.append(item.incident.owner)
    # The owner already hears about it in their digest, unless they turned
    # digests off: escalations reach everyone, so then they get this one.
    if item.owner_id and item.owner_id in opted_out:
        people.append(item.owner)
        return list({p.pk: p for p in people}.values())
    return [p for p in {p.pk: p for p in people}.values() if p.pk != item.owner_id]


def _coe_of(incident: Incident) -> CoeDocument | None:
    try:
        return incident.coe
    except Incident.coe.RelatedObjectDoesNotExist:
        return None


def _claim_coe_overdue(*, today: date, period: str, opted_out: set[int]) -> list[int]:
    """COEs not approved a set number of days after their incident was resolved."""
    # Late from the day after the target: resolved on the 1st with a 14-day
    # target, the reminders start on the 16th. Counted from the sweep's day,
    # not the clock, so sweep(today=...) agrees with itself.
    deadline = today - timedelta(days=settings.COE_APPROVAL_TARGET_DAYS)
    late = CoeDocument.objects.filter(
        incident__resolved_at__date__lt=deadline, status__in=[CoeStatus.DRAFT, CoeStatus.IN_REVIEW]
    ).select_related("owner", "incident__owner")
    claimed = []
    for coe in late:
        person = coe.owner or coe.incident.owner
        if person is None or not person.email or not person.is_active or person.pk in opted_out:
            continue
        row = _claim(
            kind=ReminderKind.COE_OVERDUE, period=period, channel=ReminderChannel.EMAIL, recipient=person, coe=coe
        )
        if row:
            claimed.append(row)
    return claimed


def _claim_leadership_weekly(*, today: date, opted_out: set[int]) -> list[int]:
    week = _period_week(today)
    claimed = []
    leaders = get_user_model().objects.filter(groups__name=LEADERSHIP, is_active=True).exclude(email="").distinct()
    for leader in leaders:
        if leader.pk in opted_out:  # not an escalation: a leader may turn it off
            continue
        row = _claim(kind=ReminderKind.LEADERSHIP_WEEKLY, period=week, channel=ReminderChannel.EMAIL, recipient=leader)
        if row:
            claimed.append(row)
    return claimed


def _requeue_stuck() -> list[int]:
    """Rows a dead worker left 'sending' go back to 'claimed' to be delivered again."""
    cutoff = timezone.now() - timedelta(seconds=settings.REMINDER_STUCK_AFTER_SECONDS)
    # A row whose worker died on every attempt (a send that hangs past the
    # task's time limit) counts its attempts too: give up on it at the cap
    # rather than hand it out forever.
    ReminderLog.objects.filter(
        state=ReminderState.SENDING, sending_since__lt=cutoff, attempts__gte=settings.REMINDER_MAX_ATTEMPTS
    ).update(
        state=ReminderState.FAILED,
        sending_since=None,
        error=f"gave up: stuck sending on each of {settings.REMINDER_MAX_ATTEMPTS} attempts (worker died?)",
    )
    stuck = list(
        ReminderLog.objects.filter(state=ReminderState.SENDING, sending_since__lt=cutoff).values_list("pk", flat=True)
    )
    if stuck:
        ReminderLog.objects.filter(pk__in=stuck, state=ReminderState.SENDING, sending_since__lt=cutoff).update(
            state=ReminderState.CLAIMED, sending_since=None
        )
    # Claimed rows whose delivery task was lost (broker down, worker killed
    # before it ran) are handed out again too; delivery claims them atomically.
    return list(ReminderLog.objects.filter(state=ReminderState.CLAIMED).values_list("pk", flat=True))


# Delivery ------------------------------------------------------------------


def begin_delivery(log_id: int) -> bool:
    """Take ownership of one claimed row. False if another worker has it or it is done."""
    return (
        ReminderLog.objects.filter(pk=log_id, state=ReminderState.CLAIMED).update(
            state=ReminderState.SENDING, sending_since=timezone.now(), attempts=F("attempts") + 1
        )
        == 1
    )


def deliver(log_id: int, *, today: date | None = None) -> None:
    """Render and send one claimed reminder. Raises TransientDeliveryError to ask for a retry."""
    row = ReminderLog.objects.select_related("recipient", "team", "coe__incident").get(pk=log_id)
    message = render(row, today=today or timezone.localdate())
    if row.channel == ReminderChannel.EMAIL:
        _send_email(row.recipient.email, message)
    else:
        _post_webhook(row.team.webhook_url, message)
    ReminderLog.objects.filter(pk=log_id, state=ReminderState.SENDING).update(
        state=ReminderState.SENT, sent_at=timezone.now(), error="", subject=message["subject"][:300]
    )


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "sent", "taken" (someone else has it or had it), "retry" or "failed"
    attempts: int = 0
    error: str = ""


def attempt_delivery(log_id: int) -> Attempt:
    """One delivery attempt, as the task and the send_reminders command both make it."""
    if not begin_delivery(log_id):
        return Attempt("taken")
    try:
        try:
            deliver(log_id)
        except SoftTimeLimitExceeded as exc:
            # A mail server or webhook too slow for the task's time limit is
            # slow, not broken: try again later like any other timeout.
            raise TransientDeliveryError("took longer than the task's time limit") from exc
    except TransientDeliveryError as exc:
        attempts = ReminderLog.objects.values_list("attempts", flat=True).get(pk=log_id)
        if attempts >= settings.REMINDER_MAX_ATTEMPTS:
            mark_failed(log_id, f"gave up after {attempts} attempts: {exc}")
            return Attempt("failed", attempts, str(exc))
        release_for_retry(log_id, str(exc))
        return Attempt("retry", attempts, str(exc))
    except Exception as exc:
        # Not worth retrying (a template error, a 4xx from a webhook): record it for the admin.
        log.exception("Reminder %s failed", log_id)
        mark_failed(log_id, f"{type(exc).__name__}: {exc}")
        return Attempt("failed", error=str(exc))
    return Attempt("sent")


def release_for_retry(log_id: int, error: str) -> None:
    ReminderLog.objects.filter(pk=log_id, state=ReminderState.SENDING).update(
        state=ReminderState.CLAIMED, sending_since=None, error=error[:2000]
    )


def mark_failed(log_id: int, error: str) -> None:
    ReminderLog.objects.filter(pk=log_id).exclude(state=ReminderState.SENT).update(
        state=ReminderState.FAILED, sending_since=None, error=error[:2000]
    )


def _send_email(address: str, message: dict) -> None:
    email = EmailMultiAlternatives(message["subject"], message["text"], to=[address])
    if message.get("html"):
        email.attach_alternative(message["html"], "text/html")
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientDeliveryError(f"mail: {exc}") from exc


def _post_webhook(url: str, message: dict) -> None:
    body = json.dumps({"text": message["chat"], "title": message["subject"]}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.REMINDER_WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise TransientDeliveryError(f"webhook answered {exc.code}") from exc
        raise  # a 4xx will not get better by retrying
    except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
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
    if row.kind == ReminderKind.LEADERSHIP_WEEKLY:
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
    base = f"emails/{row.kind}"
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
