"""The seeded knowledge base: the public incidents of shared/DOMAIN.md section 3.

`data` and the per-incident modules hold the facts as plain Python data, each
fact with the key of the source that reported it; `loader.load()` writes them
idempotently. `manage.py seed_demo` is the front door.
"""
