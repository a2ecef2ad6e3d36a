"""Importing earlier postmortems in the browser: upload, a dry run's preview, confirm, the report.

The upload is saved under MEDIA_ROOT (never served) and read by a Celery worker: first a dry run, whose
page shows what each file would create or update and every warning while it runs (htmx polls its
progress); confirming starts the real run of the same upload, with the same page. A CSV file first goes
through the column-mapping step (import_columns.py). Reviewers, approvers and admins only.
"""

from __future__ import annotations

import functools
import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.imports.readers import format_of
from incidents.models import ImportFormat, ImportJob, ImportState
from incidents.roles import APPROVERS, REVIEWERS
from incidents.services.imports import import_job_confirm, import_job_start

# The most report rows the page lists; the whole report is a download.
REPORT_ROWS_SHOWN = 500
MAX_UPLOAD_BYTES = 500 * 1024 * 1024


def may_import(user) -> bool:
    return user.is_superuser or user.groups.filter(name__in=(REVIEWERS, APPROVERS)).exists()


def import_access(view):
    """Signed in, and a reviewer, an approver or an admin; 403 for anyone else."""

    @login_required
    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if not may_import(request.user):
            raise PermissionDenied("Only reviewers, approvers and admins can import postmortems.")
        return view(request, *args, **kwargs)

    return guarded


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="A Markdown or HTML postmortem, a CSV file or spreadsheet, or a zip of many (with folders)."
    )
    format = forms.ChoiceField(required=False, label="Read as", help_text="By default, by each file's extension.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # Our JSON export restores users and group memberships: an admin's decision.
        formats = [(f.value, f.label) for f in ImportFormat if f != ImportFormat.JSON or user.is_superuser]
        self.fields["format"].choices = [("", "By extension"), *formats]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"At most {MAX_UPLOAD_BYTES // 2**20} MB; split the import into several zips.")
        return upload

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        # A zip is read member by member; a single file must say what it is.
        unknown = upload and not upload.name.lower().endswith(".zip") and format_of(upload.name) is None
        if unknown and not cleaned.get("format"):
            self.add_error("format", "This file's extension names no format we read: choose one.")
        chosen = cleaned.get("format") or (format_of(upload.name) if upload else None)
        if chosen == ImportFormat.JSON and not self.user.is_superuser:
            self.add_error("file", "Our JSON export restores users and groups too: only an admin can import it.")
        return cleaned


def import_job_for(user, job_id: int) -> ImportJob:
    """An import this person started (any, for a superuser); 404 for anyone else's."""
    jobs = ImportJob.objects.select_related("created_by")
    if not user.is_superuser:
        jobs = jobs.filter(created_by=user)
    try:
        return jobs.get(pk=job_id)
    except ImportJob.DoesNotExist:
        raise Http404("No such import.") from None


@import_access
@require_http_methods(["GET", "POST"])
def import_upload(request):
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        fmt = form.cleaned_data["format"] or format_of(upload.name) or ""
        job = ImportJob(created_by=request.user, format=fmt, dry_run=True, upload=upload, original_name=upload.name)
        job.save()
        if fmt == ImportFormat.CSV:
            return redirect("incidents:import-csv-mapping", job_id=job.pk)
        import_job_start(job)
        return redirect("incidents:import-job", job_id=job.pk)
    recent = ImportJob.objects.filter(created_by=request.user)[:10]
    status = 422 if form.errors else 200
    return TemplateResponse(request, "incidents/imports/upload.html", {"form": form, "recent": recent}, status=status)


def _job_context(job: ImportJob) -> dict:
    report = job.report or []
    confirmed = ImportJob.objects.filter(options__confirms=job.pk).first() if job.dry_run else None
    # Failures and warnings first: what needs reading before confirming.
    ordered = sorted(report, key=lambda entry: (entry["action"] != "failed", not entry.get("warnings")))
    return {
        "job": job,
        "running": job.state in (ImportState.PENDING, ImportState.RUNNING),
        "percent": 100 * job.processed // job.total if job.total else 0,
        "entries": ordered[:REPORT_ROWS_SHOWN],
        "more": max(0, len(report) - REPORT_ROWS_SHOWN),
        "confirmed": confirmed,
        "may_confirm": job.dry_run
        and job.state == ImportState.DONE
        and bool(job.created_count or job.updated_count)
        and confirmed is None,
        "previewed": ImportJob.objects.filter(pk=job.options.get("confirms")).first() if not job.dry_run else None,
    }


@import_access
@require_GET
def import_job(request, job_id: int):
    job = import_job_for(request.user, job_id)
    template = "incidents/imports/job.html#progress" if request.htmx else "incidents/imports/job.html"
    return TemplateResponse(request, template, _job_context(job))


@import_access
@require_POST
def import_confirm(request, job_id: int):
    """Import what the dry run previewed: the same upload, format and columns, for real."""
    dry_run = import_job_for(request.user, job_id)
    if not dry_run.dry_run or dry_run.state != ImportState.DONE:
        return redirect("incidents:import-job", job_id=dry_run.pk)
    job = import_job_confirm(dry_run=dry_run, user=request.user)
    return redirect("incidents:import-job", job_id=job.pk)


@import_access
@require_GET
def import_report(request, job_id: int):
    """The whole per-file report as JSON."""
    job = import_job_for(request.user, job_id)
    response = HttpResponse(
        json.dumps(job.report, indent=1, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.json"'
    return response
