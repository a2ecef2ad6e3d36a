"""`make bench`: the app at 100,000 incidents, measured against a floor in the same run.

- run.py     the runner: database, data, gunicorn, load, table and JSON
- floor.py   the floor views (raw SQL with psycopg, orjson), mounted only with BENCH_FLOOR_VIEWS=true
- probe.py   what runs inside Django: bench user and token, query counts, EXPLAIN, the reminder sweep
- load.py    the load client: wrk when installed, a Python client otherwise
"""
