"""`make bench`: the app at 100,000 incidents as it ships, measured against a floor in the same run.

- run.py      the runner: database, data, Redis, a Celery worker, gunicorn, load, table and JSON
- writer.py   the background writes during the dashboard cases, through incidents.services
- floor.py    the floor views (raw SQL with psycopg, orjson)
- settings.py the product's settings with urlconf.py, its URLconf plus the floor views under /bench/
- probe.py    what runs inside Django: bench user and token, query counts, EXPLAIN, the reminder sweep
- load.py     the load client: wrk when installed, a Python client otherwise
"""
