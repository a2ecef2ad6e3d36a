"""The API says whose each record is (`basis`) and which incidents are demo data (`demo`).

`basis` is in the one output shape of timeline events, impact figures, action items and controls,
and is written through the same input serializers and services as the rest of each record; `demo`
is on incidents (list, detail, CSV) and on action items, whose progress it qualifies.
"""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.test import Client

from incidents.models import ApiToken, ImpactFigure, TimelineEvent
from incidents.models import vocab as v

from .factories import ActionItemFactory, ControlFactory, IncidentFactory, SourceFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def token_for(request):
    def make(role: str, scope: str = "write") -> Client:
        _, plain = ApiToken.issue(user=request.getfixturevalue(role), name="tests", scope=scope)
        return Client(headers={"Authorization": f"Bearer {plain}"})

    return make


def send(client: Client, method: str, url: str, body: dict, **headers):
    return client.generic(method, url, json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def source():
    return SourceFactory(url="https://aws.example.com/statement", publisher="AWS")


def test_each_record_answers_with_its_basis(token_for, source):
    incident = IncidentFactory()
    event = TimelineEventFactory(incident=incident, source=source, basis=v.Basis.READING)
    figure = ImpactFigure.objects.create(
        incident=incident, name="Regions", value=Decimal("1"), basis=v.Basis.CLASSIFICATION
    )
    item = ActionItemFactory(incident=incident, basis=v.Basis.PROPOSAL)
    control = ControlFactory(basis=v.Basis.DEMO)
    incident.controls.add(control)
    client = token_for("leader", scope="read")

    detail = client.get(f"{API}/incidents/{incident.key}/").json()
    assert [e["basis"] for e in detail["timeline"]] == ["reading"]
    assert [f["basis"] for f in detail["impact_figures"]] == ["classification"]
    assert client.get(f"{API}/timeline-events/{event.pk}/").json()["basis"] == "reading"
    assert client.get(f"{API}/impact-figures/{figure.pk}/").json()["basis"] == "classification"
    assert client.get(f"{API}/action-items/{item.pk}/").json()["basis"] == "proposal"
    assert client.get(f"{API}/controls/{control.pk}/").json()["basis"] == "demo"


def test_basis_is_written_through_the_api_and_kept_when_not_given(token_for, reviewer, source):
    incident = IncidentFactory(owner=reviewer)
    client = token_for("reviewer")
    created = send(
        client,
        "POST",
        f"{API}/incidents/{incident.key}/timeline/",
        {
            "occurred_at": "2025-10-20T07:10:00Z",
            "kind": "cause_identified",
            "description": "The role held write access.",
            "source": source.pk,
            "basis": "reading",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["basis"] == "reading"
    event = TimelineEvent.objects.get(incident=incident)
    assert event.basis == v.Basis.READING

    tag = client.get(f"{API}/incidents/{incident.key}/")["ETag"]
    changed = send(
        client, "PATCH", f"{API}/timeline-events/{event.pk}/", {"description": "Found."}, **{"If-Match": tag}
    )
    assert changed.status_code == 200, changed.content
    event.refresh_from_db()
    assert (event.description, event.basis) == ("Found.", v.Basis.READING)

    item = ActionItemFactory(incident=incident)
    item_tag = client.get(f"{API}/action-items/{item.pk}/")["ETag"]
    proposed = send(client, "PATCH", f"{API}/action-items/{item.pk}/", {"basis": "proposal"}, **{"If-Match": item_tag})
    assert proposed.status_code == 200, proposed.content
    item.refresh_from_db()
    assert item.basis == v.Basis.PROPOSAL

    figure = send(
        client,
        "POST",
        f"{API}/incidents/{incident.key}/impact-figures/",
        {"name": "Reports", "value": "6500000", "source": source.pk, "basis": "demo"},
    )
    assert figure.status_code == 201, figure.content
    assert ImpactFigure.objects.get(incident=incident).basis == v.Basis.DEMO


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("timeline/", {"occurred_at": "2025-10-20T07:10:00Z", "kind": "engagement", "description": "Paged."}),
        ("impact-figures/", {"name": "Reports", "value": "1"}),
        ("action-items/", {"title": "Gate deletes", "action_type": "prevent", "priority": "P1"}),
    ],
)
def test_an_unknown_basis_is_a_400_naming_it_and_nothing_is_saved(token_for, reviewer, path, body):
    incident = IncidentFactory(owner=reviewer)
    response = send(token_for("reviewer"), "POST", f"{API}/incidents/{incident.key}/{path}", {**body, "basis": "hunch"})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["basis"]
    assert not incident.timeline.exists()
    assert not incident.impact_figures.exists()
    assert not incident.action_items.exists()


def test_demo_is_on_incidents_their_csv_and_their_action_items(token_for):
    demo, real = IncidentFactory(title="Seeded", demo=True), IncidentFactory(title="Ours")
    demo_item, real_item = ActionItemFactory(incident=demo), ActionItemFactory(incident=real)
    client = token_for("leader", scope="read")

    listed = {row["key"]: row["demo"] for row in client.get(f"{API}/incidents/").json()["results"]}
    assert listed == {demo.key: True, real.key: False}
    assert client.get(f"{API}/incidents/{demo.key}/").json()["demo"] is True
    assert client.get(f"{API}/incidents/{real.key}/").json()["demo"] is False
    rows = csv.DictReader(io.StringIO(b"".join(client.get(f"{API}/incidents/?format=csv").streaming_content).decode()))
    assert {row["key"]: row["demo"] for row in rows} == {demo.key: "True", real.key: "False"}

    items = {row["id"]: row["demo"] for row in client.get(f"{API}/action-items/").json()["results"]}
    assert items == {demo_item.pk: True, real_item.pk: False}
    item_rows = client.get(f"{API}/action-items/?format=csv")
    item_csv = list(csv.DictReader(io.StringIO(b"".join(item_rows.streaming_content).decode())))
    assert {int(row["id"]): (row["basis"], row["demo"]) for row in item_csv} == {
        demo_item.pk: ("reported", "True"),
        real_item.pk: ("reported", "False"),
    }


def test_the_vocabularies_name_each_basis_and_say_what_harm_level_none_means(token_for):
    body = token_for("leader", scope="read").get(f"{API}/vocabularies/").json()
    assert body["basis"] == [
        {"value": "reported", "label": "Reported"},
        {"value": "reading", "label": "Our reading"},
        {"value": "classification", "label": "Our classification"},
        {"value": "proposal", "label": "Our proposal"},
        {"value": "demo", "label": "Demo value"},
    ]
    harm = {entry["value"]: entry["label"] for entry in body["harm_level"]}
    assert harm["none"] == "No AI harm (CSET: none)"
