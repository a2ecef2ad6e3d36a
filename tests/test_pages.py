"""The login wall, the incident list and detail pages, and the health probes."""

import pytest
from django.urls import reverse

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    IncidentFactory,
    ServiceFactory,
    SourceFactory,
    TimelineEventFactory,
)

pytestmark = pytest.mark.django_db


class TestLoginWall:
    @pytest.mark.parametrize("url", ["/incidents/", "/incidents/INC-2025-0001/"])
    def test_anonymous_is_sent_to_login(self, client, url):
        IncidentFactory()
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")

    def test_root_leads_to_the_list(self, client):
        assert client.get("/")["Location"] == "/incidents/"

    def test_login_page_renders_in_the_apps_style(self, client):
        response = client.get(reverse("login"))
        assert response.status_code == 200
        assert b"css/app.css" in response.content
        assert b'name="password"' in response.content

    def test_wrong_password_says_so_and_keeps_the_username(self, client, reviewer):
        response = client.post(reverse("login"), {"username": "rita", "password": "nope"})
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content
        assert b'value="rita"' in response.content


class TestList:
    def test_lists_what_the_user_may_see(self, client_for, reviewer, outsider, restricted_incident):
        public = IncidentFactory(title="DNS outage")
        page = client_for(outsider).get("/incidents/")
        assert public.key.encode() in page.content
        assert restricted_incident.key.encode() not in page.content
        assert restricted_incident.title.encode() not in page.content
        assert b"1 incident you can see" in page.content

        page = client_for(reviewer).get("/incidents/")
        assert restricted_incident.title.encode() in page.content
        assert b"2 incidents you can see" in page.content

    def test_filters_by_severity_and_search(self, client_for, leader):
        IncidentFactory(title="Checkout latency", severity="SEV3")
        IncidentFactory(title="Checkout outage", severity="SEV1")
        IncidentFactory(title="DNS outage", severity="SEV1")
        client = client_for(leader)
        content = client.get("/incidents/", {"severity": "SEV1", "q": "checkout"}).content
        assert b"Checkout outage" in content
        assert b"Checkout latency" not in content
        assert b"DNS outage" not in content

    def test_bad_filter_value_is_reported_not_ignored(self, client_for, leader):
        IncidentFactory(title="DNS outage")
        response = client_for(leader).get("/incidents/", {"severity": "SEV9"})
        assert response.status_code == 200
        assert b"Select a valid choice" in response.content
        assert b"DNS outage" not in response.content

    def test_query_count_does_not_grow_with_rows(self, client_for, leader, django_assert_num_queries):
        client = client_for(leader)
        service = ServiceFactory(name="checkout")
        for _ in range(3):
            IncidentFactory().services.add(service)
        # Queries, whatever the rows shown (visibility is a subquery, not a query):
        # 1 session, 2 user, 3 count for the paginator, 4 the navigation's review queue (may
        # the user approve, and how many wait: one statement), 5-6 the user's and the
        # groups' permissions (the "New incident" button), 7-8 the filter form's
        # choices (services, regions), 9 the page of incidents (with owner, COE
        # and the AI flag joined), 10 services of those incidents (prefetch)
        with django_assert_num_queries(10):
            client.get("/incidents/")
        for _ in range(10):
            IncidentFactory().services.add(service)
        with django_assert_num_queries(10):
            client.get("/incidents/")


