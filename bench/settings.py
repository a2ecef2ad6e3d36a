"""The settings the benchmark serves the app with: the product's own (coe.settings), plus the floor views.

Only the URLconf differs: bench.urlconf is the product's URLconf with the floor views under /bench/
(bench/floor.py, which trust a `uid` parameter instead of authenticating). bench/run.py selects
this module through DJANGO_SETTINGS_MODULE for gunicorn, the Celery worker, the writer and its
probes; nothing else does, so the floor views are never served by the product.
"""

from coe.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urlconf"
