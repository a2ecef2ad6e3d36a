"""The MCP server over streamable HTTP at /mcp/, driven by the official SDK's client against a live server.

Each test seeds the knowledge base (the live server reads committed data) with one restricted incident
marked in every field (tests/support/mcp.py), and calls the server as an agent would, with an API token.
"""

from __future__ import annotations

import json

import httpx2
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from incidents.api.throttling import UserRateThrottle
from incidents.mcp import knowledge, planned_action
from incidents.mcp.server import RATE_LIMITED
from incidents.models import McpCall
from incidents.seed.loader import load

from .factories import UserFactory
from .support.mcp import KIRO_TITLE, MARKER, PEER_REVIEW, TOOLS, every_answer, http_client, knowledge_base, run, text

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
KIRO_ACTION = "delete and recreate the production environment of the cost reporting service"


@pytest.fixture
def kb(roles):
    return knowledge_base()


@pytest.fixture
def url(live_server):
    return f"{live_server.url}/mcp/"


def test_every_tool_is_listed_with_a_strict_bounded_schema(kb, url):
    async def listed():
        async with http_client(url, kb.outsider_token) as client:
            return (await client.list_tools()).tools, (await client.list_resource_templates()).resource_templates

    tools, templates = run(listed())
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        schema = tool.input_schema
        assert schema["additionalProperties"] is False, tool.name  # unknown keys are refused
        assert len(tool.description) > 80, tool.name
        assert tool.annotations.read_only_hint is True
        for name, field in schema["properties"].items():
            for variant in field.get("anyOf", [field]):
                if variant.get("type") == "string" and "enum" not in variant and "format" not in variant:
                    assert variant.get("maxLength"), f"{tool.name}.{name} has no length bound"
    assert [t.uri_template for t in templates] == ["coe://{key}"]


def test_the_tools_answer_from_the_seeded_knowledge_base(kb, url):
    key = kb.kiro.key

    async def answers():
        async with http_client(url, kb.outsider_token) as client:
            return {
                "search": await client.call_tool("search_incidents", {"query": "delete and recreate the environment"}),
                "filtered": await client.call_tool(
                    "search_incidents",
                    {"service": "AWS Cost Explorer", "ai_involved": True, "started_after": "2025-12-01"},
                ),
                "by cause": await client.call_tool("search_incidents", {"cause": "automation_defect"}),
                "incident": await client.call_tool("get_incident", {"key": key.lower()}),
                "coe": await client.call_tool("get_coe", {"key": key}),
                "items": await client.call_tool("list_action_items", {"service": "AWS Cost Explorer"}),
                "controls": await client.call_tool("list_controls", {"service": "AWS Cost Explorer"}),
                "all controls": await client.call_tool("list_controls", {"include_inactive": True}),
                "resources": await client.list_resources(),
                "resource": await client.read_resource(f"coe://{key}"),
            }

    got = run(answers())
    found = got["search"].structured_content["incidents"]
    assert found[0]["key"] == key
    assert found[0]["title"] == KIRO_TITLE
    assert "**delete**" in found[0]["snippet"]  # the matched words marked for the model
    assert [i["key"] for i in got["filtered"].structured_content["incidents"]] == [key]
    by_cause = got["by cause"].structured_content
    assert by_cause["total"] == len(by_cause["incidents"]) >= 1
    assert {i["cause"] for i in by_cause["incidents"]} == {"automation_defect"}

    incident = got["incident"].structured_content
    assert incident["title"] == KIRO_TITLE
    assert incident["services"] == ["AWS Cost Explorer", "Kiro"]
    assert incident["times"]["started"].endswith("2025")  # at the precision the sources give: no clock time
    assert PEER_REVIEW in incident["controls"]
    # The disputed attribution: each claim beside its source, Amazon's correction among them.
    assert {claim["source"] for claim in incident["claims"]} >= {"Amazon"}
    assert len({claim["stance"] for claim in incident["claims"]}) > 1
    assert incident["coe_readable"] is True
    assert incident["timeline"]
    assert incident["action_items"]

    coe = got["coe"]
    markdown = coe.content[0].text
    assert markdown.startswith(f"# COE: {KIRO_TITLE}")
    assert "## Five whys" in markdown
    assert "## Sources" in markdown
    sources = coe.structured_content["sources"]
    assert sources
    assert all(s["url"] in markdown for s in sources)

    items = got["items"].structured_content["action_items"]
    assert items
    assert {item["incident"] for item in items} == {key}
    assert all(item["status"] in ("open", "in_progress") for item in items)

    controls = got["controls"].structured_content["controls"]
    assert [c["name"] for c in controls] == [PEER_REVIEW]
    assert controls[0]["led_to_by"] == [{"key": key, "title": KIRO_TITLE}]
    all_controls = {c["name"]: c for c in got["all controls"].structured_content["controls"]}
    assert all_controls["90-day code safety reset for Tier-1 systems"]["status"] == "expired"
    assert all_controls["Senior sign-off for AI-assisted changes by junior and mid-level engineers"]["disputed"]

    assert f"coe://{key}" in [str(r.uri) for r in got["resources"].resources]
    assert got["resource"].contents[0].text == markdown
    assert got["resource"].contents[0].mime_type == "text/markdown"