class TestDetail:
    def test_shows_the_record(self, client_for, leader):
        incident = IncidentFactory(title="Agent deleted the environment", attribution_status="disputed")
        TimelineEventFactory(incident=incident, description="Errors begin at the edge")
        AIInvolvementFactory(incident=incident, agent_name="Kiro")
        ClaimFactory(incident=incident, claimant="Vendor", stance="denies", quote="not AI")
        ActionItemFactory(incident=incident, title="Require peer review for prod access")
        content = client_for(leader).get(incident.get_absolute_url()).content.decode()
        for text in [
            "Agent deleted the environment",
            "Errors begin at the edge",
            "Kiro",
            "Disputed",
            "“not AI”",
            "Require peer review for prod access",
            "5 h",
        ]:
            assert text in content, text

    def test_conflicting_times_are_shown_side_by_side(self, client_for, leader):
        incident = IncidentFactory()
        from datetime import timedelta

        TimelineEventFactory(
            incident=incident, moment="cause-identified", source=SourceFactory(publisher="Status page")
        )
        TimelineEventFactory(
            incident=incident,
            moment="cause-identified",
            occurred_at=incident.started_at + timedelta(minutes=12),
            source=SourceFactory(publisher="Summary"),
        )
        content = client_for(leader).get(incident.get_absolute_url()).content.decode()
        assert content.count('class="when conflict"') == 2
        assert "Status page" in content
        assert "Summary" in content

    def test_restricted_incident_is_404_for_an_outsider(self, client_for, outsider, reviewer, restricted_incident):
        assert client_for(outsider).get(restricted_incident.get_absolute_url()).status_code == 404
        assert client_for(reviewer).get(restricted_incident.get_absolute_url()).status_code == 200

    def test_unknown_key_is_404(self, client_for, leader):
        assert client_for(leader).get("/incidents/INC-1999-0001/").status_code == 404

    def test_script_in_user_text_is_not_rendered(self, client_for, leader):
        incident = IncidentFactory(summary="<script>alert(1)</script> **bold** [x](javascript:alert(1))")
        response = client_for(leader).get(incident.get_absolute_url())
        content = response.content.decode()
        assert "<script>alert(1)</script>" not in content
        assert 'href="javascript:' not in content
        assert "<strong>bold</strong>" in content
        assert "script-src 'self'" in response["Content-Security-Policy"]

    def test_query_count_does_not_grow_with_related_rows(self, client_for, leader, django_assert_num_queries):
        incident = IncidentFactory()
        client = client_for(leader)

        def add_rows():
            TimelineEventFactory(incident=incident, source=SourceFactory())
            ClaimFactory(incident=incident)
            ActionItemFactory(incident=incident)
            involvement = AIInvolvementFactory(incident=incident)
            involvement.evidence.add(SourceFactory())
            involvement.citations.create(field="role", source=SourceFactory())

        add_rows()
        # 1 session, 2 user, 3 incident (+owner, team, COE joined; visibility is a subquery),
        # 4-16 prefetches: services, regions, tags, factors, figures (+source), timeline
        # (+source), AI involvements, their evidence, their field citations (+source), claims
        # (+source), action items (+owner, source), controls, sources; 17 the navigation's review
        # queue (may the user approve, and how many wait: one statement, before the page has read
        # the permissions); 18-19 the user's and groups' permissions; 20 similar past incidents,
        # scored in one query
        with django_assert_num_queries(20) as first:
            response = client.get(incident.get_absolute_url())
        # The page's title is the incident alone (the similar incidents once rendered into it too).
        assert f"<title>{incident.key} {incident.title} · COE Tracker</title>" in response.content.decode()
        add_rows()
        add_rows()
        with django_assert_num_queries(len(first.captured_queries)):
            client.get(incident.get_absolute_url())


class TestHealth:
    def test_healthz(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_readyz_reports_each_dependency(self, client):
        response = client.get("/readyz")
        body = response.json()
        assert set(body["checks"]) == {"database", "broker", "cache"}
        assert body["checks"]["database"] == "ok"

    def test_readyz_names_the_broker_that_is_down(self, client, settings):
        # The web tier stays ready (it needs the database); the workers' probe is not (tests/test_hardening.py).
        from coe.celery import app

        original = app.conf.broker_url
        app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
        try:
            response = client.get("/readyz")
            workers = client.get("/readyz/workers")
        finally:
            app.conf.broker_url = original
        assert response.status_code == 200
        assert workers.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("down:")
