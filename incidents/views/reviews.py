"""Waiting for my review: the COEs in review this approver may approve, oldest submission first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.template.response import TemplateResponse

from incidents.models import CoeDocument
from incidents.models.vocab import CoeStatus

from .access import require

APPROVE = "incidents.approve_coedocument"


def awaiting_review(user) -> QuerySet[CoeDocument]:
    """COEs in review on incidents the user may see, that the user did not write (the two-person rule).

    Empty for anyone who may not approve, so the navigation's count can ask it of everyone.
    """
    if not user.has_perm(APPROVE):
        return CoeDocument.objects.none()
    return CoeDocument.objects.visible_to(user).filter(status=CoeStatus.IN_REVIEW).exclude(authors=user)


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