# (description, other arguments, the incident expected first or None, the control expected or None,
# whether a second approver is required)
PLANNED_ACTIONS = [
    (KIRO_ACTION, {"environment": "production", "deletes_or_recreates": True}, KIRO_TITLE, PEER_REVIEW, True),
    (KIRO_ACTION, {}, KIRO_TITLE, PEER_REVIEW, True),  # environment and deletion read from the words
    (
        "delete and recreate the environment",
        {"service": "AWS Cost Explorer", "environment": "production"},
        KIRO_TITLE,
        PEER_REVIEW,
        True,
    ),
    (
        "drop the production database and recreate it from the schema",
        {"deletes_or_recreates": True},
        "Replit agent deletes SaaStr's production database during a code freeze",
        "Replit development/production database separation",
        True,
    ),
    (
        "change the DNS plan automation for DynamoDB endpoints",
        {"environment": "production"},
        "AWS us-east-1 outage: empty DynamoDB DNS record and cascading EC2 and NLB failures",
        "DynamoDB DNS Planner and DNS Enactor automation disabled worldwide",
        False,
    ),
    # The same delete-and-recreate outside production: the incident is a lesson, the production control is not.
    (
        "delete and recreate the environment",
        {"service": "AWS Cost Explorer", "environment": "staging", "deletes_or_recreates": True},
        KIRO_TITLE,
        None,
        False,
    ),
    # Harmless read-only actions: nothing applies.
    ("read last week's CPU metrics from the monitoring dashboard", {"environment": "production"}, None, None, False),
    ("list the open pull requests in the docs repository", {}, None, None, False),
    ("read the cost report", {"service": "AWS Cost Explorer", "environment": "production"}, None, None, False),
]


def test_check_planned_action_finds_the_lesson_and_the_control_and_nothing_for_harmless_reads(kb, url):
    async def checks():
        async with http_client(url, kb.outsider_token) as client:
            return [
                await client.call_tool("check_planned_action", {"description": d, **extra})
                for d, extra, *_ in PLANNED_ACTIONS
            ]

    for (description, extra, first, control, second_approver), result in zip(
        PLANNED_ACTIONS, run(checks()), strict=True
    ):
        case = f"{description!r} {extra}"
        assert not result.is_error, case
        answer = result.structured_content
        assert answer["second_approver_required"] is second_approver, case
        if first is None:
            assert answer["applies"] is False, case
            assert answer == {**answer, "similar_incidents": [], "controls": [], "open_action_items": []}, case
            assert "nothing" in answer["verdict"].lower(), case
            continue
        assert answer["applies"] is True, case
        assert answer["similar_incidents"][0]["title"] == first, case
        assert all(row["reasons"] for row in answer["similar_incidents"] + answer["controls"]), case
        names = [c["name"] for c in answer["controls"]]
        if control is None:
            assert PEER_REVIEW not in names, case
        else:
            assert control in names, case
        if second_approver:
            assert answer["verdict"].startswith("A second approver is required"), case
            assert PEER_REVIEW in answer["verdict"], case


