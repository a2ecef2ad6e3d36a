"""Serve the MCP server over stdio, for a desktop or command-line agent that starts it as a subprocess."""

import os

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from incidents.mcp import auth


class Command(BaseCommand):
    help = (
        "Serve COE Tracker's MCP server over stdio (JSON-RPC on stdin and stdout), as the user of an API token. "
        "The token comes from --token or COE_API_TOKEN; any scope will do."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--token", help="An API token (else COE_API_TOKEN; prefer the variable, which ps does not show)."
        )

    def handle(self, *args, token=None, **options):
        plain = token or os.environ.get("COE_API_TOKEN", "")
        if not plain.strip():
            raise CommandError("Give an API token with --token or COE_API_TOKEN (manage.py create_api_token).")
        try:
            principal = auth.token_principal(plain, transport="stdio")
        except auth.NotAuthenticated as refused:
            raise CommandError(str(refused)) from None
        # Imported here: the SDK's server is needed only once the token is good.
        from incidents.mcp.server import server

        self.stderr.write(f"MCP over stdio as {principal.user.get_username()} ({principal.agent_name}).")
        with auth.acting_as(principal):
            # From this thread, so the tools' database work (sync_to_async, thread-sensitive) runs here too.
            async_to_sync(server.run_stdio_async)()
