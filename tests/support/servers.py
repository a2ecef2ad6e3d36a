"""Which real servers this test run has. In CI every one of them must be there."""

import os

import pytest
from django.db import connection


def require_postgres_and_redis() -> str:
    """Return the Redis URL, or skip (fail in CI) when PostgreSQL or Redis is missing.

    A Celery worker is a separate process, so it needs a database it can share
    with the test (PostgreSQL, not the in-memory SQLite test database) and a broker.
    """
    redis_url = os.environ.get("REDIS_URL", "")
    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (set DATABASE_URL)")
    if not redis_url:
        missing.append("Redis (set REDIS_URL)")
    else:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            missing.append(f"Redis at {redis_url} ({exc})")
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test, but it {message}")
        pytest.skip(message)
    return redis_url
