"""The record of an MCP call: who asked (token, agent, user), what, how big the answer was, how long it took."""

from __future__ import annotations

from typing import Any

from incidents.models import ApiToken, McpCall

from ._base import service

# The log keeps what was asked, not every byte of it: a 10,000-character query is recorded by its start.
MAX_TEXT = 500
MAX_KEYS = 30


def _bounded(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else f"{value[:MAX_TEXT]}… ({len(value)} characters)"
    if depth >= 3:
        return "…"
    if isinstance(value, dict):
        return {str(k)[:100]: _bounded(v, depth + 1) for k, v in list(value.items())[:MAX_KEYS]}
    if isinstance(value, list | tuple):
        return [_bounded(v, depth + 1) for v in value[:MAX_KEYS]]
    return value if value is None or isinstance(value, bool | int | float) else str(value)[:MAX_TEXT]


@service(dashboard=False)
def mcp_call_record(
    *,
    token: ApiToken,
    transport: str,
    method: str,
    tool: str,
    arguments: Any,
    result_size: int,
    duration_ms: float,
    error: str = "",
) -> McpCall:
    return McpCall.objects.create(
        token=token,
        user=token.user,
        agent_name=token.name[: McpCall._meta.get_field("agent_name").max_length],
        transport=transport,
        method=method[:60],
        tool=tool[:100],
        arguments=_bounded(arguments if arguments is not None else {}),
        result_size=result_size,
        duration_ms=duration_ms,
        error=error[:500],
    )
