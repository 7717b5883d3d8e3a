"""The Channels layer on Redis, with connection pools that make a burst wait instead of fail.

channels_redis gives each process (each event loop) a redis-py connection pool, and redis-py
refuses a command with MaxConnectionsError as soon as all of that pool's connections are in use
(100 by default). A web process holding thousands of sockets gets there in a burst: sockets
joining their groups after a deploy, or a wave of messages, each sent to two groups, while
Redis answers slowly. The join or push then fails. Here each pool waits, up to `timeout`
seconds, for a connection to come free: a burst queues instead of failing, with as many
connections to Redis as before.
"""

from __future__ import annotations

from typing import Any

import channels_redis.core
import redis.asyncio

POOL_SIZE = 100
POOL_WAIT = 10.0


class RedisChannelLayer(channels_redis.core.RedisChannelLayer):  # type: ignore[misc]
    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        address = host.pop("address", None)
        if address is None:  # a Sentinel or keyword host: channels_redis' own pool
            return super().create_pool(index)
        host.setdefault("max_connections", POOL_SIZE)
        host.setdefault("timeout", POOL_WAIT)
        return redis.asyncio.BlockingConnectionPool.from_url(address, **host)
