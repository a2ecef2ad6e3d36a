"""Writes over the API, resource by resource: an incident, its timeline, sources, claims, AI involvement,
impact figures, classification and action items.

For each: a write-scope token creates and updates it through the services; an update needs If-Match
(428 without, 412 when stale, nothing changed); a read-only token gets 403; a restricted incident the
token's user may not see is a 404 (never a 403 that would confirm it); a value of the wrong type or an
unknown choice is a 400 naming the field. The whole record made from nothing and read back is
tests/test_api_round_trip.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client

from incidents import services
from incidents.api.conditional import etag_for
from incidents.api.serializers import IncidentDetailSerializer
from incidents.models import (
    ActionItem,
    AIFieldCitation,
    AIInvolvement,
    ApiToken,
    Claim,
    ImpactFigure,
    Incident,
    Source,
    TimelineEvent,
)
from incidents.models import vocab as v

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    ControlFactory,
    IncidentFactory,
    SourceFactory,
    TimelineEventFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def token_for(request):
    """token_for(role, scope) -> a Client sending that person's bearer token of that scope."""

    def make(role: str, scope: str = "write") -> Client:
        _, plain = ApiToken.issue(user=request.getfixturevalue(role), name="tests", scope=scope)
        return Client(headers={"Authorization": f"Bearer {plain}"})

    return make


def send(client: Client, method: str, url: str, body=None, **headers):
    kwargs = {"headers": headers} if headers else {}
    if body is None:
        return client.generic(method, url, **kwargs)
    return client.generic(method, url, json.dumps(body), content_type="application/json", **kwargs)


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status
    return body


def incident_etag(client: Client, incident: Incident) -> str:
    return client.get(f"{API}/incidents/{incident.key}/")["ETag"]


@dataclass(frozen=True)
class Resource:
    """How to reach one kind of record: make an existing one, create one, change it and read it back."""

    create_url: Callable[[Incident], str]
    create_body: Callable[[Source], dict]
    make: Callable[[Incident, Source], object]  # an existing record of the incident
    url: Callable[[object], str]  # its own address (PATCH and DELETE)
    change: dict  # a valid PATCH
    stored: Callable[[object], object]  # what `change` changes, as stored
    bad: tuple[tuple[dict, str], ...]  # (a PATCH of the wrong type or an unknown choice, the field named)
    model: type
    own_etag: bool = False  # action items carry their own ETag; the others take the incident's


def _figure(incident, source):
    return ImpactFigure.objects.create(incident=incident, name="Lost orders", value=Decimal("10"), source=source)


