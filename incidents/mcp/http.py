"""MCP's streamable HTTP transport at /mcp/, served by Django wherever Django is served (runserver, gunicorn).

The view is an API view: the API's bearer tokens (no session, so no CSRF), the API's rate limits, its
error shape for a request refused before MCP is spoken (401, 429, 413). What passes is handed, as one
ASGI request, to the SDK's own streamable HTTP transport in stateless mode with JSON responses: every
POST carries one JSON-RPC message and gets its answer in the response, so nothing outlives the request
and any worker of any process can answer any call. The exchange runs on an event loop for the length of
the request (asgiref's async_to_sync), while the tools' database work comes back to the request's thread.
"""

from __future__ import annotations

import logging

import anyio
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from incidents.api.authentication import BearerTokenAuthentication

from . import auth
from .server import RATE_LIMITED, server

# JSON-RPC codes for refusals (the server's range, -32000 to -32099, but for a body too large).
REFUSAL_CODES = {401: -32001, 403: -32001, 405: INVALID_REQUEST, 413: INVALID_REQUEST, 429: RATE_LIMITED}

# The SDK's transport says at INFO that it starts, stops and terminates its session: here, on every request.
for _name in ("mcp.server.streamable_http_manager", "mcp.server.streamable_http"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Hop-by-hop and framing headers are the WSGI server's to write.
_DROPPED = {"content-length", "transfer-encoding", "connection"}


def _scope(request, body: bytes) -> dict:
    port = request.META.get("SERVER_PORT", "")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()],
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "server": (request.META.get("SERVER_NAME", ""), int(port) if port.isdigit() else None),
    }


async def _exchange(scope: dict, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request through the SDK's transport: its status, headers and body."""
    # A session manager runs once; stateless, it holds nothing between requests, so each gets its own. It
    # drives the low-level server MCPServer wraps, reached as the SDK's own in-process Client reaches it.
    manager = StreamableHTTPSessionManager(server._lowlevel_server, json_response=True, stateless=True)
    start: dict = {}
    chunks: list[bytes] = []
    answered = anyio.Event()
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        # The client stays connected until the answer is written (a disconnect would cancel the call).
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    async with manager.run():
        await manager.handle_request(scope, receive, send)
    return start.get("status", 500), start.get("headers", []), b"".join(chunks)


class McpView(APIView):
    """POST a JSON-RPC message (Accept: application/json, text/event-stream). GET and DELETE are answered 405
    here, as the specification allows a server without a stream of its own or sessions: the SDK's transport
    would hold a GET open as an event stream, which a sync worker cannot afford."""

    schema = None  # not part of the REST API's OpenAPI document: MCP describes itself (tools/list)
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    # The throttles are the API's defaults (settings.REST_FRAMEWORK): per user, and bad tokens per address.

    def handle_exception(self, exc):
        """A request refused before MCP is spoken (no or a bad token, too many requests, too large) keeps its
        status and headers (WWW-Authenticate, Retry-After), with a JSON-RPC error for a body: the SDK's
        client shows an error it can parse, with the reason, rather than a bare status."""
        response = super().handle_exception(exc)
        detail = response.data.get("error", {}).get("detail", "Refused.") if isinstance(response.data, dict) else ""
        code = REFUSAL_CODES.get(response.status_code, INTERNAL_ERROR)
        response.data = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": detail}}
        return response

    def post(self, request):
        body = request.body
        with auth.acting_as(auth.Principal(token=request.auth, transport="http")):
            status, headers, content = async_to_sync(_exchange)(_scope(request, body), body)
        response = HttpResponse(content, status=status)
        for name, value in headers:
            if name.decode("latin-1").lower() not in _DROPPED:
                response[name.decode("latin-1")] = value.decode("latin-1")
        return response
