"""The MCP tests' shared part: the seeded knowledge base with one restricted incident, and the SDK's clients.

The restricted incident carries MARKER in every field it has and every record hanging off it (service,
region, tag, timeline, action item, AI involvement, claim, source, control, a published COE): any tool
or resource that let it through would show the marker.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx2
from django.utils import timezone
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from incidents.models import (
    ActionItem,
    AIInvolvement,
    ApiToken,
    Claim,
    CoeDocument,
    Control,
    Incident,
    Region,
    Service,
    Source,
    Tag,
    TimelineEvent,
)
from incidents.models.coe import SECTION_KEYS
from incidents.models.vocab import (
    ActionType,
    AIRole,
    CoeStatus,
    ControlStatus,
    PrimaryCause,
    Severity,
    Stance,
    TimelineKind,
)
from incidents.seed.loader import load
from tests.factories import GroupFactory, UserFactory


def run(coroutine):
    """asyncio.run() in a thread of its own: a browser test earlier in the session leaves Playwright's
    event loop running in this one, where asyncio.run() refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


ROOT = Path(__file__).resolve().parents[2]
MARKER = "Quokkamarker7"
KIRO_TITLE = "AWS Cost Explorer interruption in a mainland-China region (Kiro)"
PEER_REVIEW = "Mandatory peer review for production access"
TOOLS = {
    "search_incidents",
    "get_incident",
    "get_coe",
    "list_action_items",
    "list_controls",
    "check_planned_action",
}


@dataclass
class KnowledgeBase:
    kiro: Incident
    restricted: Incident
    member_token: str  # a token of a member of the restricted incident's group
    outsider_token: str  # a token of someone outside it
    outsider: ApiToken


def _marked(text: str) -> str:
    return f"{text} {MARKER}"


def restricted_incident(group) -> Incident:
    """An incident only `group` may see, with the marker everywhere; its words are also ordinary ones
    ("payments ledger wiped"), so searches that do not name the marker would reach it."""
    incident = Incident.objects.create(
        title=_marked("Payments ledger wiped and recreated by an agent"),
        summary=_marked("An agent deleted and recreated the production payments ledger database."),
        customer_impact=_marked("Payments failed."),
        trigger_text=_marked("The agent ran a destructive migration."),
        adopted_cause_rationale=_marked("Rationale."),
        severity=Severity.SEV1,
        primary_cause=PrimaryCause.ACCESS_CONTROL,
        started_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        restricted=True,
        access_group=group,
    )
    incident.services.add(Service.objects.create(name=_marked("payments-ledger")))
    incident.regions.add(Region.objects.create(code=_marked("eu-secret")))
    incident.tags.add(Tag.objects.create(name=MARKER.lower()))
    source = Source.objects.create(
        url=f"https://internal.example.com/{MARKER}",
        title=_marked("Ledger wipe"),
        publisher=_marked("Internal"),
        kind="press",
    )
    incident.sources.add(source)
    TimelineEvent.objects.create(
        incident=incident,
        occurred_at=incident.started_at,
        kind=TimelineKind.START,
        description=_marked("Ledger wiped."),
        source=source,
    )
    ActionItem.objects.create(
        incident=incident,
        title=_marked("Second approver for ledger deletes"),
        description=_marked("Gate the production ledger."),
        action_type=ActionType.PREVENT,
        due_date=date(2026, 1, 1),  # overdue, so every open/overdue listing would show it
    )
    AIInvolvement.objects.create(incident=incident, agent_name=_marked("LedgerBot"), role=AIRole.EXECUTOR)
    Claim.objects.create(
        incident=incident,
        source=source,
        claimant=_marked("Ops"),
        statement=_marked("The agent did it."),
        stance=Stance.ASSERTS,
    )
    control = Control.objects.create(
        name=_marked("Two-person rule for production ledger deletes"),
        description=_marked("A second approver for any delete or recreate in production."),
        scope=_marked("Production payments ledger"),
        status=ControlStatus.ACTIVE,
    )
    control.incidents.add(incident)
    CoeDocument.objects.create(
        incident=incident,
        status=CoeStatus.PUBLISHED,
        published_at=timezone.now(),
        approved_at=timezone.now(),
        **{key: _marked(f"The {key}.") for key in SECTION_KEYS},
    )
    return incident


def knowledge_base() -> KnowledgeBase:
    """The seeded knowledge base, the restricted incident, and tokens named for agents."""
    load()
    group = GroupFactory(name="payments-incident-team")
    member = UserFactory(username="mira")
    member.groups.add(group)
    outsider = UserFactory(username="otto")
    restricted = restricted_incident(group)
    _member_token, member_plain = ApiToken.issue(user=member, name="Member's agent")
    outsider_token, outsider_plain = ApiToken.issue(user=outsider, name="Outsider's agent (Claude Code)")
    return KnowledgeBase(
        kiro=Incident.objects.get(title=KIRO_TITLE),
        restricted=restricted,
        member_token=member_plain,
        outsider_token=outsider_plain,
        outsider=outsider_token,
    )


def http_client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)))


def stdio_client(database_url: str, token: str, **env_vars: str) -> Client:
    env = {**os.environ, "DATABASE_URL": database_url, "COE_API_TOKEN": token, **env_vars}
    server = StdioServerParameters(command=sys.executable, args=[str(ROOT / "manage.py"), "mcp"], env=env, cwd=ROOT)
    return Client(server)


def text(result) -> str:
    """Everything a tool result carries, as one string (content blocks and structured content)."""
    parts = [block.text for block in result.content if getattr(block, "text", None)]
    if result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


async def every_answer(client: Client, restricted_key: str) -> dict[str, str]:
    """Each tool and resource, called with arguments that would reach the restricted incident (its ordinary
    words, its key, lists of everything), never naming the marker: the answers by call."""
    calls = {
        "search words": ("search_incidents", {"query": "payments ledger wiped"}),
        "search newest": ("search_incidents", {"limit": 50}),
        "search by cause": ("search_incidents", {"cause": "access_control", "limit": 50}),
        "get_incident": ("get_incident", {"key": restricted_key}),
        "get_coe": ("get_coe", {"key": restricted_key}),
        "all action items": ("list_action_items", {"open": False, "limit": 100}),
        "overdue items": ("list_action_items", {"overdue": True, "limit": 100}),
        "all controls": ("list_controls", {"include_inactive": True, "limit": 100}),
        "planned action": (
            "check_planned_action",
            {
                "description": "delete and recreate the production payments ledger database",
                "deletes_or_recreates": True,
            },
        ),
    }
    answers = {}
    for label, (tool, arguments) in calls.items():
        answers[label] = text(await client.call_tool(tool, arguments))
    resources = await client.list_resources()
    answers["resources"] = json.dumps([r.model_dump(mode="json") for r in resources.resources])
    try:
        read = await client.read_resource(f"coe://{restricted_key}")
        answers["resource read"] = json.dumps(read.model_dump(mode="json"))
    except Exception as refused:  # an MCP error is the answer an outsider gets
        answers["resource read"] = f"refused: {refused}"
    return answers
