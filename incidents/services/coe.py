"""The COE: start, save with optimistic locking, the review workflow and comments.

Single-object rules live on the models (CoeDocument.approve); this module strings them
together with revisions, permissions and locking. The dashboard reads a COE's approval
only, so starting, approving and reopening tell it; saving a draft does not. Each step of
the review, and each comment, claims its notices in the same transaction
(incidents/review_notices.py): they go out once the step is committed, and only then.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from incidents import review_notices
from incidents.models import CoeDocument, CoeRevision, Incident, ReviewComment, WorkflowError
from incidents.models.coe import SECTION_KEYS, SECTIONS
from incidents.models.vocab import CoeStatus, ReminderKind
from incidents.quality import QualityReport, check_coe

from ._base import service


class ConflictError(Exception):
    """Someone else saved the COE since this editor loaded it."""

    def __init__(self, current: CoeDocument):
        super().__init__(f"COE was saved by someone else (now version {current.version}).")
        self.current = current


class OpenCommentsError(WorkflowError):
    """Approval waits until every review comment's thread is resolved; names the open ones."""

    def __init__(self, comments: list[ReviewComment]):
        self.comments = comments
        sections = {**{s.key: s.title for s in SECTIONS}, "whys": "Five whys"}
        named = "; ".join(
            f"{sections.get(c.section, c.section)} ({c.author.get_username()}: “{_excerpt(c.body)}”)" for c in comments
        )
        count = f"{len(comments)} review comment{'s are' if len(comments) != 1 else ' is'} still open"
        super().__init__(f"Not approved: {count}. Resolve {'them' if len(comments) != 1 else 'it'} first: {named}.")


