"""The record of every call an AI agent makes to the MCP server."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .bounds import stored_range


class McpCall(models.Model):
    token = models.ForeignKey("incidents.ApiToken", null=True, blank=True, on_delete=models.SET_NULL)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    agent_name = models.CharField(max_length=120, blank=True, help_text="The token's name, which names the agent.")
    transport = models.CharField(max_length=10, default="http", help_text="http or stdio.")
    method = models.CharField(max_length=60, help_text="tools/call, resources/read, ...")
    tool = models.CharField(max_length=100, blank=True, help_text="The tool or resource called.")
    arguments = models.JSONField(default=dict, blank=True)
    result_size = models.PositiveIntegerField(default=0, help_text="Characters in the answer.")
    duration_ms = models.FloatField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "MCP call"
        constraints = [stored_range("mcpcall", "created_at")]

    def __str__(self) -> str:
        return f"{self.agent_name or self.user_id}: {self.tool or self.method}"
