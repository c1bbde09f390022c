"""The revocation data in Redis, shared by every mode, and the pure in-memory revoked set.

Every mode writes the same keys, so nodes in different modes can share one Redis and a
``cached`` node can rebuild its set from what ``denylist`` nodes wrote:

    revoked:jti:<jti>   "1", expires with the token          (denylist: one MGET per request)
    revoked:nbf:<sub>   the user's not-before, expires after the longest token lifetime
    revoked:jtis        sorted set jti -> exp                 (cached: the resync reads it)
    revoked:nbfs        sorted set sub -> not-before          (cached: the resync reads it)
    channel revocations one JSON message per revocation       (cached: pub/sub)

A token is revoked when its ``jti`` is listed, or when it was issued before its subject's
not-before time (``iat < not_before``, as Keycloak's notBefore: a token issued in the same
second as a logout-all stays valid, so a user who logs in again at once is not locked out).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from nodes.revocation.base import TokenRef

JTI_PREFIX = "revoked:jti:"
NBF_PREFIX = "revoked:nbf:"
JTI_INDEX = "revoked:jtis"
NBF_INDEX = "revoked:nbfs"
CHANNEL = "revocations"

#: What a failed or timed-out Redis call raises (``asyncio.timeout`` raises ``TimeoutError``).
REDIS_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class JtiRevoked:
    """One token taken back until ``exp``."""

    jti: str
    exp: int


@dataclass(frozen=True, slots=True)
class NotBefore:
    """Every token of ``sub`` issued before ``not_before`` is taken back."""

    sub: str
    not_before: int


Event = JtiRevoked | NotBefore


def encode_event(event: Event) -> str:
    """The pub/sub message for ``event``."""
    if isinstance(event, JtiRevoked):
        return json.dumps({"t": "jti", "jti": event.jti, "exp": event.exp})
    return json.dumps({"t": "nbf", "sub": event.sub, "nbf": event.not_before})


def decode_event(raw: str | bytes) -> Event:
    """Parse a pub/sub message; ``ValueError`` when it is not one of ours."""
    try:
        data = json.loads(raw)
        if data["t"] == "jti":
            return JtiRevoked(str(data["jti"]), int(data["exp"]))
        if data["t"] == "nbf":
            return NotBefore(str(data["sub"]), int(data["nbf"]))
    except (TypeError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a revocation message: {exc}") from exc
    raise ValueError(f"unknown revocation message type {data['t']!r}")


def describe(exc: BaseException | None) -> str:
    """An exception for a log line (redis-py's own ``repr`` hides the message)."""
    return "circuit open" if exc is None else f"{type(exc).__name__}: {exc}"


def _text(value: str | bytes) -> str:
    # The node's client may or may not use decode_responses.
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class RevokedSet:
    """The revoked tokens and not-before times known in memory (pure: no I/O, no clock).

    ``max_token_ttl`` bounds how long a not-before time matters: after it every token issued
    before it has expired anyway.
    """

    max_token_ttl: int
    jtis: dict[str, int] = field(default_factory=dict)
    not_before: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.jtis) + len(self.not_before)

    def apply(self, event: Event) -> None:
        """Record ``event``; a later not-before wins over an earlier one."""
        if isinstance(event, JtiRevoked):
            self.jtis[event.jti] = max(event.exp, self.jtis.get(event.jti, 0))
        else:
            self.not_before[event.sub] = max(event.not_before, self.not_before.get(event.sub, 0))

    def contains(self, token: TokenRef) -> bool:
        """True when ``token`` is revoked by its jti or by its subject's not-before."""
        return token.jti in self.jtis or token.iat < self.not_before.get(token.sub, 0)

    def prune(self, now: float) -> None:
        """Forget what can no longer match a token that has not expired."""
        self.jtis = {jti: exp for jti, exp in self.jtis.items() if exp > now}
        horizon = now - self.max_token_ttl
        self.not_before = {s: nbf for s, nbf in self.not_before.items() if nbf > horizon}

    def merge(self, events: Iterable[Event]) -> list[Event]:
        """Add ``events`` (a snapshot from Redis); return what we knew that the snapshot lacks.

        A union, never a replacement: a Redis that restarted empty must not make a node forget
        a revocation before its token expires. The returned events are written back.
        """
        remote = RevokedSet(self.max_token_ttl)
        for event in events:
            remote.apply(event)
        missing: list[Event] = [
            JtiRevoked(jti, exp) for jti, exp in self.jtis.items() if jti not in remote.jtis
        ]
        missing += [
            NotBefore(sub, nbf)
            for sub, nbf in self.not_before.items()
            if nbf > remote.not_before.get(sub, 0)
        ]
        for jti, exp in remote.jtis.items():
            self.apply(JtiRevoked(jti, exp))
        for sub, nbf in remote.not_before.items():
            self.apply(NotBefore(sub, nbf))
        return missing


