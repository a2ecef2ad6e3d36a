"""Bad input, each at every entry that takes it: a clear 400 or form error, never a 500, nothing stored.

- dates out of range (year 10000, year 1 BC, …): refused by the forms, the API and the admin, and
  by a CHECK constraint per column even through raw SQL (incidents/models/bounds.py);
- the dashboard's span at the bounds: bounded months, no 500, bounded time;
- NUL bytes, JSON nested 1,000 deep, huge page numbers and years;
- URLs with quotes or angle brackets, COE sections over the one length limit.
"""

import json
import time
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.models import (
    ActionItem,
    ApiToken,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    ReminderLog,
    ReviewComment,
    Source,
    Team,
    TimelineEvent,
    bounds,
)
from incidents.models.coe import SECTION_MAX_LENGTH

from .factories import (
    ActionItemFactory,
    CoeDocumentFactory,
    IncidentFactory,
    SourceFactory,
    TimelineEventFactory,
    UserFactory,
)
from .test_coe_pages import coe_url, editor_form
from .test_incident_forms import incident_data, read_form

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def writer(reviewer):
    _, plain = ApiToken.issue(user=reviewer, name="tests", scope="write")
    return Client(headers={"Authorization": f"Bearer {plain}"})


@pytest.fixture
def admin_client_(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def send(client, method, url, body):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    # Updates need If-Match; "*" (any version) here, where the body is what is tested.
    headers = {"If-Match": "*"} if method in ("PUT", "PATCH") else {}
    return client.generic(method, url, raw, content_type="application/json", headers=headers)


def api_error(response, status=400) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()["error"]
    assert body["status"] == status
    return body


# Wall-clock times that are valid Python but not storable: 9999-12-31 23:00 in Los Angeles is
# year 10000 in UTC, 0001-01-01 00:00 in Tokyo is 1 BC in UTC. And ones merely absurd.
OUT_OF_RANGE_LOCAL = [
    ("America/Los_Angeles", "9999-12-31T23:00"),
    ("Asia/Tokyo", "0001-01-01T00:00"),
    ("UTC", "1000-06-01T00:00"),
    ("UTC", "2999-01-01T00:00"),
    ("UTC", "1969-12-31T23:59"),
]
OUT_OF_RANGE_ISO = [
    "9999-12-31T23:00:00-08:00",
    "0001-01-01T00:00:00+09:00",
    "1000-06-01T00:00:00Z",
    "2999-01-01T00:00:00Z",
    "1969-12-31T23:59:00Z",
]


# --------------------------------------------------------------------------
# 1. Dates out of range
# --------------------------------------------------------------------------


class TestDateBoundsInForms:
    @pytest.mark.parametrize(("zone", "local"), OUT_OF_RANGE_LOCAL)
    def test_incident_form_refuses_a_start_out_of_range(self, client_for, reviewer, zone, local):
        response = client_for(reviewer).post(
            "/incidents/new/",
            incident_data(
                times_zone=zone, started_local=local, detected_local="", mitigated_local="", resolved_local=""
            ),
        )
        assert response.status_code == 200
        assert "between 1970-01-01" in response.content.decode()
        assert not Incident.objects.exists()

    @pytest.mark.parametrize("field", ["detected_local", "mitigated_local", "resolved_local"])
    def test_incident_form_refuses_other_times_out_of_range(self, client_for, reviewer, field):
        data = incident_data(times_zone="America/Los_Angeles", **{field: "9999-12-31T23:00"})
        response = client_for(reviewer).post("/incidents/new/", data)
        assert response.status_code == 200
        assert "between 1970-01-01" in response.content.decode()
        assert not Incident.objects.exists()

    def test_incident_edit_refuses_and_keeps_the_stored_start(self, client_for, reviewer):
        incident = IncidentFactory()
        client = client_for(reviewer)
        data = read_form(client.get(f"/incidents/{incident.key}/edit/").content, method="post")
        data.update(times_zone="Asia/Tokyo", started_local="0001-01-01T00:00")
        response = client.post(f"/incidents/{incident.key}/edit/", data)
        assert response.status_code == 200
        assert "between 1970-01-01" in response.content.decode()
        assert Incident.objects.get().started_at == incident.started_at

    @pytest.mark.parametrize(("zone", "local"), OUT_OF_RANGE_LOCAL)
    def test_timeline_form_refuses_out_of_range(self, client_for, reviewer, zone, local):
        incident = IncidentFactory()
        data = {
            "occurred_local": local,
            "display_tz": zone,
            "precision": "minute",
            "kind": "detection",
            "actor_kind": "automation",
            "description": "Alarm",
            "source": "",
            "moment": "",
        }
        response = client_for(reviewer).post(f"/incidents/{incident.key}/timeline/", data, HTTP_HX_REQUEST="true")
        assert response.status_code == 422
        assert "between 1970-01-01" in response.content.decode()
        assert not TimelineEvent.objects.exists()

    def test_action_item_due_date_out_of_range_in_the_coe_editor_service(self, reviewer):
        from django.core.exceptions import ValidationError

        from incidents import services

        incident = IncidentFactory()
        with pytest.raises(ValidationError) as caught:
            services.action_item_create(
                incident=incident, data={"title": "x", "action_type": "prevent", "due_date": date(9999, 12, 31)}
            )
        assert "due_date" in caught.value.error_dict
        assert not ActionItem.objects.exists()


class TestDateBoundsInTheApi:
    @pytest.mark.parametrize("value", OUT_OF_RANGE_ISO)
    @pytest.mark.parametrize("field", ["started_at", "detected_at", "mitigated_at", "resolved_at"])
    def test_incident_create_is_400_naming_the_field(self, writer, field, value):
        body = {"title": "t", "severity": "SEV2", "started_at": "2025-11-01T10:00:00Z", field: value}
        error = api_error(send(writer, "POST", f"{API}/incidents/", body))
        assert field in error["fields"]
        assert not Incident.objects.exists()

    def test_incident_patch_is_400_and_keeps_the_start(self, writer):
        incident = IncidentFactory()
        response = send(writer, "PATCH", f"{API}/incidents/{incident.key}/", {"started_at": "9999-12-31T23:00-08:00"})
        assert "started_at" in api_error(response)["fields"]
        assert Incident.objects.get().started_at == incident.started_at

    @pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1969-12-31", "2999-01-01"])
    def test_action_item_due_date_is_400(self, writer, value):
        item = ActionItemFactory(due_date=date(2026, 1, 1))
        response = send(writer, "PATCH", f"{API}/action-items/{item.pk}/", {"due_date": value})
        assert "due_date" in api_error(response)["fields"]
        assert ActionItem.objects.get().due_date == date(2026, 1, 1)


class TestDateBoundsInTheAdmin:
    def test_incident_admin_refuses_a_start_out_of_range(self, admin_client_):
        incident = IncidentFactory()
        url = f"/admin/incidents/incident/{incident.pk}/change/"
        data = read_form(admin_client_.get(url).content, id="incident_form")
        data.update({"started_at_0": "9999-12-31", "started_at_1": "23:59:00"})
        response = admin_client_.post(url, data)
        assert response.status_code == 200
        assert "between 1970-01-01" in response.content.decode()
        assert Incident.objects.get().started_at == incident.started_at

    def test_timeline_admin_refuses_out_of_range(self, admin_client_):
        event = TimelineEventFactory()
        url = f"/admin/incidents/timelineevent/{event.pk}/change/"
        data = read_form(admin_client_.get(url).content, id="timelineevent_form")
        data.update({"occurred_at_0": "1000-01-01", "occurred_at_1": "00:00:00"})
        response = admin_client_.post(url, data)
        assert response.status_code == 200
        assert "between 1970-01-01" in response.content.decode()
        assert TimelineEvent.objects.get().occurred_at == event.occurred_at


def _date_columns():
    """(model, column, null) for every date and time column of the incidents app."""
    from django.apps import apps
    from django.db import models

    found = []
    for model in apps.get_app_config("incidents").get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateField):  # DateTimeField is a DateField
                found.append((model, f.column, f.null))
    return found