def test_the_kiro_check_says_why_each_thing_was_picked(kb, url):
    async def check():
        async with http_client(url, kb.outsider_token) as client:
            return await client.call_tool(
                "check_planned_action",
                {"description": KIRO_ACTION, "service": "AWS Cost Explorer", "deletes_or_recreates": True},
            )

    answer = run(check()).structured_content
    kiro = answer["similar_incidents"][0]
    assert kiro["key"] == kb.kiro.key
    assert kiro["reasons"][0] == "same service (AWS Cost Explorer)"
    assert "delete" in kiro["reasons"][1]
    assert "recreate" in kiro["reasons"][1]
    peer = next(c for c in answer["controls"] if c["name"] == PEER_REVIEW)
    assert f"put in place after {kb.kiro.key}, which is like this change" in peer["reasons"]
    assert peer["requires_second_person"] is True
    items = answer["open_action_items"]
    assert items
    assert all(item["reasons"] == ["open on AWS Cost Explorer"] for item in items)
    assert {item["incident"] for item in items} == {kb.kiro.key}


def test_a_restricted_incident_reaches_a_member_and_never_an_outsider(kb, url):
    key = kb.restricted.key

    async def both():
        async with http_client(url, kb.outsider_token) as outsider:
            as_outsider = await every_answer(outsider, key)
            marker_search = await outsider.call_tool("search_incidents", {"query": MARKER})
        async with http_client(url, kb.member_token) as member:
            as_member = await every_answer(member, key)
        return as_outsider, marker_search, as_member

    as_outsider, marker_search, as_member = run(both())
    leaks = {label: answer for label, answer in as_outsider.items() if MARKER.lower() in answer.lower()}
    assert leaks == {}
    assert marker_search.structured_content["total"] == 0
    assert f"No incident {key} that you may see" in as_outsider["get_incident"]
    assert as_outsider["resource read"].startswith("refused")
    # The member sees it through every tool that lists or reads it.
    for label in ("search words", "search newest", "get_incident", "get_coe", "all action items", "all controls"):
        assert MARKER in as_member[label], label
    assert key in as_member["resources"]
    assert MARKER in as_member["resource read"]
    assert key in as_member["planned action"]


def test_bad_arguments_get_mcp_errors_never_a_crash(kb, url):
    bad = {
        "wrong type": ("search_incidents", {"limit": "many"}),
        "wrong type for a flag": ("list_action_items", {"open": "perhaps"}),
        "unknown key": ("search_incidents", {"query": "Kiro", "servce": "AWS Cost Explorer"}),
        "10,000 characters": ("search_incidents", {"query": "x" * 10_000}),
        "10,000-character plan": ("check_planned_action", {"description": "delete " * 1_500}),
        "missing argument": ("get_coe", {}),
        "bad key": ("get_incident", {"key": "INC-2025-0001; DROP TABLE"}),
        "unknown incident": ("get_incident", {"key": "INC-1999-0001"}),
        "unknown service": ("list_controls", {"service": "No such service"}),
        "limit out of range": ("list_controls", {"limit": 100_000}),
        "bad date": ("search_incidents", {"started_after": "last tuesday"}),
        "unknown environment": ("check_planned_action", {"description": "restart it", "environment": "prod-eu"}),
    }

    async def calls():
        async with http_client(url, kb.outsider_token) as client:
            results = {label: await client.call_tool(tool, args) for label, (tool, args) in bad.items()}
            results["unknown tool"] = await client.call_tool("drop_tables", {})
            try:
                await client.read_resource("coe://INC-1999-0001")
            except MCPError as error:
                results["unknown resource"] = error
            return results

    results = run(calls())
    for label in [*bad, "unknown tool"]:
        assert results[label].is_error, label
    assert "servce" in text(results["unknown key"])
    assert "Extra inputs are not permitted" in text(results["unknown key"])
    assert "at most 200 characters" in text(results["10,000 characters"])
    assert "No service 'No such service'" in text(results["unknown service"])
    assert "AWS Cost Explorer" in text(results["unknown service"])  # the names the agent may use
    assert "Unknown tool: drop_tables" in text(results["unknown tool"])
    assert results["unknown resource"].code == INVALID_PARAMS
    assert "No incident INC-1999-0001 that you may see" in results["unknown resource"].message


