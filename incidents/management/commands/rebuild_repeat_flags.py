"""Set every incident's repeat flags from the data, as Celery beat does daily (incidents/repeats.py)."""

from django.core.management.base import BaseCommand

from incidents import repeats


class Command(BaseCommand):
    help = "Recompute the incidents' repeat flags, changing only those that are wrong."

    def handle(self, *args, **options):
        self.stdout.write(f"Repeat flags changed on {repeats.rebuild()} incidents.")
