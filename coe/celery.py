"""The Celery app. Its configuration, the beat schedule included, is the CELERY_* settings.

Importing it reads no setting (the settings are read when the app is first used), so the
package `coe` can be imported without configuring Django.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")

app = Celery("coe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
