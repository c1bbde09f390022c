"""Modes ``denylist`` and ``denylist-fail-open``: ask Redis on every request.

The check is one ``MGET`` (the token's jti key and its subject's not-before key), bounded by
``check_timeout`` and guarded by a circuit breaker, so a down Redis costs a request
microseconds, not a connect attempt or a timeout. What happens then is the whole difference
between the two modes: ``denylist`` raises ``RevocationUnavailable`` (the node answers 503),
``denylist-fail-open`` accepts the token, counts it and logs a (throttled) warning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter
from redis.asyncio import Redis

from nodes.revocation.base import (
    Revocation,
    RevocationSettings,
    RevocationUnavailable,
    TokenRef,
)
from nodes.revocation.guard import Breaker, LogThrottle
from nodes.revocation.store import (
    REDIS_FAILURES,
    Event,
    JtiRevoked,
    NotBefore,
    RevocationStore,
    describe,
)

log = logging.getLogger("nodes.revocation")  # one name for every mode, as before the split


class DenylistRevocation(Revocation):
    """Mode ``denylist``: a Redis round trip per request; Redis down → 503 (fail closed)."""

    mode = "denylist"
    fail_open = False

    def __init__(
        self,
        redis: Redis,
        registry: CollectorRegistry,
        settings: RevocationSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = RevocationStore(redis, settings.max_token_ttl)
        self._settings = settings
        self._clock = clock
        self._breaker = Breaker(settings.breaker_open_for, settings.breaker_threshold)
        self._throttle = LogThrottle(settings.log_every)
        self._failures = Counter(
            "revocation_redis_failures",
            "Revocation operations that could not reach Redis (failed, timed out, circuit open)",
            ["op"],
            registry=registry,
        )
        self._accepted_unchecked = Counter(
            "revocation_fail_open_accepted",
            "Tokens accepted without a revocation check because Redis could not be asked",
            registry=registry,
        )

    async def is_revoked(self, token: TokenRef) -> bool:
        now = time.monotonic()
        if self._breaker.allow(now):
            try:
                async with asyncio.timeout(self._settings.check_timeout):
                    revoked = await self._store.check(token)
            except REDIS_FAILURES as exc:
                self._breaker.failure(time.monotonic())
                return self._unavailable(token, exc)
            self._breaker.success()
            return revoked
        return self._unavailable(token, None)

    def _unavailable(self, token: TokenRef, exc: BaseException | None) -> bool:
        """Redis could not be asked (``exc``) or the breaker is open (``None``)."""
        self._failures.labels(op="check").inc()
        if self.fail_open:
            self._accepted_unchecked.inc()
        held = self._throttle.take(time.monotonic())
        if held is not None:
            log.warning(
                "revocation check impossible: Redis unavailable",
                extra={
                    "mode": self.mode,
                    "outcome": "accepted unchecked" if self.fail_open else "503",
                    "jti": token.jti,
                    "error": describe(exc),
                    "suppressed": held,
                },
            )
        if self.fail_open:
            return False
        raise RevocationUnavailable("the revocation denylist (Redis) cannot be reached") from exc

    async def revoke(self, token: TokenRef) -> None:
        await self._write(JtiRevoked(token.jti, token.exp + self._settings.leeway), "revoke")

    async def revoke_all(self, sub: str, not_before: int) -> None:
        await self._write(NotBefore(sub, not_before), "revoke_all")

    async def _write(self, event: Event, op: str) -> None:
        # A logout must never claim success it did not get: fail-open or not, a failed write
        # is RevocationUnavailable (503), and the client can log out again.
        try:
            async with asyncio.timeout(self._settings.write_timeout):
                await self._store.write([event], self._clock())
        except REDIS_FAILURES as exc:
            self._failures.labels(op=op).inc()
            log.warning("revocation write failed", extra={"op": op, "error": describe(exc)})
            raise RevocationUnavailable("the revocation could not be stored in Redis") from exc

    def status(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "fail_open": self.fail_open,
            "breaker": self._breaker.state.value,
        }


class FailOpenDenylistRevocation(DenylistRevocation):
    """Mode ``denylist-fail-open``: Redis down → the token is accepted, counted and logged."""

    mode = "denylist-fail-open"
    fail_open = True
