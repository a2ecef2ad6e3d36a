"""Notices of the COE review workflow: who hears of each step, claimed in the reminder outbox.

Each step (submitted, commented, sent back, approved, reopened, published) claims one
ReminderLog row per recipient and channel inside the step's own transaction, with a claim key
made of the step's event (the revision it recorded, or the comment's id): the outbox of
incidents/reminders.py then delivers each row exactly once, mail and webhook, with its
idempotency key. The relay is queued when the transaction commits, and beat's every-minute
dispatch picks up any row whose task could not be queued then (no broker, say).

Who hears of it:
- a submission, the approvers of the incident's team (all approvers when the team has none),
  never an author (the two-person rule: an author cannot approve it);
- every other step, the COE's authors and owner (the incident's owner when the COE has none),
  and for an answer to a comment, whoever wrote that comment;
- never the person who acted, never someone who opted out of reminders, and for a restricted
  incident only people who may see it. A team's chat webhook hears of the steps (not of the
  comments) of incidents that are not restricted, as its audience is unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse

from .models import CoeDocument, CoeRevision, Incident, ReminderLog, ReviewComment
from .models.coe import SECTIONS_BY_KEY
from .models.vocab import ReminderChannel, ReminderKind

log = logging.getLogger(__name__)

APPROVE_PERMISSION = "incidents.approve_coedocument"

# The kinds this module claims; incidents/reminders.py renders them with its templates.
KINDS = frozenset(
    {
        ReminderKind.COE_SUBMITTED,
        ReminderKind.COE_COMMENTED,
        ReminderKind.COE_RETURNED,
        ReminderKind.COE_APPROVED,
        ReminderKind.COE_REOPENED,
        ReminderKind.COE_PUBLISHED,
    }
)
TEMPLATE_BASE = "emails/coe_workflow"

# The event a notice is about, in its ReminderLog.period: a revision number or a comment id.
_REVISION, _COMMENT = "r", "c"


def approvers() -> QuerySet:
    """Active users who may approve COEs through a group or their own permissions (not merely as superusers)."""
    # The permission lives in ModelBackend's tables (the roles' groups); the login throttle grants none.
    return get_user_model().objects.with_perm(
        APPROVE_PERMISSION, include_superusers=False, backend="django.contrib.auth.backends.ModelBackend"
    )


def who_may_see(incident: Incident) -> Q:
    """Incident.objects.visible_to, as a condition on users: everyone for an open incident."""
    if not incident.restricted:
        return Q()
    return Q(is_superuser=True) | Q(pk=incident.owner_id) | Q(groups=incident.access_group_id)


def submit_recipients(coe: CoeDocument, *, actor) -> QuerySet:
    """The approvers a submission goes to: those of the incident's team, or all when it has none."""
    incident = coe.incident
    eligible = (
        approvers()
        .filter(who_may_see(incident))
        .exclude(pk__in=coe.authors.values("pk"))
        .exclude(pk=actor.pk)
        .distinct()
    )
    if incident.team_id is not None:
        of_team = eligible.filter(teams=incident.team_id)
        if of_team.exists():
            return of_team
    return eligible


def author_recipients(coe: CoeDocument, *, actor, also=()) -> QuerySet:
    """The COE's authors and owner (the incident's owner when the COE has none), and `also`."""
    owner_id = coe.owner_id if coe.owner_id is not None else coe.incident.owner_id
    concerned = Q(pk__in=coe.authors.values("pk")) | Q(pk__in=[pk for pk in (owner_id, *also) if pk is not None])
    return get_user_model().objects.filter(concerned).filter(who_may_see(coe.incident)).exclude(pk=actor.pk).distinct()


def _reachable(people: QuerySet) -> list[int]:
    """Those with an address, active, and not opted out: what a reminder's sweep asks too."""
    return sorted(
        people.filter(is_active=True)
        .exclude(email="")
        .exclude(notification_preference__reminders_opt_out=True)
        .values_list("pk", flat=True)
    )