class RevocationStore:
    """The Redis side: writes (with the pub/sub message), the per-request check, the snapshot."""

    def __init__(self, redis: Redis, max_token_ttl: int) -> None:
        self.redis = redis
        self.max_token_ttl = max_token_ttl

    async def _execute(self, fill: Callable[[Pipeline], None], *, transaction: bool) -> list[Any]:
        """Run a pipeline; once more on a connection error.

        redis-py does not retry a pipeline whose pooled connection died with a previous Redis
        process, so the first pipeline after a Redis restart would fail. Every pipeline here is
        idempotent (SET, ZADD, PUBLISH of the same facts; reads), so a second run is safe.
        """
        for attempt in (1, 2):
            pipe = self.redis.pipeline(transaction=transaction)
            fill(pipe)
            try:
                return list(await pipe.execute())
            except RedisConnectionError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def write(self, events: Iterable[Event], now: float) -> None:
        """Store ``events`` atomically (MULTI) and announce each on ``CHANNEL``."""
        events = [e for e in events if not (isinstance(e, JtiRevoked) and e.exp <= now)]
        if not events:
            return  # only expired tokens: nothing left to take back

        def fill(pipe: Pipeline) -> None:
            for event in events:
                if isinstance(event, JtiRevoked):
                    pipe.set(JTI_PREFIX + event.jti, "1", px=int((event.exp - now) * 1000) or 1)
                    pipe.zadd(JTI_INDEX, {event.jti: event.exp})
                else:
                    pipe.set(NBF_PREFIX + event.sub, str(event.not_before), ex=self.max_token_ttl)
                    pipe.zadd(NBF_INDEX, {event.sub: event.not_before}, gt=True)
                pipe.publish(CHANNEL, encode_event(event))

        await self._execute(fill, transaction=True)

    async def check(self, token: TokenRef) -> bool:
        """One round trip: is the jti listed, or was the token issued before the not-before?"""
        listed, nbf = await self.redis.mget([JTI_PREFIX + token.jti, NBF_PREFIX + token.sub])
        return listed is not None or (nbf is not None and token.iat < int(_text(nbf)))

    async def snapshot(self, now: float) -> list[Event]:
        """Everything still relevant at ``now``, pruning expired index entries on the way."""

        def fill(pipe: Pipeline) -> None:
            pipe.zremrangebyscore(JTI_INDEX, "-inf", now)
            pipe.zremrangebyscore(NBF_INDEX, "-inf", now - self.max_token_ttl)
            pipe.zrange(JTI_INDEX, 0, -1, withscores=True)
            pipe.zrange(NBF_INDEX, 0, -1, withscores=True)

        _, _, jtis, nbfs = await self._execute(fill, transaction=False)
        events: list[Event] = [JtiRevoked(_text(j), int(exp)) for j, exp in jtis]
        events += [NotBefore(_text(s), int(nbf)) for s, nbf in nbfs]
        return events
