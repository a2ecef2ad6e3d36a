"""API rate limits counted a batch at a time (incidents/api/throttling.py BatchedCounts), on a real Redis."""

import os
import uuid

import pytest

from coe.redis_cache import RedisCache
from incidents.api.throttling import BatchedCounts, _count

from .support.servers import _missing


class Shared:
    """The shared counter (Redis), counting the round trips to it."""

    def __init__(self):
        url = os.environ.get("REDIS_URL")
        if not url:
            _missing("REDIS_URL (a Redis server)")
        self.cache = RedisCache(url, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
        self.trips = 0

    def count(self, key, timeout, by=1):
        self.trips += 1
        return _count(self.cache, key, timeout, by)

    def value(self, key) -> int:
        return _count(self.cache, key, 60, by=0)


@pytest.fixture
def shared():
    counter = Shared()
    yield counter
    counter.cache.clear()


def test_requests_reach_the_shared_counter_a_batch_at_a_time(shared):
    counts = BatchedCounts(shared)
    seen = [counts.count("user-1:w", 61, 6000) for _ in range(100)]
    assert seen == list(range(1, 101))  # one process alone: every request sees the exact count
    assert shared.trips == 5  # 6,000 a minute: batches of 20
    assert shared.value("user-1:w") == 81  # the last 19 wait for the next batch


def test_a_batch_is_sent_after_a_quarter_second_however_small(shared, monkeypatch):
    counts = BatchedCounts(shared)
    clock = [1000.0]
    monkeypatch.setattr("incidents.api.throttling.time.monotonic", lambda: clock[0])
    counts.count("user-1:w", 61, 6000)
    counts.count("user-1:w", 61, 6000)
    assert shared.trips == 1
    clock[0] += BatchedCounts.SEND_SECONDS
    assert counts.count("user-1:w", 61, 6000) == 3
    assert (shared.trips, shared.value("user-1:w")) == (2, 3)


def test_small_limits_count_every_request_in_the_shared_counter(shared):
    counts = BatchedCounts(shared)
    assert [counts.count("anon:w", 61, 60) for _ in range(3)] == [1, 2, 3]
    assert shared.trips == 3


def test_processes_together_let_through_the_limit_and_at_most_a_batch_each_more(shared):
    limit, processes = 4000, [BatchedCounts(shared), BatchedCounts(shared)]
    admitted = sum(processes[n % 2].count("user-1:w", 61, limit) <= limit for n in range(5000))
    assert limit <= admitted <= limit + len(processes) * BatchedCounts.MAX_BATCH
    # Near the limit each process counts in the shared counter at once: the rest are all refused.
    assert all(process.count("user-1:w", 61, limit) > limit for process in processes)
