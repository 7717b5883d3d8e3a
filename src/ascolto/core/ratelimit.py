"""Fixed-window counters for per-client rate limits, kept in the Django cache.

Every web process behind one Redis shares them; with the embedded local-memory cache a
process counts alone. The web chat widget's and the survey pages' limits count here.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.cache import cache

# Each key counted, and given its expiry when its count starts: one round trip for any number
# of keys. Django's Redis cache stores integers as plain Redis integers, so these are the
# cache's own keys and values.
COUNT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return counts
"""

_scripts: dict[str, Any] = {}
_scripts_lock = threading.Lock()


def count(key: str, ttl: int) -> int:
    """Add one to `key`'s count (created with `ttl` seconds to live) and return the new count."""
    counted = _count_in_redis(key, ttl)
    if counted is not None:
        return counted
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1


def _count_in_redis(key: str, ttl: int) -> int | None:
    """The key's new count when the Django cache is one Redis server, else None.

    Django's Redis cache takes three round trips for add + incr and builds a new redis-py client
    for each call; here one client per process, shared by every thread, and one script call.
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
    counts = script(keys=[cache.make_and_validate_key(key)], args=[ttl])
    return int(counts[0])
