"""The MCP server: its tools with their input schemas, the published COEs as resources, and the call log.

Built on the official SDK's MCPServer, shared by both transports (http.py, the `mcp` command). Each tool
declares its arguments as a pydantic model that rejects unknown keys and bounds every length; the SDK
validates a call against it and answers a bad one with an error result naming the field, before any
of our code runs. The tools' bodies are synchronous Django code (knowledge.py, planned_action.py), run
with asgiref's sync_to_async(thread_sensitive=True): in the thread that drives the exchange (the
request's, or the command's), on its database connection, never in a worker thread of the event loop's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Resource as McpResource
from pydantic import ConfigDict, Field

from incidents.api.throttling import UserRateThrottle
from incidents.models.vocab import PrimaryCause
from incidents.services.mcp import mcp_call_record

from . import auth, knowledge, planned_action

RATE_LIMITED = -32029  # a server error code (JSON-RPC reserves -32000..-32099 for them)

INSTRUCTIONS = """\
COE Tracker is an incident knowledge base: past incidents, their Correction-of-Error documents (COEs),
the follow-up action items and the controls (mandates) put in place after them. Before you make a risky
change (anything that deletes, recreates, migrates or reconfigures production) call check_planned_action
with what you are about to do; it returns the past incidents most like it, the controls that apply, the
open action items on the service and a verdict. Use search_incidents, get_incident and get_coe to read
the lessons, list_controls for the mandates in force on a service. Everything you see is what the owner
of your API token may see."""

SERVICE = Field(None, min_length=1, max_length=120, description="A service's exact name, e.g. 'AWS Cost Explorer'.")
KEY = Field(
    min_length=3,
    max_length=40,
    pattern=r"^[A-Za-z0-9-]+$",
    description="An incident key, e.g. INC-2025-0003 (search_incidents lists them).",
)


class Arguments(ArgModelBase):
    # A misspelt argument is an error, not silently ignored: the agent learns its call did not mean what it thought.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class SearchIncidentsArguments(Arguments):
    query: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description=(
            "Words to find in incident titles, summaries, COE sections, timelines and action items "
            '(web-search syntax: "quoted phrase", or, -word). Leave out to list the newest incidents that '
            "match the filters."
        ),
    )
    service: str | None = SERVICE
    cause: PrimaryCause | None = Field(None, description="The incident's primary cause.")
    ai_involved: bool | None = Field(None, description="true: only incidents an AI agent took part in; false: none.")
    started_after: date | None = Field(None, description="Only incidents that started on or after this day.")
    started_before: date | None = Field(None, description="Only incidents that started before this day.")
    limit: int = Field(10, ge=1, le=50, description="How many incidents to return.")


class KeyArguments(Arguments):
    key: str = KEY


class ListActionItemsArguments(Arguments):
    open: bool = Field(True, description="true (default): only items still open; false: every item.")
    overdue: bool | None = Field(None, description="true: only open items past their due date; false: none of those.")
    owner: str | None = Field(None, min_length=1, max_length=150, description="The owner's username.")
    team: str | None = Field(None, min_length=1, max_length=120, description="The owning team's slug or name.")
    service: str | None = SERVICE
    incident: str | None = Field(
        None, min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$", description="Only this incident's items."
    )
    limit: int = Field(20, ge=1, le=100, description="How many items to return.")


class ListControlsArguments(Arguments):
    service: str | None = SERVICE
    include_inactive: bool = Field(False, description="Also proposed, expired and retired controls.")
    limit: int = Field(50, ge=1, le=100, description="How many controls to return.")


class CheckPlannedActionArguments(Arguments):
    description: str = Field(
        min_length=3,
        max_length=2000,
        description="What you are about to do, in plain words, e.g. 'delete and recreate the production "
        "environment of the cost reporting service'.",
    )
    service: str | None = SERVICE
    environment: Literal["production", "staging", "development", "test"] | None = Field(
        None, description="Where the change runs; left out, it is read from the description."
    )
    deletes_or_recreates: bool = Field(False, description="true if the change deletes or recreates anything.")


def _principal_call(body: Callable[..., Any], principal: auth.Principal, arguments: dict) -> Any:
    if principal.transport == "stdio":
        # A long-lived process: drop a connection that died or outlived CONN_MAX_AGE, as a request does.
        close_old_connections()
    return body(principal.user, **arguments)


def _answer(result: dict, text: str | None = None) -> CallToolResult:
    """Structured content for clients that read it, and the same as JSON text (or Markdown) for the model."""
    text = text if text is not None else json.dumps(result, ensure_ascii=False, indent=1)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=result)


def _tool(
    body: Callable[..., dict],
    arguments: type[Arguments],
    *,
    title: str,
    description: str,
    text: Callable[[dict], str] | None = None,
) -> Tool:
    async def run(**validated: Any) -> CallToolResult:
        values = {name: value.value if isinstance(value, PrimaryCause) else value for name, value in validated.items()}
        try:
            result = await sync_to_async(_principal_call, thread_sensitive=True)(body, auth.current(), values)
        except knowledge.Refused as refused:
            raise ToolError(str(refused)) from None
        return _answer(result, text(result) if text else None)

    return Tool(
        fn=run,
        name=body.__name__,
        title=title,
        description=description,
        parameters=arguments.model_json_schema(by_alias=True),
        fn_metadata=FuncMetadata(arg_model=arguments),
        is_async=True,
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )


TOOLS = [
    _tool(
        knowledge.search_incidents,
        SearchIncidentsArguments,
        title="Search incidents",
        description=(
            "Search the incident knowledge base (full text, ranked) and filter by service, cause, AI involvement "
            "and period. Returns each incident's key, title, start, severity, status, cause, services and, for a "
            "query, a snippet with the matched words in **bold** and where else it matched (COE sections, "
            "timeline, action items). Use the keys with get_incident and get_coe."
        ),
    ),
    _tool(
        knowledge.get_incident,
        KeyArguments,
        title="Get an incident",
        description=(
            "One incident in full: summary, customer impact, times at the precision known, causes and attribution, "
            "AI involvement, timeline with sources, action items, the controls it led to, and whether an approved "
            "or published COE can be read with get_coe."
        ),
    ),
    _tool(
        knowledge.get_coe,
        KeyArguments,
        title="Get a COE",
        description=(
            "An incident's approved or published Correction-of-Error document as Markdown (what happened, impact, "
            "root cause with the five whys, lessons, timeline, action items) followed by the sources it rests on. "
            "Draft COEs and COEs in review are not returned."
        ),
        text=lambda result: result["markdown"],
    ),
    _tool(
        knowledge.list_action_items,
        ListActionItemsArguments,
        title="List action items",
        description=(
            "Follow-up action items from COEs: open ones by default, or overdue, by owner, team, service or "
            "incident. Each with its incident, type, priority, status, owner and due date."
        ),
    ),
    _tool(
        knowledge.list_controls,
        ListControlsArguments,
        title="List controls",
        description=(
            "The controls (standing mandates such as peer review for production access) in force, all of them or "
            "those on one service, each with its scope, owner, whether it is disputed, and the incidents that "
            "led to it."
        ),
    ),
    _tool(
        planned_action.check_planned_action,
        CheckPlannedActionArguments,
        title="Check a planned action",
        description=(
            "Call this before a risky change. Give what you are about to do (and, if you know them, the service, "
            "the environment and whether it deletes or recreates anything). Returns a plain verdict (e.g. that a "
            "second approver is required), whether a second approver is required, the past incidents most like "
            "the change, the controls that apply and the open action items on the service, each with the reason "
            "it was picked. 'applies': false means nothing in the knowledge base concerns the change."
        ),
    ),
]


class KnowledgeBaseServer(MCPServer):
    """MCPServer with a resource list of the caller's own: the latest published COEs its user may read."""

    async def list_resources(self) -> list[McpResource]:
        coes = await sync_to_async(_principal_call, thread_sensitive=True)(knowledge.published_coes, auth.current(), {})
        return [
            McpResource(
                uri=f"coe://{coe['incident__key']}",
                name=coe["incident__key"],
                title=f"COE: {coe['incident__title']}",
                description=f"Published {coe['published_at']:%Y-%m-%d}" if coe["published_at"] else "Published",
                mime_type="text/markdown",
            )
            for coe in coes
        ]


