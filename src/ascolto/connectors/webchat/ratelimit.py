"""Rate limits for the public widget endpoints.

Per IP: fixed windows counted in the Django cache, so every web process behind one Redis
shares them (with the embedded local-memory cache, a process counts alone). Per connection:
an in-memory token bucket owned by the consumer. Limits are Django settings with the defaults
below, e.g. `ASCOLTO_WEBCHAT_CONNECTS_PER_MINUTE`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from ascolto.connectors.webchat.config import setting

LIMITS: dict[str, tuple[str, int, int]] = {
    # name: (setting, default count, window seconds)
    "connect": ("ASCOLTO_WEBCHAT_CONNECTS_PER_MINUTE", 60, 60),
    "message": ("ASCOLTO_WEBCHAT_MESSAGES_PER_MINUTE", 120, 60),
    "upload": ("ASCOLTO_WEBCHAT_UPLOADS_PER_HOUR", 60, 3600),
    "email": ("ASCOLTO_WEBCHAT_EMAILS_PER_HOUR", 20, 3600),
    "suggest": ("ASCOLTO_WEBCHAT_SUGGESTS_PER_MINUTE", 30, 60),
    "config": ("ASCOLTO_WEBCHAT_CONFIG_PER_MINUTE", 120, 60),
}


def _clock() -> float:
    return time.time()


def hit(kind: str, ip: str) -> int:
    """Count one request of `kind` from `ip`; returns 0 when allowed, else the seconds until the
    window ends (what a Retry-After header says)."""
    setting_name, default, window = LIMITS[kind]
    limit = setting(setting_name, default)
    now = int(_clock())
    start = now - now % window
    key = f"webchat:rl:{kind}:{ip}:{start}"
    count = _count_in_redis(key, window + 5)
    if count is None:
        cache.add(key, 0, timeout=window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=window + 5)
            count = 1
    return 0 if count <= limit else max(1, start + window - now)


# INCR, and the expiry when the count starts: one round trip. Django's Redis cache stores
# integers as plain Redis integers, so these are the cache's own keys and values.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_scripts: dict[str, Any] = {}
_scripts_lock = threading.Lock()


def _count_in_redis(key: str, ttl: int) -> int | None:
    """The key's new count when the Django cache is Redis, else None.

    Django's Redis cache takes three round trips for add + incr, and builds a new redis-py
    client for each call (a few hundred microseconds of CPU each); every socket's context also
    gets a cache object, with a connection pool, of its own. One client per process, shared by
    every thread, and one script call instead.
    """
    backend = settings.CACHES.get("default", {})
    if not str(backend.get("BACKEND", "")).endswith(".RedisCache"):
        return None
    location = backend.get("LOCATION")
    if not isinstance(location, str) or "," in location:  # several servers: Django's sharding
        return None
    script = _scripts.get(location)
    if script is None:
        import redis

        with _scripts_lock:
            script = _scripts.get(location)
            if script is None:
                client = redis.Redis.from_url(location)
                script = _scripts[location] = client.register_script(COUNT_SCRIPT)
    return int(script(keys=[cache.make_and_validate_key(key)], args=[ttl]))


@dataclass
class TokenBucket:
    """`capacity` actions at once, refilled at `rate` per second (per connection, in memory)."""

    capacity: float
    rate: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def take(self, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens = self.capacity
        self.tokens = min(self.capacity, self.tokens + (moment - self.updated) * self.rate)
        self.updated = moment
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
