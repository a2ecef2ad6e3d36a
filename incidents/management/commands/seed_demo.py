"""`manage.py seed_demo`: the seeded knowledge base and the demo logins. Safe to run twice."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from incidents.seed import data
from incidents.seed.loader import load


class Command(BaseCommand):
    help = (
        "Load the reference incidents (shared/DOMAIN.md section 3) with their sources, claims, timelines, "
        "corrective actions, controls and COEs, plus demo users whose password is 'demo'. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-demo-users",
            action="store_true",
            help="Create the demo users even though DEBUG is off (for a demo or staging instance only).",
        )

    def handle(self, *args, **options):
        # Checked before anything is written: a production database must not
        # quietly gain an admin whose password is "demo".
        if not settings.DEBUG and not options["allow_demo_users"]:
            raise CommandError(
                f"Refusing to create demo users (including a superuser) with the password "
                f"'{data.DEMO_PASSWORD}' while DEBUG is off. If this is a demo instance, run again with "
                "--allow-demo-users."
            )

        result = load()

        self.stdout.write("Seeded knowledge base:")
        width = max(len(label) for label in result.labels())
        for label in result.labels():
            self.stdout.write(
                f"  {label:<{width}}  {result.created[label]:>3} created  {result.updated[label]:>3} updated  "
                f"{result.unchanged[label]:>3} unchanged"
            )
        links = sum(result.links_added.values())
        if links:
            self.stdout.write(f"  ({links} many-to-many links added)")
        self.stdout.write("Incidents:")
        for key, title in result.incident_keys:
            self.stdout.write(f"  {key}  {title}")
        if not result.changed_anything:
            self.stdout.write("Nothing changed: the database already matched the seed.")

        self.stdout.write(f"Demo logins (password for all: {data.DEMO_PASSWORD}):")
        for spec in data.USERS:
            role = ", ".join(spec["groups"]) or ("superuser" if spec["is_superuser"] else "no group")
            new = "  (created now)" if spec["username"] in result.users_created else ""
            self.stdout.write(f"  {spec['username']:<9} {role}{new}")
        self.stdout.write(self.style.SUCCESS("Done."))
