"""An import job run: its files read, each postmortem previewed or written, progress and report kept.

- A dry run writes each postmortem exactly as the real run would and rolls it back, so its preview
  (create, update or unchanged, and every warning) is what confirming will do, failures included.
- The real run writes each postmortem in its own transaction (services.imports.incident_import): a
  bad one fails alone, with its reason, and the rest import.
- Progress (processed of total, counts) is saved on the ImportJob as it goes, at most a few times a
  second, so a page polling it and the command line show it; the per-file report is saved at the end.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from incidents import repeats
from incidents.models.imports import ImportFormat, ImportJob, ImportState
from incidents.services.imports import ImportOutcome, ImportRefused, incident_import

from . import readers, sources
from .records import ImportedIncident, ReadFailure

logger = logging.getLogger(__name__)

# How often progress is written to the job while it runs.
PROGRESS_EVERY_SECONDS = 0.5

Progress = Callable[[ImportJob], None]


def source_files(job: ImportJob) -> Iterator[sources.SourceFile | ReadFailure]:
    """The job's files: its upload (a zip's members), or the paths the command line named."""
    wanted = readers.accepts(job.format or None)
    if job.upload:
        with job.upload.open("rb") as handle:
            data = handle.read()
        yield from sources.upload_files(job.original_name or Path(job.upload.name).name, data, wanted=wanted)
    else:
        yield from sources.path_files(job.options.get("paths", []), wanted=wanted)


def _options(job: ImportJob) -> dict:
    options = dict(job.options)
    if job.mapping is not None and "columns" not in options:
        options["columns"] = job.mapping.columns
    return options


def read_items(job: ImportJob) -> list[ImportedIncident | ReadFailure]:
    """Every postmortem (or failure) the job's files hold, in the order read."""
    options = _options(job)
    items: list[ImportedIncident | ReadFailure] = []
    for file in source_files(job):
        if isinstance(file, ReadFailure):
            items.append(file)
            continue
        try:
            items.extend(readers.read(file, fmt=job.format or None, options=options))
        except Exception as error:  # a reader's bug must cost its file, not the import
            logger.exception("Reading %s failed", file.name)
            items.append(ReadFailure(file.name, f"Could not be read: {error}"))
    return items


def run_job(job: ImportJob, *, on_progress: Progress | None = None, workers: int = 1) -> ImportJob:
    """Run `job` (a dry run or the real thing) to the end and return it with its report.

    `workers` > 1 writes the postmortems from that many processes at once (the command line's
    --workers; a Celery task runs one): each file is still one transaction, and the repeat flags,
    which two writers at once can each get wrong, are rebuilt in one pass at the end."""
    job.state, job.started_at, job.error = ImportState.RUNNING, timezone.now(), ""
    job.processed = job.created_count = job.updated_count = job.unchanged_count = 0
    job.warning_count = job.failed_count = 0
    job.report = []
    job.save()
    try:
        if job.format == ImportFormat.JSON:
            _run_json(job)
        else:
            _run_items(job, read_items(job), on_progress=on_progress, workers=workers)
            if workers > 1 and not job.dry_run:
                repeats.rebuild()
    except Exception as error:
        logger.exception("Import job %s failed", job.pk)
        job.state, job.error = ImportState.FAILED, f"{type(error).__name__}: {error}"
    else:
        job.state = ImportState.DONE
    job.finished_at = timezone.now()
    job.save()
    if on_progress:
        on_progress(job)
    return job


def _run_items(job: ImportJob, items: list, *, on_progress: Progress | None, workers: int) -> None:
    job.total = len(items)
    _save_progress(job)
    last = time.monotonic()
    report: list[dict | None] = [None] * len(items)
    for index, entry in _entries(items, user=job.created_by, dry_run=job.dry_run, workers=workers):
        report[index] = entry
        _count(job, entry)
        job.processed += 1
        if time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
            _save_progress(job)
            if on_progress:
                on_progress(job)
            last = time.monotonic()
    job.report = report


def _entries(items: list, *, user, dry_run: bool, workers: int) -> Iterator[tuple[int, dict]]:
    """Each item's report entry, with its index, as it is done: here, or in `workers` processes."""
    if workers <= 1 or len(items) < 2 * workers:
        for index, item in enumerate(items):
            yield index, _run_one(item, user=user, dry_run=dry_run)
        return
    # Forked children must not share this process's database connection: each opens its own.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    children = [
        context.Process(target=_work, args=(items, range(n, len(items), workers), user, dry_run, done), daemon=True)
        for n in range(workers)
    ]
    for child in children:
        child.start()
    waiting = set(range(len(items)))
    while waiting:
        try:
            index, entry = done.get(timeout=1)
        except queue.Empty:
            if any(child.is_alive() for child in children):
                continue
            break
        waiting.discard(index)
        yield index, entry
    for index in sorted(waiting):  # a child that died took these with it
        yield index, _failed(items[index], "The process importing it stopped; import the file again.")
    for child in children:
        child.join()