def notify(coe: CoeDocument, *, kind: str, event: str, recipients: QuerySet) -> list[int]:
    """Claim the notice of one step for each recipient (and the team's webhook); the rows claimed.

    Call it inside the step's transaction: the claims are committed with the step or not at all,
    and a second call for the same event claims nothing.
    """
    # Imported here: reminders imports this module to render the notices it delivers.
    from .reminders import _Claim, _claim_all

    channels = set(settings.REMINDER_CHANNELS)
    claims = []
    if ReminderChannel.EMAIL in channels:
        claims += [
            _Claim(kind, event, ReminderChannel.EMAIL, recipient_id=pk, coe_id=coe.pk) for pk in _reachable(recipients)
        ]
    incident = coe.incident
    team = incident.team
    if (
        ReminderChannel.WEBHOOK in channels
        and kind != ReminderKind.COE_COMMENTED
        and team is not None
        and team.webhook_url
        and not incident.restricted
    ):
        claims.append(_Claim(kind, event, ReminderChannel.WEBHOOK, team_id=team.pk, coe_id=coe.pk))
    claimed = _claim_all(claims)
    if claimed:
        transaction.on_commit(_queue_relay)
    return claimed


def _queue_relay() -> None:
    from .tasks import dispatch_reminders

    try:
        dispatch_reminders.delay()
    except Exception:  # no broker: beat's every-minute dispatch sends the claimed rows
        log.warning("Could not queue the reminder relay; the next dispatch sends the review notices", exc_info=True)


def revision_event(revision: CoeRevision) -> str:
    return f"{_REVISION}{revision.number}"


def comment_event(comment: ReviewComment) -> str:
    return f"{_COMMENT}{comment.pk}"


@dataclass(frozen=True)
class Notice:
    """What a rendered notice says, beside the COE and its incident."""

    headline: str
    actor: str
    detail: str  # the reason given, or the comment's text
    section: str  # the section a comment is on


def _describe(row: ReminderLog) -> Notice:
    event, number = row.period[:1], int(row.period[1:])
    if event == _COMMENT:
        comment = ReviewComment.objects.select_related("author").get(pk=number, coe=row.coe_id)
        actor = comment.author.get_username()
        section = SECTIONS_BY_KEY[comment.section].title if comment.section in SECTIONS_BY_KEY else "Five whys"
        verb = "answered a comment on" if comment.reply_to_id else "commented on"
        return Notice(f"{actor} {verb} the COE ({section})", actor, comment.body, section)
    revision = CoeRevision.objects.select_related("saved_by").get(coe=row.coe_id, number=number)
    actor = revision.saved_by.get_username() if revision.saved_by else "someone"
    # The reason follows "Reopened from <status>: " in the revision's note.
    reason = revision.note.partition(": ")[2]
    headline = {
        ReminderKind.COE_SUBMITTED: f"{actor} submitted the COE for review",
        ReminderKind.COE_RETURNED: f"{actor} sent the COE back to its authors",
        ReminderKind.COE_APPROVED: f"{actor} approved the COE",
        ReminderKind.COE_REOPENED: f"{actor} reopened the COE as a draft",
        ReminderKind.COE_PUBLISHED: f"{actor} published the COE",
    }[row.kind]
    return Notice(headline, actor, reason, "")


class Withheld(Exception):
    """The incident was restricted since the notice was claimed, and its recipient may not see it now."""


def context(row: ReminderLog) -> dict:
    """The templates' context for one claimed notice; Withheld (the row fails, nothing is sent) if it would leak."""
    coe = row.coe
    incident = coe.incident
    if incident.restricted:
        if row.channel == ReminderChannel.WEBHOOK:
            raise Withheld("the incident is restricted, and a chat's audience is unknown")
        if not Incident.objects.visible_to(row.recipient).filter(pk=incident.pk).exists():
            raise Withheld("the recipient may no longer see the incident")
    return {
        "coe": coe,
        "incident": incident,
        "notice": _describe(row),
        "url": f"{settings.SITE_URL}{incident.get_absolute_url()}coe/",
        "queue_url": f"{settings.SITE_URL}{reverse('incidents:review-queue')}",
        "for_review": row.kind == ReminderKind.COE_SUBMITTED,
    }
