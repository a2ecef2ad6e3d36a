"""Sources and vocabularies are exactly as visible as the incidents that use them (issue 16, Access).

- The timeline editor offered every source, those only restricted incidents cite included, and accepted
  one: cited on a public incident, it was then shown to everyone.
- Service and region names typed in for a restricted incident appeared in everyone's filter lists
  (the incident list, the dashboard, the API's filters).
"""

import pytest
from django.test import Client

from incidents.models import ApiToken, Region, Service, Source, TimelineEvent

from .factories import IncidentFactory, SourceFactory, UserFactory
from .test_incident_forms import event_data, field_block

pytestmark = pytest.mark.django_db

SECRET_TITLE = "Payments ledger wiped by an agent"


@pytest.fixture
def secret(restricted_incident):
    source = SourceFactory(title=SECRET_TITLE, url="https://wiki.example.com/pm/ledger")
    restricted_incident.sources.add(source)
    return source


@pytest.fixture
def public_incident():
    return IncidentFactory(title="Checkout errors")


def timeline_url(incident) -> str:
    return f"/incidents/{incident.key}/timeline/"


class TestTimelineSources:
    def test_the_source_list_leaves_out_sources_only_hidden_incidents_cite(
        self, client_for, outsider, reviewer, secret, public_incident
    ):
        SourceFactory(title="Public postmortem")
        page = client_for(outsider).get(timeline_url(public_incident)).content.decode()
        assert "Public postmortem" in page
        assert SECRET_TITLE not in page
        # The restricted incident's group is offered it.
        assert SECRET_TITLE in client_for(reviewer).get(timeline_url(public_incident)).content.decode()

    def test_citing_a_hidden_source_by_its_id_is_a_form_error(self, client_for, outsider, secret, public_incident):
        response = client_for(outsider).post(timeline_url(public_incident), event_data(source=str(secret.pk)))
        assert response.status_code == 200
        assert "Select a valid choice" in field_block(response.content, "source")
        assert not TimelineEvent.objects.filter(incident=public_incident).exists()
        # So the source stays hidden from the outsider.
        assert secret not in Source.objects.visible_to(outsider)

    def test_editing_an_event_cannot_cite_a_hidden_source_either(self, client_for, outsider, secret, public_incident):
        from .factories import TimelineEventFactory

        event = TimelineEventFactory(incident=public_incident)
        url = f"{timeline_url(public_incident)}{event.pk}/"
        assert SECRET_TITLE not in client_for(outsider).get(url).content.decode()
        response = client_for(outsider).post(url, event_data(source=str(secret.pk)))
        assert "Select a valid choice" in field_block(response.content, "source")
        event.refresh_from_db()
        assert event.source is None

    def test_a_visible_source_is_cited(self, client_for, outsider, public_incident):
        report = SourceFactory(title="Public postmortem")
        response = client_for(outsider).post(timeline_url(public_incident), event_data(source=str(report.pk)))
        assert response.status_code == 302
        assert TimelineEvent.objects.get(incident=public_incident).source == report


@pytest.fixture
def vocabulary(restricted_incident, public_incident):
    """A service and a region only the restricted incident names, and one of each a public one does."""
    restricted_incident.services.add(Service.objects.create(name="payments-ledger-v2"))
    restricted_incident.regions.add(Region.objects.create(code="eu-secret-1"))
    public_incident.services.add(Service.objects.create(name="checkout"))
    public_incident.regions.add(Region.objects.create(code="us-east-1"))


def api(user) -> Client:
    _, plain = ApiToken.issue(user=user, name="tests", scope="read")
    return Client(headers={"Authorization": f"Bearer {plain}"})


class TestVocabularies:
    def test_the_incident_list_offers_only_names_of_visible_incidents(self, client_for, outsider, leader, vocabulary):
        page = client_for(outsider).get("/incidents/").content.decode()
        assert "checkout" in page
        assert "us-east-1" in page
        assert "payments-ledger-v2" not in page
        assert "eu-secret-1" not in page
        page = client_for(leader).get("/incidents/").content.decode()
        assert "payments-ledger-v2" in page
        assert "eu-secret-1" in page

    def test_the_dashboard_offers_only_names_of_visible_incidents(self, client_for, outsider, leader, vocabulary):
        page = client_for(outsider).get("/dashboard/").content.decode()
        assert "checkout" in page
        assert "payments-ledger-v2" not in page
        assert "eu-secret-1" not in page
        page = client_for(leader).get("/dashboard/").content.decode()
        assert "payments-ledger-v2" in page
        assert "eu-secret-1" in page

    def test_a_hidden_name_is_refused_as_a_name_that_does_not_exist(self, client_for, outsider, vocabulary):
        # Dashboard: the same form error for both.
        for name in ("payments-ledger-v2", "no-such-service"):
            response = client_for(outsider).get("/dashboard/", {"service": name})
            assert response.status_code == 200
            assert response.context["form"].errors == {
                "service": [f"Select a valid choice. {name} is not one of the available choices."]
            }
        # API: the same 400, told the same way.
        hidden = api(outsider).get("/api/v1/incidents/", {"service": "payments-ledger-v2"})
        missing = api(outsider).get("/api/v1/incidents/", {"service": "no-such-service"})
        assert hidden.status_code == missing.status_code == 400
        assert hidden.content.replace(b"payments-ledger-v2", b"X") == missing.content.replace(b"no-such-service", b"X")
        hidden = api(outsider).get("/api/v1/incidents/", {"region": "eu-secret-1"})
        assert hidden.status_code == 400

    def test_filtering_by_a_visible_name_still_works(self, outsider, leader, vocabulary, restricted_incident):
        rows = api(outsider).get("/api/v1/incidents/", {"service": "checkout"}).json()["results"]
        assert [row["title"] for row in rows] == ["Checkout errors"]
        rows = api(leader).get("/api/v1/incidents/", {"region": "eu-secret-1"}).json()["results"]
        assert [row["key"] for row in rows] == [restricted_incident.key]

    def test_a_name_no_incident_uses_is_listed_for_nobody(self, outsider, vocabulary):
        # Left over, say, after the restricted incident that named it was renamed: it still tells of it.
        Service.objects.create(name="ledger-old-name")
        assert "ledger-old-name" not in set(Service.objects.visible_to(outsider).values_list("name", flat=True))
        root = UserFactory(username="root", is_superuser=True)
        assert set(Service.objects.visible_to(root).values_list("name", flat=True)) == {
            "checkout",
            "payments-ledger-v2",
        }
        assert not Service.objects.visible_to(None).exists()

    def test_the_owner_of_a_restricted_incident_sees_its_names(self, restricted_incident, vocabulary):
        owner = UserFactory(username="oona")
        restricted_incident.owner = owner
        restricted_incident.save(update_fields=["owner"])
        assert "payments-ledger-v2" in set(Service.objects.visible_to(owner).values_list("name", flat=True))
        assert "eu-secret-1" in set(Region.objects.visible_to(owner).values_list("code", flat=True))
