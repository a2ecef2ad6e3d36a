"""One complete incident recorded over the API from nothing, read back, and compared field by field.

A tool with a write-scope token records what a reviewer would: the incident with its times (each
with its precision, one of them an estimate), classification and lists; two sources; its timeline;
two claims that dispute each other; the adopted cause with its rationale; an AI involvement record
citing a source for one of its fields; an impact figure; action items; the controls it led to. Each write names the ETag
the last one answered with. Then a GET of the incident (and of its action items) must give back
every value sent, and the incident's sources must be those its records cite.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from django.test import Client

from incidents.models import ApiToken, Incident

from .factories import ControlFactory, TeamFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"

INCIDENT = {
    "title": "Cost Explorer unavailable after an agent recreated its environment",
    "summary": "An AI coding agent deleted and recreated a production environment.",
    "severity": "SEV1",
    "status": "resolved",
    "started_at": "2025-12-10T14:32:00Z",
    "time_precision": "minute",
    "started_estimated": False,
    "detected_at": "2025-12-10T00:00:00Z",
    "detected_precision": "day",
    "detected_estimated": True,
    "mitigated_at": "2025-12-11T03:00:00Z",
    "mitigated_precision": "hour",
    "mitigated_estimated": False,
    "resolved_at": "2025-12-11T05:30:00Z",
    "resolved_precision": "minute",
    "resolved_estimated": False,
    "customer_impact": "Customers in one region could not open Cost Explorer for about 13 hours.",
    "primary_cause": "access_control",
    "trigger_kind": "agent_action",
    "trigger_text": "The agent chose to delete and recreate the environment.",
    "harm_level": "event",
    "contributing_factors": ["excessive_permissions", "no_two_person_review", "ai_assisted_change"],
    "services": ["cost-explorer"],
    "regions": ["cn-north-1"],
    "tags": ["agents", "kiro"],
}
SOURCES = [
    {
        "url": "https://aws.example.com/about-the-cost-explorer-event",
        "title": "About the Cost Explorer event",
        "publisher": "Amazon",
        "kind": "vendor_primary",
        "published_on": "2026-02-21",
        "published_approx": True,
        "note": "The vendor's own statement.",
    },
    {
        "url": "https://press.example.com/ai-agent-deleted-production",
        "title": "AI agent deleted production, staff say",
        "publisher": "Financial Press",
        "kind": "press",
        "published_on": "2026-02-20",
        "retrieved_on": "2026-02-22",
    },
]
TIMELINE = [
    {
        "occurred_at": "2025-12-10T14:40:00Z",
        "precision": "minute",
        "estimated": True,
        "display_tz": "America/Los_Angeles",
        "kind": "agent_action",
        "actor_kind": "ai_agent",
        "description": "The agent deletes the environment to recreate it.",
        "moment": "deletion",
    },
    {
        "occurred_at": "2025-12-10T18:00:00Z",
        "precision": "hour",
        "estimated": False,
        "display_tz": "UTC",
        "kind": "engagement",
        "actor_kind": "human",
        "description": "Engineers engaged.",
        "moment": "",
    },
]
ADOPTION = {
    "attribution_status": "disputed",
    "adopted_cause": "access_control",
    "adopted_cause_rationale": "Both accounts agree the agent's role held production write access without a gate.",
}
AI = {
    "agent_name": "Kiro",
    "vendor": "Amazon",
    "role": "executor",
    "autonomy_level": "L4",
    "gate_present": "yes",
    "gate_type": "per_action",
    "gate_bypassed": "no",
    "permissions_held": "write_prod",
    "permissions_inherited": "yes",
    "action_taken": "Deleted and recreated the environment.",
    "action_class": "delete_recreate",
    "reversible": "no",
    "excessive_functionality": False,
    "excessive_permissions": True,
    "excessive_autonomy": False,
}
IMPACT = {
    "name": "Hours unavailable",
    "value": "13.00",
    "unit": "hours",
    "is_estimate": True,
    "as_of": "2026-02-21T00:00:00Z",
    "note": "As the press reported it.",
}
ACTION_ITEMS = [
    {
        "title": "Require a second person to approve an agent's production deletes",
        "description": "A per-action gate held by someone other than the operator.",
        "action_type": "prevent",
        "priority": "P0",
        "due_date": "2026-03-31",
        "ticket_url": "https://tickets.example.com/OPS-101",
        "answers_why": "Why could the agent delete production?",
    },
    {
        "title": "Alarm on environment deletion in production",
        "action_type": "detect",
        "priority": "P1",
        "due_date": "2026-04-15",
    },
]


def _same(sent, got) -> bool:
    """Equal as the API means them: the same instant, the same decimal, the same set of names."""
    if isinstance(sent, list) and all(isinstance(x, str) for x in sent):
        return sorted(sent) == sorted(got)
    if isinstance(sent, str) and isinstance(got, str) and sent[:4].isdigit() and "T" in sent and "T" in got:
        return datetime.fromisoformat(sent) == datetime.fromisoformat(got)
    if isinstance(sent, str) and isinstance(got, str):
        try:
            return Decimal(sent) == Decimal(got)
        except ArithmeticError:
            pass
    return sent == got


def assert_holds(sent: dict, got: dict, where: str) -> None:
    differ = {
        name: (value, got.get(name, "<missing>")) for name, value in sent.items() if not _same(value, got.get(name))
    }
    assert not differ, f"{where}: sent and read back differ: {differ}"


class Tool:
    """A script with a write-scope token that keeps the last ETag it was given."""

    def __init__(self, user):
        _, plain = ApiToken.issue(user=user, name="importer", scope="write")
        self.client = Client(headers={"Authorization": f"Bearer {plain}"})
        self.etag: str | None = None

    def send(self, method: str, path: str, body=None, *, status: int) -> dict:
        headers = {"If-Match": self.etag} if self.etag else {}
        data = json.dumps(body) if body is not None else None
        response = self.client.generic(method, API + path, data, content_type="application/json", headers=headers)
        assert response.status_code == status, (method, path, response.content)
        if path.startswith("/incidents/") and "/action-items/" not in path:
            self.etag = response["ETag"]  # the incident's, for the next write to it or its parts
        return response.json() if response.content else {}

    def get(self, path: str) -> dict:
        response = self.client.get(API + path)
        assert response.status_code == 200, response.content
        return response.json()


def test_an_incident_recorded_over_the_api_reads_back_as_sent(reviewer):
    tool = Tool(reviewer)
    team = TeamFactory(slug="cost-reports")
    incident = tool.send("POST", "/incidents/", {**INCIDENT, "team": team.slug}, status=201)
    key = incident["key"]
    base = f"/incidents/{key}"

    vendor, press = (tool.send("POST", f"{base}/sources/", source, status=201) for source in SOURCES)
    timeline = [
        tool.send("POST", f"{base}/timeline/", {**event, "source": press["id"]}, status=201) for event in TIMELINE
    ]
    claims = [
        {
            "source": press["id"],
            "claimant": "Financial Press",
            "stance": "asserts",
            "claimed_cause": "automation_defect",
            "claimed_ai_role": "executor",
            "statement": "The AI agent caused the outage.",
            "quote": "the agent decided to delete and recreate the environment",
        },
        {
            "source": vendor["id"],
            "claimant": "Amazon",
            "stance": "denies",
            "claimed_cause": "access_control",
            "claimed_ai_role": "none",
            "statement": "User error: a misconfigured role, not AI.",
            "quote": "This brief event was the result of user error",
        },
    ]
    made_claims = [tool.send("POST", f"{base}/claims/", claim, status=201) for claim in claims]
    tool.send("PATCH", f"{base}/", ADOPTION, status=200)
    ai = {**AI, "citations": {"permissions_inherited": vendor["id"]}, "evidence": [press["id"]]}
    made_ai = tool.send("POST", f"{base}/ai-involvements/", ai, status=201)
    figure = tool.send("POST", f"{base}/impact-figures/", {**IMPACT, "source": press["id"]}, status=201)
    items = [tool.send("POST", f"{base}/action-items/", item, status=201) for item in ACTION_ITEMS]
    control = ControlFactory(name="Two-person approval for agents' destructive actions")
    tool.send("PUT", f"{base}/controls/", {"controls": [control.pk]}, status=200)

    detail = tool.get(f"{base}/")
    assert_holds({**INCIDENT, **ADOPTION}, detail, "incident")
    assert detail["owner"] == reviewer.username
    assert detail["team"] == team.slug
    assert detail["controls"] == [control.pk]
    assert detail["ai_involved"] is True

    by_id = {source["id"]: source for source in detail["sources"]}
    assert set(by_id) == {vendor["id"], press["id"]}
    for sent, made in zip(SOURCES, (vendor, press), strict=True):
        assert_holds(sent, by_id[made["id"]], f"source {sent['url']}")

    events = {event["id"]: event for event in detail["timeline"]}
    for sent, made in zip(TIMELINE, timeline, strict=True):
        assert_holds({**sent, "source_id": press["id"]}, events[made["id"]], f"event {sent['kind']}")
    # The incident's own times are on its timeline too, at their precision: typed once.
    own = {event["kind"]: event for event in detail["timeline"] if event["id"] not in {m["id"] for m in timeline}}
    for kind, field, precision in [
        ("start", "started_at", "time_precision"),
        ("detection", "detected_at", "detected_precision"),
        ("mitigation", "mitigated_at", "mitigated_precision"),
        ("resolution", "resolved_at", "resolved_precision"),
    ]:
        assert _same(INCIDENT[field], own[kind]["occurred_at"]), kind
        assert own[kind]["precision"] == INCIDENT[precision], kind
    assert own["detection"]["estimated"] is True

    read_claims = {claim["id"]: claim for claim in detail["claims"]}
    for sent, made in zip(claims, made_claims, strict=True):
        read = read_claims[made["id"]]
        assert_holds({k: v for k, v in sent.items() if k != "source"}, read, f"claim by {sent['claimant']}")
        assert read["source"]["id"] == sent["source"]
    assert {claim["stance"] for claim in detail["claims"]} == {"asserts", "denies"}

    (read_ai,) = detail["ai_involvements"]
    assert read_ai["id"] == made_ai["id"]
    assert_holds(AI, read_ai, "AI involvement")
    assert read_ai["citations"] == {"permissions_inherited": vendor["id"]}
    assert read_ai["evidence"] == [press["id"]]
    assert read_ai["cset_autonomy"] == "Autonomy2"  # L4 Approver: a human on the loop

    (read_figure,) = detail["impact_figures"]
    assert read_figure["id"] == figure["id"]
    assert_holds({**IMPACT, "source_id": press["id"]}, read_figure, "impact figure")

    listed = {item["id"]: item for item in tool.get(f"/action-items/?incident={key}")["results"]}
    assert set(listed) == {item["id"] for item in items}
    for sent, made in zip(ACTION_ITEMS, items, strict=True):
        assert_holds(sent, listed[made["id"]], f"action item {sent['title']}")
        assert listed[made["id"]]["incident"] == key

    # Nothing else was changed along the way: the last write's ETag is the incident's current one.
    assert tool.client.get(f"{API}{base}/")["ETag"] == tool.etag

    # Every write is on the record, read over the API too, each change by the token's user.
    history = tool.get(f"{base}/history/?page_size=200")
    assert history["next"] is None
    changes = history["results"]
    assert {change["actor"] for change in changes} == {reviewer.username}
    created = {(change["record_type"], change["record_id"]) for change in changes if change["action"] == "create"}
    assert created >= {
        ("incident", Incident.objects.get(key=key).pk),
        ("source", vendor["id"]),
        ("source", press["id"]),
        *(("timeline event", event["id"]) for event in timeline),
        *(("claim", claim["id"]) for claim in made_claims),
        ("AI involvement", made_ai["id"]),
        ("impact figure", figure["id"]),
        *(("action item", item["id"]) for item in items),
    }, created
    updated = {
        field["field"]
        for change in changes
        if (change["record_type"], change["action"]) == ("incident", "update")
        for field in change["changes"]
    }
    assert updated >= {*ADOPTION, "controls"}, updated


def test_an_unknown_team_is_a_400_naming_the_field(reviewer):
    tool = Tool(reviewer)
    response = tool.client.post(
        f"{API}/incidents/", {**INCIDENT, "team": "no-such-team"}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "team" in response.json()["error"]["fields"]
    assert not Incident.objects.filter(title=INCIDENT["title"]).exists()
