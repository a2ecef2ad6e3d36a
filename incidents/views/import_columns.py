"""The CSV step of an import, between the upload and the dry run's preview.

The page shows the file's first rows with a choice of field under each heading, filled in from a saved
mapping for files with these same headings, or else guessed from the headings' names. Continuing saves
the mapping by name if asked and starts the dry run; nothing is written to incidents until the preview
is confirmed on the job's page.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from incidents.imports.csv_format import (
    INCIDENT_FIELDS,
    OTHER_FIELDS,
    SECTION_FIELDS,
    BadFile,
    Table,
    guess_mapping,
    mapping_problems,
    read_table,
)
from incidents.models import ImportFormat, ImportJob, ImportMapping
from incidents.services.import_mappings import import_job_map_columns

from .imports import import_access, import_job_for

PREVIEW_ROWS = 5
FIELD_CHOICES = [
    ("The incident", list(INCIDENT_FIELDS.items())),
    ("Its COE", list(SECTION_FIELDS.items())),
    ("Neither", list(OTHER_FIELDS.items())),
]


class ColumnsForm(forms.Form):
    save_as = forms.CharField(
        max_length=ImportMapping._meta.get_field("name").max_length,
        required=False,
        label="Save this mapping as",
        help_text="Offered again for the next file with these headings. A name already saved is updated.",
    )
    dayfirst = forms.BooleanField(required=False, label="Dates are written day first (31/12/2024)")

    def __init__(self, *args, headings: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headings = headings
        for index, heading in enumerate(headings):
            self.fields[f"column-{index}"] = forms.ChoiceField(choices=FIELD_CHOICES, label=heading)

    def columns(self) -> list[forms.BoundField]:
        return [self[f"column-{index}"] for index in range(len(self.headings))]

    def clean(self):
        cleaned = super().clean()
        mapping = {heading: cleaned.get(f"column-{index}") for index, heading in enumerate(self.headings)}
        if None not in mapping.values():  # a column's own error is shown beside it
            for problem in mapping_problems(mapping, self.headings):
                self.add_error(None, ValidationError(problem))
        cleaned["mapping"] = mapping
        return cleaned


def _csv_job_for(user, job_id: int) -> ImportJob:
    """A CSV dry run this person uploaded (any, for a superuser); 404 for any other import."""
    job = import_job_for(user, job_id)
    if job.format != ImportFormat.CSV or not job.dry_run:
        raise Http404("This import has no columns to map.")
    return job


def _starting_mapping(request, job: ImportJob, headings: list[str], saved: list[ImportMapping]):
    """The mapping to show first, and the saved mapping it came from if any: the one asked for (or the
    guesses, if asked), the one this job already ran with (back from its preview), the latest saved for
    these same headings, or the guesses."""
    by_pk = {str(mapping.pk): mapping for mapping in saved}
    asked = request.GET.get("mapping", "")
    if asked == "guess":
        return {}, None
    if chosen := by_pk.get(asked):
        return chosen.columns, chosen
    if "columns" in job.options:
        return job.options["columns"], by_pk.get(str(job.mapping_id))
    same_headings = [mapping for mapping in saved if set(mapping.columns) == set(headings)]
    if same_headings:
        latest = max(same_headings, key=lambda mapping: mapping.updated_at)
        return latest.columns, latest
    return {}, None


@import_access
@require_http_methods(["GET", "POST"])
def import_csv_mapping(request, job_id: int):
    job = _csv_job_for(request.user, job_id)
    try:
        with job.upload.open("rb") as upload:
            table = read_table(job.original_name or job.upload.name, upload.read())
    except BadFile as error:
        return _page(request, job, table=None, form=None, saved=[], error=str(error), status=422)
    except FileNotFoundError:
        return _page(request, job, table=None, form=None, saved=[], error="The uploaded file is gone.", status=422)

    saved = list(ImportMapping.objects.all())
    if request.method == "POST":
        form = ColumnsForm(request.POST, headings=table.headings)
        if form.is_valid():
            started = import_job_map_columns(
                job=job,
                columns=form.cleaned_data["mapping"],
                dayfirst=form.cleaned_data["dayfirst"],
                save_as=form.cleaned_data["save_as"].strip(),
                user=request.user,
            )
            return redirect("incidents:import-job", job_id=started.pk)
        # The choices made so far stay on the page with the reason, so nothing is lost.
        return _page(request, job, table=table, form=form, saved=saved, status=422)

    columns, source = _starting_mapping(request, job, table.headings, saved)
    guesses = guess_mapping(table.headings)
    initial = {f"column-{i}": columns.get(heading, guesses[heading]) for i, heading in enumerate(table.headings)}
    initial |= {"save_as": source.name if source else "", "dayfirst": job.options.get("dayfirst", False)}
    form = ColumnsForm(initial=initial, headings=table.headings)
    return _page(request, job, table=table, form=form, saved=saved, source=source)


def _page(request, job, *, table: Table | None, form, saved, source=None, error="", status=200):
    rows = table.rows[:PREVIEW_ROWS] if table else []
    context = {
        "job": job,
        "table": table,
        "rows": rows,
        "form": form,
        "columns": list(zip(table.headings, form.columns(), strict=True)) if table and form else [],
        "saved": saved,
        "source": source,
        "error": error,
    }
    return TemplateResponse(request, "incidents/imports/csv_columns.html", context, status=status)
