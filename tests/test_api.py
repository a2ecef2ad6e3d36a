"""The REST API at /api/v1/: who may call what, filters, the feed, ETags, CSV, errors.

Tokens themselves (issuing, hashing, revoking, expiry) are in test_api_tokens.py;
the schema is fuzzed in test_api_schema.py.
"""

import base64
import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.core.cache import cache
from django.db.models import Prefetch
from django.test import Client
from django.urls import re_path
from django.utils import timezone
from rest_framework import throttling
from rest_framework.renderers import JSONRenderer

from coe.urls import urlpatterns as site_urlpatterns
from incidents import services
from incidents.api.conditional import etag_for
from incidents.api.pagination import IncidentCursorPagination
from incidents.api.serializers import ActionItemSerializer, IncidentDetailSerializer, IncidentListSerializer
from incidents.api.views import NotFoundView
from incidents.models import (
    ActionItem,
    ApiToken,
    Claim,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    IncidentFactor,
    Region,
    Source,
    Tag,
    TimelineEvent,
    TokenScope,
)
from incidents.models import vocab as v

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
    UserFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
T0 = datetime(2025, 10, 20, 6, 48, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_and_fresh(settings):
    # Users are made by the dozen here: a fast hasher keeps that cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Throttle counts live in the cache; one test must not use up another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(request):
    """api(role, auth) -> a Client.

    role: a user fixture name ("reviewer", "approver", "leader", "outsider") or
    "anonymous"; auth: "read" or "write" (a bearer token of that scope) or "session".
    """

    def make(role: str, auth: str = "read") -> Client:
        if role == "anonymous":
            return Client()
        user = request.getfixturevalue(role)
        if auth == "session":
            client = Client()
            client.force_login(user)
            return client
        _, plain = ApiToken.issue(user=user, name="tests", scope=auth)
        return Client(headers={"Authorization": f"Bearer {plain}"})

    return make


def send(client: Client, method: str, url: str, body=None, **headers):
    kwargs = {"headers": headers} if headers else {}
    if body is None:
        return client.generic(method, url, **kwargs)
    return client.generic(method, url, json.dumps(body), content_type="application/json", **kwargs)


def fresh(obj) -> dict:
    """The If-Match header naming `obj`'s current ETag, as a tool that has just read it sends."""
    obj.refresh_from_db()
    return {"If-Match": etag_for(obj)}


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def keys(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["key"] for row in response.json()["results"]]


def error(response, status: int) -> dict:
    """The error body, after checking the shape every error shares."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert {"status", "code", "detail"} <= set(body["error"]) <= {"status", "code", "detail", "fields"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["detail"], str)
    return body["error"]


@pytest.fixture
def world(restricted_incident):
    """A public incident with every part, and a restricted one with the same parts.

    Everything belonging to the restricted incident says SECRET, so a test can
    check that none of it leaks.
    """
    source = SourceFactory(title="Postmortem", publisher="Vendor")
    public = IncidentFactory(
        title="Checkout outage",
        summary="Orders failed.",
        severity=v.Severity.SEV1,
        attribution_status=v.AttributionStatus.DISPUTED,
        adopted_cause=v.PrimaryCause.AUTOMATION_DEFECT,
        adopted_cause_rationale="The vendor's correction is the better evidence.",
    )
    public.services.add(ServiceFactory(name="checkout"))
    public.regions.add(Region.objects.create(code="us-east-1"))
    public.sources.add(source)
    public.factors.create(factor=v.ContributingFactor.RETRY_STORM)
    ImpactFigure.objects.create(incident=public, name="Lost orders", value=Decimal("1200"), unit="orders")
    timeline = TimelineEventFactory(incident=public, description="Errors begin.")
    AIInvolvementFactory(incident=public, agent_name="Kiro", autonomy_level=v.AutonomyLevel.L4).evidence.add(source)
    claim = ClaimFactory(incident=public, source=source, statement="An agent ran the change.")
    coe = CoeDocumentFactory(incident=public, summary="What happened.")
    item = ActionItemFactory(incident=public, title="Add a guard")

    restricted_incident.title = "SECRET credential leak"
    restricted_incident.save()
    secret_source = SourceFactory(title="Internal memo")
    TimelineEventFactory(incident=restricted_incident, description="SECRET key found")
    secret_claim = ClaimFactory(incident=restricted_incident, source=secret_source, statement="SECRET claim")
    secret_coe = CoeDocumentFactory(incident=restricted_incident, summary="SECRET summary")
    secret_item = ActionItemFactory(incident=restricted_incident, title="SECRET rotate keys")
    secret_timeline = restricted_incident.timeline.get()
    control = ControlFactory(name="Two-person rule for prod")
    control.incidents.add(public, restricted_incident)
    control.sources.add(source)
    return {
        "public": public,
        "restricted": restricted_incident,
        "source": source,
        "timeline": timeline,
        "claim": claim,
        "coe": coe,
        "item": item,
        "control": control,
        "secret_timeline": secret_timeline,
        "secret_claim": secret_claim,
        "secret_coe": secret_coe,
        "secret_item": secret_item,
    }


def read_urls(world) -> dict[str, str]:
    public = world["public"]
    return {
        "incidents": f"{API}/incidents/",
        "incident": f"{API}/incidents/{public.key}/",
        "incidents csv": f"{API}/incidents/?format=csv",
        "timeline events": f"{API}/timeline-events/",
        "timeline event": f"{API}/timeline-events/{world['timeline'].pk}/",
        "action items": f"{API}/action-items/",
        "action item": f"{API}/action-items/{world['item'].pk}/",
        "action items csv": f"{API}/action-items/?format=csv",
        "coes": f"{API}/coes/",
        "coe": f"{API}/coes/{public.key}/",
        "sources": f"{API}/sources/",
        "source": f"{API}/sources/{world['source'].pk}/",
        "claims": f"{API}/claims/",
        "claim": f"{API}/claims/{world['claim'].pk}/",
        "controls": f"{API}/controls/",
        "control": f"{API}/controls/{world['control'].pk}/",
        "feed": f"{API}/feed/",
        "vocabularies": f"{API}/vocabularies/",
        "metrics": f"{API}/metrics/",
    }


READ_ENDPOINTS = [
    "incidents",
    "incident",
    "incidents csv",
    "timeline events",
    "timeline event",
    "action items",
    "action item",
    "action items csv",
    "coes",
    "coe",
    "sources",
    "source",
    "claims",
    "claim",
    "controls",
    "control",
    "feed",
    "vocabularies",
    "metrics",
]

# Who reads: nobody without credentials; every signed-in role, by token of
# either scope or by session.
READERS = [
    ("anonymous", None, 401),
    ("reviewer", "read", 200),
    ("reviewer", "write", 200),
    ("reviewer", "session", 200),
    ("approver", "read", 200),
    ("leader", "read", 200),
    ("leader", "write", 200),
    ("leader", "session", 200),
    ("outsider", "read", 200),
]


def serializable_detail(pk: int) -> Incident:
    """The incident as IncidentDetailSerializer reads it (the schema's description of the detail):
    its parts prefetched in the order detail.py's single query gives them (lists that could tie end
    on id)."""
    by_date = ("published_on", "publisher", "id")
    return (
        Incident.objects.with_ai_flag()
        .select_related("coe", "owner")
        .prefetch_related(
            "services",
            "regions",
            "tags",
            Prefetch("factors", queryset=IncidentFactor.objects.order_by("id")),
            "impact_figures",
            "ai_involvements",
            Prefetch("ai_involvements__evidence", queryset=Source.objects.order_by(*by_date)),
            Prefetch("claims", queryset=Claim.objects.select_related("source", "incident")),
            Prefetch("sources", queryset=Source.objects.order_by(*by_date)),
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("incident")),
        )
        .get(pk=pk)
    )


class TestReads:
    @pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
    @pytest.mark.parametrize(("role", "auth", "expected"), READERS)
    def test_matrix(self, api, world, endpoint, role, auth, expected):
        response = api(role, auth).get(read_urls(world)[endpoint])
        assert response.status_code == expected, response.content
        if expected == 401:
            assert error(response, 401)["code"] == "not_authenticated"
            assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_the_incident_detail_has_the_whole_record(self, api, world):
        public = world["public"]
        response = api("leader").get(f"{API}/incidents/{public.key}/")
        body = response.json()
        assert body["key"] == public.key
        assert (body["severity"], body["status"], body["primary_cause"]) == ("SEV1", "resolved", "change_config")
        assert body["contributing_factors"] == ["retry_storm"]
        assert body["services"] == ["checkout"]
        assert body["regions"] == ["us-east-1"]
        assert body["time_to_detect_seconds"] == 20 * 60
        assert body["time_to_resolve_seconds"] == 5 * 3600
        assert body["ai_involved"] is True
        [ai] = body["ai_involvements"]
        assert (ai["agent_name"], ai["autonomy_level"], ai["cset_autonomy"]) == ("Kiro", "L4", "Autonomy2")
        assert ai["evidence"] == [world["source"].pk]
        assert body["impact_figures"] == [
            {
                "id": ImpactFigure.objects.get(incident=public).pk,
                "name": "Lost orders",
                "value": "1200.00",
                "unit": "orders",
                "is_estimate": False,
                "as_of": None,
                "note": "",
                "source_id": None,
                "basis": "reported",
            }
        ]
        assert [e["description"] for e in body["timeline"]] == ["Errors begin."]
        assert [s["title"] for s in body["sources"]] == ["Postmortem"]
        [claim] = body["claims"]
        assert claim["statement"] == "An agent ran the change."
        assert claim["source"]["id"] == world["source"].pk
        assert body["attribution_status"] == "disputed"
        assert body["adopted_cause"] == "automation_defect"
        assert body["adopted_cause_rationale"].startswith("The vendor's correction")
        assert body["coe_status"] == "draft"
        assert body["links"]["html"].endswith(f"/incidents/{public.key}/")
        assert response["ETag"] == etag_for(public)

    def test_the_links_lead_to_the_coe_and_the_action_items(self, api, world):
        client = api("leader")
        links = client.get(f"{API}/incidents/{world['public'].key}/").json()["links"]
        coe = client.get(links["coe"])
        assert coe.json()["summary"] == "What happened."
        items = client.get(links["action_items"]).json()["results"]
        assert [i["title"] for i in items] == ["Add a guard"]

    def test_an_incident_without_a_coe_links_to_none(self, api, world):
        incident = IncidentFactory()
        assert api("leader").get(f"{API}/incidents/{incident.key}/").json()["links"]["coe"] is None

    def test_the_list_is_the_short_shape(self, api, world):
        row = api("leader").get(f"{API}/incidents/", {"search": "checkout"}).json()["results"][0]
        assert set(row) == set(IncidentListSerializer.Meta.fields)
        assert row["url"].endswith(f"/api/v1/incidents/{world['public'].key}/")

    @pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
    @pytest.mark.parametrize("path", ["/incidents/", "/feed/"])
    def test_the_list_rows_are_the_serializers_json(self, api, world, settings, zone, path):
        # The list is built from plain rows for speed (api/rows.py); the serializer still
        # describes it (schema, CSV). Every row must be the serializer's JSON, key order included.
        settings.TIME_ZONE = zone
        bare = IncidentFactory(detected_at=None, mitigated_at=None, resolved_at=None)
        many = IncidentFactory(started_at=timezone.now().replace(microsecond=123456))
        many.services.add(ServiceFactory(name="zeta"), ServiceFactory(name="alpha"))
        many.regions.add(Region.objects.create(code="us-west-2"), Region.objects.create(code="eu-west-1"))
        AIInvolvementFactory(incident=many)
        CoeDocumentFactory(incident=many)
        client = api("leader")
        results = client.get(API + path, {"page_size": 200}).json()["results"]
        request = client.get(f"{API}/incidents/").wsgi_request
        expected = Incident.objects.visible_to(request.user).with_ai_flag()
        expected = {i.key: i for i in expected.select_related("coe").prefetch_related("services", "regions")}
        assert {row["key"] for row in results} == set(expected) >= {bare.key, many.key}
        for row in results:
            serialized = IncidentListSerializer(expected[row["key"]], context={"request": request}).data
            assert list(row.items()) == list(json.loads(JSONRenderer().render(serialized)).items())
        shaped = {row["key"]: row for row in results}
        assert shaped[many.key]["services"] == ["alpha", "zeta"]
        assert shaped[bare.key]["time_to_resolve_seconds"] is None
        assert (shaped[many.key]["started_at"].endswith("Z")) == (zone == "UTC")

    @pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
    def test_the_detail_is_the_serializers_json(self, api, world, settings, zone, leader):
        # The detail is one query shaped by hand (api/detail.py); it must be IncidentDetailSerializer's
        # JSON over the view's prefetches (model instances), key order and list orders included.
        settings.TIME_ZONE = zone
        at = T0.replace(microsecond=123456)
        full = IncidentFactory(
            started_at=at,
            detected_at=at + timedelta(minutes=3, microseconds=1),
            mitigated_at=None,
            resolved_at=at + timedelta(days=2, hours=1),
            reported_duration=timedelta(hours=13, seconds=1, microseconds=999999),
            owner=leader,
            customer_impact="Carts emptied.",
            trigger_kind=v.TriggerKind.AGENT_ACTION,
            trigger_text="An agent deleted the environment.",
            time_precision=v.TimePrecision.HOUR,
        )
        full.services.add(ServiceFactory(name="zeta"), ServiceFactory(name="alpha"))
        full.regions.add(Region.objects.create(code="us-west-2"), Region.objects.create(code="eu-west-1"))
        full.tags.add(Tag.objects.create(name="outage"), Tag.objects.create(name="agents"))
        full.factors.create(factor=v.ContributingFactor.NO_TWO_PERSON_REVIEW)
        full.factors.create(factor=v.ContributingFactor.EXCESSIVE_PERMISSIONS)
        # Sources that tie on (published_on, publisher), one undated, one with more text.
        undated = SourceFactory(publisher="Zed", published_on=None, note="Read via a secondary.")
        tie_b, tie_a = (SourceFactory(publisher="Same", published_on=date(2025, 10, 21)) for _ in range(2))
        early = SourceFactory(publisher="Wire", published_on=date(2025, 10, 20), published_approx=True)
        full.sources.add(undated, tie_b, early, tie_a)
        for name, value, as_of, source in [
            ("Lost orders", Decimal("1200"), None, early),
            ("Lost orders", Decimal("1187.5"), at + timedelta(hours=1), None),
            ("Downdetector reports", Decimal("-0.25"), at.replace(microsecond=0), tie_a),
            ("Lost orders", Decimal("99999999.99"), at + timedelta(hours=1), undated),
        ]:
            ImpactFigure.objects.create(
                incident=full, name=name, value=value, unit="orders", as_of=as_of, source=source
            )
        for minutes, kind in [
            (30, v.TimelineKind.MITIGATION),
            (0, v.TimelineKind.START),
            (30, v.TimelineKind.DETECTION),
        ]:
            TimelineEventFactory(
                incident=full,
                occurred_at=at + timedelta(minutes=minutes),
                kind=kind,
                display_tz="America/Los_Angeles",
                moment=f"m{minutes}",
                actor_kind=v.ActorKind.AI_AGENT,
                source=early,
            )
        TimelineEventFactory(incident=full, occurred_at=at - timedelta(seconds=1, microseconds=5), description="Ü")
        AIInvolvementFactory(incident=full, autonomy_level=v.AutonomyLevel.L5).evidence.add(undated, tie_a, tie_b)
        AIInvolvementFactory(incident=full, autonomy_level="", excessive_permissions=True)
        for source in (undated, tie_b, early):
            ClaimFactory(incident=full, source=source, quote="“verbatim”", claimed_cause=v.PrimaryCause.CHANGE_CONFIG)
        CoeDocumentFactory(incident=full)
        bare = IncidentFactory(detected_at=None, mitigated_at=None, resolved_at=None)

        client = api("leader")
        request = client.get(f"{API}/incidents/").wsgi_request
        for incident in (full, bare, world["public"], world["restricted"]):
            response = client.get(f"{API}/incidents/{incident.key}/")
            assert response.status_code == 200, response.content
            expected = serializable_detail(incident.pk)
            serialized = IncidentDetailSerializer(expected, context={"request": request}).data
            assert list(response.json().items()) == list(json.loads(JSONRenderer().render(serialized)).items())
            assert response["ETag"] == etag_for(expected)
        body = client.get(f"{API}/incidents/{full.key}/").json()
        assert sorted(f["value"] for f in body["impact_figures"]) == ["-0.25", "1187.50", "1200.00", "99999999.99"]
        # Sources by date (undated last), ties by id.
        by_date = [early.pk, tie_b.pk, tie_a.pk, undated.pk]
        assert [s["id"] for s in body["sources"]] == by_date
        assert body["ai_involvements"][0]["evidence"] == [pk for pk in by_date if pk != early.pk]
        assert [ai["cset_autonomy"] for ai in body["ai_involvements"]] == ["Autonomy1", None]
        assert body["reported_duration_seconds"] == 13 * 3600 + 1
        assert body["timeline"][0]["occurred_at"].endswith(".123451Z" if zone == "UTC" else ".123451+02:00")
        assert body["tags"] == ["agents", "outage"]
        assert body["owner"] == leader.username
        assert api("outsider").get(f"{API}/incidents/{world['restricted'].key}/").status_code == 404

    def test_vocabularies(self, api):
        body = api("leader").get(f"{API}/vocabularies/").json()
        assert {"value": "SEV1", "label": "SEV1 (critical)"} in body["severity"]
        assert "human_error" not in [c["value"] for c in body["primary_cause"]]
        assert body["autonomy_to_cset"]["L5"] == "Autonomy1"

    @pytest.mark.parametrize(
        ("url", "code"),
        [
            ("/incidents/INC-1999-0001/", 404),
            ("/action-items/999999/", 404),
            ("/coes/INC-1999-0001/", 404),
            ("/claims/999999/", 404),
            ("/controls/999999/", 404),
        ],
    )
    def test_unknown_objects_are_404_in_the_error_shape(self, api, url, code):
        assert error(api("leader").get(API + url), code)["code"] == "not_found"


# --- Writes --------------------------------------------------------------

NEW_INCIDENT = {
    "title": "Payments degraded",
    "severity": "SEV2",
    "started_at": "2025-11-01T10:00:00Z",
    "detected_at": "2025-11-01T10:05:00Z",
    "primary_cause": "capacity_overload",
    "contributing_factors": ["retry_storm", "no_rate_limit"],
    "services": ["payments"],
    "regions": ["eu-west-1"],
    "tags": ["Retry"],
}
# PUT needs the required fields; optional ones it leaves out keep their values,
# so a replacement names every time to stay consistent with the ones stored.
REPLACEMENT = {**NEW_INCIDENT, "mitigated_at": "2025-11-01T11:00:00Z", "resolved_at": "2025-11-01T12:00:00Z"}


def _write(world, name):
    """(method, url, body, headers, changed?) for each write the API offers."""
    public, item, coe = world["public"], world["item"], world["coe"]
    return {
        "create incident": ("POST", f"{API}/incidents/", NEW_INCIDENT, {}),
        "replace incident": (
            "PUT",
            f"{API}/incidents/{public.key}/",
            {**REPLACEMENT, "title": "Replaced"},
            {"If-Match": etag_for(public)},
        ),
        "edit incident": (
            "PATCH",
            f"{API}/incidents/{public.key}/",
            {"summary": "Edited."},
            {"If-Match": etag_for(public)},
        ),
        "edit action item": (
            "PATCH",
            f"{API}/action-items/{item.pk}/",
            {"priority": "P0"},
            {"If-Match": etag_for(item)},
        ),
        "close action item": ("POST", f"{API}/action-items/{item.pk}/close/", None, {}),
        "edit coe": ("PATCH", f"{API}/coes/{public.key}/", {"summary": "Edited."}, {"If-Match": etag_for(coe)}),
    }[name]


def _state(world) -> tuple:
    """Everything the writes above could change."""
    public = Incident.objects.get(pk=world["public"].pk)
    item = ActionItem.objects.get(pk=world["item"].pk)
    coe = CoeDocument.objects.get(pk=world["coe"].pk)
    return (Incident.objects.count(), public.title, public.summary, item.priority, item.status, coe.summary)


WRITES = ["create incident", "replace incident", "edit incident", "edit action item", "close action item", "edit coe"]
WRITE_OK = {"POST": 201, "PUT": 200, "PATCH": 200}

# Who writes: reviewers and approvers by write token or session; nobody by a
# read token; leadership never (no add/change permission), whatever the token.
WRITERS = [
    ("anonymous", None, 401),
    ("reviewer", "write", "ok"),
    ("reviewer", "session", "ok"),
    ("approver", "write", "ok"),
    ("outsider", "write", "ok"),
    ("reviewer", "read", 403),
    ("approver", "read", 403),
    ("leader", "read", 403),
    ("leader", "write", 403),
    ("leader", "session", 403),
]


class TestWrites:
    @pytest.mark.parametrize("write", WRITES)
    @pytest.mark.parametrize(("role", "auth", "expected"), WRITERS)
    def test_matrix(self, api, world, write, role, auth, expected):
        method, url, body, headers = _write(world, write)
        before = _state(world)
        response = send(api(role, auth), method, url, body, **headers)
        if expected == "ok":
            ok = 200 if write == "close action item" else WRITE_OK[method]
            assert response.status_code == ok, response.content
            assert _state(world) != before
        else:
            assert error(response, expected)["code"] in {"not_authenticated", "permission_denied"}
            assert _state(world) == before

    def test_create(self, api, reviewer):
        response = send(api("reviewer", "write"), "POST", f"{API}/incidents/", NEW_INCIDENT)
        assert response.status_code == 201, response.content
        body = response.json()
        incident = Incident.objects.get()
        assert body["key"] == incident.key == "INC-2025-0001"
        assert response["ETag"] == etag_for(incident)
        assert incident.owner == reviewer
        assert body["status"] == "investigating"
        assert sorted(body["contributing_factors"]) == ["no_rate_limit", "retry_storm"]
        assert (body["services"], body["regions"], body["tags"]) == (["payments"], ["eu-west-1"], ["retry"])
        assert body["time_to_detect_seconds"] == 300

    def test_patch_changes_only_what_is_sent(self, api, world):
        public = world["public"]
        response = send(
            api("reviewer", "write"), "PATCH", f"{API}/incidents/{public.key}/", {"status": "closed"}, **fresh(public)
        )
        assert response.status_code == 200
        public.refresh_from_db()
        assert (public.status, public.title, public.severity) == ("closed", "Checkout outage", "SEV1")
        assert list(public.services.values_list("name", flat=True)) == ["checkout"]

    def test_put_replaces_the_lists(self, api, world):
        public = world["public"]
        body = {**REPLACEMENT, "contributing_factors": ["latent_bug"], "services": []}
        response = send(api("reviewer", "write"), "PUT", f"{API}/incidents/{public.key}/", body, **fresh(public))
        assert response.status_code == 200, response.content
        public.refresh_from_db()
        assert list(public.factors.values_list("factor", flat=True)) == ["latent_bug"]
        assert not public.services.exists()

    def test_restricting_needs_a_group_the_writer_is_in(self, api, world, restricted_group):
        client = api("reviewer", "write")
        url = f"{API}/incidents/{world['public'].key}/"
        tag = fresh(world["public"])  # the refusals change nothing, so it stays current
        assert "access_group" in error(send(client, "PATCH", url, {"restricted": True}, **tag), 400)["fields"]
        refused = send(client, "PATCH", url, {"restricted": True, "access_group": "admins"}, **tag)
        assert "access_group" in error(refused, 400)["fields"]
        ok = send(client, "PATCH", url, {"restricted": True, "access_group": restricted_group.name}, **tag)
        assert ok.status_code == 200
        assert ok.json()["restricted"] is True
        assert api("outsider").get(url).status_code == 404


class TestActionItems:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("PATCH", "", {"status": "done"}),
            ("POST", "close/", None),
        ],
    )
    def test_closing(self, api, world, method, path, body):
        item = world["item"]
        before = timezone.now()
        response = send(api("reviewer", "write"), method, f"{API}/action-items/{item.pk}/{path}", body, **fresh(item))
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "done"
        item.refresh_from_db()
        assert item.status == v.ActionStatus.DONE
        assert before <= item.completed_at <= timezone.now()
        assert response.json()["completed_at"] is not None

    @pytest.mark.parametrize("status", ["wont_do", "verified"])
    def test_close_with_another_closing_status(self, api, world, status, approver):
        item = world["item"]
        if status == "verified":
            # Someone else closed it first: the two-person rule (tests/test_verify_two_person.py).
            services.action_item_update(item=item, data={"status": "done"}, user=approver)
        response = api("reviewer", "write").post(f"{API}/action-items/{item.pk}/close/?status={status}")
        assert response.status_code == 200
        item.refresh_from_db()
        assert item.status == status
        assert item.completed_at is not None

    def test_close_refuses_an_open_status(self, api, world):
        item = world["item"]
        response = api("reviewer", "write").post(f"{API}/action-items/{item.pk}/close/?status=open")
        assert "status" in error(response, 400)["fields"]
        item.refresh_from_db()
        assert item.status == v.ActionStatus.OPEN

    def test_reopening_clears_the_completion_time(self, api, world):
        item = world["item"]
        client = api("reviewer", "write")
        client.post(f"{API}/action-items/{item.pk}/close/")
        response = send(client, "PATCH", f"{API}/action-items/{item.pk}/", {"status": "in_progress"}, **fresh(item))
        assert response.json()["completed_at"] is None
        item.refresh_from_db()
        assert (item.status, item.completed_at) == ("in_progress", None)

    def test_edit_fields_and_owner(self, api, world, approver):
        item = world["item"]
        body = {"title": "Guard the deploy", "owner": "arun", "due_date": "2026-03-01", "ticket_url": ""}
        response = send(api("reviewer", "write"), "PATCH", f"{API}/action-items/{item.pk}/", body, **fresh(item))
        assert response.status_code == 200, response.content
        item.refresh_from_db()
        assert (item.title, item.owner, item.due_date) == ("Guard the deploy", approver, date(2026, 3, 1))
        assert response["ETag"] == etag_for(item)

    def test_unknown_owner_is_a_field_error(self, api, world):
        url = f"{API}/action-items/{world['item'].pk}/"
        response = send(api("reviewer", "write"), "PATCH", url, {"owner": "x"}, **fresh(world["item"]))
        assert error(response, 400)["fields"] == {"owner": ["No user named 'x'."]}


# --- ETags and If-Match ---------------------------------------------------


class TestConcurrency:
    def test_details_carry_an_etag(self, api, world):
        client = api("leader")
        public = world["public"]
        assert client.get(f"{API}/incidents/{public.key}/")["ETag"] == etag_for(public)
        assert client.get(f"{API}/coes/{public.key}/")["ETag"] == f'"coe-{world["coe"].pk}-v1"'
        assert client.get(f"{API}/action-items/{world['item'].pk}/")["ETag"] == etag_for(world["item"])

    @pytest.mark.parametrize(
        ("kind", "body"),
        [("incident", {"summary": "Mine."}), ("action item", {"priority": "P0"}), ("coe", {"summary": "Mine."})],
    )
    def test_the_right_if_match_saves_and_returns_a_new_etag(self, api, world, kind, body):
        client = api("reviewer", "write")
        url = {
            "incident": f"{API}/incidents/{world['public'].key}/",
            "action item": f"{API}/action-items/{world['item'].pk}/",
            "coe": f"{API}/coes/{world['public'].key}/",
        }[kind]
        etag = client.get(url)["ETag"]
        response = send(client, "PATCH", url, body, **{"If-Match": etag})
        assert response.status_code == 200, response.content
        assert response["ETag"] != etag
        assert client.get(url)["ETag"] == response["ETag"]
        # The old ETag is now stale.
        again = send(client, "PATCH", url, body, **{"If-Match": etag})
        assert error(again, 412)["code"] == "precondition_failed"

    @pytest.mark.parametrize(
        ("kind", "body"),
        [
            ("incident", {"summary": "Mine."}),
            ("replace incident", REPLACEMENT),
            ("action item", {"priority": "P0"}),
            ("coe", {"summary": "Mine."}),
        ],
    )
    def test_a_stale_if_match_is_412_and_changes_nothing(self, api, world, kind, body):
        client = api("reviewer", "write")
        method = "PUT" if kind == "replace incident" else "PATCH"
        url = {
            "incident": f"{API}/incidents/{world['public'].key}/",
            "replace incident": f"{API}/incidents/{world['public'].key}/",
            "action item": f"{API}/action-items/{world['item'].pk}/",
            "coe": f"{API}/coes/{world['public'].key}/",
        }[kind]
        etag = client.get(url)["ETag"]
        # A colleague saves in between.
        other = send(api("approver", "write"), "PATCH", url, body, **{"If-Match": etag})
        assert other.status_code == 200
        before = _state(world)
        response = send(client, method, url, body, **{"If-Match": etag})
        assert error(response, 412)["code"] == "precondition_failed"
        assert _state(world) == before

    def test_a_stale_if_match_is_412_even_with_invalid_data(self, api, world):
        url = f"{API}/incidents/{world['public'].key}/"
        response = send(api("reviewer", "write"), "PATCH", url, {"severity": "SEV9"}, **{"If-Match": '"stale"'})
        assert response.status_code == 412

    def test_a_coe_write_without_if_match_is_428(self, api, world):
        response = send(api("reviewer", "write"), "PATCH", f"{API}/coes/{world['public'].key}/", {"summary": "x"})
        assert error(response, 428)["code"] == "precondition_required"
        assert CoeDocument.objects.get(pk=world["coe"].pk).summary == "What happened."

    def test_incident_and_action_item_updates_need_if_match(self, api, world):
        # A lost update loses a colleague's change (tests/test_api_writes.py covers each part).
        client = api("reviewer", "write")
        before = _state(world)
        for url, body in [
            (f"{API}/incidents/{world['public'].key}/", {"summary": "x"}),
            (f"{API}/action-items/{world['item'].pk}/", {"priority": "P0"}),
        ]:
            assert error(send(client, "PATCH", url, body), 428)["code"] == "precondition_required"
        assert _state(world) == before

    @pytest.mark.parametrize("header", ["*", 'W/"{etag}"', '"nope", "{etag}"'])
    def test_if_match_forms(self, api, world, header):
        coe = world["coe"]
        response = send(
            api("reviewer", "write"),
            "PATCH",
            f"{API}/coes/{world['public'].key}/",
            {"summary": "Saved."},
            **{"If-Match": header.format(etag=etag_for(coe).strip('"'))},
        )
        assert response.status_code == 200, response.content

    def test_the_coe_save_records_the_version_and_the_author(self, api, world, reviewer):
        coe = world["coe"]
        response = send(
            api("reviewer", "write"),
            "PATCH",
            f"{API}/coes/{world['public'].key}/",
            {"root_cause": "No guard.", "whys": [{"cause": "Deleted table", "links": ["Why 1", "Why 2"]}]},
            **{"If-Match": etag_for(coe)},
        )
        body = response.json()
        assert (body["version"], body["root_cause"], body["authors"]) == (2, "No guard.", ["rita"])
        assert body["whys"] == [{"cause": "Deleted table", "links": ["Why 1", "Why 2"]}]
        assert response["ETag"] == f'"coe-{coe.pk}-v2"'

    @pytest.mark.parametrize("status", ["in_review", "approved", "published"])
    def test_only_a_draft_coe_is_written(self, api, world, status):
        coe = world["coe"]
        CoeDocument.objects.filter(pk=coe.pk).update(status=status)
        coe.refresh_from_db()
        response = send(
            api("reviewer", "write"),
            "PATCH",
            f"{API}/coes/{world['public'].key}/",
            {"summary": "Late edit."},
            **{"If-Match": etag_for(coe)},
        )
        assert error(response, 409)["code"] == "conflict"
        assert CoeDocument.objects.get(pk=coe.pk).summary == "What happened."


# --- The restricted-incident rule ------------------------------------------

# Lists in which the restricted incident, or anything of it, could appear.
LISTS = [
    "incidents",
    "incidents csv",
    "timeline events",
    "action items",
    "action items csv",
    "coes",
    "claims",
    "controls",
    "control",
    "feed",
]


def _secret_details(world) -> dict[str, str]:
    restricted = world["restricted"]
    return {
        "incident": f"{API}/incidents/{restricted.key}/",
        "timeline event": f"{API}/timeline-events/{world['secret_timeline'].pk}/",
        "action item": f"{API}/action-items/{world['secret_item'].pk}/",
        "coe": f"{API}/coes/{restricted.key}/",
        "claim": f"{API}/claims/{world['secret_claim'].pk}/",
    }


def _content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


class TestRestrictedIncidents:
    def test_the_incident_detail_needs_no_object_permission_check(self):
        # IncidentViewSet.retrieve leaves check_object_permissions() out: visibility decides who reads an
        # incident. A permission class with a rule per object would be skipped there, so there is none.
        from rest_framework.permissions import BasePermission

        from incidents.api.views import IncidentViewSet

        for permission in IncidentViewSet.permission_classes:
            assert permission.has_object_permission is BasePermission.has_object_permission, permission

    @pytest.mark.parametrize("endpoint", LISTS)
    def test_never_in_an_outsiders_lists(self, api, world, endpoint):
        url = read_urls(world)[endpoint]
        outsider = _content(api("outsider").get(url))
        member = _content(api("reviewer").get(url))
        restricted = world["restricted"]
        assert "SECRET" not in outsider
        assert restricted.key not in outsider
        assert restricted.key in member
        if endpoint not in ("controls", "control"):
            assert "SECRET" in member

    @pytest.mark.parametrize("endpoint", ["incident", "timeline event", "action item", "coe", "claim"])
    @pytest.mark.parametrize(("role", "expected"), [("outsider", 404), ("reviewer", 200), ("leader", 200)])
    def test_details_are_404_outside_the_group(self, api, world, endpoint, role, expected):
        response = api(role).get(_secret_details(world)[endpoint])
        assert response.status_code == expected
        if expected == 404:
            assert "SECRET" not in response.content.decode()
            assert error(response, 404)["code"] == "not_found"

    @pytest.mark.parametrize(
        "params",
        [
            {"search": "SECRET"},
            {"search": "credential"},
            {"q": "leak"},
            {"search": "<its key>"},
            {"severity": "SEV2"},
            {"ai_involved": "false"},
            {"updated_since": "2000-01-01T00:00:00Z"},
        ],
    )
    def test_not_found_by_search_or_filters(self, api, world, params):
        # Its key is opaque (RST-…), numbered apart from the public ones (tests/test_incident_keys.py).
        assert world["restricted"].key.startswith("RST-2025-")
        params = {name: world["restricted"].key if value == "<its key>" else value for name, value in params.items()}
        assert world["restricted"].key not in keys(api("outsider").get(f"{API}/incidents/", params))
        assert world["restricted"].key in keys(api("reviewer").get(f"{API}/incidents/", params))

    def test_not_counted_in_metrics(self, api, world):
        assert api("outsider").get(f"{API}/metrics/").json()["incidents_total"] == 1
        assert api("reviewer").get(f"{API}/metrics/").json()["incidents_total"] == 2

    def test_a_controls_incidents_leave_it_out(self, api, world):
        url = f"{API}/controls/{world['control'].pk}/"
        assert api("outsider").get(url).json()["incidents"] == [world["public"].key]
        assert sorted(api("reviewer").get(url).json()["incidents"]) == sorted(
            [world["public"].key, world["restricted"].key]
        )

    @pytest.mark.parametrize(
        ("method", "endpoint", "body"),
        [
            ("PATCH", "incident", {"title": "Mine now"}),
            ("PUT", "incident", REPLACEMENT),
            ("PATCH", "action item", {"status": "done"}),
            ("POST", "close", None),
            ("PATCH", "coe", {"summary": "Mine now"}),
        ],
    )
    def test_an_outsider_cannot_write_to_it(self, api, world, method, endpoint, body):
        urls = _secret_details(world)
        urls["close"] = urls["action item"] + "close/"
        headers = {"If-Match": "*"}
        response = send(api("outsider", "write"), method, urls[endpoint], body, **headers)
        assert error(response, 404)["code"] == "not_found"
        restricted = Incident.objects.get(pk=world["restricted"].pk)
        assert restricted.title == "SECRET credential leak"
        assert ActionItem.objects.get(pk=world["secret_item"].pk).status == v.ActionStatus.OPEN
        assert CoeDocument.objects.get(pk=world["secret_coe"].pk).summary == "SECRET summary"


# --- Filters, search, ordering, pages ---------------------------------------


@pytest.fixture
def three():
    """Three incidents that differ in every filterable way."""
    checkout, dns = ServiceFactory(name="checkout"), ServiceFactory(name="dns")
    us, eu = Region.objects.create(code="us-east-1"), Region.objects.create(code="eu-west-1")
    a = IncidentFactory(
        title="Checkout outage",
        severity="SEV1",
        status="resolved",
        primary_cause="change_config",
        attribution_status="disputed",
        started_at=datetime(2025, 1, 10, tzinfo=UTC),
    )
    a.services.add(checkout)
    a.regions.add(us)
    a.factors.create(factor="retry_storm")
    AIInvolvementFactory(incident=a, autonomy_level="L4")
    b = IncidentFactory(
        title="DNS latency",
        summary="The resolver fleet ran hot.",
        severity="SEV2",
        status="investigating",
        primary_cause="dependency_failure",
        started_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    b.services.add(dns)
    b.regions.add(eu)
    c = IncidentFactory(
        title="Agent deleted table",
        severity="SEV1",
        status="closed",
        primary_cause="automation_defect",
        attribution_status="vendor_corrected",
        started_at=datetime(2025, 11, 1, tzinfo=UTC),
    )
    c.services.add(checkout)
    c.regions.add(eu)
    c.factors.create(factor="excessive_permissions")
    AIInvolvementFactory(incident=c, autonomy_level="L5")
    CoeDocumentFactory(incident=c, summary="Prod data lost.", root_cause="Missing two-person review.")
    for n, incident in enumerate((a, b, c)):
        Incident.objects.filter(pk=incident.pk).update(updated_at=datetime(2026, 1, 1 + n, tzinfo=UTC))
    return {"A": a, "B": b, "C": c}


INCIDENT_FILTERS = [
    ({"severity": "SEV1"}, "AC"),
    ({"severity": ["SEV1", "SEV2"]}, "ABC"),
    ({"status": "investigating"}, "B"),
    ({"status": ["resolved", "closed"]}, "AC"),
    ({"service": "checkout"}, "AC"),
    ({"region": "eu-west-1"}, "BC"),
    ({"primary_cause": "automation_defect"}, "C"),
    ({"contributing_factor": "retry_storm"}, "A"),
    ({"ai_involved": "true"}, "AC"),
    ({"ai_involved": "false"}, "B"),
    ({"autonomy_level": "L5"}, "C"),
    ({"attribution_status": "disputed"}, "A"),
    ({"started_after": "2025-05-01T00:00:00Z"}, "BC"),
    ({"started_before": "2025-05-01T00:00:00Z"}, "A"),
    ({"started_after": "2025-05-01T00:00:00Z", "started_before": "2025-07-01T00:00:00+02:00"}, "B"),
    ({"updated_since": "2026-01-02T00:00:00Z"}, "BC"),
    ({"updated_since": "2030-01-01T00:00:00Z"}, ""),
    ({"search": "checkout"}, "A"),
    ({"search": "resolver"}, "B"),
    ({"search": "two-person"}, "C"),
    ({"search": "AGENT table"}, "C"),
    ({"search": "INC-2025-0002"}, "B"),
    ({"search": "nothing-matches"}, ""),
    ({"severity": "SEV1", "service": "checkout", "ai_involved": "true", "region": "us-east-1"}, "A"),
]


def _letters(three, found: list[str]) -> str:
    by_key = {incident.key: letter for letter, incident in three.items()}
    return "".join(sorted(by_key[key] for key in found))


class TestIncidentFilters:
    @pytest.mark.parametrize(("params", "expected"), INCIDENT_FILTERS)
    def test_list(self, api, three, params, expected):
        assert _letters(three, keys(api("leader").get(f"{API}/incidents/", params))) == expected

    @pytest.mark.parametrize(("params", "expected"), INCIDENT_FILTERS)
    def test_feed(self, api, three, params, expected):
        assert _letters(three, keys(api("leader").get(f"{API}/feed/", params))) == expected

    @pytest.mark.parametrize(("params", "expected"), INCIDENT_FILTERS)
    def test_csv(self, api, three, params, expected):
        rows = csv_rows(api("leader").get(f"{API}/incidents/", {**params, "format": "csv"}))
        assert _letters(three, [row["key"] for row in rows]) == expected

    @pytest.mark.parametrize(
        ("ordering", "expected"),
        [
            (None, "CBA"),
            ("started_at", "ABC"),
            ("-started_at", "CBA"),
            ("key", "ABC"),
            ("-key", "CBA"),
            ("updated_at", "ABC"),
            ("severity,-started_at", "CAB"),
            ("-severity,started_at", "BAC"),
        ],
    )
    def test_ordering(self, api, three, ordering, expected):
        params = {"ordering": ordering} if ordering else {}
        found = keys(api("leader").get(f"{API}/incidents/", params))
        by_key = {incident.key: letter for letter, incident in three.items()}
        assert "".join(by_key[k] for k in found) == expected

    @pytest.mark.parametrize("ordering", ["title", "-summary", "owner__username", "severity,nope", "?"])
    def test_unknown_ordering_is_400(self, api, three, ordering):
        response = api("leader").get(f"{API}/incidents/", {"ordering": ordering})
        assert "ordering" in error(response, 400)["fields"]


class TestActionItemFilters:
    @pytest.fixture
    def items(self, reviewer, approver):
        today = timezone.localdate()
        a = ActionItemFactory(title="Overdue guard", owner=reviewer, priority="P0", due_date=today - timedelta(days=3))
        b = ActionItemFactory(
            title="Later alarm",
            owner=approver,
            action_type="detect",
            priority="P2",
            status="in_progress",
            due_date=today + timedelta(days=30),
        )
        c = ActionItemFactory(title="Done runbook", owner=reviewer, action_type="process", due_date=None)
        c.close()
        c.save()
        ActionItem.objects.filter(pk=c.pk).update(updated_at=datetime(2030, 1, 1, tzinfo=UTC))
        return {"A": a, "B": b, "C": c}

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({}, "ABC"),
            ({"incident": "INC-2025-0001"}, "A"),
            ({"status": "done"}, "C"),
            ({"status": ["open", "in_progress"]}, "AB"),
            ({"open": "true"}, "AB"),
            ({"open": "false"}, "C"),
            ({"overdue": "true"}, "A"),
            ({"overdue": "false"}, "BC"),
            ({"priority": "P0"}, "A"),
            ({"action_type": "detect"}, "B"),
            ({"owner": "rita"}, "AC"),
            ({"due_before": str(date.today() + timedelta(days=1))}, "A"),
            ({"updated_since": "2029-12-31T00:00:00Z"}, "C"),
        ],
    )
    def test_filters(self, api, items, params, expected):
        by_pk = {item.pk: letter for letter, item in items.items()}
        found = api("leader").get(f"{API}/action-items/", params).json()["results"]
        assert "".join(sorted(by_pk[row["id"]] for row in found)) == expected
        rows = csv_rows(api("leader").get(f"{API}/action-items/", {**params, "format": "csv"}))
        assert "".join(sorted(by_pk[int(row["id"])] for row in rows)) == expected

    def test_default_order_is_by_due_date_with_undated_last(self, api, items):
        found = api("leader").get(f"{API}/action-items/").json()["results"]
        assert [row["title"] for row in found] == ["Overdue guard", "Later alarm", "Done runbook"]

    @pytest.mark.parametrize("ordering", ["due_date", "-due_date", "priority", "-updated_at"])
    def test_pages_of_one_cover_every_item_once(self, api, items, ordering):
        """Paging with a cursor works even across items without a due date."""
        client = api("leader")
        seen = []
        url = f"{API}/action-items/?page_size=1&ordering={ordering}"
        while url:
            body = client.get(url).json()
            seen += [row["id"] for row in body["results"]]
            url = body["next"]
        assert sorted(seen) == sorted(item.pk for item in items.values())
        assert len(seen) == 3


class TestOtherFilters:
    def test_child_lists_filter_by_their_fields(self, api, world):
        client = api("leader")
        assert client.get(f"{API}/timeline-events/", {"kind": "start"}).json()["results"]
        assert not client.get(f"{API}/timeline-events/", {"kind": "detection"}).json()["results"]
        assert client.get(f"{API}/claims/", {"stance": "asserts"}).json()["results"]
        assert not client.get(f"{API}/claims/", {"stance": "denies"}).json()["results"]
        assert client.get(f"{API}/coes/", {"status": "draft"}).json()["results"]
        assert not client.get(f"{API}/coes/", {"status": "published"}).json()["results"]
        assert client.get(f"{API}/controls/", {"disputed": "false"}).json()["results"]
        assert not client.get(f"{API}/controls/", {"disputed": "true"}).json()["results"]
        assert client.get(f"{API}/sources/", {"kind": "press"}).json()["results"]
        assert not client.get(f"{API}/sources/", {"kind": "analyst"}).json()["results"]

    @pytest.mark.parametrize(
        ("url", "ordering", "field"),
        [
            ("/sources/", "-id", "id"),
            ("/sources/", "published_on", "id"),
            ("/controls/", "-name", "name"),
            ("/timeline-events/", "-occurred_at", "occurred_at"),
        ],
    )
    def test_ordering_is_honoured_on_every_list(self, api, url, ordering, field):
        for n in range(3):
            SourceFactory(published_on=date(2025, 1, 3 - n) if n else None)
            ControlFactory(name=f"Control {n}")
            TimelineEventFactory(occurred_at=T0 + timedelta(hours=n))
        client = api("leader")
        forward = [row[field] for row in client.get(API + url, {"ordering": ordering}).json()["results"]]
        backward = [row[field] for row in client.get(API + url, {"ordering": ordering.lstrip("-")}).json()["results"]]
        if ordering.startswith("-"):
            assert forward == list(reversed(backward))
        assert len(forward) == 3


class TestPages:
    def test_page_size_over_the_maximum_is_capped(self, api):
        Incident.objects.bulk_create(
            Incident(key=f"INC-2024-{n:04d}", title=f"Old {n}", severity="SEV4", started_at=T0 - timedelta(days=n))
            for n in range(1, 206)
        )
        client = api("leader")
        assert IncidentCursorPagination.max_page_size == 200
        body = client.get(f"{API}/incidents/", {"page_size": 100000}).json()
        assert len(body["results"]) == 200
        rest = client.get(body["next"]).json()
        assert len(rest["results"]) == 5
        assert rest["next"] is None
        assert len(client.get(f"{API}/incidents/").json()["results"]) == 50

    @pytest.mark.parametrize("page_size", ["0", "-1", "abc", "1.5", ""])
    def test_a_nonsense_page_size_falls_back_to_the_default(self, api, page_size):
        IncidentFactory.create_batch(2)
        response = api("leader").get(f"{API}/incidents/", {"page_size": page_size})
        assert len(response.json()["results"]) == 2

    @pytest.mark.parametrize("ordering", [None, "severity", "-severity", "key", "started_at"])
    def test_following_next_visits_every_row_once(self, api, ordering):
        # Equal severities and start times make ties across page boundaries.
        for n in range(7):
            IncidentFactory(severity=f"SEV{1 + n % 2}", started_at=T0 + timedelta(days=n // 3))
        client = api("leader")
        params = "?page_size=2" + (f"&ordering={ordering}" if ordering else "")
        url, seen = f"{API}/incidents/{params}", []
        while url:
            body = client.get(url).json()
            seen += [row["key"] for row in body["results"]]
            url = body["next"]
        assert len(seen) == len(set(seen)) == 7

    def test_previous_leads_back(self, api):
        # All five share a start time: DRF's own cursor lost the way back here.
        IncidentFactory.create_batch(5)
        client = api("leader")
        first = client.get(f"{API}/incidents/?page_size=2").json()
        second = client.get(first["next"]).json()
        third = client.get(second["next"]).json()
        assert third["next"] is None
        back = client.get(third["previous"]).json()
        assert back["results"] == second["results"]
        assert client.get(back["previous"]).json()["results"] == first["results"]
        assert client.get(back["previous"]).json()["previous"] is None

    def test_rows_inserted_into_a_tie_are_not_repeated(self, api):
        # Equal start times: a new row that sorts into the tie before the cursor
        # must not push a row already seen onto the next page.
        first_rows = IncidentFactory.create_batch(4)
        client = api("leader")
        page = client.get(f"{API}/incidents/?page_size=2").json()
        seen = [row["key"] for row in page["results"]]
        IncidentFactory()  # same start time, highest id: sorts first under -started_at, -id
        while page["next"]:
            page = client.get(page["next"]).json()
            seen += [row["key"] for row in page["results"]]
        assert sorted(seen) == sorted(i.key for i in first_rows)
        assert len(seen) == len(set(seen))

    def test_a_cursor_belongs_to_its_ordering(self, api):
        IncidentFactory.create_batch(3)
        client = api("leader")
        cursor = client.get(f"{API}/incidents/?page_size=1&ordering=key").json()["next"].split("cursor=")[1]
        cursor = cursor.split("&")[0]
        response = client.get(f"{API}/incidents/", {"cursor": unquote(cursor), "ordering": "severity"})
        assert "cursor" in error(response, 400)["fields"]

    @pytest.mark.parametrize(
        "payload",
        [
            {"o": ["-started_at", "-id"], "p": ["0001-01-01T00:00:00+05:00", 1]},
            {"o": ["-started_at", "-id"], "p": ["2025-01-01T00:00:00", 1]},
            {"o": ["-started_at", "-id"], "p": ["2025-01-01T00:00:00+00:00"]},
            {"o": ["-started_at", "-id"], "p": ["2025-01-01T00:00:00+00:00", "x"]},
            {"o": ["-started_at", "-id"], "p": [{"a": 1}, 1]},
            {"o": ["-started_at", "-id"], "p": "2025"},
            ["not", "a", "cursor"],
        ],
    )
    def test_forged_cursors_are_400(self, api, payload):
        IncidentFactory()
        cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        response = api("leader").get(f"{API}/incidents/", {"cursor": cursor})
        assert "cursor" in error(response, 400)["fields"]

    def test_undated_sources_page_like_the_rest(self, api):
        for n in range(4):
            SourceFactory(published_on=date(2025, 1, 1 + n) if n % 2 else None)
        client = api("leader")
        for ordering in ("published_on", "-published_on"):
            url, seen = f"{API}/sources/?page_size=1&ordering={ordering}", []
            while url:
                body = client.get(url).json()
                seen += [row["id"] for row in body["results"]]
                url = body["next"]
            assert len(seen) == len(set(seen)) == 4


class TestFeed:
    @pytest.fixture
    def five(self):
        incidents = IncidentFactory.create_batch(5)
        for n, incident in enumerate(incidents):
            Incident.objects.filter(pk=incident.pk).update(updated_at=datetime(2026, 1, 1, n, tzinfo=UTC))
        return incidents

    def test_oldest_change_first(self, api, five):
        assert keys(api("leader").get(f"{API}/feed/")) == [i.key for i in five]

    def test_updated_since(self, api, five):
        found = keys(api("leader").get(f"{API}/feed/", {"updated_since": "2026-01-01T03:00:00Z"}))
        assert found == [five[3].key, five[4].key]

    def test_stable_while_rows_are_inserted(self, api, five):
        client = api("leader")
        page = client.get(f"{API}/feed/", {"page_size": 2}).json()
        seen = [row["key"] for row in page["results"]]
        new = IncidentFactory(title="Arrived while paging")
        url = page["next"]
        while url:
            page = client.get(url).json()
            seen += [row["key"] for row in page["results"]]
            url = page["next"]
        # No duplicates, nothing skipped, and the new row at the end.
        assert seen == [i.key for i in five] + [new.key]

    def test_a_changed_row_moves_to_the_end(self, api, five):
        client = api("leader")
        page = client.get(f"{API}/feed/", {"page_size": 2}).json()
        send(
            api("reviewer", "write"),
            "PATCH",
            f"{API}/incidents/{five[0].key}/",
            {"summary": "Changed."},
            **fresh(five[0]),
        )
        rest = client.get(page["next"]).json()
        rest_keys = [row["key"] for row in rest["results"]]
        while rest["next"]:
            rest = client.get(rest["next"]).json()
            rest_keys += [row["key"] for row in rest["results"]]
        assert rest_keys == [five[2].key, five[3].key, five[4].key, five[0].key]

    def test_resume_from_the_last_updated_at(self, api, five):
        client = api("leader")
        last = client.get(f"{API}/feed/").json()["results"][-1]["updated_at"]
        later = IncidentFactory()
        assert keys(client.get(f"{API}/feed/", {"updated_since": last})) == [five[4].key, later.key]


# --- CSV ---------------------------------------------------------------------


class TestCsv:
    def test_incidents(self, api, world):
        response = api("leader").get(f"{API}/incidents/?format=csv")
        assert response["Content-Disposition"] == 'attachment; filename="incidents.csv"'
        rows = csv_rows(response)
        assert list(rows[0]) == IncidentListSerializer.Meta.fields
        by_key = {row["key"]: row for row in rows}
        row = by_key[world["public"].key]
        assert (row["title"], row["severity"], row["services"], row["ai_involved"]) == (
            "Checkout outage",
            "SEV1",
            "checkout",
            "True",
        )
        assert row["time_to_resolve_seconds"] == str(5 * 3600)

    def test_action_items(self, api, world):
        response = api("leader").get(f"{API}/action-items/?format=csv")
        assert response["Content-Disposition"] == 'attachment; filename="action-items.csv"'
        rows = csv_rows(response)
        assert list(rows[0]) == ActionItemSerializer.Meta.fields
        assert {row["title"] for row in rows} == {"Add a guard", "SECRET rotate keys"}

    def test_csv_has_every_row_not_one_page(self, api):
        IncidentFactory.create_batch(7)
        assert len(csv_rows(api("leader").get(f"{API}/incidents/", {"format": "csv", "page_size": 2}))) == 7

    @pytest.mark.parametrize(
        ("title", "exported"),
        [
            ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("Plain = fine", "Plain = fine"),
            ("-5", "-5"),
        ],
    )
    def test_formula_injection_is_neutralised(self, api, title, exported):
        incident = IncidentFactory(title=title)
        ActionItemFactory(incident=incident, title=title)
        client = api("leader")
        [row] = csv_rows(client.get(f"{API}/incidents/?format=csv"))
        assert row["title"] == exported
        [row] = csv_rows(client.get(f"{API}/action-items/?format=csv"))
        assert row["title"] == exported

    def test_a_list_cell_is_neutralised_too(self, api):
        IncidentFactory().services.add(ServiceFactory(name="=cmd|'/C calc'!A0"))
        [row] = csv_rows(api("leader").get(f"{API}/incidents/?format=csv"))
        assert row["services"] == "'=cmd|'/C calc'!A0"

    @pytest.mark.parametrize("fmt", ["xml", "CSV", "json2"])
    def test_an_unknown_format_is_400(self, api, fmt):
        assert "format" in error(api("leader").get(f"{API}/incidents/", {"format": fmt}), 400)["fields"]

    def test_json_is_the_default_format(self, api):
        IncidentFactory()
        response = api("leader").get(f"{API}/incidents/", {"format": "json"})
        assert response["Content-Type"] == "application/json"


# --- Bad input ----------------------------------------------------------------

# (method, path, body, status, field named in the error). None for a body means
# no body; a str is sent raw as JSON text.
BAD_WRITES = [
    ("POST", "/incidents/", {}, 400, "title"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "severity": "SEV9"}, 400, "severity"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "severity": 1}, 400, "severity"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "title": ["a"]}, 400, "title"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "title": {"a": 1}}, 400, "title"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "title": "x" * 201}, 400, "title"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "title": "a\x00b"}, 400, "title"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "title": None}, 400, "title"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "started_at": "yesterday"}, 400, "started_at"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "started_at": "2025-02-30T00:00:00Z"}, 400, "started_at"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "started_at": 1700000000}, 400, "started_at"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "started_at": "0001-01-01T00:00:00+05:00"}, 400, "started_at"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "started_at": "9999-12-31T23:59:59-05:00"}, 400, "started_at"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "detected_at": "2025-10-01T00:00:00Z"}, 400, "detected_at"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "restricted": "maybe"}, 400, "restricted"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "restricted": True}, 400, "access_group"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "services": "checkout"}, 400, "services"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "services": [{"name": "x"}]}, 400, "services"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "services": ["x" * 121]}, 400, "services"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "regions": ["r"] * 51}, 400, "regions"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "contributing_factors": ["human_error"]}, 400, "contributing_factors"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "tags": ["not a slug"]}, 400, "tags"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "primary_cause": "human_error"}, 400, "primary_cause"),
    ("POST", "/incidents/", {**NEW_INCIDENT, "adopted_cause": "change_code"}, 400, "adopted_cause_rationale"),
    ("POST", "/incidents/", [NEW_INCIDENT], 400, "non_field_errors"),
    ("POST", "/incidents/", "not json", 400, None),
    ("POST", "/incidents/", '{"title": "unterminated', 400, None),
    ("POST", "/incidents/", "null", 400, None),
    ("POST", "/incidents/", {**NEW_INCIDENT, "summary": "x" * 3_000_000}, 413, None),
    ("PATCH", "/incidents/{key}/", {"severity": None}, 400, "severity"),
    ("PATCH", "/incidents/{key}/", {"mitigated_at": "2025-01-01T00:00:00Z"}, 400, "mitigated_at"),
    ("PATCH", "/incidents/{key}/", {"access_group": "not-my-group"}, 400, "access_group"),
    ("PUT", "/incidents/{key}/", {"title": "Only a title"}, 400, "severity"),
    ("PATCH", "/action-items/{item}/", {"status": "finished"}, 400, "status"),
    ("PATCH", "/action-items/{item}/", {"due_date": "tomorrow"}, 400, "due_date"),
    ("PATCH", "/action-items/{item}/", {"due_date": "2025-13-01"}, 400, "due_date"),
    ("PATCH", "/action-items/{item}/", {"ticket_url": "not a url"}, 400, "ticket_url"),
    ("PATCH", "/action-items/{item}/", {"priority": ["P0"]}, 400, "priority"),
    ("PATCH", "/action-items/{item}/", {"title": ""}, 400, "title"),
    ("PATCH", "/action-items/{item}/", [], 400, "non_field_errors"),
    ("PATCH", "/coes/{key}/", {"whys": "x"}, 400, "whys"),
    ("PATCH", "/coes/{key}/", {"whys": [{"cause": 1, "links": []}]}, 400, "whys"),
    ("PATCH", "/coes/{key}/", {"whys": [{"cause": "x", "links": "y"}]}, 400, "whys"),
    ("PATCH", "/coes/{key}/", {"whys": [{"cause": "x", "links": [1]}]}, 400, "whys"),
    ("PATCH", "/coes/{key}/", {"whys": ["x"]}, 400, "whys"),
    ("PATCH", "/coes/{key}/", {"summary": {"a": "b"}}, 400, "summary"),
    ("PATCH", "/coes/{key}/", {"summary": "x" * 50001}, 400, "summary"),
]


BAD_READS = [
    ("/incidents/", {"severity": "SEV9"}, "severity"),
    ("/incidents/", {"severty": "SEV1"}, "severty"),
    ("/incidents/", {"status": "fixed"}, "status"),
    ("/incidents/", {"service": "no-such-service"}, "service"),
    ("/incidents/", {"region": "mars-1"}, "region"),
    ("/incidents/", {"primary_cause": "human_error"}, "primary_cause"),
    ("/incidents/", {"contributing_factor": "bad_luck"}, "contributing_factor"),
    ("/incidents/", {"autonomy_level": "L9"}, "autonomy_level"),
    ("/incidents/", {"attribution_status": "maybe"}, "attribution_status"),
    ("/incidents/", {"ai_involved": "maybe"}, "ai_involved"),
    ("/incidents/", {"started_after": "yesterday"}, "started_after"),
    ("/incidents/", {"started_after": "2025-02-30T00:00:00Z"}, "started_after"),
    ("/incidents/", {"started_before": "0001-01-01T00:00:00+05:00"}, "started_before"),
    ("/incidents/", {"started_after": "9999-12-31T23:59:59-05:00"}, "started_after"),
    ("/incidents/", {"updated_since": "not a date"}, "updated_since"),
    ("/incidents/", {"updated_since": "99999-01-01T00:00:00Z"}, "updated_since"),
    ("/incidents/", {"ordering": "title"}, "ordering"),
    ("/incidents/", {"cursor": "garbage"}, "cursor"),
    ("/incidents/", {"cursor": "cD1ub3QtYS1kYXRl"}, "cursor"),  # p=not-a-date
    ("/incidents/", {"search": "a\x00b"}, "search"),
    ("/incidents/", {"format": "xlsx"}, "format"),
    ("/feed/", {"ordering": "key"}, "ordering"),
    ("/feed/", {"format": "csv"}, "format"),
    ("/feed/", {"cursor": "cD1ub3QtYS1kYXRl"}, "cursor"),
    ("/action-items/", {"status": "finished"}, "status"),
    ("/action-items/", {"due_before": "2025-02-30"}, "due_before"),
    ("/action-items/", {"open": "perhaps"}, "open"),
    ("/action-items/", {"overdue": "2"}, "overdue"),
    ("/action-items/", {"severity": "SEV1"}, "severity"),
    ("/action-items/", {"ordering": "title"}, "ordering"),
    ("/action-items/", {"cursor": "cD1ub3Q"}, "cursor"),
    ("/timeline-events/", {"kind": "explosion"}, "kind"),
    ("/timeline-events/", {"incident": "INC-2025-0001"}, "incident"),
    ("/claims/", {"stance": "shrugs"}, "stance"),
    ("/coes/", {"status": "lost"}, "status"),
    ("/controls/", {"disputed": "sometimes"}, "disputed"),
    ("/sources/", {"kind": "rumour"}, "kind"),
    ("/sources/", {"format": "csv"}, "format"),
    ("/sources/", {"cursor": "cD1ub3Q"}, "cursor"),
    ("/vocabularies/", {"x": "1"}, None),
]


class TestBadInput:
    @pytest.mark.parametrize(("method", "path", "body", "status", "field"), BAD_WRITES)
    def test_bad_writes_are_4xx_never_500(self, api, world, method, path, body, status, field):
        url = API + path.format(key=world["public"].key, item=world["item"].pk)
        client = api("reviewer", "write")
        before = _state(world)
        headers = {"If-Match": etag_for(world["coe"])} if "/coes/" in path else {}
        if method in ("PUT", "PATCH") and not headers:
            headers = {"If-Match": "*"}  # any version: these test the body
        if isinstance(body, str):
            response = client.generic(method, url, body, content_type="application/json", headers=headers)
        else:
            response = send(client, method, url, body, **headers)
        problem = error(response, status)
        if field:
            assert field in problem["fields"], problem
        assert _state(world) == before

    @pytest.mark.parametrize(("path", "params", "field"), BAD_READS)
    def test_bad_queries_are_400_never_500(self, api, world, path, params, field):
        response = api("leader").get(API + path, params)
        problem = error(response, 400)
        assert problem["code"] == "invalid"
        if field:
            assert field in problem["fields"], problem

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/action-items/abc/close/"),
            ("PATCH", "/action-items/abc/"),
            ("GET", "/action-items/abc/"),
            ("GET", "/action-items/99999999999999999999999/"),
            ("POST", "/action-items/99999999999999999999999/close/"),
            ("GET", "/timeline-events/-1/"),
            ("GET", "/claims/1e3/"),
            ("PATCH", "/incidents/INC-1999-0001/"),
            ("PATCH", "/coes/INC-1999-0001/"),
        ],
    )
    def test_bad_ids_are_404(self, api, world, method, path):
        response = send(api("reviewer", "write"), method, API + path, {} if method == "PATCH" else None)
        assert error(response, 404)["code"] == "not_found"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("DELETE", "/incidents/{key}/"),
            ("POST", "/incidents/{key}/"),
            ("PUT", "/action-items/{item}/"),
            ("GET", "/action-items/{item}/close/"),
            ("POST", "/feed/"),
            ("POST", "/vocabularies/"),
            ("PUT", "/coes/{key}/"),
            ("POST", "/claims/"),
            ("POST", "/timeline-events/"),
            ("POST", "/sources/"),
            ("POST", "/controls/"),
        ],
    )
    def test_unsupported_methods_are_405(self, api, world, method, path):
        url = API + path.format(key=world["public"].key, item=world["item"].pk)
        response = send(api("reviewer", "write"), method, url, {} if method != "GET" else None)
        assert error(response, 405)["code"] == "method_not_allowed"

    def test_form_bodies_are_415(self, api):
        response = api("reviewer", "write").post(f"{API}/incidents/", {"title": "x"})
        assert error(response, 415)["code"] == "unsupported_media_type"

    def test_field_errors_are_listed_by_field(self, api):
        response = send(api("reviewer", "write"), "POST", f"{API}/incidents/", {"severity": "SEV9"})
        problem = error(response, 400)
        assert problem["code"] == "invalid"
        assert problem["detail"] == "Some fields are not valid."
        assert set(problem["fields"]) == {"title", "severity", "started_at"}
        assert all(isinstance(messages, list) for messages in problem["fields"].values())


class TestThrottling:
    @pytest.fixture
    def tiny_rates(self, monkeypatch, settings):
        # DRF copies the rates onto the throttle classes when they are defined,
        # so overriding settings alone would not reach them.
        rates = {"anon": "2/minute", "user": "3/minute"}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        monkeypatch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", rates)
        cache.clear()

    def test_429_with_retry_after(self, api, tiny_rates):
        client = api("leader")
        for _ in range(3):
            assert client.get(f"{API}/vocabularies/").status_code == 200
        response = client.get(f"{API}/vocabularies/")
        assert error(response, 429)["code"] == "throttled"
        assert 0 < int(response["Retry-After"]) <= 60

    def test_counted_per_user(self, api, tiny_rates):
        rita, lee = api("reviewer"), api("leader")
        for _ in range(3):
            rita.get(f"{API}/vocabularies/")
        assert rita.get(f"{API}/vocabularies/").status_code == 429
        assert lee.get(f"{API}/vocabularies/").status_code == 200

    def test_writes_are_throttled_too(self, api, world, tiny_rates):
        client = api("reviewer", "write")
        url = f"{API}/action-items/{world['item'].pk}/"
        statuses = [send(client, "PATCH", url, {"priority": "P0"}, **{"If-Match": "*"}).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]

    def test_anonymous_documents_are_throttled(self, client, tiny_rates):
        statuses = [client.get("/api/schema/").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


# --- Query counts --------------------------------------------------------------


@pytest.fixture
def counted_client(leader, settings):
    """A token client whose use was just recorded, so requests make no UPDATE of last_used_at.

    Counted as in a process that has not seen the token within API_TOKEN_MEMORY_SECONDS, so every
    request reads its row (test_api_tokens.py counts a remembered token's requests).
    """
    settings.API_TOKEN_MEMORY_SECONDS = 0
    token, plain = ApiToken.issue(user=leader, name="tests", scope=TokenScope.READ)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return Client(headers={"Authorization": f"Bearer {plain}"})


def _incident_with_parts():
    incident = IncidentFactory()
    incident.services.add(ServiceFactory())
    incident.regions.add(Region.objects.create(code=f"r-{incident.pk}"))
    AIInvolvementFactory(incident=incident)
    CoeDocumentFactory(incident=incident)
    ActionItemFactory(incident=incident)
    return incident


class TestQueryCounts:
    @pytest.mark.parametrize(("path", "format"), [("/incidents/", "json"), ("/feed/", "json"), ("/incidents/", "csv")])
    def test_incident_lists(self, counted_client, django_assert_num_queries, path, format):
        _incident_with_parts()
        # 1 the token with its user; 2 the page of incidents, or the CSV's one chunk (COE joined,
        # the AI flag a subquery, visibility a subquery, their services and regions as arrays in
        # the same query: the JSON and the CSV are shaped from the same rows).
        expected = 2
        query = {"format": "csv"} if format == "csv" else {}
        for page_size in (1, 2, 50):
            with django_assert_num_queries(expected):
                response = counted_client.get(API + path, {"page_size": page_size, **query})
                assert response["Content-Type"].startswith("text/csv" if format == "csv" else "application/json")
                if response.streaming:
                    b"".join(response.streaming_content)
            for _ in range(3):
                _incident_with_parts()

    def test_action_item_list(self, counted_client, django_assert_num_queries):
        _incident_with_parts()
        # 1 the token with its user; 2 the page of action items (incident and owner joined).
        for page_size in (1, 2, 50):
            with django_assert_num_queries(2):
                counted_client.get(f"{API}/action-items/", {"page_size": page_size})
            for _ in range(3):
                _incident_with_parts()

    def test_incident_detail(self, counted_client, django_assert_num_queries):
        incident = _incident_with_parts()
        TimelineEventFactory(incident=incident)
        ClaimFactory(incident=incident)
        # 1 the token with its user; 2 the incident with every part of it (api/detail.py:
        # services, regions, tags, factors, owner, COE status, impact figures, timeline, AI
        # involvements with their evidence, claims with their sources, sources).
        with django_assert_num_queries(2):
            counted_client.get(f"{API}/incidents/{incident.key}/")
        for _ in range(3):
            TimelineEventFactory(incident=incident)
            ClaimFactory(incident=incident)
            AIInvolvementFactory(incident=incident).evidence.add(SourceFactory())
            ImpactFigure.objects.create(incident=incident, name="Lost orders", value=Decimal("1.5"))
            incident.sources.add(SourceFactory())
            incident.tags.add(Tag.objects.create(name=f"tag-{incident.tags.count()}"))
        with django_assert_num_queries(2):
            response = counted_client.get(f"{API}/incidents/{incident.key}/")
        assert len(response.json()["claims"]) == 4


# --- Schema and docs -------------------------------------------------------------


class TestSchemaAndDocs:
    def test_the_schema_is_openapi_3(self, client):
        response = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
        assert response.status_code == 200
        schema = json.loads(response.content)
        assert schema["openapi"].startswith("3.")
        paths = schema["paths"]
        for path in [
            "/api/v1/incidents/",
            "/api/v1/incidents/{key}/",
            "/api/v1/timeline-events/",
            "/api/v1/action-items/",
            "/api/v1/action-items/{id}/close/",
            "/api/v1/coes/{key}/",
            "/api/v1/sources/",
            "/api/v1/claims/",
            "/api/v1/controls/",
            "/api/v1/feed/",
            "/api/v1/vocabularies/",
        ]:
            assert path in paths, path
        assert "bearerAuth" in schema["components"]["securitySchemes"]

    def test_the_docs_page_loads_nothing_from_other_hosts(self, client):
        response = client.get("/api/docs/")
        assert response.status_code == 200
        html = response.content.decode()
        references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert references
        for reference in references:
            assert not re.match(r"^(?:[a-z]+:)?//", reference, re.IGNORECASE), reference
        assert "cdn" not in html.lower()
        assert "unpkg" not in html.lower()

    def test_the_docs_assets_are_served(self, client):
        html = client.get("/api/docs/").content.decode()
        for reference in re.findall(r"""src\s*=\s*["']([^"']+)["']""", html):
            assert client.get(reference).status_code == 200, reference


def test_an_api_write_by_session_needs_the_model_permission(api, world):
    # The same rule the pages apply: a leader signed in to the site cannot edit.
    response = send(api("leader", "session"), "PATCH", f"{API}/incidents/{world['public'].key}/", {"title": "x"})
    assert error(response, 403)["code"] == "permission_denied"


def test_every_control_reads_as_its_list(api, world):
    rows = api("leader").get(f"{API}/controls/").json()["results"]
    assert [row["name"] for row in rows] == [c.name for c in Control.objects.order_by("id")]


def test_users_without_a_role_read_but_do_not_write(api, world):
    # A signed-in user in no group sees public incidents (visibility is by
    # restriction, not by role) but has no permission to write.
    nobody = UserFactory(username="nobody")
    _, plain = ApiToken.issue(user=nobody, name="t", scope=TokenScope.WRITE)
    client = Client(headers={"Authorization": f"Bearer {plain}"})
    assert keys(client.get(f"{API}/incidents/")) == [world["public"].key]
    assert send(client, "POST", f"{API}/incidents/", NEW_INCIDENT).status_code == 403


# The site's URLs with the API's catch-all last, as incidents/api/urls.py should route it.
urlpatterns = [*site_urlpatterns, re_path(r"^api/v1/", NotFoundView.as_view())]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/nope/", "/incidents/a/b/", "/action-items/1/open/", "/incidents"])
def test_unknown_api_urls_are_json_404s(api, method, path):
    response = send(api("reviewer", "write"), method, API + path, {} if method != "GET" else None)
    assert error(response, 404)["code"] == "not_found"


@pytest.mark.urls(__name__)
def test_the_catch_all_leaves_real_endpoints_alone(api, world):
    assert api("leader").get(f"{API}/incidents/{world['public'].key}/").status_code == 200
