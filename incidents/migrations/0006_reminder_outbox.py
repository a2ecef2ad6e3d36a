# Reminder delivery as an outbox: a retry schedule, leases and an idempotency key per row.

import uuid

import django.utils.timezone
from django.db import migrations, models

STATES = [
    ("claimed", "Claimed"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
]

FORWARD = [
    # One key per existing row (a default would give them all the same one).
    "UPDATE incidents_reminderlog SET idempotency_key = gen_random_uuid() WHERE idempotency_key IS NULL",
    # Rows a worker is sending as this runs keep a lease as long as the old stuck threshold.
    "UPDATE incidents_reminderlog SET lease_expires_at = COALESCE(sending_since, now()) + interval '15 minutes' "
    "WHERE state = 'sending'",
    # Rows given up on by the old attempt cap (a webhook down a few minutes) are retried within the new budget.
    "UPDATE incidents_reminderlog SET state = 'claimed', next_attempt_at = now() "
    "WHERE state = 'failed' AND error LIKE 'gave up%' AND created_at > now() - interval '24 hours'",
]


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_date_bounds"),
    ]

    operations = [
        migrations.AddField(
            model_name="reminderlog",
            name="idempotency_key",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="reminderlog",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reminderlog",
            name="lease_owner",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="reminderlog",
            name="next_attempt_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="reminderlog",
            name="state",
            field=models.CharField(choices=STATES, default="claimed", max_length=10),
        ),
        migrations.RunSQL([(sql, None) for sql in FORWARD], reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="reminderlog",
            name="idempotency_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddIndex(
            model_name="reminderlog",
            index=models.Index(fields=["state", "next_attempt_at"], name="incidents_reminder_due_idx"),
        ),
    ]
