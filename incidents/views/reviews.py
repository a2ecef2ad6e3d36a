"""Waiting for my review: the COEs in review this approver may approve, oldest submission first."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Permission
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse

from incidents.models import CoeDocument, Incident
from incidents.models.incident import signed_in
from incidents.models.vocab import CoeStatus

from .access import require

APPROVE = "incidents.approve_coedocument"


def in_review_for(user) -> QuerySet[CoeDocument]:
    """COEs in review on incidents the user may see, that the user did not write (the two-person rule).

    "Not of an incident hidden from the user" (a few restricted ids) rather than a join with every
    visible incident: with the partial index of COEs in review, the count is read from that index.
    """
    hidden = Incident.objects.hidden_from(user)
    return CoeDocument.objects.filter(status=CoeStatus.IN_REVIEW).exclude(incident__in=hidden).exclude(authors=user)


def awaiting_review(user) -> QuerySet[CoeDocument]:
    """What an approver may approve now; nothing for anyone else."""
    if not user.has_perm(APPROVE):
        return CoeDocument.objects.none()
    return in_review_for(user)


def waiting_count(user) -> int | None:
    """The navigation's count: None for someone who may not approve, else how many COEs wait for them.

    Asked on every page, so at most one query: when the page has not read the user's permissions
    already, whether they may approve and the count come from one statement.
    """
    if not signed_in(user) or not user.is_active:
        return None
    if user.is_superuser or hasattr(user, "_perm_cache"):  # ModelBackend's cache: has_perm costs nothing
        return awaiting_review(user).count() if user.has_perm(APPROVE) else None
    app_label, codename = APPROVE.split(".")
    granted = Permission.objects.filter(content_type__app_label=app_label, codename=codename).filter(
        Q(user=OuterRef("pk")) | Q(group__user=OuterRef("pk"))
    )
    # Grouped by a constant, that is not grouped: one row, the count (grouping by the status would
    # read each COE's row for it instead of the index alone).
    counted = in_review_for(user).order_by().annotate(one=Value(1)).values("one").annotate(n=Count("pk")).values("n")
    approves, waiting = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(approves=Exists(granted), waiting=Coalesce(Subquery(counted), 0))
        .values_list("approves", "waiting")
        .get()
    )
    return waiting if approves else None


@login_required
def review_queue(request):
    require(request.user, APPROVE)
    team_ids = list(request.user.teams.values_list("pk", flat=True))
    coes = list(
        awaiting_review(request.user)
        .select_related("incident__team", "owner")
        .annotate(
            open_comments=Count(
                "comments", filter=Q(comments__reply_to__isnull=True, comments__resolved_at__isnull=True)
            )
        )
        .order_by("submitted_at", "id")
    )
    for coe in coes:
        coe.for_my_team = coe.incident.team_id in team_ids
    return TemplateResponse(request, "incidents/review_queue.html", {"coes": coes})
