"""Schemathesis against the live OpenAPI schema, in-process through the WSGI app.

Every operation gets generated requests, valid and invalid, sent with a
write-scope token. The checks: never a server error, and every response
(status code, content type, headers, body) is one the schema declares.
"""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test.utils import override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents.api.conditional import etag_for
from incidents.models import ApiToken, CoeDocument, ImpactFigure, Region, TokenScope

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    CoeDocumentFactory,
    ControlFactory,
    IncidentFactory,
    ServiceFactory,
    SourceFactory,
    TimelineEventFactory,
)

# schemathesis' WSGI client sends Host: localhost.
with override_settings(ALLOWED_HOSTS=["localhost", "testserver"]):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Objects that exist in this test's database, so generated requests reach real
# rows some of the time rather than always a 404. Filled by the `world` fixture.
KNOWN: dict[str, dict] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    known = KNOWN.get(context.operation.path)
    if not known or not path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


@schema.hook
def flatmap_headers(context, headers):
    # A COE write needs the current ETag; send it half the time.
    if not headers or "If-Match" not in headers or context.operation.path != "/api/v1/coes/{key}/":
        return st.just(headers)
    coe = CoeDocument.objects.filter(incident__key=KNOWN.get("coe_key")).first()
    if coe is None:
        return st.just(headers)
    return st.sampled_from([headers, {**headers, "If-Match": etag_for(coe)}])


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Calls go straight into the WSGI app, not through Django's test client, so
    Django would close the database connection after each request, taking the
    test's open transaction with it on PostgreSQL. Do what the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, settings, reviewer, restricted_incident):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    cache.clear()
    source = SourceFactory()
    incident = IncidentFactory(title="Checkout outage")
    incident.services.add(ServiceFactory(name="checkout"))
    incident.regions.add(Region.objects.create(code="us-east-1"))
    incident.sources.add(source)
    incident.factors.create(factor="retry_storm")
    ImpactFigure.objects.create(incident=incident, name="Lost orders", value=1200, unit="orders")
    timeline = TimelineEventFactory(incident=incident)
    AIInvolvementFactory(incident=incident).evidence.add(source)
    claim = ClaimFactory(incident=incident, source=source)
    CoeDocumentFactory(incident=incident)
    item = ActionItemFactory(incident=incident, owner=reviewer)
    ActionItemFactory(incident=incident, due_date=None)
    ActionItemFactory(incident=restricted_incident)
    control = ControlFactory()
    control.incidents.add(incident, restricted_incident)
    IncidentFactory(title="=formula", severity="SEV1")
    KNOWN.clear()
    KNOWN.update(
        {
            "/api/v1/incidents/{key}/": {"key": incident.key},
            "/api/v1/coes/{key}/": {"key": incident.key},
            "/api/v1/action-items/{id}/": {"id": item.pk},
            "/api/v1/action-items/{id}/close/": {"id": item.pk},
            "/api/v1/timeline-events/{id}/": {"id": timeline.pk},
            "/api/v1/claims/{id}/": {"id": claim.pk},
            "/api/v1/sources/{id}/": {"id": source.pk},
            "/api/v1/controls/{id}/": {"id": control.pk},
            "coe_key": incident.key,
        }
    )
    _, plain = ApiToken.issue(user=reviewer, name="schemathesis", scope=TokenScope.WRITE)
    yield {"Authorization": f"Bearer {plain}"}
    KNOWN.clear()


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_to_its_schema(case, world):
    case.call_and_validate(headers=world, checks=CHECKS)