RESOURCES = {
    "timeline event": Resource(
        create_url=lambda i: f"{API}/incidents/{i.key}/timeline/",
        create_body=lambda s: {
            "occurred_at": "2025-10-20T07:10:00Z",
            "kind": "cause_identified",
            "description": "The agent's role is found to hold production write access.",
            "source": s.pk,
            "precision": "minute",
        },
        make=lambda i, s: TimelineEventFactory(incident=i, kind=v.TimelineKind.ENGAGEMENT, source=s),
        url=lambda e: f"{API}/timeline-events/{e.pk}/",
        change={"description": "Paged the on-call."},
        stored=lambda e: TimelineEvent.objects.get(pk=e.pk).description,
        bad=(({"kind": "explosion"}, "kind"), ({"occurred_at": 12}, "occurred_at"), ({"source": "one"}, "source")),
        model=TimelineEvent,
    ),
    "claim": Resource(
        create_url=lambda i: f"{API}/incidents/{i.key}/claims/",
        create_body=lambda s: {
            "source": s.pk,
            "claimant": "Vendor",
            "stance": "denies",
            "claimed_cause": "change_config",
            "statement": "A misconfiguration, not the agent.",
            "quote": "user error",
        },
        make=lambda i, s: ClaimFactory(incident=i, source=s),
        url=lambda c: f"{API}/claims/{c.pk}/",
        change={"stance": "denies"},
        stored=lambda c: Claim.objects.get(pk=c.pk).stance,
        bad=(({"stance": "maybe"}, "stance"), ({"statement": ["a"]}, "statement"), ({"source": 10**9}, "source")),
        model=Claim,
    ),
    "AI involvement": Resource(
        create_url=lambda i: f"{API}/incidents/{i.key}/ai-involvements/",
        create_body=lambda s: {
            "agent_name": "Kiro",
            "role": "executor",
            "autonomy_level": "L4",
            "permissions_inherited": "yes",
            "citations": {"permissions_inherited": s.pk},
            "evidence": [s.pk],
        },
        make=lambda i, s: AIInvolvementFactory(incident=i),
        url=lambda a: f"{API}/ai-involvements/{a.pk}/",
        change={"gate_bypassed": "yes"},
        stored=lambda a: AIInvolvement.objects.get(pk=a.pk).gate_bypassed,
        bad=(
            ({"autonomy_level": "L9"}, "autonomy_level"),
            ({"excessive_autonomy": "very"}, "excessive_autonomy"),
            ({"citations": {"vendor_mood": 1}}, "citations"),
            ({"citations": ["role"]}, "citations"),
        ),
        model=AIInvolvement,
    ),
    "impact figure": Resource(
        create_url=lambda i: f"{API}/incidents/{i.key}/impact-figures/",
        create_body=lambda s: {"name": "Lost orders", "value": "1200.5", "unit": "orders", "source": s.pk},
        make=_figure,
        url=lambda f: f"{API}/impact-figures/{f.pk}/",
        change={"value": "99.25"},
        stored=lambda f: ImpactFigure.objects.get(pk=f.pk).value,
        bad=(({"value": "lots"}, "value"), ({"is_estimate": "perhaps"}, "is_estimate")),
        model=ImpactFigure,
    ),
    "action item": Resource(
        create_url=lambda i: f"{API}/incidents/{i.key}/action-items/",
        create_body=lambda s: {"title": "Gate agent deletes", "action_type": "prevent", "priority": "P1"},
        make=lambda i, s: ActionItemFactory(incident=i),
        url=lambda a: f"{API}/action-items/{a.pk}/",
        change={"priority": "P0"},
        stored=lambda a: ActionItem.objects.get(pk=a.pk).priority,
        bad=(({"priority": "P9"}, "priority"), ({"due_date": 5}, "due_date")),
        model=ActionItem,
        own_etag=True,
    ),
}
NAMES = list(RESOURCES)


@pytest.fixture
def incident(reviewer):
    return IncidentFactory(title="Cost Explorer interrupted", owner=reviewer)


@pytest.fixture
def source():
    return SourceFactory(url="https://aws.example.com/statement", publisher="Vendor", kind=v.SourceKind.VENDOR_PRIMARY)


def _tag(client, resource: Resource, incident: Incident, obj) -> str:
    """The ETag an update of `obj` names: its own, or its incident's."""
    if resource.own_etag:
        return client.get(resource.url(obj))["ETag"]
    return incident_etag(client, incident)


