"""Creating and editing incidents, and editing their timeline inline (with and without htmx).

The helpers at the top read a page the way a browser would (what a form would
submit, which error sits beside which field); test_coe_pages.py uses them too.
"""

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group

from incidents.models import Incident, TimelineEvent

from .factories import IncidentFactory, TeamFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------
# Reading pages like a browser
# --------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """Collects what the first form whose attributes include `match` would submit."""

    def __init__(self, match: dict[str, str]):
        super().__init__(convert_charrefs=True)
        self.match = match
        self.inside = False
        self.done = False
        self.fields: dict[str, str | list[str]] = {}
        self._textarea: str | None = None
        self._select: dict | None = None

    @staticmethod
    def _matches(attrs: dict, key: str, value: str) -> bool:
        # An empty value asks only that the attribute be there (e.g. novalidate).
        return key in attrs if value == "" else attrs.get(key) == value

    def _add(self, name: str, value: str) -> None:
        # Several checked boxes with one name submit a list, as a browser does.
        if name in self.fields:
            previous = self.fields[name]
            self.fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            self.fields[name] = value

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.done and all(self._matches(attrs, k, v) for k, v in self.match.items()):
            self.inside = True
            return
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "reset", "image"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._add(name, attrs.get("value", "on"))
                return
            self._add(name, attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = {"name": name, "first": None, "selected": None}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["selected"] = value

    def handle_data(self, data):
        if self.inside and self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "textarea" and self._textarea:
            # Browsers drop one newline right after <textarea>, as Django's widget writes one.
            self.fields[self._textarea] = self.fields[self._textarea].removeprefix("\n")
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["selected"] if self._select["selected"] is not None else self._select["first"]
            self._add(self._select["name"], chosen or "")
            self._select = None
        elif tag == "form":
            self.inside, self.done = False, True


def read_form(content: bytes | str, **match: str) -> dict:
    """What submitting the matching form would send, as the page stands."""
    html = content.decode() if isinstance(content, bytes) else content
    reader = _FormReader(match)
    reader.feed(html)
    assert reader.done, f"no form matching {match}"
    return reader.fields


def field_block(content: bytes | str, name: str) -> str:
    """The HTML of the field wrapper holding the control named `name`: its label, input and errors."""
    html = content.decode() if isinstance(content, bytes) else content
    at = html.index(f'name="{name}"')
    start = html.rindex('<div class="field', 0, at)
    end = html.find('<div class="field', at)
    return html[start : end if end != -1 else at + 3000]


# --------------------------------------------------------------------------
# Incident create and edit
# --------------------------------------------------------------------------


def incident_data(**overrides) -> dict:
    data = {
        "title": "DNS outage in us-east-1",
        "summary": "Lookups for the database endpoint failed.",
        "severity": "SEV1",
        "status": "resolved",
        "owner": "",
        "customer_impact": "",
        "primary_cause": "automation_defect",
        "trigger_kind": "",
        "trigger_text": "",
        "harm_level": "none",
        "attribution_status": "undisputed",
        "adopted_cause": "",
        "adopted_cause_rationale": "",
        "access_group": "",
        "times_zone": "America/Los_Angeles",
        "started_local": "2025-10-19T23:48",
        "detected_local": "2025-10-20T00:11",
        "mitigated_local": "2025-10-20T02:24",
        "resolved_local": "2025-10-20T15:01",
        "service_names": "DynamoDB, EC2",
        "region_codes": "us-east-1",
        "tag_names": "dns, Race-Condition",
    }
    data.update(overrides)
    return data


class TestCreate:
    def test_form_renders_for_a_writer(self, client_for, reviewer):
        response = client_for(reviewer).get("/incidents/new/")
        assert response.status_code == 200
        assert b'name="started_local"' in response.content
        assert b'name="times_zone"' in response.content

    def test_valid_create_stores_times_in_the_chosen_zone(self, client_for, reviewer):
        response = client_for(reviewer).post(
            "/incidents/new/", {**incident_data(), "factors": ["latent_bug", "concurrency_race"]}
        )
        incident = Incident.objects.get()
        assert response.status_code == 302
        assert response["Location"] == f"/incidents/{incident.key}/timeline/"
        # 23:48 PDT on Oct 19 is 06:48 UTC on Oct 20, and the key takes the year of the start.
        assert incident.started_at == datetime(2025, 10, 20, 6, 48, tzinfo=UTC)
        assert incident.detected_at == datetime(2025, 10, 20, 7, 11, tzinfo=UTC)
        assert incident.mitigated_at == datetime(2025, 10, 20, 9, 24, tzinfo=UTC)
        assert incident.resolved_at == datetime(2025, 10, 20, 22, 1, tzinfo=UTC)
        assert incident.key == "INC-2025-0001"
        assert sorted(s.name for s in incident.services.all()) == ["DynamoDB", "EC2"]
        assert [r.code for r in incident.regions.all()] == ["us-east-1"]
        assert sorted(t.name for t in incident.tags.all()) == ["dns", "race-condition"]
        assert sorted(f.factor for f in incident.factors.all()) == ["concurrency_race", "latent_bug"]

    def test_the_owning_team_is_chosen_in_the_form(self, client_for, reviewer):
        team = TeamFactory(name="Cost reports")
        client = client_for(reviewer)
        assert b'name="team"' in client.get("/incidents/new/").content
        assert client.post("/incidents/new/", incident_data(team=str(team.pk))).status_code == 302
        assert Incident.objects.get().team == team

    def test_an_unknown_team_is_refused_beside_the_field(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(team="999999"))
        assert response.status_code == 200
        assert "team" in response.context["form"].errors
        assert not Incident.objects.exists()

    def test_detected_before_start_is_shown_beside_the_field(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(detected_local="2025-10-19T22:00"))
        assert response.status_code == 200
        assert not Incident.objects.exists()
        block = field_block(response.content, "detected_local")
        assert "The detection cannot come before the start." in block
        # Everything else typed is still there.
        form = read_form(response.content, novalidate="")
        assert form["title"] == "DNS outage in us-east-1"
        assert form["detected_local"] == "2025-10-19T22:00"
        assert form["service_names"] == "DynamoDB, EC2"
        assert form["times_zone"] == "America/Los_Angeles"

    def test_resolution_before_mitigation_is_shown_beside_the_field(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(resolved_local="2025-10-20T01:00"))
        assert response.status_code == 200
        assert "The resolution cannot come before the mitigation." in field_block(response.content, "resolved_local")

    def test_unknown_zone_is_refused_beside_the_field(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(times_zone="Mars/Olympus_Mons"))
        assert response.status_code == 200
        assert not Incident.objects.exists()
        assert "Select a valid choice" in field_block(response.content, "times_zone")
        assert read_form(response.content, novalidate="")["title"] == "DNS outage in us-east-1"

    def test_missing_title_keeps_the_rest(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(title=""))
        assert response.status_code == 200
        assert "This field is required." in field_block(response.content, "title")
        form = read_form(response.content, novalidate="")
        assert form["summary"] == "Lookups for the database endpoint failed."
        assert form["started_local"] == "2025-10-19T23:48"
        assert form["severity"] == "SEV1"

    def test_unreadable_time_says_how_to_write_it(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(started_local="yesterday evening"))
        assert "Enter a date and time like" in field_block(response.content, "started_local")
        assert read_form(response.content, novalidate="")["started_local"] == "yesterday evening"

    def test_bad_tag_is_refused(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(tag_names="dns, not a tag"))
        assert "Tags are single words" in field_block(response.content, "tag_names")
        assert not Incident.objects.exists()

    def test_adopted_cause_needs_a_rationale(self, client_for, reviewer):
        response = client_for(reviewer).post(
            "/incidents/new/", incident_data(attribution_status="disputed", adopted_cause="change_code")
        )
        assert response.status_code == 200
        assert "Say why this cause was adopted" in field_block(response.content, "adopted_cause_rationale")
        assert read_form(response.content, novalidate="")["adopted_cause"] == "change_code"

    def test_restricted_without_a_group_is_refused_clearly(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(restricted="on"))
        assert response.status_code == 200
        assert not Incident.objects.exists()
        assert "A restricted incident needs a group of people allowed to see it." in field_block(
            response.content, "access_group"
        )
        assert read_form(response.content, novalidate="")["restricted"] == "on"

    def test_restricted_to_a_group_the_author_is_not_in_is_refused(self, client_for, reviewer):
        other = Group.objects.create(name="someone-elses-team")
        response = client_for(reviewer).post(
            "/incidents/new/", incident_data(restricted="on", access_group=str(other.pk))
        )
        assert "Select a valid choice" in field_block(response.content, "access_group")
        assert not Incident.objects.exists()

    def test_restricted_incident_is_hidden_from_outsiders(self, client_for, reviewer, outsider, restricted_group):
        client_for(reviewer).post(
            "/incidents/new/", incident_data(restricted="on", access_group=str(restricted_group.pk))
        )
        incident = Incident.objects.get()
        assert incident.restricted
        assert incident.access_group == restricted_group
        client = client_for(outsider)
        assert client.get(f"/incidents/{incident.key}/").status_code == 404
        assert incident.title.encode() not in client.get("/incidents/").content


class TestEdit:
    def test_form_shows_the_stored_values(self, client_for, reviewer):
        incident = IncidentFactory(title="Checkout down")
        incident.factors.create(factor="latent_bug")
        response = client_for(reviewer).get(f"/incidents/{incident.key}/edit/")
        form = read_form(response.content, novalidate="")
        assert form["title"] == "Checkout down"
        assert form["times_zone"] == "UTC"
        assert form["started_local"] == "2025-10-20T06:48"
        assert form["factors"] == "latent_bug"

    def test_saving_the_form_unchanged_changes_nothing(self, client_for, reviewer):
        incident = IncidentFactory(title="Checkout down")
        client = client_for(reviewer)
        form = read_form(client.get(f"/incidents/{incident.key}/edit/").content, novalidate="")
        response = client.post(f"/incidents/{incident.key}/edit/", form)
        assert response.status_code == 302
        assert response["Location"] == f"/incidents/{incident.key}/"
        fresh = Incident.objects.get(pk=incident.pk)
        assert (fresh.title, fresh.started_at, fresh.resolved_at) == (
            incident.title,
            incident.started_at,
            incident.resolved_at,
        )

    def test_edit_saves_fields_times_and_lists(self, client_for, reviewer):
        incident = IncidentFactory(title="Checkout down")
        key = incident.key
        incident.factors.create(factor="latent_bug")
        response = client_for(reviewer).post(
            f"/incidents/{incident.key}/edit/",
            {
                **incident_data(title="Checkout down for 5 hours", times_zone="Europe/Berlin"),
                "factors": ["retry_storm"],
            },
        )
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.title == "Checkout down for 5 hours"
        # 23:48 in Berlin (CEST, UTC+2) is 21:48 UTC.
        assert incident.started_at == datetime(2025, 10, 19, 21, 48, tzinfo=UTC)
        assert [f.factor for f in incident.factors.all()] == ["retry_storm"]
        assert incident.key == key  # a saved key never changes, even when the start moves

    def test_owner_outside_the_group_can_save_without_unrestricting_it(self, client_for, outsider, restricted_group):
        # olga owns the incident (so she sees it) but is not in its group: the
        # group must still be offered, or saving would force her to drop or change it.
        incident = IncidentFactory(title="Leak", owner=outsider, restricted=True, access_group=restricted_group)
        client = client_for(outsider)
        form = read_form(client.get(f"/incidents/{incident.key}/edit/").content, novalidate="")
        assert form["access_group"] == str(restricted_group.pk)
        form["title"] = "Leak of build credentials"
        response = client.post(f"/incidents/{incident.key}/edit/", form)
        assert response.status_code == 302
        incident.refresh_from_db()
        assert (incident.title, incident.restricted, incident.access_group) == (
            "Leak of build credentials",
            True,
            restricted_group,
        )

    def test_bad_edit_keeps_the_stored_record(self, client_for, reviewer):
        incident = IncidentFactory(title="Checkout down")
        response = client_for(reviewer).post(
            f"/incidents/{incident.key}/edit/", incident_data(title="New title", detected_local="2025-10-19T20:00")
        )
        assert response.status_code == 200
        assert "The detection cannot come before the start." in field_block(response.content, "detected_local")
        assert read_form(response.content, novalidate="")["title"] == "New title"
        incident.refresh_from_db()
        assert incident.title == "Checkout down"


# --------------------------------------------------------------------------
# Timeline editing
# --------------------------------------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def event_data(**overrides) -> dict:
    data = {
        "occurred_local": "2025-10-20T00:11",
        "display_tz": "America/Los_Angeles",
        "precision": "minute",
        "kind": "detection",
        "actor_kind": "automation",
        "description": "Alarm on DNS resolution errors",
        "source": "",
        "moment": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def incident_with_events():
    incident = IncidentFactory()  # starts 2025-10-20 06:48 UTC
    TimelineEventFactory(
        incident=incident,
        kind="start",
        description="Errors begin",
        occurred_at=datetime(2025, 10, 20, 6, 48, tzinfo=UTC),
        display_tz="America/Los_Angeles",
    )
    TimelineEventFactory(
        incident=incident,
        kind="resolution",
        description="All services recovered",
        occurred_at=datetime(2025, 10, 20, 22, 1, tzinfo=UTC),
        display_tz="UTC",
    )
    return incident


def _order(content: bytes, *texts: str) -> list[int]:
    html = content.decode()
    return [html.index(text) for text in texts]


class TestTimeline:
    def test_page_lists_events_in_time_order_in_their_zones(self, client_for, leader, incident_with_events):
        response = client_for(leader).get(f"/incidents/{incident_with_events.key}/timeline/")
        assert response.status_code == 200
        assert b"<html" in response.content
        content = response.content.decode()
        assert "2025-10-19 23:48 PDT" in content
        assert "2025-10-20 22:01 UTC" in content
        positions = _order(response.content, "Errors begin", "All services recovered")
        assert positions == sorted(positions)

    def test_htmx_add_returns_the_panel_with_the_event_in_time_order(self, client_for, reviewer, incident_with_events):
        url = f"/incidents/{incident_with_events.key}/timeline/"
        response = client_for(reviewer).post(url, event_data(), **HTMX)
        assert response.status_code == 200
        assert b"<html" not in response.content
        assert b'id="timeline-panel"' in response.content
        event = TimelineEvent.objects.get(kind="detection")
        assert event.occurred_at == datetime(2025, 10, 20, 7, 11, tzinfo=UTC)
        assert event.display_tz == "America/Los_Angeles"
        assert "2025-10-20 00:11 PDT" in response.content.decode()
        positions = _order(response.content, "Errors begin", "Alarm on DNS resolution errors", "All services recovered")
        assert positions == sorted(positions)
        # The add form is empty again, ready for the next event.
        assert read_form(response.content, id="add-event")["description"] == ""

    def test_plain_add_redirects_back_to_the_page(self, client_for, reviewer, incident_with_events):
        url = f"/incidents/{incident_with_events.key}/timeline/"
        response = client_for(reviewer).post(url, event_data())
        assert response.status_code == 302
        assert response["Location"] == url
        assert TimelineEvent.objects.filter(kind="detection").exists()

    def test_invalid_htmx_add_is_422_with_the_error_and_the_typed_text(
        self, client_for, reviewer, incident_with_events
    ):
        url = f"/incidents/{incident_with_events.key}/timeline/"
        response = client_for(reviewer).post(url, event_data(occurred_local="around midnight"), **HTMX)
        assert response.status_code == 422
        assert b"<html" not in response.content
        assert "Enter a date and time like" in field_block(response.content, "occurred_local")
        form = read_form(response.content, id="add-event")
        assert form["description"] == "Alarm on DNS resolution errors"
        assert form["occurred_local"] == "around midnight"
        assert form["kind"] == "detection"
        assert incident_with_events.timeline.count() == 2

    def test_unknown_zone_is_refused_beside_the_field(self, client_for, reviewer, incident_with_events):
        url = f"/incidents/{incident_with_events.key}/timeline/"
        response = client_for(reviewer).post(url, event_data(display_tz="Mars/Base"), **HTMX)
        assert response.status_code == 422
        assert "Unknown time zone &#x27;Mars/Base&#x27;." in field_block(response.content, "display_tz")
        assert incident_with_events.timeline.count() == 2

    def test_missing_description_is_refused(self, client_for, reviewer, incident_with_events):
        url = f"/incidents/{incident_with_events.key}/timeline/"
        response = client_for(reviewer).post(url, event_data(description=""), **HTMX)
        assert response.status_code == 422
        assert "This field is required." in field_block(response.content, "description")

    def test_edit_form_shows_the_time_in_the_events_zone(self, client_for, reviewer, incident_with_events):
        event = incident_with_events.timeline.get(kind="start")
        response = client_for(reviewer).get(f"/incidents/{incident_with_events.key}/timeline/{event.pk}/", **HTMX)
        assert response.status_code == 200
        assert b"<html" not in response.content
        form = read_form(response.content, **{"aria-label": "Edit event"})
        assert form["occurred_local"] == "2025-10-19T23:48"
        assert form["display_tz"] == "America/Los_Angeles"
        assert form["description"] == "Errors begin"

    def test_htmx_edit_saves_and_returns_the_panel(self, client_for, reviewer, incident_with_events):
        event = incident_with_events.timeline.get(kind="start")
        url = f"/incidents/{incident_with_events.key}/timeline/{event.pk}/"
        response = client_for(reviewer).post(
            url, event_data(kind="start", occurred_local="2025-10-20T08:48", display_tz="Europe/Berlin"), **HTMX
        )
        assert response.status_code == 200
        assert b"<html" not in response.content
        event.refresh_from_db()
        assert event.occurred_at == datetime(2025, 10, 20, 6, 48, tzinfo=UTC)
        assert event.display_tz == "Europe/Berlin"
        assert event.description == "Alarm on DNS resolution errors"
        assert "2025-10-20 08:48 CEST" in response.content.decode()

    def test_invalid_edit_keeps_the_typed_text_and_the_stored_event(self, client_for, reviewer, incident_with_events):
        event = incident_with_events.timeline.get(kind="start")
        url = f"/incidents/{incident_with_events.key}/timeline/{event.pk}/"
        response = client_for(reviewer).post(url, event_data(occurred_local="", description="Retold"), **HTMX)
        assert response.status_code == 422
        assert "This field is required." in field_block(response.content, "occurred_local")
        assert read_form(response.content, **{"aria-label": "Edit event"})["description"] == "Retold"
        event.refresh_from_db()
        assert event.description == "Errors begin"

    def test_plain_edit_redirects(self, client_for, reviewer, incident_with_events):
        event = incident_with_events.timeline.get(kind="start")
        url = f"/incidents/{incident_with_events.key}/timeline/{event.pk}/"
        # The incident's own start: moved to 06:50 UTC, it moves the incident's start, still before its detection.
        response = client_for(reviewer).post(url, event_data(kind="start", occurred_local="2025-10-19T23:50"))
        assert response.status_code == 302
        assert response["Location"] == f"/incidents/{incident_with_events.key}/timeline/"

    def test_htmx_delete_returns_the_panel_without_the_event(self, client_for, reviewer, incident_with_events):
        # The incident's own start cannot be removed (tests/test_time_precision.py); this resolution can.
        event = incident_with_events.timeline.get(kind="resolution")
        response = client_for(reviewer).post(
            f"/incidents/{incident_with_events.key}/timeline/{event.pk}/delete/", **HTMX
        )
        assert response.status_code == 200
        assert b"<html" not in response.content
        assert b"All services recovered" not in response.content
        assert b"Errors begin" in response.content
        assert not TimelineEvent.objects.filter(pk=event.pk).exists()

    def test_event_of_another_incident_is_404(self, client_for, reviewer, incident_with_events):
        other = TimelineEventFactory()
        client = client_for(reviewer)
        base = f"/incidents/{incident_with_events.key}/timeline/{other.pk}/"
        assert client.get(base).status_code == 404
        assert client.post(base, event_data()).status_code == 404
        assert client.post(base + "delete/").status_code == 404
        assert TimelineEvent.objects.filter(pk=other.pk).exists()
