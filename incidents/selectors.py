"""Read shapes for pages and the API; each does its joins up front."""

from django.db.models import Prefetch, QuerySet

from .models import ActionItem, AIFieldCitation, Claim, Incident, TimelineEvent
from .provenance import claims_an_ai_role
from .timeline_chart import timeline_chart


def incident_list(*, user) -> QuerySet[Incident]:
    return Incident.objects.visible_to(user).with_ai_flag().select_related("owner", "coe").prefetch_related("services")


def incident_detail_queryset(*, user) -> QuerySet[Incident]:
    return (
        Incident.objects.visible_to(user)
        .select_related("owner", "team", "reported_duration_source", "coe__approver", "coe__owner")
        .prefetch_related(
            "services",
            "regions",
            "tags",
            "factors",
            "impact_figures__source",
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("source")),
            "ai_involvements__evidence",
            Prefetch("ai_involvements__citations", queryset=AIFieldCitation.objects.select_related("source")),
            Prefetch("claims", queryset=Claim.objects.select_related("source")),
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "source")),
            "controls__sources",
            "sources",
        )
    )


def incident_detail_context(incident: Incident) -> dict:
    """Group what the detail page shows, from the prefetched rows only."""
    timeline = list(incident.timeline.all())
    by_moment: dict[str, list[TimelineEvent]] = {}
    for event in timeline:
        if event.moment:
            by_moment.setdefault(event.moment, []).append(event)
    conflicting = {moment for moment, events in by_moment.items() if len({e.occurred_at for e in events}) > 1}
    claims = list(incident.claims.all())
    try:
        coe = incident.coe
    except Incident.coe.RelatedObjectDoesNotExist:
        coe = None
    return {
        "incident": incident,
        "coe": coe,
        "timeline": timeline,
        "chart": timeline_chart(incident, timeline),
        "conflicting_moments": conflicting,
        "claims": claims,
        "ai_claimed": claims_an_ai_role(claims),
        "factors": list(incident.factors.all()),
        "figures": list(incident.impact_figures.all()),
        "ai_involvements": list(incident.ai_involvements.all()),
        "action_items": list(incident.action_items.all()),
        "controls": list(incident.controls.all()),
    }