@pytest.mark.parametrize("name", NAMES)
class TestEachResource:
    def test_create(self, token_for, incident, source, name):
        resource = RESOURCES[name]
        client = token_for("reviewer")
        response = send(client, "POST", resource.create_url(incident), resource.create_body(source))
        assert response.status_code == 201, response.content
        created = resource.model.objects.get(incident=incident)
        body = response.json()
        assert body["id"] == created.pk
        # The answer is the record's one output shape, and carries the ETag to write next with.
        assert body == client.get(resource.url(created)).json()
        expected_tag = etag_for(created) if resource.own_etag else incident_etag(client, incident)
        assert response["ETag"] == expected_tag

    def test_update_with_if_match(self, token_for, incident, source, name):
        resource = RESOURCES[name]
        obj = resource.make(incident, source)
        client = token_for("reviewer")
        tag = _tag(client, resource, incident, obj)
        response = send(client, "PATCH", resource.url(obj), resource.change, **{"If-Match": tag})
        assert response.status_code == 200, response.content
        ((_, wanted),) = resource.change.items()
        assert str(resource.stored(obj)) == str(wanted)
        assert response["ETag"] != tag
        assert response["ETag"] == _tag(client, resource, incident, obj)

    def test_a_stale_if_match_is_412_and_changes_nothing(self, token_for, incident, source, name, approver):
        resource = RESOURCES[name]
        obj = resource.make(incident, source)
        client = token_for("reviewer")
        tag = _tag(client, resource, incident, obj)
        # A colleague changes the incident (or the item) in between.
        if resource.own_etag:
            services.action_item_update(item=obj, data={"title": "Renamed"}, user=approver)
        else:
            services.incident_update(user=approver, incident=incident, data={"summary": "Rewritten."})
        before = resource.stored(obj)
        response = send(client, "PATCH", resource.url(obj), resource.change, **{"If-Match": tag})
        assert error(response, 412)["code"] == "precondition_failed"
        assert resource.stored(obj) == before
        deleted = send(client, "DELETE", resource.url(obj), **{"If-Match": tag})
        assert error(deleted, 412)["code"] == "precondition_failed"
        assert resource.model.objects.filter(pk=obj.pk).exists()

    def test_without_if_match_is_428(self, token_for, incident, source, name):
        resource = RESOURCES[name]
        obj = resource.make(incident, source)
        before = resource.stored(obj)
        client = token_for("reviewer")
        assert error(send(client, "PATCH", resource.url(obj), resource.change), 428)["code"] == "precondition_required"
        assert error(send(client, "DELETE", resource.url(obj)), 428)["code"] == "precondition_required"
        assert resource.stored(obj) == before

    def test_delete_with_if_match(self, token_for, incident, source, name):
        resource = RESOURCES[name]
        obj = resource.make(incident, source)
        client = token_for("reviewer")
        response = send(client, "DELETE", resource.url(obj), **{"If-Match": _tag(client, resource, incident, obj)})
        assert response.status_code == 204, response.content
        assert not resource.model.objects.filter(pk=obj.pk).exists()
        if not resource.own_etag:
            assert response["ETag"] == incident_etag(client, incident)

    def test_a_read_only_token_is_403(self, token_for, incident, source, name):
        resource = RESOURCES[name]
        obj = resource.make(incident, source)
        client = token_for("reviewer", scope="read")
        tag = {"If-Match": "*"}
        assert error(send(client, "POST", resource.create_url(incident), resource.create_body(source)), 403)
        assert error(send(client, "PATCH", resource.url(obj), resource.change, **tag), 403)
        assert error(send(client, "DELETE", resource.url(obj), **tag), 403)
        assert resource.model.objects.filter(incident=incident).count() == 1

    def test_a_restricted_incident_is_404_to_whoever_may_not_see_it(self, token_for, restricted_incident, source, name):
        resource = RESOURCES[name]
        obj = resource.make(restricted_incident, source)
        before = resource.stored(obj)
        client = token_for("outsider")  # a reviewer, outside the incident's group
        tag = {"If-Match": "*"}
        for response in (
            send(client, "POST", resource.create_url(restricted_incident), resource.create_body(source), **tag),
            send(client, "PATCH", resource.url(obj), resource.change, **tag),
            send(client, "DELETE", resource.url(obj), **tag),
        ):
            assert error(response, 404)["code"] == "not_found"
        assert resource.stored(obj) == before
        assert resource.model.objects.filter(incident=restricted_incident).count() == 1
        # The same requests by a member of the group are answered.
        member = token_for("reviewer")
        created = send(member, "POST", resource.create_url(restricted_incident), resource.create_body(source))
        assert created.status_code == 201, created.content

    def test_wrong_types_and_unknown_choices_are_400_naming_the_field(self, token_for, incident, source, name):
        resource = RESOURCES[name]
        obj = resource.make(incident, source)
        before = resource.stored(obj)
        client = token_for("reviewer")
        for body, field in resource.bad:
            response = send(client, "PATCH", resource.url(obj), body, **{"If-Match": "*"})
            problem = error(response, 400)
            assert field in problem["fields"], (body, problem)
            create = send(client, "POST", resource.create_url(incident), {**resource.create_body(source), **body})
            assert field in error(create, 400)["fields"], (body, create.content)
        assert resource.stored(obj) == before
        assert resource.model.objects.filter(incident=incident).count() == 1


