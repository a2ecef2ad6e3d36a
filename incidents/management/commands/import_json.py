"""`manage.py import_json FILE [--dry-run]`: restore a JSON export (export_kb --format json)."""

from django.core.management.base import BaseCommand, CommandError

from incidents.imports.json_format import DocumentError, import_file


class Command(BaseCommand):
    help = (
        "Restore a COE Tracker JSON export: what it holds that is not here yet, keys and dates as exported, "
        "in one transaction. Incidents already here (by key or external id) are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check and count, then write nothing.")

    def handle(self, *args, file, dry_run, **options):
        try:
            result = import_file(file, dry_run=dry_run)
        except (DocumentError, OSError) as error:
            raise CommandError(f"{file}: {error} Nothing was imported.") from None
        verb = "Would create" if dry_run else "Created"
        self.stdout.write(f"{verb} {len(result.created)} incidents; {len(result.present)} already here.")
        for label, count in result.lookups_created.items():
            self.stdout.write(f"  {label}: {count} {'would be ' if dry_run else ''}created")