def test_every_date_column_is_covered():
    names = {f"{m._meta.db_table}.{c}" for m, c, _ in _date_columns()}
    assert {
        "incidents_incident.started_at",
        "incidents_incident.resolved_at",
        "incidents_timelineevent.occurred_at",
        "incidents_actionitem.due_date",
        "incidents_actionitem.completed_at",
        "incidents_coedocument.approved_at",
        "incidents_source.published_on",
        "incidents_impactfigure.as_of",
        "incidents_control.ends_on",
    } <= names
    for model, column, _ in _date_columns():
        checks = [c for c in model._meta.constraints if getattr(c, "name", "").endswith(f"{column}_range")]
        assert checks, f"{model._meta.db_table}.{column} has no range constraint"


def _rows():
    incident = IncidentFactory()
    item = ActionItemFactory(incident=incident)
    coe = CoeDocumentFactory(incident=incident)
    return {
        Incident: incident.pk,
        TimelineEvent: TimelineEventFactory(incident=incident).pk,
        ActionItem: item.pk,
        CoeDocument: coe.pk,
        ReviewComment: ReviewComment.objects.create(coe=coe, author=UserFactory(), section="summary", body="b").pk,
        Source: SourceFactory().pk,
        ImpactFigure: ImpactFigure.objects.create(incident=incident, name="n", value=1).pk,
        Control: Control.objects.create(name="c", scope="s").pk,
        ApiToken: ApiToken.issue(user=UserFactory(), name="t")[0].pk,
        ReminderLog: ReminderLog.objects.create(kind="digest", period="p", channel="email", claim_key="k").pk,
    }


