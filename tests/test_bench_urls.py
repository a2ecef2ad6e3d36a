"""The benchmark's floor views trust a `uid` parameter instead of authenticating: never in the product's URLconf."""

import pytest
from django.test import Client, override_settings
from django.urls import Resolver404, resolve


def test_the_product_urlconf_has_no_bench_views(settings):
    assert settings.ROOT_URLCONF == "coe.urls"
    with pytest.raises(Resolver404):
        resolve("/bench/constant/")
    with pytest.raises(Resolver404):
        resolve("/bench/incidents/")


@pytest.mark.django_db
def test_bench_is_404_under_the_product_urlconf():
    client = Client()
    for path in ("/bench/constant/", "/bench/incidents/?uid=1", "/bench/incidents/INC-1/?uid=1", "/bench/replay/x/"):
        assert client.get(path).status_code == 404, path


@pytest.mark.django_db
def test_only_the_bench_urlconf_serves_them():
    with override_settings(ROOT_URLCONF="bench.urlconf"):
        assert Client().get("/bench/constant/").status_code == 200
        assert resolve("/dashboard/").url_name == "dashboard"  # the product's URLs are all there too
