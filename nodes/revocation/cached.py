"""Mode ``cached``: every node holds the revoked set in memory; no Redis call per request.

Two background tasks keep the set current:

- the follower subscribes to ``revocations`` (pub/sub), resyncs once subscribed (what was
  published while it was not listening), then applies each message as it comes; when the
  connection breaks it reconnects by itself with a short capped backoff;
- the resyncer re-reads the whole set every ``resync_interval`` seconds, so a lost message heals
  within one interval, and prunes what has expired.

A resync is a union, never a replacement: what this node knew and Redis lacks (a Redis that
restarted empty) is kept and written back. While Redis is unreachable the node keeps answering
from what it knew and ``status()`` says ``stale`` (shown in ``/readyz``'s detail).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from nodes.revocation.base import Revocation, RevocationSettings, RevocationUnavailable, TokenRef
from nodes.revocation.guard import LogThrottle
from nodes.revocation.store import (
    CHANNEL,
    REDIS_FAILURES,
    Event,
    JtiRevoked,
    NotBefore,
    RevocationStore,
    RevokedSet,
    decode_event,
    describe,
)

log = logging.getLogger("nodes.revocation")  # one name for every mode, as before the split

MAX_BACKOFF = 0.5  # seconds between reconnect attempts: a loopback refusal costs nothing


class CachedRevocation(Revocation):
    """Mode ``cached``: an in-memory revoked set, current through pub/sub and periodic resync."""

    mode = "cached"

    def __init__(
        self,
        redis: Redis,
        registry: CollectorRegistry,
        settings: RevocationSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._store = RevocationStore(redis, settings.max_token_ttl)
        self._settings = settings
        self._clock = clock
        self._set = RevokedSet(settings.max_token_ttl)
        self._subscribed = False
        self._synced = False
        self._last_sync: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._following = asyncio.Event()  # set once subscribed and resynced
        self._resubscribe = False  # set by a failed periodic resync
        self._throttle = LogThrottle(settings.log_every)
        self._declare_metrics(registry)

    def _declare_metrics(self, registry: CollectorRegistry) -> None:
        """The cache's instruments; stale until the first resync."""
        self._failures = Counter(
            "revocation_redis_failures",
            "Revocation operations that could not reach Redis",
            ["op"],
            registry=registry,
        )
        self._messages = Counter(
            "revocation_cache_messages", "Pub/sub revocation messages applied", registry=registry
        )
        self._healed = Counter(
            "revocation_cache_healed",
            "Revocations this node knew and Redis lacked, written back by a resync",
            registry=registry,
        )
        self._entries = Gauge(
            "revocation_cache_entries", "Revoked jtis and not-befores in memory", registry=registry
        )
        self._stale = Gauge(
            "revocation_cache_stale", "1 while the cache cannot follow Redis", registry=registry
        )
        self._stale.set(1)

    @property
    def stale(self) -> bool:
        """True unless subscribed and the last resync succeeded."""
        return not (self._subscribed and self._synced)

    async def start(self) -> None:
        # Filled and subscribed before the first request, so that no revocation published from
        # now on is missed. A Redis down at start only makes the node stale: the tasks retry.
        self._tasks = [
            asyncio.create_task(self._follow(), name="revocation-follow"),
            asyncio.create_task(self._resync_every(), name="revocation-resync"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._settings.write_timeout):
                await self._following.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def is_revoked(self, token: TokenRef) -> bool:
        return self._set.contains(token)

    async def revoke(self, token: TokenRef) -> None:
        await self._record(JtiRevoked(token.jti, token.exp + self._settings.leeway), "revoke")

    async def revoke_all(self, sub: str, not_before: int) -> None:
        await self._record(NotBefore(sub, not_before), "revoke_all")

    async def _record(self, event: Event, op: str) -> None:
        # This node rejects the token at once even if Redis cannot be told; the client still
        # gets 503 then, because the other nodes do not know.
        self._apply(event)
        try:
            async with asyncio.timeout(self._settings.write_timeout):
                await self._store.write([event], self._clock())
        except REDIS_FAILURES as exc:
            self._failed(op, exc)
            raise RevocationUnavailable("the revocation could not be stored in Redis") from exc

    def _apply(self, event: Event) -> None:
        self._set.apply(event)
        self._entries.set(len(self._set))

    async def _resync(self) -> bool:
        """Union the set with Redis's, write back what Redis lacks; False when Redis failed."""
        try:
            async with asyncio.timeout(self._settings.write_timeout):
                events = await self._store.snapshot(self._clock())
                now = self._clock()
                self._set.prune(now)
                missing = self._set.merge(events)
                if missing:
                    await self._store.write(missing, now)
                    self._healed.inc(len(missing))
                    log.warning("revocations written back to Redis", extra={"count": len(missing)})
        except REDIS_FAILURES as exc:
            self._synced = False
            self._failed("resync", exc)
            return False
        self._synced = True
        self._last_sync = time.monotonic()
        self._entries.set(len(self._set))
        self._stale.set(int(self.stale))
        return True

    async def _resync_every(self) -> None:
        while True:
            await asyncio.sleep(self._settings.resync_interval)
            if not await self._resync():
                # Redis cannot be reached: the subscription may be a connection that went
                # silent without a reset (a partition). Have the follower open a new one.
                self._resubscribe = True

    async def _follow(self) -> None:
        """Stay subscribed for as long as the node runs, reconnecting with a capped backoff."""
        backoff = 0.05
        while True:
            try:
                await self._listen()
            except REDIS_FAILURES as exc:
                self._failed("subscribe", exc)
            if self._last_sync is not None and time.monotonic() - self._last_sync < 1.0:
                backoff = 0.05  # it worked a moment ago: a fresh outage, retry quickly
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with asyncio.timeout(self._settings.write_timeout):
                await pubsub.subscribe(CHANNEL)
            self._subscribed = True
            if not await self._resync():
                raise RedisConnectionError("resync after subscribing failed")  # reconnect, retry
            self._following.set()
            self._resubscribe = False
            while not self._resubscribe:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message["type"] == "message":
                    self._on_message(message["data"])
        finally:
            # Messages may be lost from now on: not fresh again before the next full resync.
            self._subscribed = self._synced = False
            self._stale.set(1)
            with contextlib.suppress(*REDIS_FAILURES):
                async with asyncio.timeout(self._settings.write_timeout):  # a silent peer
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, data: str | bytes) -> None:
        try:
            event = decode_event(data)
        except ValueError as exc:
            self._failures.labels(op="message").inc()
            log.warning("ignored a malformed revocation message", extra={"error": str(exc)})
            return
        self._apply(event)
        self._messages.inc()

    def _failed(self, op: str, exc: BaseException) -> None:
        self._failures.labels(op=op).inc()
        self._stale.set(1)
        held = self._throttle.take(time.monotonic())
        if held is not None:
            log.warning(
                "revocation cache cannot follow Redis; serving what it knew",
                extra={"op": op, "error": describe(exc), "suppressed": held},
            )

    def status(self) -> dict[str, object]:
        age = None if self._last_sync is None else round(time.monotonic() - self._last_sync, 3)
        return {
            "mode": self.mode,
            "stale": self.stale,
            "subscribed": self._subscribed,
            "entries": len(self._set),
            "last_sync_age_s": age,
        }
