from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

app_name = "api"

router = DefaultRouter(trailing_slash=True)
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
    *router.urls,
]
