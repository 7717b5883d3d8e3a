"""Per-IP fixed-window rate limit of the public survey pages, counted in the Django cache (so
every web process behind one Redis shares it; with the local-memory cache a process counts
alone). The same scheme as the web chat widget's limits."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest

from ascolto.surveys import conf

WINDOW_SECONDS = 60


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def hit(request: HttpRequest, *, now: float | None = None) -> int:
    """Count one public request; 0 when allowed, else the seconds until the window ends."""
    limit = conf.page_hits_per_minute()
    moment = int(time.time() if now is None else now)
    start = moment - moment % WINDOW_SECONDS
    key = f"surveys:rl:{client_ip(request)}:{start}"
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    return 0 if count <= limit else max(1, start + WINDOW_SECONDS - moment)
