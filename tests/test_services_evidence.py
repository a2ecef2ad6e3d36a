"""Sources written through the services: validated, saved, and the dashboard told at commit (it reads their kind)."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from incidents import figures, services
from incidents.models import Source
from incidents.models.vocab import SourceKind

from .factories import SourceFactory

pytestmark = pytest.mark.django_db


def test_source_create_validates_and_saves():
    source = services.source_create(
        data={"url": "https://vendor.example.com/a", "title": "Post", "publisher": "Vendor", "kind": "vendor_primary"}
    )
    assert Source.objects.get(pk=source.pk).kind == SourceKind.VENDOR_PRIMARY
    with pytest.raises(ValidationError) as refused:
        services.source_create(data={"url": "not a url", "title": "T", "publisher": "P", "kind": "press"})
    assert "url" in refused.value.message_dict
    assert Source.objects.count() == 1


def test_source_update_moves_the_dashboards_generation_on_at_commit(django_capture_on_commit_callbacks):
    source = SourceFactory(kind=SourceKind.PRESS)
    before = cache.get(figures.GENERATION_KEY)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.source_update(source=source, data={"kind": SourceKind.VENDOR_PRIMARY, "note": None})
        assert cache.get(figures.GENERATION_KEY) == before, "not before the commit"
    assert cache.get(figures.GENERATION_KEY) != before
    assert len(callbacks) == 1
    source.refresh_from_db()
    assert (source.kind, source.note) == (SourceKind.VENDOR_PRIMARY, "")


def test_source_update_refuses_an_unknown_kind():
    source = SourceFactory(kind=SourceKind.PRESS)
    with pytest.raises(ValidationError):
        services.source_update(source=source, data={"kind": "rumour"})
    assert Source.objects.get(pk=source.pk).kind == SourceKind.PRESS
