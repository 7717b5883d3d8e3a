"""The widget's per-IP limits, counted in the Django cache's keys (locally or in Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from ascolto.connectors.webchat import ratelimit

NOW = 1_800_000_030.0  # every hit of a test falls in one minute's window


def _three_hits(settings: Any, monkeypatch: Any, ip: str) -> list[int]:
    settings.ASCOLTO_WEBCHAT_MESSAGES_PER_MINUTE = 2
    monkeypatch.setattr(ratelimit, "_clock", lambda: NOW)
    return [ratelimit.hit("message", ip) for _ in range(3)]


def test_the_third_message_of_a_minute_waits_for_the_next_window(settings, monkeypatch):
    cache.clear()
    assert _three_hits(settings, monkeypatch, "192.0.2.1") == [0, 0, 30]
    assert ratelimit.hit("message", "192.0.2.2") == 0


@pytest.mark.redis
def test_with_redis_one_count_is_shared_with_the_django_cache(settings, monkeypatch, redis_url):
    import redis

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": settings.REDIS_PREFIX,
        }
    }
    key = f"webchat:rl:message:192.0.2.3:{int(NOW) - int(NOW) % 60}"
    try:
        waits = _three_hits(settings, monkeypatch, "192.0.2.3")
        stored = cache.get(key)
        expires_in = redis.Redis.from_url(redis_url).ttl(cache.make_and_validate_key(key))
    finally:
        cache.clear()

    assert waits == [0, 0, 30]
    assert stored == 3  # the count Django's cache reads: same key, same integer
    assert 0 < expires_in <= 65