@pytest.mark.parametrize("stored", ["10000-01-01 00:00:00+00", "0001-01-01 00:00:00+00 BC", "1000-01-01", "2200-01-01"])
def test_raw_sql_cannot_store_an_unreadable_date(stored):
    """The CHECK constraints: not even an UPDATE by hand stores a value the app could not read."""
    rows = _rows()
    for model, column, _ in _date_columns():
        pk = rows.get(model)
        if pk is None:
            continue
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{model._meta.db_table}" SET "{column}" = %s WHERE id = %s', [stored, pk])


def test_values_at_the_bounds_are_stored_and_read(client_for, leader):
    latest = bounds.latest_time()
    early = IncidentFactory(started_at=bounds.EARLIEST, detected_at=None, mitigated_at=None, resolved_at=None)
    late = IncidentFactory(
        started_at=latest - timedelta(minutes=1), detected_at=None, mitigated_at=None, resolved_at=None
    )
    client = client_for(leader)
    for incident in (early, late):
        assert client.get(f"/incidents/{incident.key}/").status_code == 200
    assert client.get("/incidents/").status_code == 200


# --------------------------------------------------------------------------
# 2. The dashboard at the bounds
# --------------------------------------------------------------------------


def test_dashboard_with_incidents_at_each_bound_is_bounded(client_for, leader, reviewer):
    IncidentFactory(started_at=bounds.EARLIEST, detected_at=None, mitigated_at=None, resolved_at=None)
    latest = bounds.latest_time() - timedelta(minutes=1)
    IncidentFactory(started_at=latest, detected_at=latest, mitigated_at=latest, resolved_at=latest)
    # And the storage bound itself, as raw SQL may set it.
    far = IncidentFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE incidents_incident SET started_at = %s WHERE id = %s",
            [bounds.STORED_BEFORE - timedelta(seconds=1), far.pk],
        )
    client = client_for(leader)
    for url in ("/dashboard/", "/dashboard/?period=12m", f"{API}/metrics/", "/dashboard/?start=1970-01-01"):
        began = time.monotonic()
        response = client.get(url)
        assert response.status_code == 200, url
        assert time.monotonic() - began < 5, url
    from incidents.metrics import Period
    from incidents.views.dashboard import MAX_MONTHS, _months

    today = timezone.now().date()
    months = _months(["1970-01", "2099-12"], Period(), today)
    assert len(months) <= MAX_MONTHS
    assert months[-1] == f"{bounds.latest_date():%Y-%m}"  # 2099 is in the totals, not the months
    assert f"{today:%Y-%m}" in months


