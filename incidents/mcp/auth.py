"""Who is calling: the API token an agent presents, and its user, for the length of one MCP exchange.

Both transports authenticate with the API's bearer tokens (any scope: every tool reads). The HTTP view
authenticates through the API's own authentication class; the stdio command checks its token once at
start. The principal travels in a context variable, which asgiref and anyio copy into every task and
thread that serves the exchange, so a tool can never see another caller's user.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from incidents.models import ApiToken


@dataclass(frozen=True)
class Principal:
    token: ApiToken
    transport: str  # "http" or "stdio", as McpCall records it

    @property
    def user(self):
        return self.token.user

    @property
    def agent_name(self) -> str:
        # An agent's token is named for the agent ("Claude Code on Ana's laptop").
        return self.token.name


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("mcp_principal", default=None)


class NotAuthenticated(Exception):
    pass


def current() -> Principal:
    principal = _current.get()
    if principal is None:
        # Only reachable if the server were driven without a transport of ours: refuse rather than guess.
        raise NotAuthenticated("No API token for this MCP exchange.")
    return principal


@contextlib.contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    reset = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(reset)


def token_principal(plain: str, *, transport: str) -> Principal:
    """The principal for a token given in plain text (the stdio command's), or NotAuthenticated."""
    token = ApiToken.authenticate(plain.strip())
    if token is None or not token.user.is_active:
        raise NotAuthenticated("Invalid, expired or revoked token.")
    token.touch()
    return Principal(token=token, transport=transport)
