"""The COE: start, save with optimistic locking, the review workflow and comments.

Single-object rules live on the models (CoeDocument.approve); this module strings them
together with revisions, permissions and locking. The dashboard reads a COE's approval
only, so starting, approving and reopening tell it; saving a draft does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from incidents.models import CoeDocument, CoeRevision, Incident, ReviewComment, WorkflowError
from incidents.models.coe import SECTION_KEYS
from incidents.models.vocab import CoeStatus
from incidents.quality import QualityReport, check_coe

from ._base import service


class ConflictError(Exception):
    """Someone else saved the COE since this editor loaded it."""

    def __init__(self, current: CoeDocument):
        super().__init__(f"COE was saved by someone else (now version {current.version}).")
        self.current = current


@dataclass(frozen=True)
class SubmitRefused(Exception):
    report: QualityReport

    def __str__(self) -> str:
        return "The COE does not pass the required quality rules yet."


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


def coe_quality(coe: CoeDocument, *, today=None) -> QualityReport:
    incident = coe.incident
    return check_coe(
        coe,
        incident=incident,
        action_items=list(incident.action_items.all()),
        timeline=list(incident.timeline.all()),
        ai_involvements=list(incident.ai_involvements.all()),
        owner_id=coe.owner_id,
        author_ids=tuple(coe.authors.values_list("pk", flat=True)),
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
    return _step(coe, user=user, note="Submitted for review")


def _step(coe: CoeDocument, *, user, note: str) -> CoeDocument:
    """Save a workflow step the model has applied: a new version and its revision."""
    coe.version += 1
    coe.save()
    _record_revision(coe, user=user, note=note)
    return coe


@service(dashboard=True)
def coe_approve(*, coe: CoeDocument, user) -> CoeDocument:
    coe = _locked(coe)
    coe.approve(by=user)
    return _step(coe, user=user, note="Approved")


@service(dashboard=False)
def coe_publish(*, coe: CoeDocument, user) -> CoeDocument:
    coe = _locked(coe)
    coe.publish(by=user)
    return _step(coe, user=user, note="Published")


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
    coe.status = CoeStatus.DRAFT
    coe.approver = None
    coe.approved_at = coe.published_at = coe.submitted_at = None
    return _step(coe, user=user, note=f"Reopened from {previous}: {reason.strip()}"[:200])


@service(dashboard=False)
def review_comment_add(*, coe: CoeDocument, user, section: str, body: str, reply_to: ReviewComment | None = None):
    if not body.strip():
        raise WorkflowError("A comment cannot be empty.")
    if reply_to is not None and reply_to.coe_id != coe.pk:
        raise WorkflowError("That comment belongs to another COE.")
    return ReviewComment.objects.create(
        coe=coe,
        section=reply_to.section if reply_to else section,
        author=user,
        body=body.strip(),
        reply_to=reply_to,
    )
