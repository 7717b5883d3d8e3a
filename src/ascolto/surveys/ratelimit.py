"""Per-IP fixed-window rate limit of the public survey pages, counted in the Django cache (so
every web process behind one Redis shares it; with the local-memory cache a process counts
alone). The same scheme as the web chat widget's limits.

The fast submit path (fastintake.py) counts outside Django's request cycle with `hits_many`:
the same keys in the same Redis (one script call for all the requests waiting), so a client is
limited across both paths and every process. A request it hands on to the Django view carries
its verdict in the ASGI scope (SCOPE_KEY), so that request is counted once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from ascolto.core import ratelimit as counters
from ascolto.surveys import conf

WINDOW_SECONDS = 60
# Set by the fast submit path on a request it counted and then handed to Django: the wait it
# computed (0 when allowed).
SCOPE_KEY = "ascolto.surveys.ratelimit_wait"


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _window(ip: str, moment: int) -> tuple[str, int]:
    start = moment - moment % WINDOW_SECONDS
    return f"surveys:rl:{ip}:{start}", start


def _wait(count: int, start: int, moment: int, limit: int) -> int:
    return 0 if count <= limit else max(1, start + WINDOW_SECONDS - moment)


def hit(request: HttpRequest, *, now: float | None = None) -> int:
    """Count one public request; 0 when allowed, else the seconds until the window ends."""
    scope: dict[str, Any] = getattr(request, "scope", None) or {}
    if SCOPE_KEY in scope:
        return int(scope[SCOPE_KEY])
    return hit_ip(client_ip(request), now=now)


def hit_ip(ip: str, *, now: float | None = None) -> int:
    """`hit` for a client address."""
    limit = conf.page_hits_per_minute()
    moment = int(time.time() if now is None else now)
    key, start = _window(ip, moment)
    count = counters.count(key, WINDOW_SECONDS + 5)
    return _wait(count, start, moment, limit)


_scripts: dict[asyncio.AbstractEventLoop, Any] = {}


def _count_script() -> Any:
    """COUNT_SCRIPT on an asyncio Redis client of the running loop (a client belongs to the
    loop it was made on), sent by its digest after the first call."""
    import redis.asyncio

    loop = asyncio.get_running_loop()
    script = _scripts.get(loop)
    if script is None:
        for old in [other for other in _scripts if other.is_closed()]:
            del _scripts[old]
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        script = _scripts[loop] = client.register_script(counters.COUNT_SCRIPT)
    return script


async def hits_many(ips: Sequence[str], *, now: float | None = None) -> list[int]:
    """`hit_ip` for several requests at once, without blocking the event loop: with Redis one
    script call counting every request's key, on the keys and values the Django cache uses
    (Django's Redis cache stores integers as plain Redis integers), so both paths count
    together. Without Redis the local-memory cache is counted in place (no I/O)."""
    if not settings.REDIS_URL:
        return [hit_ip(ip, now=now) for ip in ips]
    limit = conf.page_hits_per_minute()
    moment = int(time.time() if now is None else now)
    windows = [_window(ip, moment) for ip in ips]
    counts = await _count_script()(
        keys=[cache.make_and_validate_key(key) for key, _start in windows],
        args=[WINDOW_SECONDS + 5],
    )
    return [
        _wait(int(count), start, moment, limit)
        for count, (_key, start) in zip(counts, windows, strict=True)
    ]
