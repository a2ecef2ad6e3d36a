"""The API's rate limits, counted in the shared cache (Redis) and, while it cannot be reached, in each process.

DRF's throttles keep their counts in Django's cache. With Redis down every call to it raises, which made every
authenticated API request a 500. Here a failing cache is left alone for RETRY_SHARED_SECONDS and the counts go
to a cache of the process's own meanwhile: the limits still hold per process, and nothing fails.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling

from coe.security import client_ip

logger = logging.getLogger(__name__)

RETRY_SHARED_SECONDS = 5.0


class FallbackCache:
    """The shared cache, or this process's own while the shared one fails (get and set, what throttles use)."""

    def __init__(self):
        self.local = LocMemCache("api-throttles", {"OPTIONS": {"MAX_ENTRIES": 10000}})
        self._lock = threading.Lock()
        self._down_until = 0.0  # time.monotonic() before which the shared cache is not tried

    def _call(self, run):
        """`run(cache)` on the shared cache, or on this process's own while the shared one fails."""
        if time.monotonic() >= self._down_until:
            try:
                result = run(caches["default"])
            except Exception:
                with self._lock:
                    was_up = self._down_until == 0.0
                    self._down_until = time.monotonic() + RETRY_SHARED_SECONDS
                if was_up:
                    logger.warning("Cache unreachable: the API's rate limits count in each process", exc_info=True)
            else:
                with self._lock:
                    was_down, self._down_until = self._down_until != 0.0, 0.0
                if was_down:
                    logger.warning("Cache reachable again: the API's rate limits are shared again")
                return result
        return run(self.local)

    def get(self, key, default=None):
        return self._call(lambda cache: cache.get(key, default))

    def set(self, key, value, timeout):
        return self._call(lambda cache: cache.set(key, value, timeout))

    def count(self, key, timeout, by: int = 1) -> int:
        """Add `by` to the counter at `key` (created to expire after `timeout`) and return it: one round trip."""
        return self._call(lambda cache: _count(cache, key, timeout, by))


def _count(cache, key, timeout, by: int = 1) -> int:
    if isinstance(cache, RedisCache):
        # One round trip: INCRBY on the cache's own connection (Django's incr() asks EXISTS first; at every API
        # request the second round trip showed). The window's first count sets the expiry; should that one be
        # lost, the key names a window that is over by then, so the counter only lingers, never blocks.
        key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(key, write=True)
        count = client.incrby(key, by)
        if count == by:
            client.expire(key, timeout)
        return count
    try:
        return cache.incr(key, by)
    except ValueError:  # no counter yet in this window
        if cache.add(key, by, timeout):
            return by
        return cache.incr(key, by)  # another request created it meanwhile


class BatchedCounts:
    """A window's requests counted in this process and added to the shared count a batch at a time.

    Counting each API request in Redis was a round trip per request. Here a process adds its requests to the
    shared counter every `batch` requests or SEND_SECONDS, whichever comes first, and judges the ones between
    by the shared count it last saw plus its own. The batch is a two-hundredth of the limit, at most
    MAX_BATCH (a limit of 6,000 a minute: 20), so the processes together can let through at most that many
    more each before the limit shows; near the limit, and for limits under 400, every request is counted in
    the shared counter at once.
    """

    MAX_BATCH = 20
    SEND_SECONDS = 0.25
    MAX_KEYS = 10_000

    def __init__(self, cache):
        self.cache = cache
        self._lock = threading.Lock()
        self._windows: dict[str, list] = {}  # key -> [shared count last seen, counted here since, when sent]

    def count(self, key: str, timeout: int, limit: int) -> int:
        """This request counted: the window's count as far as this process knows."""
        batch = max(1, min(self.MAX_BATCH, limit // 200))
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                unsent = 1
            else:
                shared, here, sent = window
                if here + 1 < batch and now - sent < self.SEND_SECONDS and shared + here + batch <= limit:
                    window[1] = here + 1
                    return shared + here + 1
                unsent, window[1] = here + 1, 0  # sent now; requests meanwhile start the next batch
        total = self.cache.count(key, timeout, by=unsent)
        with self._lock:
            if len(self._windows) >= self.MAX_KEYS and key not in self._windows:
                self._windows.clear()
            window = self._windows.setdefault(key, [total, 0, now])
            window[0], window[2] = max(window[0], total), now  # another thread may have sent after this one
        return total


fallback_cache = FallbackCache()
batched_counts = BatchedCounts(fallback_cache)


class ClientIdentMixin:
    cache = fallback_cache

    def get_ident(self, request):
        # DRF's own believes any X-Forwarded-For; the client's address is coe.security's to decide.
        return client_ip(request)


class WindowCountMixin:
    """The rate counted per fixed window (the rate's period) with atomic increments, a batch at a time.

    DRF's own throttles keep a list of every request's time in the window, read and written back whole on each
    request: at the user rate (6,000 a minute) a busy client's request pickled thousands of floats twice, the
    biggest cost of an API request after its query. A fixed window can let a client through up to twice the rate
    across a window's edge; for a limit of thousands a minute that is the price of one counter (BatchedCounts).
    """

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.retry_after = (window + 1) * self.duration - now
        return batched_counts.count(f"{self.key}:{window}", self.duration + 1, self.num_requests) <= self.num_requests

    def wait(self):
        return self.retry_after


class AnonRateThrottle(WindowCountMixin, ClientIdentMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(WindowCountMixin, ClientIdentMixin, throttling.UserRateThrottle):
    pass


class BadTokenThrottle(ClientIdentMixin, throttling.SimpleRateThrottle):
    """Requests with a token that is not valid, per client address: checked before a token is looked up,
    counted after it failed (BearerTokenAuthentication)."""

    scope = "bad_token"

    def get_rate(self):
        return settings.API_THROTTLE_BAD_TOKEN

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def wait_before_trying(self, request) -> float | None:
        """Seconds this client must wait before its next token is looked at, or None when it may go on."""
        self.key = self.get_cache_key(request)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return self.wait() if len(self.history) >= self.num_requests else None

    def failed(self):
        self.throttle_success()  # records the attempt in the history, as an allowed request would be
