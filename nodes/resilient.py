"""Redis calls that ride out a failover: the retry decorator, and a write followed by ``WAIT``.

``translated`` sends a call again on a connection error or a timeout for as long as the
store's ``FailoverRetry`` allows (``nodes.failover``: with sentinels only), then raises
``StoreUnavailable``; the store's docstring says why each call it decorates may run twice.

    StoreUnavailable     Redis could not be reached or did not answer in time (503)
     └── NotReplicated   written on the primary, but not confirmed by enough replicas (503)
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import redis.exceptions
from redis.asyncio import Redis

from nodes.failover import FailoverRetry, WaitForReplicas

_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S", bound="Retrying")
FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class StoreUnavailable(Exception):
    """Redis could not be reached or did not answer in time."""


class NotReplicated(StoreUnavailable):
    """The write is on the primary, but fewer replicas than ``REDIS_WAIT_REPLICAS`` confirmed it
    within ``REDIS_WAIT_TIMEOUT_MS``: not acknowledged (503; a resend replays it)."""


class Retrying(Protocol):
    """What ``translated`` needs of the object whose methods it wraps."""

    failover: FailoverRetry

    def on_retry(self, error: str) -> None: ...


def translated(
    fn: Callable[Concatenate[_S, _P], Awaitable[_T]],
) -> Callable[Concatenate[_S, _P], Awaitable[_T]]:
    """Retry on connection errors and timeouts as ``self.failover`` allows, then turn them into
    ``StoreUnavailable``."""

    @functools.wraps(fn)
    async def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        started = time.monotonic()
        for attempt in itertools.count():
            try:
                return await fn(self, *args, **kwargs)
            except FAILURES as exc:
                wait = self.failover.delay(attempt, time.monotonic() - started)
                if wait is None:
                    raise StoreUnavailable(f"redis: {type(exc).__name__}") from exc
                self.on_retry(type(exc).__name__)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # itertools.count() has no end

    return wrapper


def never_retried(fn: Callable[_P, Awaitable[_T]]) -> Callable[_P, Awaitable[_T]]:
    """Only the translation into ``StoreUnavailable``, no retry."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await fn(*args, **kwargs)
        except FAILURES as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}") from exc

    return wrapper


async def write_then_wait(
    client: Redis, wait: WaitForReplicas, script: Any, keys: list[str], args: list[Any]
) -> Any:
    """Run a writing script; with ``wait.replicas``, then ``WAIT`` on the same connection (one
    pipeline): WAIT counts the writes of its own connection only, and a pool hands each call
    any connection."""
    if not wait.replicas:
        return await script(keys=keys, args=args)
    for attempt in range(2):
        try:
            async with client.pipeline(transaction=False) as pipe:
                await script(keys=keys, args=args, client=pipe)
                pipe.wait(wait.replicas, wait.timeout_ms)
                reply, acknowledged = await pipe.execute()
            break
        except redis.exceptions.NoScriptError:
            # A pipeline loads its scripts before it runs; a primary promoted in between has
            # an empty script cache (Redis does not replicate it). Nothing ran: send it again.
            if attempt:
                raise
    if not wait.confirmed(int(acknowledged)):
        raise NotReplicated(
            f"{acknowledged} of {wait.replicas} replica(s) confirmed the write "
            f"within {wait.timeout_ms} ms"
        )
    return reply