class TestIncident:
    BODY = {"title": "Payments down", "severity": "SEV2", "started_at": "2025-11-01T10:00:00Z"}

    def test_create_and_update_with_if_match(self, token_for):
        client = token_for("reviewer")
        created = send(client, "POST", f"{API}/incidents/", self.BODY)
        assert created.status_code == 201, created.content
        url = f"{API}/incidents/{created.json()['key']}/"
        changed = send(client, "PATCH", url, {"summary": "Card payments failed."}, **{"If-Match": created["ETag"]})
        assert changed.status_code == 200, changed.content
        assert changed.json()["summary"] == "Card payments failed."
        assert changed["ETag"] == client.get(url)["ETag"] != created["ETag"]
        stale = send(client, "PATCH", url, {"summary": "Mine."}, **{"If-Match": created["ETag"]})
        assert error(stale, 412)["code"] == "precondition_failed"
        assert error(send(client, "PATCH", url, {"summary": "Mine."}), 428)["code"] == "precondition_required"
        assert Incident.objects.get().summary == "Card payments failed."

    def test_a_change_to_any_part_makes_the_incidents_etag_stale(self, token_for, incident, source, reviewer):
        # The ETag stands for the whole detail: a claim added through the pages' service counts too.
        client = token_for("reviewer")
        tag = incident_etag(client, incident)
        data = {"source": source, "claimant": "Press", "stance": "asserts", "statement": "An agent did it."}
        services.claim_create(user=reviewer, incident=incident, data=data)
        url = f"{API}/incidents/{incident.key}/"
        assert error(send(client, "PATCH", url, {"summary": "x"}, **{"If-Match": tag}), 412)
        assert client.get(url)["ETag"] != tag

    def test_classification(self, token_for, incident):
        client = token_for("reviewer")
        body = {
            "primary_cause": "automation_defect",
            "trigger_kind": "agent_action",
            "trigger_text": "The agent deleted and recreated the environment.",
            "harm_level": "event",
            "contributing_factors": ["excessive_permissions", "no_two_person_review"],
            "attribution_status": "disputed",
            "adopted_cause": "access_control",
            "adopted_cause_rationale": "Both sources agree the role held production write access.",
        }
        url = f"{API}/incidents/{incident.key}/"
        response = send(client, "PATCH", url, body, **{"If-Match": incident_etag(client, incident)})
        assert response.status_code == 200, response.content
        read = client.get(url).json()
        for field, value in body.items():
            got = sorted(read[field]) if isinstance(value, list) else read[field]
            assert got == (sorted(value) if isinstance(value, list) else value), field

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"severity": "SEV9"}, "severity"),
            ({"primary_cause": "human_error"}, "primary_cause"),
            ({"contributing_factors": "retry_storm"}, "contributing_factors"),
            ({"restricted": "sometimes"}, "restricted"),
            ({"started_at": 20251101}, "started_at"),
            ({"adopted_cause": "change_code"}, "adopted_cause_rationale"),
        ],
    )
    def test_bad_values_are_400_naming_the_field(self, token_for, incident, body, field):
        client = token_for("reviewer")
        url = f"{API}/incidents/{incident.key}/"
        response = send(client, "PATCH", url, body, **{"If-Match": incident_etag(client, incident)})
        assert field in error(response, 400)["fields"]

    def test_read_only_token_and_hidden_incident(self, token_for, incident, restricted_incident):
        reader = token_for("reviewer", scope="read")
        assert error(send(reader, "POST", f"{API}/incidents/", self.BODY), 403)
        url = f"{API}/incidents/{incident.key}/"
        assert error(send(reader, "PATCH", url, {"summary": "x"}, **{"If-Match": "*"}), 403)
        outsider = token_for("outsider")
        hidden = f"{API}/incidents/{restricted_incident.key}/"
        assert error(send(outsider, "PATCH", hidden, {"summary": "x"}, **{"If-Match": "*"}), 404)
        assert Incident.objects.get(pk=restricted_incident.pk).summary == restricted_incident.summary


