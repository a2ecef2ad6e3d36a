"""The Redis cache backend (coe/redis_cache.py): one client per connection pool, on a real Redis."""

import os
import uuid

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from coe.redis_cache import RedisCache
from incidents.api.throttling import _count

from .support.servers import _missing


@pytest.fixture
def redis_cache():
    url = os.environ.get("REDIS_URL")
    if not url:
        _missing("REDIS_URL (a Redis server)")
    cache = RedisCache(url, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}", "TIMEOUT": 60})
    yield cache
    cache.clear()


def test_the_settings_use_it_when_redis_is_configured(settings):
    if not os.environ.get("REDIS_URL"):
        _missing("REDIS_URL (a Redis server)")
    assert settings.CACHES["default"]["BACKEND"] == "coe.redis_cache.RedisCache"


def test_each_call_reuses_the_pools_client(redis_cache):
    # Django's own builds a new client for every call; this one keeps it.
    assert redis_cache._cache.get_client(write=True) is redis_cache._cache.get_client(write=True)
    assert DjangoRedisCache(redis_cache._servers, {})._cache.get_client(write=True) is not (
        DjangoRedisCache(redis_cache._servers, {})._cache.get_client(write=True)
    )


def test_it_stores_counts_and_forgets_like_djangos(redis_cache):
    redis_cache.set("figures", {"open": 3}, 30)
    assert redis_cache.get("figures") == {"open": 3}
    assert [_count(redis_cache, "rate:1", 60) for _ in range(3)] == [1, 2, 3]
    redis_cache.delete("figures")
    assert redis_cache.get("figures", "gone") == "gone"


def test_a_windows_counter_expires_with_its_window(redis_cache):
    # The window's first request sets the expiry; later ones only count (one round trip each).
    assert _count(redis_cache, "rate:window", 7) == 1
    key = redis_cache.make_and_validate_key("rate:window")
    client = redis_cache._cache.get_client(key)
    assert 0 < client.ttl(key) <= 7
    client.expire(key, 100)
    assert _count(redis_cache, "rate:window", 7) == 2
    assert client.ttl(key) > 7  # not set again by a later request
