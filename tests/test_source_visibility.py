"""A source only restricted incidents cite is theirs: the source list and detail of the API do not
show it to people who cannot see those incidents. Whatever record does the citing."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from incidents.models import ApiToken, ImpactFigure, Source

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    ControlFactory,
    IncidentFactory,
    SourceFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/sources/"


def cite(how: str, incident, source) -> None:
    """Make `incident` cite `source` through one kind of record."""
    if how == "incident":
        incident.sources.add(source)
    elif how == "claim":
        ClaimFactory(incident=incident, source=source)
    elif how == "ai_evidence":
        AIInvolvementFactory(incident=incident).evidence.add(source)
    elif how == "action_item":
        ActionItemFactory(incident=incident, source=source)
    elif how == "timeline":
        TimelineEventFactory(incident=incident, source=source)
    elif how == "impact":
        ImpactFigure.objects.create(incident=incident, name="Lost orders", value=Decimal(10), source=source)
    elif how == "reported_duration":
        incident.reported_duration_source = source
        incident.save(update_fields=["reported_duration_source"])
    else:
        raise ValueError(how)


CITATIONS = ["incident", "claim", "ai_evidence", "action_item", "timeline", "impact", "reported_duration"]


def client_of(user) -> Client:
    _, plain = ApiToken.issue(user=user, name="tests", scope="read")
    return Client(headers={"Authorization": f"Bearer {plain}"})


def listed(user) -> set[str]:
    response = client_of(user).get(API, {"page_size": 100})
    assert response.status_code == 200, response.content
    return {row["title"] for row in response.json()["results"]}


@pytest.fixture
def secret(restricted_incident):
    return SourceFactory(title="Payments ledger wiped by an agent", url="https://wiki.example.com/pm/ledger")


@pytest.mark.parametrize("how", CITATIONS)
def test_a_source_only_a_restricted_incident_cites_is_hidden(how, restricted_incident, secret, outsider, leader):
    cite(how, restricted_incident, secret)
    assert "Payments ledger wiped by an agent" not in listed(outsider)
    assert client_of(outsider).get(f"{API}{secret.pk}/").status_code == 404
    # The incident's group sees it, as does a superuser.
    assert "Payments ledger wiped by an agent" in listed(leader)
    assert client_of(leader).get(f"{API}{secret.pk}/").json()["title"] == secret.title
    assert secret in Source.objects.visible_to(UserFactory(username="root", is_superuser=True))


@pytest.mark.parametrize("how", ["claim", "timeline"])
def test_a_source_a_visible_incident_cites_too_is_listed(how, restricted_incident, secret, outsider):
    cite("incident", restricted_incident, secret)
    cite(how, IncidentFactory(title="Public outage"), secret)
    assert "Payments ledger wiped by an agent" in listed(outsider)


def test_sources_of_controls_and_uncited_ones_are_everyones(restricted_incident, secret, outsider):
    cite("claim", restricted_incident, secret)
    ControlFactory().sources.add(secret)
    SourceFactory(title="An uncited report")
    assert {"Payments ledger wiped by an agent", "An uncited report"} <= listed(outsider)


def test_the_owner_of_a_restricted_incident_sees_its_sources(restricted_incident, secret):
    owner = UserFactory(username="oona")
    restricted_incident.owner = owner
    restricted_incident.save(update_fields=["owner"])
    cite("claim", restricted_incident, secret)
    assert "Payments ledger wiped by an agent" in listed(owner)


def test_nobody_signed_in_sees_none(secret):
    assert not Source.objects.visible_to(AnonymousUser()).exists()
    assert Client().get(API).status_code == 401


def test_public_sources_still_page_in_order(outsider):
    for n in range(3):
        SourceFactory(title=f"Report {n}", published_on=datetime(2025, 1, 1 + n, tzinfo=UTC).date())
    response = client_of(outsider).get(API, {"page_size": 2, "ordering": "published_on"})
    first = [row["title"] for row in response.json()["results"]]
    second = [row["title"] for row in client_of(outsider).get(response.json()["next"]).json()["results"]]
    assert first + second == ["Report 0", "Report 1", "Report 2"]
