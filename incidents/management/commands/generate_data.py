"""`manage.py generate_data --incidents 100000 --seed 1`: synthetic incidents at scale, for benchmarks."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from incidents.generate import END, generate


class Command(BaseCommand):
    help = (
        "Add synthetic incidents with timelines, COEs, sources and claims, AI involvement and action items. "
        "The same seed and count give the same rows. Adds to what is there: run it on an empty database "
        "for a benchmark."
    )

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, required=True, help="How many incidents to add.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--batch", type=int, default=2000, help="Incidents written per transaction.")
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=END,
            help=f"Last day of the five-year history, the 'today' items are overdue against (default {END}).",
        )

    def handle(self, *args, incidents, seed, batch, end, **options):
        if incidents < 1:
            raise CommandError("--incidents must be at least 1.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        result = generate(incidents=incidents, seed=seed, batch=batch, end=end, progress=self.stdout.write)
        width = max(len(name) for name in result.rows)
        for name, count in result.rows.items():
            self.stdout.write(f"  {name:<{width}}  {count:>10}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {result.total_rows} rows for {result.incidents} incidents in {result.seconds:.1f}s "
                f"({result.rows_per_second:,.0f} rows/s)."
            )
        )
