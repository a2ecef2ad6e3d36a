"""The MCP server over stdio: `manage.py mcp` started as a subprocess by the official SDK's client, as a
desktop or command-line agent starts it, against the test database (committed data, so transactional)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection
from mcp.shared.exceptions import MCPError

from incidents.mcp.server import RATE_LIMITED
from incidents.models import McpCall

from .support.mcp import KIRO_TITLE, MARKER, PEER_REVIEW, ROOT, TOOLS, every_answer, knowledge_base, run, stdio_client
from .support.servers import database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kb(roles):
    return knowledge_base()


@pytest.fixture
def db_url(kb):
    return database_url(connection.settings_dict)


def test_every_tool_over_stdio_answers_from_the_seeded_knowledge_base(kb, db_url):
    key = kb.kiro.key

    async def session():
        async with stdio_client(db_url, kb.outsider_token) as client:
            tools = (await client.list_tools()).tools
            return tools, {
                "search_incidents": await client.call_tool("search_incidents", {"query": "Kiro"}),
                "get_incident": await client.call_tool("get_incident", {"key": key}),
                "get_coe": await client.call_tool("get_coe", {"key": key}),
                "list_action_items": await client.call_tool("list_action_items", {"incident": key}),
                "list_controls": await client.call_tool("list_controls", {"service": "Kiro"}),
                "check_planned_action": await client.call_tool(
                    "check_planned_action",
                    {"description": "delete and recreate the production environment of the cost reporting service"},
                ),
                "bad": await client.call_tool("search_incidents", {"query": "x" * 10_000, "colour": "red"}),
            }

    tools, got = run(session())
    assert {tool.name for tool in tools} == TOOLS
    assert got["search_incidents"].structured_content["incidents"][0]["title"] == KIRO_TITLE
    assert got["get_incident"].structured_content["key"] == key
    assert got["get_coe"].content[0].text.startswith(f"# COE: {KIRO_TITLE}")
    items = got["list_action_items"].structured_content["action_items"]
    assert items
    assert {item["incident"] for item in items} == {key}
    assert [c["name"] for c in got["list_controls"].structured_content["controls"]] == [PEER_REVIEW]
    check = got["check_planned_action"].structured_content
    assert check["similar_incidents"][0]["key"] == key
    assert check["second_approver_required"] is True
    assert PEER_REVIEW in [c["name"] for c in check["controls"]]
    assert got["bad"].is_error
    assert "colour" in got["bad"].content[0].text
    logged = McpCall.objects.filter(transport="stdio")
    assert logged.count() == 7
    assert set(logged.values_list("agent_name", flat=True)) == {"Outsider's agent (Claude Code)"}


def test_a_restricted_incident_never_reaches_an_outsider_over_stdio(kb, db_url):
    async def both():
        async with stdio_client(db_url, kb.outsider_token) as outsider:
            as_outsider = await every_answer(outsider, kb.restricted.key)
        async with stdio_client(db_url, kb.member_token) as member:
            as_member = await every_answer(member, kb.restricted.key)
        return as_outsider, as_member

    as_outsider, as_member = run(both())
    assert {label: answer for label, answer in as_outsider.items() if MARKER.lower() in answer.lower()} == {}
    assert MARKER in as_member["get_incident"]
    assert MARKER in as_member["resource read"]


def test_stdio_calls_count_against_the_api_rate(kb, db_url):
    async def calls():
        answered = 0
        async with stdio_client(db_url, kb.outsider_token, API_THROTTLE_USER="3/hour") as client:
            try:
                for _ in range(5):
                    await client.call_tool("list_controls", {})
                    answered += 1
            except MCPError as refused:
                return answered, refused
        return answered, None

    answered, refused = run(calls())
    assert answered == 3
    assert refused.code == RATE_LIMITED
    assert refused.message.startswith("Rate limit reached; try again in")
    logged = list(McpCall.objects.order_by("id").values_list("error", flat=True))
    assert logged[:3] == ["", "", ""]
    assert logged[3].startswith("Rate limit reached")


def test_the_command_refuses_to_start_without_a_good_token(kb, db_url):
    env = {**os.environ, "DATABASE_URL": db_url, "COE_API_TOKEN": ""}
    manage = [sys.executable, str(ROOT / "manage.py"), "mcp"]
    missing = subprocess.run(manage, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    wrong = subprocess.run(
        [*manage, "--token", "coe_abc_def"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert missing.returncode == wrong.returncode == 1
    assert "Give an API token with --token or COE_API_TOKEN" in missing.stderr
    assert "Invalid, expired or revoked token." in wrong.stderr
    assert missing.stdout == wrong.stdout == ""  # stdout is the protocol's: nothing but JSON-RPC goes there
