"""Partial indexes for the dashboard: the open action items by due date and by incident, and the incidents with an adopted cause."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('incidents', '0009_repeat_flags'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='actionitem',
            index=models.Index(condition=models.Q(('status__in', ('open', 'in_progress'))), fields=['due_date', 'id'], name='actionitem_open_due_idx'),
        ),
        migrations.AddIndex(
            model_name='actionitem',
            index=models.Index(condition=models.Q(('status__in', ('open', 'in_progress'))), fields=['incident', 'due_date', 'id'], name='actionitem_open_incident_idx'),
        ),
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(condition=models.Q(('adopted_cause', ''), _negated=True), fields=['started_at', 'id'], name='incident_adopted_idx'),
        ),
    ]
