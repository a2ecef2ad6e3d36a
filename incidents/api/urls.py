from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from . import views
from .history import IncidentHistoryView
from .metrics_view import MetricsView

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_format_suffixes = False  # ?format=csv is the only format switch
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("timeline-events", views.TimelineEventViewSet, basename="timelineevent")
router.register("action-items", views.ActionItemViewSet, basename="actionitem")
router.register("coes", views.CoeViewSet, basename="coe")
router.register("sources", views.SourceViewSet, basename="source")
router.register("claims", views.ClaimViewSet, basename="claim")
router.register("controls", views.ControlViewSet, basename="control")
router.register("feed", views.FeedViewSet, basename="feed")

urlpatterns = [
    path("vocabularies/", views.VocabularyView.as_view(), name="vocabularies"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    re_path(r"^incidents/(?P<key>[^/\x00]+)/history/$", IncidentHistoryView.as_view(), name="incident-history"),
    *router.urls,
    # Anything else under /api/v1/ is a JSON 404, not Django's HTML page.
    re_path(r"^.*$", views.NotFoundView.as_view()),
]