class TestSources:
    def test_link_reuses_a_recorded_address_and_unlinks_with_if_match(self, token_for, incident, source):
        client = token_for("reviewer")
        url = f"{API}/incidents/{incident.key}/sources/"
        new = {
            "url": "https://press.example.com/agent",
            "title": "Agent deleted production",
            "publisher": "Press",
            "kind": "press",
            "published_on": "2025-12-11",
        }
        created = send(client, "POST", url, new)
        assert created.status_code == 201, created.content
        assert created["ETag"] == incident_etag(client, incident)
        reused = send(client, "POST", url, {"url": source.url, "note": "Read in full."})
        assert reused.status_code == 201, reused.content
        assert reused.json()["id"] == source.pk
        assert Source.objects.get(pk=source.pk).note == "Read in full."
        detail = client.get(f"{API}/incidents/{incident.key}/").json()
        assert {s["url"] for s in detail["sources"]} == {new["url"], source.url}

        unlink = f"{url}{created.json()['id']}/"
        assert error(send(client, "DELETE", unlink), 428)
        assert error(send(client, "DELETE", unlink, **{"If-Match": '"stale"'}), 412)
        response = send(client, "DELETE", unlink, **{"If-Match": incident_etag(client, incident)})
        assert response.status_code == 204, response.content
        assert list(incident.sources.all()) == [source]

    def test_a_cited_source_cannot_be_unlinked(self, token_for, incident, source):
        client = token_for("reviewer")
        ClaimFactory(incident=incident, source=source)
        incident.sources.add(source)
        unlink = f"{API}/incidents/{incident.key}/sources/{source.pk}/"
        response = send(client, "DELETE", unlink, **{"If-Match": incident_etag(client, incident)})
        assert "source" in error(response, 400)["fields"]
        assert list(incident.sources.all()) == [source]

    @pytest.mark.parametrize(
        ("body", "field"),
        [({"url": "not a url"}, "url"), ({"url": "https://x.example/a", "kind": "rumour"}, "kind"), ({}, "url")],
    )
    def test_bad_sources_are_400_naming_the_field(self, token_for, incident, body, field):
        response = send(token_for("reviewer"), "POST", f"{API}/incidents/{incident.key}/sources/", body)
        assert field in error(response, 400)["fields"]
        assert not incident.sources.exists()

    def test_read_only_token_and_hidden_incident(self, token_for, restricted_incident, source):
        body = {"url": "https://press.example.com/x", "title": "T", "publisher": "P", "kind": "press"}
        reader = token_for("reviewer", scope="read")
        assert error(send(reader, "POST", f"{API}/incidents/{restricted_incident.key}/sources/", body), 403)
        outsider = token_for("outsider")
        assert error(send(outsider, "POST", f"{API}/incidents/{restricted_incident.key}/sources/", body), 404)
        restricted_incident.sources.add(source)
        unlink = f"{API}/incidents/{restricted_incident.key}/sources/{source.pk}/"
        assert error(send(outsider, "DELETE", unlink, **{"If-Match": "*"}), 404)
        assert list(restricted_incident.sources.all()) == [source]

    def test_a_source_only_a_hidden_incident_cites_cannot_be_cited(self, token_for, incident, restricted_incident):
        # Citing it would show its title to everyone who reads this incident.
        secret = SourceFactory(title="Payments ledger wiped by an agent")
        ClaimFactory(incident=restricted_incident, source=secret)
        body = {"source": secret.pk, "claimant": "X", "stance": "asserts", "statement": "S"}
        response = send(token_for("outsider"), "POST", f"{API}/incidents/{incident.key}/claims/", body)
        assert error(response, 400)["fields"]["source"] == [f"No source with id {secret.pk}."]
        assert error(
            send(token_for("outsider"), "POST", f"{API}/incidents/{incident.key}/claims/", {**body, "source": 10**9}),
            400,
        )["fields"]["source"] == [f"No source with id {10**9}."]


