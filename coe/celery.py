"""The Celery app, and the whole beat schedule in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")

app = Celery("coe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from celery.schedules import crontab  # noqa: E402
from django.conf import settings  # noqa: E402

# The whole schedule. Each reminder goes out once per period whatever the
# sweep's frequency: the sweep claims, it does not count.
app.conf.beat_schedule = {
    # Every REMINDER_SWEEP_MINUTES (default 15): digests, escalations and COE
    # reminders for today, and a retry of anything a dead worker left behind.
    "sweep-reminders": {
        "task": "incidents.sweep_reminders",
        "schedule": settings.REMINDER_SWEEP_MINUTES * 60,
    },
    # Mondays at 08:00 (CELERY_TIMEZONE): the same sweep, so the leadership
    # weekly summary goes out at the start of the working week.
    "leadership-weekly": {
        "task": "incidents.sweep_reminders",
        "schedule": crontab(hour=8, minute=0, day_of_week="mon"),
    },
    # Daily at 03:30: repeat flags mended where two simultaneous writes each missed the other
    # and writes that bypass the services (the services keep them otherwise; incidents/repeats.py).
    "rebuild-repeat-flags": {
        "task": "incidents.rebuild_repeat_flags",
        "schedule": crontab(hour=3, minute=30),
    },
}
