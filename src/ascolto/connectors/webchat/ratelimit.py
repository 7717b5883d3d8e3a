"""Rate limits for the public widget endpoints.

Per IP: fixed windows counted in the Django cache, so every web process behind one Redis
shares them (with the embedded local-memory cache, a process counts alone). Per connection:
an in-memory token bucket owned by the consumer. Limits are Django settings with the defaults
below, e.g. `ASCOLTO_WEBCHAT_CONNECTS_PER_MINUTE`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ascolto.connectors.webchat.config import setting
from ascolto.core import ratelimit

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
    count = ratelimit.count(key, window + 5)
    return 0 if count <= limit else max(1, start + window - now)


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
