"""Import earlier postmortems from files, folders or zips, with progress on the command line."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents.imports.runner import run_job
from incidents.models.imports import ImportFormat, ImportJob, ImportMapping, ImportState


class Command(BaseCommand):
    help = (
        "Import postmortems (Markdown with or without front matter, HTML exports, CSV) from files, folders "
        "or zips. Each file is one transaction; a bad one fails alone. --dry-run shows what would happen."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Files, folders (read recursively) or zips.")
        parser.add_argument("--dry-run", action="store_true", help="Preview every file; write nothing.")
        parser.add_argument(
            "--format",
            choices=[f for f in ImportFormat.values if f != ImportFormat.JSON],
            help="Read every file as this format (default: by each file's extension).",
        )
        parser.add_argument("--user", help="Who imports (owns what is created); default: nobody, for the site.")
        parser.add_argument("--mapping", help="A saved CSV column mapping, by name.")
        parser.add_argument("--report", help="Write the per-file report as JSON to this file.")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Write from this many processes at once (each file is still one transaction); default 1.",
        )
        parser.add_argument("--quiet-files", action="store_true", help="Print only the totals, not each file.")

    def handle(self, *args, paths, dry_run, format, user, mapping, report, quiet_files, workers, **options):
        for given in paths:
            if not Path(given).exists():
                raise CommandError(f"No such file or folder: {given}")
        job = ImportJob.objects.create(
            created_by=self._user(user),
            format=format or "",
            dry_run=dry_run,
            original_name=", ".join(paths)[:300],
            mapping=self._mapping(mapping),
            options={"paths": [str(Path(p).resolve()) for p in paths]},
        )
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        run_job(job, on_progress=self._progress, workers=workers)
        self.stderr.write("")
        if not quiet_files:
            for entry in job.report:
                self._entry(entry, dry_run=job.dry_run)
        if report:
            Path(report).write_text(json.dumps(job.report, indent=1, ensure_ascii=False))
        self._totals(job)
        if job.state == ImportState.FAILED:
            raise CommandError(job.error)

    def _user(self, username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        return user

    def _mapping(self, name: str | None):
        if not name:
            return None
        mapping = ImportMapping.objects.filter(name=name).first()
        if mapping is None:
            raise CommandError(f"No saved column mapping named {name!r}.")
        return mapping

    def _progress(self, job: ImportJob) -> None:
        share = f"{100 * job.processed // job.total}%" if job.total else ""
        self.stderr.write(
            f"\r{job.processed:,}/{job.total:,} {share}  created {job.created_count:,}, updated "
            f"{job.updated_count:,}, unchanged {job.unchanged_count:,}, failed {job.failed_count:,}",
            ending="",
        )
        self.stderr.flush()

    def _entry(self, entry: dict, *, dry_run: bool) -> None:
        action = entry["action"]
        would = {"create": "would create", "update": "would update"} if dry_run else {}
        line = f"{would.get(action, action):>12}  {entry['origin']}"
        if entry.get("key"):
            line += f"  -> {entry['key']}"
        self.stdout.write(line)
        if entry.get("reason"):
            self.stdout.write(f"{'':>14}reason: {entry['reason']}")
        for warning in entry.get("warnings", []):
            self.stdout.write(f"{'':>14}warning: {warning}")
        if entry.get("notes"):
            self.stdout.write(f"{'':>14}kept as notes: {', '.join(entry['notes'])}")

    def _totals(self, job: ImportJob) -> None:
        seconds = (job.finished_at - job.started_at).total_seconds()
        verb = "Dry run" if job.dry_run else "Imported"
        self.stdout.write(
            f"{verb}: {job.total:,} postmortems in {seconds:.1f} s: created {job.created_count:,}, updated "
            f"{job.updated_count:,}, unchanged {job.unchanged_count:,}, failed {job.failed_count:,}, "
            f"warnings {job.warning_count:,}."
        )
