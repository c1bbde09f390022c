"""``POST /users/{id}/orders``: an order created exactly once per ``Idempotency-Key``.

    reserve ──RESERVE / TAKE_OVER / RETRY_TAKE_OVER──▶ commit ──COMMITTED──▶ 201
       │                                                  ├──REPLAY─────▶ 201 (replayed)
       ├──REPLAY──▶ 201 (replayed)                        └──FENCED─────▶ wait for the new
       ├──MISMATCH──▶ 422                                                 owner's answer:
       └──IN_PROGRESS──▶ 409 + Retry-After                                201 (replayed) or 409

The decisions are ``nodes.idempotency``'s (table there); the scripts are ``nodes.lua``'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

from aiohttp import web

from nodes import idempotency
from nodes.auth import authenticate
from nodes.errors import Conflict, KeyReused
from nodes.handlers.common import path_id, read_json, require_self, retry_request_id, utc_now
from nodes.idempotency import CommitOutcome, Decision
from nodes.orders import canonical, etag, public_order, validate_order
from nodes.state import CONFIG, METRICS, REQUEST_ID, STORE
from nodes.store import NewOrder, Reservation, StoredResponse

log = logging.getLogger("nodes.orders")
#: How long a fenced try waits for the try that took its key over to store its answer. The new
#: owner is a live try that commits within milliseconds; the fenced one may be the try the
#: balancer still waits for (a frozen try that resumed and took over from the retry), so it
#: answers with the one order rather than a 409. Well under the balancer's per-try timeout
#: (``BALANCER_TRY_TIMEOUT``, 3 s). Fenced tries are rare, so polling costs nothing that matters.
TAKER_WAIT_SECONDS = 1.0
TAKER_POLL_SECONDS = 0.02


def _respond(stored: StoredResponse, *, replayed: bool) -> web.Response:
    headers = {"Location": stored.location, "ETag": stored.etag}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(
        status=stored.status, body=stored.body.encode(), content_type="application/json",
        headers=headers,
    )  # fmt: skip


def _answer_reservation(request: web.Request, reservation: Reservation) -> web.Response | None:
    """The answer when the reservation does not let this request proceed, else None."""
    request.app[METRICS].idempotency.labels(reservation.outcome).inc()
    if reservation.outcome is Decision.MISMATCH:
        raise KeyReused("this Idempotency-Key was already used with another request body")
    if reservation.outcome is Decision.IN_PROGRESS:
        seconds = idempotency.retry_after(reservation.lease_left_ms)
        raise Conflict(
            "a request with this Idempotency-Key is still being processed",
            headers={"Retry-After": str(seconds)},
        )
    if reservation.response is not None:
        return _respond(reservation.response, replayed=True)
    return None


def _new_order(user: str, body: object) -> NewOrder:
    order = validate_order(body)
    order_id, now = uuid.uuid4().hex, utc_now()
    public = public_order(
        {"id": order_id, "user": user, "item": order.item, "quantity": str(order.quantity),
         "version": "1", "created_at": now, "updated_at": now}
    )  # fmt: skip
    response = StoredResponse(
        status=201,
        location=f"/orders/{order_id}",
        etag=etag(1),
        body=json.dumps(public, separators=(",", ":")),
    )
    return NewOrder(order_id=order_id, user=user, order=order, now=now, response=response)


async def create_order(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user_id = path_id(request)
    require_self(claims, user_id)
    key = idempotency.parse_key(request.headers.get("Idempotency-Key"))
    new = _new_order(user_id, await read_json(request))
    config, store = request.app[CONFIG], request.app[STORE]
    owner = uuid.uuid4().hex  # fences the commit: only the reservation's owner may create
    fingerprint = idempotency.fingerprint(request.method, request.path, canonical(new.order))
    lease_ms = int(config.idempotency_lease * 1000)
    reservation = await store.reserve(
        user_id, key, fingerprint, owner, lease_ms, config.idempotency_ttl,
        retry_request_id(request),
    )  # fmt: skip
    answer = _answer_reservation(request, reservation)
    if answer is not None:
        return answer
    return await _commit(request, key, owner, new, fingerprint)


async def _commit(
    request: web.Request, key: str, owner: str, new: NewOrder, fingerprint: str
) -> web.Response:
    """Create the order reserved under ``key`` by ``owner``, unless another request took over."""
    try:
        result = await request.app[STORE].commit(key, owner, new)
    except BaseException:
        # The reply may be lost although the script ran: release only touches a record that is
        # still pending under our owner token, never a committed one.
        await asyncio.shield(_release_quietly(request, new.user, key, owner))
        raise
    request.app[METRICS].idempotency.labels(result.outcome).inc()
    if result.outcome is CommitOutcome.FENCED:
        taker = await _answer_of_taker(request, new.user, key, fingerprint)
        if taker is not None:
            return _respond(taker, replayed=True)
        raise Conflict(
            "a retry took this Idempotency-Key over while this request was delayed; retry",
            headers={"Retry-After": "1"},
        )
    if result.response is not None:  # committed by us earlier (a re-sent script) or a retry
        return _respond(result.response, replayed=True)
    return _respond(new.response, replayed=False)


async def _answer_of_taker(
    request: web.Request, user: str, key: str, fingerprint: str
) -> StoredResponse | None:
    """The answer stored by the request that took ``key`` over, once it is there (or None after
    ``TAKER_WAIT_SECONDS``: it failed, released the key, or is stuck too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TAKER_WAIT_SECONDS
    while True:
        stored = await request.app[STORE].finished(user, key, fingerprint)
        if stored is not None or loop.time() >= deadline:
            return stored
        await asyncio.sleep(TAKER_POLL_SECONDS)


async def _release_quietly(request: web.Request, user: str, key: str, owner: str) -> None:
    try:
        await request.app[STORE].release(user, key, owner)
        request.app[METRICS].idempotency.labels("released").inc()
    except Exception as exc:  # the lease expires on its own; a retry then takes over
        request.app[METRICS].idempotency.labels("release_failed").inc()
        log.warning(
            "releasing an idempotency reservation failed; it expires with its lease",
            extra={"request_id": request[REQUEST_ID], "error": f"{type(exc).__name__}: {exc}"},
        )