def _excerpt(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


class SubmitRefused(Exception):
    """The quality check's required rules fail; the report says which.

    A plain exception, not a frozen dataclass: a context manager re-raising it sets its __traceback__.
    """

    def __init__(self, report: QualityReport):
        super().__init__("The COE does not pass the required quality rules yet.")
        self.report = report


def coe_snapshot(coe: CoeDocument) -> dict:
    """What a revision stores: every section and the whys, as plain JSON."""
    return {**{key: getattr(coe, key) for key in SECTION_KEYS}, "whys": coe.whys}


def _record_revision(coe: CoeDocument, *, user, note: str = "") -> CoeRevision:
    return CoeRevision.objects.create(
        coe=coe, number=coe.version, status=coe.status, saved_by=user, note=note, data=coe_snapshot(coe)
    )


@service(dashboard=True)
def coe_start(*, incident: Incident, user) -> CoeDocument:
    """Open a COE for an incident, pre-filled from what the incident already records."""
    coe, created = CoeDocument.objects.get_or_create(
        incident=incident,
        defaults={"owner": user, "summary": incident.summary, "impact": incident.customer_impact},
    )
    if created:
        coe.authors.add(user)
        _record_revision(coe, user=user, note="Started")
    return coe


@service(dashboard=False)
def coe_save(*, coe: CoeDocument, user, data: dict, base_version: int) -> CoeDocument:
    """Save sections and whys if nobody saved since `base_version`.

    The version check and the bump happen under the row's lock, so two people
    saving at the same moment cannot both win: the loser gets ConflictError
    with the current text, and their own text is still in their form. The row
    is saved with save(), not a queryset update, so the change history records it.
    """
    if coe.status != CoeStatus.DRAFT:
        raise WorkflowError("Only a draft can be edited; reopen it first.")
    current = CoeDocument.objects.select_for_update().select_related("incident").get(pk=coe.pk)
    if current.version != base_version or current.status != CoeStatus.DRAFT:
        raise ConflictError(current)
    for key in (*SECTION_KEYS, "whys"):
        if key in data:
            setattr(current, key, data[key])
    current.version += 1
    current.save()
    coe.refresh_from_db()
    # Whoever writes is an author, and so can no longer approve it.
    coe.authors.add(user)
    _record_revision(coe, user=user)
    return coe


def coe_quality(coe: CoeDocument, *, today=None, author_ids: tuple[int, ...] | None = None) -> QualityReport:
    """The quality check; author_ids saves its query when the caller has read them already."""
    incident = coe.incident
    if author_ids is None:
        author_ids = tuple(coe.authors.values_list("pk", flat=True))
    return check_coe(
        coe,
        incident=incident,
        action_items=list(incident.action_items.all()),
        timeline=list(incident.timeline.all()),
        ai_involvements=list(incident.ai_involvements.all()),
        owner_id=coe.owner_id,
        author_ids=tuple(author_ids),
        approver_id=coe.approver_id,
        reviewed_in_ops_meeting=coe.reviewed_in_ops_meeting,
        today=today,
        draft_target_days=settings.COE_DRAFT_TARGET_DAYS,
    )


def _locked(coe: CoeDocument) -> CoeDocument:
    return CoeDocument.objects.select_for_update().select_related("incident").get(pk=coe.pk)


@service(dashboard=False)
def coe_submit(*, coe: CoeDocument, user) -> CoeDocument:
    coe = _locked(coe)
    if coe.status != CoeStatus.DRAFT:
        raise WorkflowError("Only a draft can be submitted for review.")
    report = coe_quality(coe)
    if not report.can_submit:
        raise SubmitRefused(report)
    coe.status = CoeStatus.IN_REVIEW
    coe.submitted_at = timezone.now()
    return _step(coe, user=user, note="Submitted for review", notice=ReminderKind.COE_SUBMITTED)


def _step(coe: CoeDocument, *, user, note: str, notice: str) -> CoeDocument:
    """Save a workflow step the model has applied: a new version, its revision, and its notices."""
    coe.version += 1
    coe.save()
    revision = _record_revision(coe, user=user, note=note)
    if notice == ReminderKind.COE_SUBMITTED:
        recipients = review_notices.submit_recipients(coe, actor=user)
    else:
        recipients = review_notices.author_recipients(coe, actor=user)
    review_notices.notify(coe, kind=notice, event=review_notices.revision_event(revision), recipients=recipients)
    return coe


@service(dashboard=True)
def coe_approve(*, coe: CoeDocument, user) -> CoeDocument:
    coe = _locked(coe)
    coe.approve(by=user)
    # Checked under the COE's lock: a comment resolved or added meanwhile is seen as it is now.
    if open_comments := list(open_review_comments(coe)):
        raise OpenCommentsError(open_comments)
    return _step(coe, user=user, note="Approved", notice=ReminderKind.COE_APPROVED)


@service(dashboard=False)
def coe_publish(*, coe: CoeDocument, user) -> CoeDocument:
    coe = _locked(coe)
    coe.publish(by=user)
    return _step(coe, user=user, note="Published", notice=ReminderKind.COE_PUBLISHED)


@service(dashboard=True)
def coe_return_to_draft(*, coe: CoeDocument, user, reason: str) -> CoeDocument:
    """Send a COE in review back to its authors, or reopen an approved/published one.

    Needs an approver. The approval is cleared (the next one must be fresh),
    and the history keeps every earlier revision and says who reopened it and why.
    """
    coe = _locked(coe)
    if not user.has_perm("incidents.approve_coedocument"):
        raise WorkflowError("Only an approver can send a COE back or reopen it.")
    if coe.status == CoeStatus.DRAFT:
        raise WorkflowError("The COE is already a draft.")
    if not reason.strip():
        raise WorkflowError("Say why it is reopened.")
    previous = coe.get_status_display().lower()
    # In review it goes back to its authors; approved or published, it is reopened.
    notice = ReminderKind.COE_RETURNED if coe.status == CoeStatus.IN_REVIEW else ReminderKind.COE_REOPENED
    coe.status = CoeStatus.DRAFT
    coe.approver = None
    coe.approved_at = coe.published_at = coe.submitted_at = None
    return _step(coe, user=user, note=f"Reopened from {previous}: {reason.strip()}"[:200], notice=notice)


@service(dashboard=False)
def review_comment_add(*, coe: CoeDocument, user, section: str, body: str, reply_to: ReviewComment | None = None):
    if not body.strip():
        raise WorkflowError("A comment cannot be empty.")
    if reply_to is not None and reply_to.coe_id != coe.pk:
        raise WorkflowError("That comment belongs to another COE.")
    comment = ReviewComment.objects.create(
        coe=coe,
        section=reply_to.section if reply_to else section,
        author=user,
        body=body.strip(),
        reply_to=reply_to,
    )
    # An answer also goes to whoever asked.
    asked_by = (reply_to.author_id,) if reply_to is not None else ()
    review_notices.notify(
        coe,
        kind=ReminderKind.COE_COMMENTED,
        event=review_notices.comment_event(comment),
        recipients=review_notices.author_recipients(coe, actor=user, also=asked_by),
    )
    return comment


def open_review_comments(coe: CoeDocument):
    """The threads not resolved yet (top-level comments; an answer is resolved with its thread), oldest first."""
    return coe.comments.filter(reply_to__isnull=True, resolved_at__isnull=True).select_related("author")


def may_resolve(comment: ReviewComment, user) -> bool:
    """The COE's authors and owner, and whoever wrote the comment."""
    coe = comment.coe
    return user.pk in (comment.author_id, coe.owner_id) or coe.is_author(user)


@service(dashboard=False)
def review_comment_resolve(*, comment: ReviewComment, user, resolved: bool = True) -> ReviewComment:
    """Mark a comment's thread resolved (who and when), or open it again."""
    comment = ReviewComment.objects.select_for_update().select_related("coe").get(pk=comment.pk)
    if comment.reply_to_id is not None:
        raise WorkflowError("Resolve the comment this answers: a thread is resolved as a whole.")
    if not may_resolve(comment, user):
        raise WorkflowError("Only the COE's authors and owner, or whoever wrote the comment, can resolve it.")
    if resolved and comment.resolved_at is None:
        comment.resolved_at, comment.resolved_by = timezone.now(), user
    elif not resolved:
        comment.resolved_at, comment.resolved_by = None, None
    comment.save(update_fields=["resolved_at", "resolved_by"])
    return comment
