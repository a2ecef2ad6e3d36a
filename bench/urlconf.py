"""The product's URLconf (coe.urls) and the floor views under /bench/: ROOT_URLCONF of bench.settings only."""

from django.urls import include, path

from coe.urls import handler400, handler403, handler404, handler500  # noqa: F401  (the product's error pages)
from coe.urls import urlpatterns as product

urlpatterns = [path("bench/", include("bench.urls")), *product]
