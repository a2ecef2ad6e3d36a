from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from . import part_views, views
from .export_views import ExportJsonView, ExportZipView
from .history import IncidentHistoryView
from .metrics_view import MetricsView

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_format_suffixes = False  # ?format=csv is the only format switch
router.register("incidents", views.IncidentViewSet, basename="incident")
# An incident's parts are added under it and changed at their own addresses (part_views.py).
INCIDENT = r"incidents/(?P<key>[^/\x00]+)"
router.register(f"{INCIDENT}/timeline", part_views.TimelineEventCreateViewSet, basename="incident-timeline")
router.register(f"{INCIDENT}/sources", part_views.IncidentSourcesViewSet, basename="incident-sources")
router.register(f"{INCIDENT}/claims", part_views.ClaimCreateViewSet, basename="incident-claims")
router.register(f"{INCIDENT}/ai-involvements", part_views.AIInvolvementCreateViewSet, basename="incident-ai")
router.register(f"{INCIDENT}/impact-figures", part_views.ImpactFigureCreateViewSet, basename="incident-impact")
router.register(f"{INCIDENT}/action-items", part_views.ActionItemCreateViewSet, basename="incident-actionitems")
router.register("timeline-events", part_views.TimelineEventViewSet, basename="timelineevent")
router.register("action-items", views.ActionItemViewSet, basename="actionitem")
router.register("coes", views.CoeViewSet, basename="coe")
router.register("sources", views.SourceViewSet, basename="source")
router.register("claims", part_views.ClaimViewSet, basename="claim")
router.register("ai-involvements", part_views.AIInvolvementViewSet, basename="aiinvolvement")
router.register("impact-figures", part_views.ImpactFigureViewSet, basename="impactfigure")
router.register("controls", views.ControlViewSet, basename="control")
router.register("feed", views.FeedViewSet, basename="feed")

urlpatterns = [
    path("vocabularies/", views.VocabularyView.as_view(), name="vocabularies"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("export.json", ExportJsonView.as_view(), name="export-json"),
    path("export.zip", ExportZipView.as_view(), name="export-zip"),
    re_path(r"^incidents/(?P<key>[^/\x00]+)/history/$", IncidentHistoryView.as_view(), name="incident-history"),
    re_path(
        r"^incidents/(?P<key>[^/\x00]+)/controls/$", part_views.IncidentControlsView.as_view(), name="incident-controls"
    ),
    *router.urls,
    # Anything else under /api/v1/ is a JSON 404, not Django's HTML page.
    re_path(r"^.*$", views.NotFoundView.as_view()),
]
