"""Users, orders and idempotency records in Redis: the node's only state lives here.

``Store`` is the one narrow I/O surface the handlers use; Redis failures surface as
``StoreUnavailable`` (translated here, answered 503 by the middleware).

Through a failover (``REDIS_SENTINELS``) a call that met a connection error or a timeout is sent
again, on the primary the sentinels name, for up to ``REDIS_FAILOVER_SECONDS``
(``nodes.failover``). That is safe for every call retried here, because each one may run twice:

    reads (users, orders, lists)   no effect
    seed_user                      HSETNX: a second run writes nothing
    commit                         owner-fenced: a second run finds its own record done and
                                   answers the stored response (``REPLAY``)
    update_order                   compare-and-set with the request id: a second run of an
                                   applied update answers ``REPLAYED``, never a second change
    release                        deletes only a reservation still pending under our owner
    reserve                        a second run of one that reached the old primary *and* its
                                   replica finds the record pending: 409 + Retry-After, after
                                   which the client's resend takes the key over (never twice)

``ping`` is never retried: ``/readyz`` must say at once that Redis is away.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from nodes import lua
from nodes.failover import FailoverRetry, WaitForReplicas
from nodes.idempotency import CommitOutcome, Decision
from nodes.orders import OrderInput, Precondition, RetryIdentity
from nodes.resilient import (
    NotReplicated,
    StoreUnavailable,
    never_retried,
    translated,
    write_then_wait,
)

__all__ = ["NotReplicated", "Store", "StoreUnavailable"]


@dataclass(frozen=True, slots=True)
class Reservation:
    """The reply of the RESERVE script: its decision and the decision's data."""

    outcome: Decision
    lease_left_ms: int = 0
    response: StoredResponse | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    """The reply of the COMMIT script; ``response`` is the stored one on a replay."""

    outcome: CommitOutcome
    response: StoredResponse | None = None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response kept for replay under an Idempotency-Key."""

    status: int
    location: str
    etag: str
    body: str


@dataclass(frozen=True, slots=True)
class NewOrder:
    """Everything COMMIT writes: the order and the response that announces it."""

    order_id: str
    user: str
    order: OrderInput
    now: str
    response: StoredResponse


class UpdateOutcome(enum.StrEnum):
    """What the UPDATE script did; the values are its reply words."""

    UPDATED = "updated"  # applied: a new version
    REPLAYED = "replayed"  # a retry of the update that made the current version: not reapplied
    MISSING = "missing"  # no such order
    FORBIDDEN = "forbidden"  # the order is another user's
    STALE = "stale"  # If-Match names no acceptable version


@dataclass(frozen=True, slots=True)
class Update:
    """The reply of the UPDATE script; ``order`` is the order's hash when updated or replayed."""

    outcome: UpdateOutcome
    order: dict[str, str] | None = None


