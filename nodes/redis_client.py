"""The node's Redis connection: a plain ``REDIS_URL``, or the primary found through Sentinel.

With ``REDIS_SENTINELS`` the client is redis-py's ``Sentinel(...).master_for(name)``: every new
connection asks the sentinels (in order, skipping any that does not answer) where the primary
is, refuses an address a sentinel reports as down, and a connection that finds a demoted
primary (``READONLY``) is dropped as a connection error. What to do about a call that failed
meanwhile is ``nodes.store``'s decision (``nodes.failover``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from nodes.config import NodeConfig
from nodes.failover import FailoverRetry, WaitForReplicas


@dataclass
class RedisConnection:
    """The client the node uses, and the sentinel client behind it (``None``: a plain URL)."""

    client: Redis
    sentinel: Sentinel | None = None

    async def aclose(self) -> None:
        await self.client.aclose()
        for sentinel in self.sentinel.sentinels if self.sentinel else ():
            await sentinel.aclose()


def _client_options(config: NodeConfig) -> dict[str, Any]:
    return {
        "decode_responses": True,
        "socket_timeout": config.redis_timeout,
        "socket_connect_timeout": config.redis_timeout,
        # One immediate retry heals a pooled connection that Redis closed. Timeouts are not
        # retried here: the command may have run (nodes.store decides what may run twice).
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        "health_check_interval": 15,
    }


def connect(config: NodeConfig) -> RedisConnection:
    """The connection ``config`` asks for (no I/O yet: redis-py connects on first use)."""
    options = _client_options(config)
    if not config.redis_sentinels:
        return RedisConnection(Redis.from_url(config.redis_url, **options))
    timeout = config.redis_timeout
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        config.sentinel_addresses,
        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
    )
    client = sentinel.master_for(config.redis_sentinel_master, redis_class=Redis, **options)
    return RedisConnection(client, sentinel)


def failover_retry(config: NodeConfig) -> FailoverRetry:
    """Retries through a failover with sentinels; none with a plain URL (one Redis: no one to
    fail over to, and a 503 at once tells the balancer and the client more than a wait)."""
    return FailoverRetry(config.redis_failover_seconds if config.redis_sentinels else 0.0)


def wait_for_replicas(config: NodeConfig) -> WaitForReplicas:
    return WaitForReplicas(config.redis_wait_replicas, config.redis_wait_timeout_ms)
