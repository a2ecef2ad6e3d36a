import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
django.setup(set_prefix=False)

from coe.handlers import Application  # noqa: E402  (needs the settings loaded)

application = Application()
