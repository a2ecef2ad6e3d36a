"""`manage.py export_kb --format json|markdown [--filter QUERY] [-o FILE] [--as-user USERNAME]`."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents.exports.export import FORMATS, export_knowledge_base
from incidents.exports.selection import ExportError, whole_database_reader


class Command(BaseCommand):
    help = (
        "Export the knowledge base (or what a filter selects) as JSON that import_json restores, or as a zip "
        "of Markdown files. Without --as-user, everything; with it, only what that person may see."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument(
            "--filter", default="", help="The incident list's filters as a query string, e.g. 'severity=SEV1'."
        )
        parser.add_argument("-o", "--output", help="The file to write (default: standard output).")
        parser.add_argument("--as-user", help="Export what this user may see (restricted incidents included or not).")

    def handle(self, *args, format, filter, output, as_user, **options):
        if as_user:
            user = get_user_model().objects.filter(username=as_user).first()
            if user is None:
                raise CommandError(f"No user named {as_user!r}.")
        else:
            user = whole_database_reader()
        if format == "markdown" and not output:
            raise CommandError("A zip needs a file: give -o FILE.")
        try:
            export = export_knowledge_base(user=user, format=format, query=filter)
        except ExportError as error:
            raise CommandError(str(error)) from None
        target = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115 (stdout is not ours to close)
        try:
            for chunk in export.chunks:
                target.write(chunk)
        finally:
            if output:
                target.close()
        if output:
            self.stderr.write(f"Wrote {output}.")