# --------------------------------------------------------------------------
# 3. NUL bytes, deep JSON, huge numbers
# --------------------------------------------------------------------------


class TestMalformedInput:
    @pytest.mark.parametrize(
        "url",
        [
            "/search/?q=dns%00",
            "/incidents/?q=%00",
            "/incidents/?search=a%00b",
            "/incidents/?team=%00",
            "/incidents/?service=%00",
            "/incidents/?page=99999999999999999999",
            "/search/?q=dns&page=99999999999999999999",
            "/search/?q=dns&year=99999999999999999999",
            "/search/?q=dns&year=0000",
            "/dashboard/?start=0001-01-01",
            "/dashboard/?end=9999-12-31",
            "/dashboard/?period=custom&start=0001-01-01&end=9999-12-31",
            "/dashboard/incidents/?subset=measured&value=ttd&month=9999-12",
            "/dashboard/incidents/?subset=items&value=open_on&date=0001-01-01",
            "/dashboard/incidents/?subset=gate_failed&page=99999999999999999999",
            "/dashboard/incidents/?subset=control&value=99999999999999999999",
        ],
    )
    def test_pages_never_500(self, client_for, leader, url):
        IncidentFactory()
        response = client_for(leader).get(url)
        assert response.status_code in (200, 400, 404), (url, response.status_code)

    @pytest.mark.parametrize("url", ["/incidents/INC%00/", "/incidents/INC%00/coe/", "/incidents/%00/edit/"])
    def test_nul_in_a_url_key_is_404(self, client_for, reviewer, url):
        assert client_for(reviewer).get(url).status_code == 404

    @pytest.mark.parametrize(
        "url",
        [
            f"{API}/incidents/%00/",
            f"{API}/coes/%00/",
            f"{API}/incidents/?search=%00",
            f"{API}/incidents/?team=%00",
            f"{API}/incidents/?service=a%00",
            f"{API}/action-items/?incident=%00",
            f"{API}/action-items/?owner=%00",
            f"{API}/timeline-events/?incident=%00",
            f"{API}/incidents/?cursor=%00",
            f"{API}/metrics/?start=0001-01-01",
            f"{API}/metrics/?year=99999999999999999999",
            f"{API}/action-items/99999999999999999999/",
        ],
    )
    def test_api_gives_400_or_404_in_the_error_shape(self, writer, url):
        IncidentFactory()
        response = writer.get(url)
        assert response.status_code in (400, 404), (url, response.status_code, response.content[:300])
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"error"}

    @pytest.mark.parametrize("depth", [1000, 100000])
    def test_deeply_nested_json_is_400(self, writer, depth):
        body = "[" * depth + "]" * depth
        error = api_error(send(writer, "POST", f"{API}/incidents/", body))
        assert error["code"] == "parse_error"
        assert not Incident.objects.exists()

    @pytest.mark.parametrize("depth", [1000])
    def test_deeply_nested_json_in_a_field_is_400(self, writer, depth):
        incident = IncidentFactory()
        CoeDocumentFactory(incident=incident)
        nested = "[" * depth + "]" * depth
        raw = '{"whys": [{"cause": "x", "links": ' + nested + "}]}"
        response = writer.generic("PATCH", f"{API}/coes/{incident.key}/", raw, content_type="application/json")
        assert response.status_code in (400, 428), response.content[:300]

    def test_nul_in_a_json_body_is_400_naming_the_field(self, writer):
        body = {"title": "a\x00b", "severity": "SEV2", "started_at": "2025-11-01T10:00:00Z"}
        error = api_error(send(writer, "POST", f"{API}/incidents/", body))
        assert "title" in error["fields"]
        assert not Incident.objects.exists()

    def test_nul_in_a_form_is_a_form_error(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", incident_data(title="a\x00b"))
        assert response.status_code == 200
        assert not Incident.objects.exists()


# --------------------------------------------------------------------------
# 4. URLs and COE section lengths
# --------------------------------------------------------------------------

BAD_URLS = [
    'https://example.com/"onmouseover="alert(1)',
    "https://example.com/<script>",
    "https://example.com/a b",
    "javascript:alert(1)",
    "ftp://example.com/file",
    "https://example.com/a`b",
]


class TestUrls:
    @pytest.mark.parametrize("url", BAD_URLS)
    def test_api_refuses_a_ticket_url(self, writer, url):
        item = ActionItemFactory(ticket_url="")
        error = api_error(send(writer, "PATCH", f"{API}/action-items/{item.pk}/", {"ticket_url": url}))
        assert "ticket_url" in error["fields"]
        assert ActionItem.objects.get().ticket_url == ""

    @pytest.mark.parametrize("url", BAD_URLS)
    def test_model_validation_refuses_every_url_field(self, url):
        from django.core.exceptions import ValidationError

        for obj, field in (
            (Source(title="t", publisher="p", kind="vendor_primary", url=url), "url"),
            (Team(name="t", slug="t", webhook_url=url), "webhook_url"),
            (ActionItem(title="t", action_type="prevent", ticket_url=url), "ticket_url"),
        ):
            with pytest.raises(ValidationError) as caught:
                obj.full_clean(exclude=["incident"])
            assert field in caught.value.error_dict

    def test_a_plain_url_is_accepted(self, writer):
        item = ActionItemFactory(ticket_url="")
        response = send(
            writer,
            "PATCH",
            f"{API}/action-items/{item.pk}/",
            {"ticket_url": "https://jira.example.com/browse/OPS-1?x=1&y=%22"},
        )
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize("url", BAD_URLS[:3])
    def test_the_coe_editor_refuses_a_bad_ticket_url(self, client_for, reviewer, url):
        incident = IncidentFactory()
        services.coe_start(incident=incident, user=reviewer)
        client = client_for(reviewer)
        form = editor_form(client, incident)
        form.update(
            {
                "items-0-title": "Fix it",
                "items-0-action_type": "prevent",
                "items-0-priority": "P1",
                "items-0-owner": str(reviewer.pk),
                "items-0-due_date": "2026-12-31",
                "items-0-status": "open",
                "items-0-ticket_url": url,
            }
        )
        response = client.post(coe_url(incident), form)
        assert response.status_code in (200, 422)
        assert "without spaces, quotes or angle brackets" in response.content.decode()
        assert not ActionItem.objects.exists()

    @pytest.mark.parametrize("url", BAD_URLS[:3])
    def test_the_admin_refuses_a_bad_source_url(self, admin_client_, url):
        source = SourceFactory()
        path = f"/admin/incidents/source/{source.pk}/change/"
        data = read_form(admin_client_.get(path).content, id="source_form")
        data["url"] = url
        response = admin_client_.post(path, data)
        assert response.status_code == 200
        assert Source.objects.get().url == source.url


class TestSectionLength:
    def test_the_api_refuses_a_long_section_naming_it(self, writer):
        incident = IncidentFactory()
        coe = CoeDocumentFactory(incident=incident)
        from incidents.api.conditional import etag_for

        response = writer.generic(
            "PATCH",
            f"{API}/coes/{incident.key}/",
            json.dumps({"summary": "x" * (SECTION_MAX_LENGTH + 1)}),
            content_type="application/json",
            headers={"If-Match": etag_for(coe)},
        )
        error = api_error(response)
        assert error["fields"]["summary"] == [f"Summary: at most {SECTION_MAX_LENGTH:,} characters (this has 50001)."]
        assert CoeDocument.objects.get().summary == coe.summary

    def test_the_form_refuses_a_long_section_naming_it(self, client_for, reviewer):
        incident = IncidentFactory()
        coe = services.coe_start(incident=incident, user=reviewer)
        client = client_for(reviewer)
        data = editor_form(client, incident)
        data["root_cause"] = "x" * (SECTION_MAX_LENGTH + 1)
        response = client.post(coe_url(incident), data)
        assert response.status_code in (200, 400, 422)
        content = response.content.decode()
        assert f"Root cause: at most {SECTION_MAX_LENGTH:,} characters" in content
        assert CoeDocument.objects.get().root_cause == coe.root_cause