LOGGED = {"tools/call", "resources/list", "resources/read"}


def _throttle(principal: auth.Principal) -> None:
    """The API's per-user rate for a stdio call (over HTTP the view's throttles count each request)."""
    throttle = UserRateThrottle()
    if not throttle.allow_request(_ThrottledCall(principal.user), None):
        raise MCPError(RATE_LIMITED, f"Rate limit reached; try again in {throttle.wait():.0f} s.")


class _ThrottledCall:
    """What the API's throttles read from a request: the user."""

    def __init__(self, user):
        self.user = user


def _error_text(method: str, result: Any) -> str:
    if method == "tools/call" and isinstance(result, dict) and result.get("isError"):
        return " ".join(block.get("text", "") for block in result.get("content", []))
    return ""


async def record_calls(ctx, call_next):
    """Middleware: every tool call and resource read is logged (McpCall), refused or not; over stdio, rate-limited."""
    if ctx.method not in LOGGED:
        return await call_next(ctx)
    principal = auth.current()
    params = ctx.params or {}
    started = time.perf_counter()
    result, error = None, ""
    try:
        if principal.transport == "stdio":
            await sync_to_async(_throttle, thread_sensitive=True)(principal)
        result = await call_next(ctx)
        error = _error_text(ctx.method, result)
        return result
    except MCPError as exc:
        error = exc.message
        raise
    except Exception as exc:  # the SDK answers an internal error; the log says what broke
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        size = len(json.dumps(result, ensure_ascii=False, default=str)) if result is not None else 0
        await sync_to_async(mcp_call_record, thread_sensitive=True)(
            token=principal.token,
            transport=principal.transport,
            method=ctx.method,
            tool=str(params.get("name") or params.get("uri") or ""),
            arguments=params.get("arguments"),
            result_size=size,
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )


server = KnowledgeBaseServer(
    "coe-tracker",
    title="COE Tracker",
    instructions=INSTRUCTIONS,
    website_url=settings.SITE_URL,
    tools=TOOLS,
    middleware=[record_calls],
)


@server.resource("coe://{key}", name="coe", title="A published COE", mime_type="text/markdown")
async def published_coe(key: str) -> str:
    """A published COE as Markdown with its sources; the URI names the incident's key."""

    def read(user) -> str:
        coe = knowledge.readable_coe(user, key)
        if coe.status != "published":
            raise knowledge.Refused(f"{coe.incident.key}'s COE is not published.")
        return knowledge.coe_markdown(coe)

    try:
        return await sync_to_async(_principal_call, thread_sensitive=True)(read, auth.current(), {})
    except knowledge.Refused as refused:
        raise ResourceNotFoundError(str(refused)) from None