def test_requests_refused_before_mcp_get_their_status_and_a_json_rpc_error(kb, url):
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    token = {**headers, "Authorization": f"Bearer {kb.outsider_token}"}
    with httpx2.Client(timeout=10) as http:
        missing = http.post(url, json=message, headers=headers)
        wrong = http.post(url, json=message, headers={**headers, "Authorization": "Bearer coe_nope_nope"})
        session = http.post(url, json=message, headers={**headers, "Cookie": "sessionid=whatever"})
        # No server-sent stream and no sessions: a GET is not held open as one (it would tie up a worker).
        stream = http.get(url, headers=token)
        delete = http.delete(url, headers=token)
        garbage = http.post(url, content=b"not json", headers=token)
        huge = http.post(url, content=b'{"jsonrpc": "2.0", "x": "' + b"x" * 3_000_000 + b'"}', headers=token)
    assert [missing.status_code, wrong.status_code, session.status_code] == [401, 401, 401]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.json()["error"]["message"] == "Authentication credentials were not provided."
    assert "default-src 'self'" in missing.headers["Content-Security-Policy"]  # the site's middleware, all of it
    assert [stream.status_code, delete.status_code, garbage.status_code, huge.status_code] == [405, 405, 400, 413]
    assert garbage.json()["error"]["code"] == -32700  # the SDK's parse error
    assert huge.json()["error"]["message"] == "The request body is too large."
    assert McpCall.objects.count() == 0


def test_every_call_is_logged_with_the_agent_and_its_arguments(kb, url):
    async def calls():
        async with http_client(url, kb.outsider_token) as client:
            await client.call_tool("search_incidents", {"query": "Kiro"})
            await client.call_tool("check_planned_action", {"description": KIRO_ACTION})
            await client.call_tool("search_incidents", {"query": "x" * 10_000})
            await client.read_resource(f"coe://{kb.kiro.key}")

    run(calls())
    calls = list(McpCall.objects.order_by("id"))
    assert [(c.method, c.tool) for c in calls] == [
        ("tools/call", "search_incidents"),
        ("tools/call", "check_planned_action"),
        ("tools/call", "search_incidents"),
        ("resources/read", f"coe://{kb.kiro.key}"),
    ]
    assert {(c.token_id, c.user_id, c.agent_name, c.transport) for c in calls} == {
        (kb.outsider.pk, kb.outsider.user_id, "Outsider's agent (Claude Code)", "http")
    }
    assert calls[0].arguments == {"query": "Kiro"}
    assert calls[0].error == ""
    assert calls[0].result_size > 100
    assert calls[0].duration_ms > 0
    assert calls[2].error.startswith("Error executing tool search_incidents")
    assert len(json.dumps(calls[2].arguments)) < 1_000  # the log keeps the start of a huge argument


