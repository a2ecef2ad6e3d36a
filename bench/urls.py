"""The floor views, mounted under /bench/ only when BENCH_FLOOR_VIEWS=true (coe/urls.py)."""

from django.urls import path

from . import floor

urlpatterns = [
    path("constant/", floor.constant),
    path("incidents/", floor.incident_list),
    path("incidents/<str:key>/", floor.incident_detail),
    path("replay/<slug:case>/", floor.replay),
]