class Store:
    """Typed access to the node's Redis keys (layout in ``nodes.lua``)."""

    def __init__(
        self,
        redis: Redis,
        failover: FailoverRetry | None = None,
        wait: WaitForReplicas | None = None,
        on_retry: Callable[[str], None] = lambda error: None,
    ) -> None:
        self.redis = redis
        self.failover = failover or FailoverRetry()
        self.wait = wait or WaitForReplicas()
        self.on_retry = on_retry
        self._reserve = redis.register_script(lua.RESERVE)
        self._commit = redis.register_script(lua.COMMIT)
        self._release = redis.register_script(lua.RELEASE)
        self._update = redis.register_script(lua.UPDATE)

    # users -----------------------------------------------------------------------------------

    @translated
    async def get_user(self, user_id: str) -> dict[str, str] | None:
        return _str_map(await self.redis.hgetall(f"user:{user_id}")) or None

    @translated
    async def user_seeded(self, user_id: str) -> bool:
        """True when the user has a password: a user without one is not complete yet."""
        return bool(await self.redis.hexists(f"user:{user_id}", "password"))

    @translated
    async def seed_user(self, user_id: str, fields: Mapping[str, str]) -> None:
        """Write each field unless present (HSETNX), all in one MULTI: never half a user, and
        safe when several nodes seed at once (the first writer wins field by field)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, value in fields.items():
                pipe.hsetnx(f"user:{user_id}", name, value)
            await pipe.execute()

    # orders ----------------------------------------------------------------------------------

    @translated
    async def get_order(self, order_id: str) -> dict[str, str] | None:
        return _str_map(await self.redis.hgetall(f"order:{order_id}")) or None

    @translated
    async def list_orders(
        self, user: str, offset: int, limit: int
    ) -> tuple[int, list[dict[str, str]]]:
        """The user's orders from ``offset`` (oldest first), and how many there are in all."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(f"user:{user}:orders")
            pipe.lrange(f"user:{user}:orders", offset, offset + limit - 1)
            total, ids = await pipe.execute()
        if not ids:
            return int(total), []
        async with self.redis.pipeline(transaction=False) as pipe:
            for order_id in ids:
                pipe.hgetall(f"order:{order_id}")
            orders = await pipe.execute()
        return int(total), [o for o in orders if o]

    @translated
    async def update_order(
        self, order_id: str, user: str, order: OrderInput, now: str, condition: Precondition,
        retry: RetryIdentity,
    ) -> Update:  # fmt: skip
        """Compare-and-set: apply ``order`` only if the current version meets ``condition``.

        ``REPLAYED`` when ``retry`` identifies the update that made the current version: a
        retry of one request (on another node) is answered without a second change.
        """
        versions = ["*"] if condition.any_version else [str(v) for v in sorted(condition.versions)]
        reply: list[Any] = await self._write(
            self._update,
            keys=[f"order:{order_id}"],
            args=[
                user, order.item, order.quantity, now, retry.request_id, retry.fingerprint,
                *(versions or ["none"]),
            ],
        )  # fmt: skip
        outcome = UpdateOutcome(reply[0])
        if outcome in {UpdateOutcome.UPDATED, UpdateOutcome.REPLAYED}:
            flat = reply[1]
            return Update(outcome, dict(zip(flat[::2], flat[1::2], strict=True)))
        return Update(outcome)

    # idempotency -----------------------------------------------------------------------------

    @translated
    async def reserve(
        self, user: str, key: str, fingerprint: str, owner: str, lease_ms: int, ttl: int,
        request_id: str = "",
    ) -> Reservation:  # fmt: skip
        """RESERVE (``nodes.idempotency``'s table); ``request_id`` is '' when the node made it."""
        reply: list[str] = await self._reserve(
            keys=idem_keys(user, key), args=[fingerprint, owner, lease_ms, ttl, request_id]
        )
        decision = Decision(reply[0])
        if decision is Decision.REPLAY:
            return Reservation(decision, response=_stored(reply[1:]))
        if decision is Decision.IN_PROGRESS:
            return Reservation(decision, lease_left_ms=int(reply[1]))
        return Reservation(decision)

    @translated
    async def commit(self, key: str, owner: str, new: NewOrder) -> Commit:
        """Create the order and store its response in one step, if ``owner`` still holds ``key``.

        ``COMMITTED``, ``REPLAY`` (already done, by us or a retry) or ``FENCED``.
        """
        r = new.response
        reply: list[str] = await self._write(
            self._commit,
            keys=[
                *idem_keys(new.user, key),
                f"order:{new.order_id}",
                f"user:{new.user}:orders",
            ],
            args=[
                owner, new.order_id, new.user, new.order.item, new.order.quantity, new.now,
                r.status, r.location, r.etag, r.body,
            ],
        )  # fmt: skip
        outcome = CommitOutcome(reply[0])
        if outcome is CommitOutcome.REPLAY:
            return Commit(outcome, response=_stored(reply[1:]))
        return Commit(outcome)

    @translated
    async def finished(self, user: str, key: str, fingerprint: str) -> StoredResponse | None:
        """The stored response under ``key`` once its request is done, if it had
        ``fingerprint``; else None (still pending, released, or another body)."""
        fields = ("fp", "state", "status", "location", "etag", "body")
        fp, state, *parts = await self.redis.hmget(idem_keys(user, key)[0], fields)
        if fp != fingerprint or state != "done":
            return None
        return _stored([str(part) for part in parts])

    @translated
    async def release(self, user: str, key: str, owner: str) -> None:
        """Give up a pending reservation we own, so that a retry need not wait for the lease."""
        await self._release(keys=idem_keys(user, key), args=[owner])

    @never_retried
    async def ping(self) -> None:
        await self.redis.ping()

    async def _write(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await write_then_wait(self.redis, self.wait, script, keys, args)


def idem_keys(user: str, key: str) -> list[str]:
    """The record and lease names of ``user``'s Idempotency-Key ``key``.

    The client's key may hold any printable character, ``:`` included, so it is hashed: the
    names of two different keys can then never coincide (key ``z:lease``'s record must not be
    key ``z``'s lease). User ids are plain (``valid_id``), so ``user`` needs no such care.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()
    return [f"idem:{user}:{digest}", f"idem:{user}:{digest}:lease"]


def _str_map(raw: Mapping[Any, Any]) -> dict[str, str]:
    # The client decodes responses (decode_responses=True); redis-py's types cannot say so.
    return {str(k): str(v) for k, v in raw.items()}


def _stored(parts: list[str]) -> StoredResponse:
    status, location, etag, body = parts
    return StoredResponse(status=int(status), location=location, etag=etag, body=body)