def test_calls_are_rate_limited_like_the_api(kb, url, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "4/hour"})

    async def calls():
        answered = 0
        async with http_client(url, kb.outsider_token) as client:  # connecting takes a request or two
            try:
                for _ in range(5):
                    await client.call_tool("list_controls", {})
                    answered += 1
            except MCPError as refused:
                return answered, refused
        return answered, None

    answered, refused = run(calls())
    assert 1 <= answered < 4
    assert refused.code == RATE_LIMITED
    assert "Request was throttled" in refused.message
    assert McpCall.objects.count() == answered  # the refused call never reached the server


def test_the_call_log_is_read_only_and_for_superusers_in_the_admin(client, kb, django_assert_num_queries):
    from incidents.services.mcp import mcp_call_record

    for n in range(3):
        mcp_call_record(
            token=kb.outsider, transport="http", method="tools/call", tool="search_incidents",
            arguments={"query": f"words {n}"}, result_size=120, duration_ms=4.5,
        )  # fmt: skip
    staff = UserFactory(username="stacy", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="mcpcall"))
    admin_user = UserFactory(username="ada", is_staff=True, is_superuser=True)
    changelist = reverse("admin:incidents_mcpcall_changelist")

    client.force_login(staff)
    assert client.get(changelist).status_code == 403  # model permissions are not enough: superusers only

    client.force_login(admin_user)
    # 1 session, 2 user, 3 the count of the calls, 4 the page of calls with their users
    with django_assert_num_queries(4):
        page = client.get(changelist)
    assert page.status_code == 200
    assert page.content.decode().count("Outsider&#x27;s agent (Claude Code)") == 3
    call = McpCall.objects.first()
    assert client.get(reverse("admin:incidents_mcpcall_add")).status_code == 403
    assert client.post(reverse("admin:incidents_mcpcall_delete", args=[call.pk]), {"post": "yes"}).status_code == 403
    assert McpCall.objects.count() == 3


@pytest.mark.django_db
def test_the_tools_query_counts(roles, django_assert_num_queries):
    """What each tool costs in queries, whatever the size of the knowledge base (the tools' bodies, called
    as the server calls them)."""
    load()
    user = User.objects.get(username="leader")
    search = {"cause": None, "ai_involved": None, "started_after": None, "started_before": None, "limit": 10}
    # 1 the service's name among those the user may see (the list's filter), 2 the search's plan check (a
    # broad query is refused), 3 the matches ranked and counted, 4 the page's incidents with their snippets,
    # 5-7 the matching COE sections, timeline events and action items, 8 the page's services
    with django_assert_num_queries(8):
        knowledge.search_incidents(user, query="delete recreate", service="AWS Cost Explorer", **search)
    # 1 the count, 2 the page, 3 its services
    with django_assert_num_queries(3):
        knowledge.search_incidents(user, query=None, service=None, **search)
    # 1 the service exists for the user, 2 the count, 3 the page of items with incident and owner
    with django_assert_num_queries(3):
        knowledge.list_action_items(
            user, open=True, overdue=None, owner=None, team=None, service="Kiro", incident=None, limit=20
        )
    # 1 the visible controls, 2 the earliest incidents the user may see that led to each, and how many
    with django_assert_num_queries(2):
        knowledge.list_controls(user, service=None, include_inactive=True, limit=50)
    # 1 the incident, 2 its COE, 3 the sources it cites, 4 its action items, 5 its timeline
    with django_assert_num_queries(5):
        knowledge.get_coe(user, key="INC-2025-0003")
    # 1 the service, 2 the search's plan check, 3 the ranked matches, 4 their incidents and snippets, 5-7 the
    # snippets' COE sections, timeline events and action items, 8 the service's own incidents, 9 which of the
    # words each candidate matches, 10 the picked incidents, 11 their services, 12 the active controls the
    # similar incidents led to, 13 those on the service, 14 the incidents each control followed, 15 the
    # controls, 16 the open items on the service
    with django_assert_num_queries(16):
        planned_action.check_planned_action(
            user,
            description="delete and recreate the production environment of the cost reporting service",
            service="AWS Cost Explorer",
            environment=None,
            deletes_or_recreates=True,
        )
