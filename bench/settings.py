"""The settings the benchmark serves the app with: the product's own (coe.settings), plus the floor views.

Only the URLconf differs: bench.urlconf is the product's URLconf with the floor views under /bench/
(bench/floor.py, which trust a `uid` parameter instead of authenticating). bench/run.py selects
this module through DJANGO_SETTINGS_MODULE for gunicorn, the Celery worker, the writer and its
probes; nothing else does, so the floor views are never served by the product.
"""

import os

# Importing coe.settings imports the package coe, whose Celery app reads a setting at import. When
# Django is setting up with this module (manage.py, django.setup()), that read would find this
# module half-imported; while coe loads, the product's settings answer it (the same values). Django
# then builds its settings from this module, once it is complete.
os.environ["DJANGO_SETTINGS_MODULE"] = "coe.settings"
try:
    from coe.settings import *  # noqa: F403
finally:
    os.environ["DJANGO_SETTINGS_MODULE"] = __name__

ROOT_URLCONF = "bench.urlconf"
