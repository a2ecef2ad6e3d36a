"""The floor views, under /bench/ in the benchmark's URLconf only (bench/urlconf.py, bench.settings)."""

from django.urls import path

from . import floor

urlpatterns = [
    path("constant/", floor.constant),
    path("incidents/", floor.incident_list),
    path("incidents/<str:key>/", floor.incident_detail),
    path("replay/<slug:case>/", floor.replay),
]