# Connections a forked child found open, kept referenced so they are never closed (see _work).
_inherited: list = []


def _work(items: list, indices: range, user, dry_run: bool, done) -> None:
    # A connection the parent still held open (one it could not close: opened in another context, e.g.
    # a test's live server) shares its socket with the parent and the other children. Forget it without
    # closing it, which would end the parent's session, and open our own.
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _inherited.append(connection.connection)
            connection.connection = None
    try:
        for index in indices:
            done.put((index, _run_one(items[index], user=user, dry_run=dry_run)))
    finally:
        connections.close_all()


def _save_progress(job: ImportJob) -> None:
    job.save(
        update_fields=[
            "total",
            "processed",
            "created_count",
            "updated_count",
            "unchanged_count",
            "warning_count",
            "failed_count",
        ]
    )


def _count(job: ImportJob, entry: dict) -> None:
    field = {"create": "created_count", "update": "updated_count", "unchanged": "unchanged_count"}.get(
        entry["action"], "failed_count"
    )
    setattr(job, field, getattr(job, field) + 1)
    job.warning_count += len(entry["warnings"])


def _run_one(item: ImportedIncident | ReadFailure, *, user, dry_run: bool) -> dict:
    if isinstance(item, ReadFailure):
        return _failed(item, item.reason)
    entry = {
        "origin": item.origin,
        "external_id": item.external_id,
        "title": item.title,
        "mapped": [list(pair) for pair in item.mapped],
        "notes": [heading for heading, _ in item.notes],
        "events": len(item.timeline),
        "action_items": len(item.action_items),
    }
    try:
        outcome = _import(item, user=user, dry_run=dry_run)
    except (ImportRefused, ValidationError, DatabaseError) as error:
        return {**entry, "action": "failed", "reason": _reason(error), "warnings": list(item.warnings)}
    except Exception as error:  # one file's surprise must not stop the others
        logger.exception("Importing %s failed", item.origin)
        return {**entry, "action": "failed", "reason": f"{type(error).__name__}: {error}", "warnings": []}
    entry.update(action=outcome.action, warnings=[*item.warnings, *outcome.warnings])
    if not dry_run and outcome.incident is not None:
        entry["key"] = outcome.incident.key
    return entry


# Another writer's transaction was in the way (a deadlock on the incidents around this one, whose
# repeat flags both update): the file is tried again, a few times.
_RETRIED = {"40P01", "40001"}
ATTEMPTS = 3


def _import(item: ImportedIncident, *, user, dry_run: bool) -> ImportOutcome:
    attempt = 1
    while True:
        try:
            with transaction.atomic():
                outcome = incident_import(item=item, user=user)
                if dry_run:
                    transaction.set_rollback(True)
            return outcome
        except DatabaseError as error:
            if attempt == ATTEMPTS or getattr(error.__cause__, "sqlstate", None) not in _RETRIED:
                raise
            attempt += 1


def _failed(item: ImportedIncident | ReadFailure, reason: str) -> dict:
    return {"origin": item.origin, "action": "failed", "reason": reason, "warnings": []}


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        if hasattr(error, "message_dict"):
            return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
        return " ".join(error.messages)
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _run_json(job: ImportJob) -> None:
    """Our own JSON export is restored whole by its own loader (incidents/imports/json_format.py)."""
    from . import json_format

    path = job.upload.path if job.upload else job.options["paths"][0]
    result = json_format.import_file(path, dry_run=job.dry_run)
    job.report = list(result.report_entries())
    job.total = job.processed = len(job.report)
    for entry in job.report:
        _count(job, {"warnings": entry.get("warnings", []), "action": entry.get("action", "failed")})


def run_claimed(job_id: int, *, on_progress: Progress | None = None) -> ImportJob | None:
    """Run the job if it is still waiting (a Celery task's entry); None if someone else has it."""
    if not ImportJob.objects.filter(pk=job_id, state=ImportState.PENDING).update(state=ImportState.RUNNING):
        return None
    job = ImportJob.objects.select_related("created_by", "mapping").get(pk=job_id)
    return run_job(job, on_progress=on_progress)
