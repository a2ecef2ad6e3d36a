"""Imports of earlier postmortems: a job per upload or command run, and saved CSV column mappings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .bounds import stored_range


class ImportFormat(models.TextChoices):
    MARKDOWN = "markdown", "Markdown (with or without front matter)"
    HTML = "html", "HTML export (Confluence, Google Docs)"
    CSV = "csv", "CSV or spreadsheet"
    JSON = "json", "COE Tracker JSON export"


class ImportState(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportMapping(models.Model):
    """A CSV column mapping saved by name, offered again for the next file."""

    name = models.CharField(max_length=100, unique=True)
    columns = models.JSONField(default=dict, help_text='Column heading to field, e.g. {"Summary": "title"}.')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [stored_range("importmapping", column) for column in ("created_at", "updated_at")]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One import: a dry run or the real thing, with its progress and its per-file report."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    format = models.CharField(max_length=20, choices=ImportFormat.choices)
    dry_run = models.BooleanField(default=True)
    upload = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=300, blank=True)
    mapping = models.ForeignKey(ImportMapping, null=True, blank=True, on_delete=models.SET_NULL)
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=ImportState.choices, default=ImportState.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # One entry per file or row: what was (or would be) created or updated, what was mapped,
    # what was kept as notes, every warning, and the reason a file failed.
    report = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [stored_range("importjob", column) for column in ("created_at", "started_at", "finished_at")]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.get_format_display()}, {self.get_state_display()})"
