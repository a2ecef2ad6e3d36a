"""The seeded knowledge base: the public incidents of shared/DOMAIN.md section 3.

`data` and the per-incident modules hold the facts as plain Python data: each
record with its basis (reported by the source it names, or ours) and each free
text as statements, cited to a source key or marked as ours (`common`);
`loader.load()` writes them idempotently, as demo data. `manage.py seed_demo`
is the front door; tests/test_seed_facts.py checks that nothing goes unattributed.
"""
