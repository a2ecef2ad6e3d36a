"""The CSV step of an import: the column mapping chosen for an uploaded file, saved by name if asked."""

from __future__ import annotations

from incidents.models import ImportJob, ImportMapping, ImportState

from ._base import service
from .imports import import_job_start


@service(dashboard=False)
def import_mapping_save(*, name: str, columns: dict[str, str], user) -> ImportMapping:
    """Save a mapping under its name; a name already taken is that mapping, updated."""
    mapping, _ = ImportMapping.objects.update_or_create(
        name=name, defaults={"columns": columns}, create_defaults={"columns": columns, "created_by": user}
    )
    return mapping


@service(dashboard=False)
def import_job_map_columns(*, job: ImportJob, columns: dict[str, str], dayfirst: bool, save_as: str, user) -> ImportJob:
    """Start the dry run of an uploaded CSV file or spreadsheet with these columns.

    A job already started (its preview shown, and the person went back to change a column) is left as it
    was, its report intact, and a new dry run of the same upload starts instead."""
    mapping = import_mapping_save(name=save_as, columns=columns, user=user) if save_as else None
    if job.state != ImportState.PENDING or "columns" in job.options:
        job = ImportJob(
            created_by=user,
            format=job.format,
            dry_run=True,
            upload=job.upload.name,
            original_name=job.original_name,
            options={key: value for key, value in job.options.items() if key not in ("columns", "dayfirst")},
        )
    job.options = {**job.options, "columns": columns, "dayfirst": dayfirst}
    job.mapping = mapping
    job.full_clean()
    job.save()
    import_job_start(job)
    return job