class TestAIInvolvementCitations:
    def test_citations_by_source_id_are_stored_and_read_back(self, token_for, incident, source):
        client = token_for("reviewer")
        other = SourceFactory()
        body = {
            "agent_name": "Kiro",
            "role": "executor",
            "citations": {"permissions_inherited": source.pk, "role": other.pk},
        }
        created = send(client, "POST", f"{API}/incidents/{incident.key}/ai-involvements/", body)
        assert created.status_code == 201, created.content
        ai = AIInvolvement.objects.get()
        assert dict(AIFieldCitation.objects.filter(involvement=ai).values_list("field", "source")) == {
            "permissions_inherited": source.pk,
            "role": other.pk,
        }
        assert created.json()["citations"] == {"permissions_inherited": source.pk, "role": other.pk}
        # A citation given replaces that field's; null removes it; the others stay.
        url = f"{API}/ai-involvements/{ai.pk}/"
        changed = send(client, "PATCH", url, {"citations": {"role": None}}, **{"If-Match": created["ETag"]})
        assert changed.status_code == 200, changed.content
        assert changed.json()["citations"] == {"permissions_inherited": source.pk}
        detail = client.get(f"{API}/incidents/{incident.key}/").json()
        assert detail["ai_involvements"][0]["citations"] == {"permissions_inherited": source.pk}
        assert source.pk in {s["id"] for s in detail["sources"]}


@pytest.mark.parametrize("name", NAMES)
def test_options_describes_each_write_endpoint(token_for, incident, source, name):
    resource = RESOURCES[name]
    client = token_for("reviewer")
    obj = resource.make(incident, source)
    for url in (resource.create_url(incident), resource.url(obj), f"{API}/incidents/{incident.key}/sources/"):
        assert client.options(url).status_code == 200, url


def test_the_detail_lists_every_source_the_incidents_records_cite(token_for, incident):
    # Written by either path: a timeline event and an action item cite sources the incident does not list.
    listed, by_event, by_item, by_duration = (SourceFactory(publisher=f"P{n}") for n in range(4))
    incident.sources.add(listed)
    TimelineEventFactory(incident=incident, source=by_event)
    ActionItemFactory(incident=incident, source=by_item)
    Incident.objects.filter(pk=incident.pk).update(reported_duration_source=by_duration)
    SourceFactory()  # cited by nothing
    client = token_for("reviewer")
    body = client.get(f"{API}/incidents/{incident.key}/").json()
    assert {s["id"] for s in body["sources"]} == {listed.pk, by_event.pk, by_item.pk, by_duration.pk}
    # The schema's description of the detail says the same.
    request = client.get(f"{API}/incidents/").wsgi_request
    described = IncidentDetailSerializer(Incident.objects.get(pk=incident.pk), context={"request": request})
    assert [s["id"] for s in described.data["sources"]] == [s["id"] for s in body["sources"]]


class TestControls:
    def test_set_with_if_match_and_read_back(self, token_for, incident):
        client = token_for("reviewer")
        first, second = ControlFactory(), ControlFactory()
        url = f"{API}/incidents/{incident.key}/controls/"
        tag = incident_etag(client, incident)
        assert error(send(client, "PUT", url, {"controls": [first.pk]}), 428)
        response = send(client, "PUT", url, {"controls": [second.pk, first.pk]}, **{"If-Match": tag})
        assert response.status_code == 200, response.content
        assert response.json() == {"controls": sorted([first.pk, second.pk])}
        assert response["ETag"] == incident_etag(client, incident) != tag
        assert client.get(f"{API}/incidents/{incident.key}/").json()["controls"] == sorted([first.pk, second.pk])
        stale = send(client, "PUT", url, {"controls": []}, **{"If-Match": tag})
        assert error(stale, 412)["code"] == "precondition_failed"
        assert set(incident.controls.all()) == {first, second}

    @pytest.mark.parametrize(
        ("body", "field"), [({"controls": [10**9]}, "controls"), ({"controls": "all"}, "controls"), ({}, "controls")]
    )
    def test_bad_values_are_400_naming_the_field(self, token_for, incident, body, field):
        client = token_for("reviewer")
        url = f"{API}/incidents/{incident.key}/controls/"
        response = send(client, "PUT", url, body, **{"If-Match": incident_etag(client, incident)})
        assert field in error(response, 400)["fields"]

    def test_read_only_token_and_hidden_incident(self, token_for, restricted_incident):
        control = ControlFactory()
        url = f"{API}/incidents/{restricted_incident.key}/controls/"
        body, tag = {"controls": [control.pk]}, {"If-Match": "*"}
        assert error(send(token_for("reviewer", scope="read"), "PUT", url, body, **tag), 403)
        assert error(send(token_for("outsider"), "PUT", url, body, **tag), 404)
        assert not restricted_incident.controls.exists()
