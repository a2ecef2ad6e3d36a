"""Read shapes for pages and the API; each does its joins up front."""

from django.db.models import Prefetch, QuerySet

from .models import ActionItem, Claim, Incident, TimelineEvent


def incident_list(*, user) -> QuerySet[Incident]:
    return (
        Incident.objects.visible_to(user)
        .with_ai_flag()
        .select_related("owner", "coe")
        .prefetch_related("services")
    )


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
            Prefetch("claims", queryset=Claim.objects.select_related("source")),
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "source")),
            "controls",
            "sources",
        )
    )
