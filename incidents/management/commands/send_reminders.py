"""Run the reminder sweep once and deliver what it claims, in this process.

For cron users and for the embedded default: the same code the Celery tasks
run, without a broker. A failed delivery is retried by the next run.
"""

from collections import Counter

from django.core.management.base import BaseCommand

from incidents import reminders


class Command(BaseCommand):
    help = "Send due reminders and escalations once (the sweep Celery beat runs)."

    def handle(self, *args, **options):
        result = reminders.sweep()
        outcomes = Counter()
        for log_id in result.to_deliver:
            attempt = reminders.attempt_delivery(log_id)
            outcomes[attempt.outcome] += 1
            if attempt.error:
                self.stderr.write(f"reminder {log_id}: {attempt.outcome}: {attempt.error}")
        self.stdout.write(
            f"Claimed {len(result.claimed)}; sent {outcomes['sent']}, "
            f"to retry {outcomes['retry']}, failed {outcomes['failed']}."
        )
