"""Users and their orders: reads, idempotent creation, conditional updates."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime

from aiohttp import web

from nodes import idempotency
from nodes.auth import authenticate
from nodes.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    KeyReused,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from nodes.handlers.common import json_response, read_json, require_self, valid_id
from nodes.idempotency import CommitOutcome, Decision
from nodes.orders import (
    RetryIdentity,
    canonical,
    etag,
    none_match,
    parse_if_match,
    public_order,
    validate_order,
)
from nodes.state import CONFIG, METRICS, REQUEST_ID, STORE
from nodes.store import NewOrder, Reservation, StoredResponse, UpdateOutcome

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
#: Redis takes list indexes as signed 64-bit integers and answers an error past them (a 500, as
#: found from outside); no list here comes near 2^31 entries, so any larger offset is a 400.
MAX_OFFSET = 2**31 - 1
log = logging.getLogger("nodes.orders")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _path_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not valid_id(value):
        raise NotFound(f"no resource at {request.path}")
    return value


async def get_user(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user_id = _path_id(request)
    require_self(claims, user_id)
    user = await request.app[STORE].get_user(user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    return json_response({"id": user_id, "name": user.get("name", user_id)})


def _page(request: web.Request) -> tuple[int, int]:
    offset = _query_int(request, "offset", 0)
    limit = _query_int(request, "limit", DEFAULT_LIMIT)
    if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(
            f"offset must be 0-{MAX_OFFSET} and limit 1-{MAX_LIMIT}", type_="invalid-query"
        )
    return offset, limit


def _query_int(request: web.Request, name: str, default: int) -> int:
    """A query integer in plain ASCII digits (``int()`` would also take ``+1``, ``1_0``, `` 1``
    and other scripts' digits); at most 19 of them, so that no huge number is ever parsed."""
    value = request.query.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 19):
        raise BadRequest(f"{name} must be a non-negative integer", type_="invalid-query")
    return int(value)


async def list_orders(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user_id = _path_id(request)
    require_self(claims, user_id)
    offset, limit = _page(request)
    total, orders = await request.app[STORE].list_orders(user_id, offset, limit)
    return json_response(
        {
            "orders": [public_order(o) for o in orders],
            "total": total,
            "offset": offset,
            "limit": limit,
        }
    )


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
    order_id, now = uuid.uuid4().hex, _now()
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
    user_id = _path_id(request)
    require_self(claims, user_id)
    key = idempotency.parse_key(request.headers.get("Idempotency-Key"))
    body = await read_json(request)
    new = _new_order(user_id, body)
    config, store = request.app[CONFIG], request.app[STORE]
    owner = uuid.uuid4().hex  # fences the commit: only the reservation's owner may create
    fingerprint = idempotency.fingerprint(request.method, request.path, canonical(new.order))
    lease_ms = int(config.idempotency_lease * 1000)
    reservation = await store.reserve(
        user_id, key, fingerprint, owner, lease_ms, config.idempotency_ttl
    )
    answer = _answer_reservation(request, reservation)
    if answer is not None:
        return answer
    return await _commit(request, key, owner, new)


async def _commit(request: web.Request, key: str, owner: str, new: NewOrder) -> web.Response:
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
        raise Conflict(
            "a retry took this Idempotency-Key over while this request was delayed; retry",
            headers={"Retry-After": "1"},
        )
    if result.response is not None:  # committed by us earlier (a re-sent script) or a retry
        return _respond(result.response, replayed=True)
    return _respond(new.response, replayed=False)


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


async def _owned_order(request: web.Request) -> tuple[str, dict[str, str]]:
    claims = await authenticate(request)
    order_id = _path_id(request)
    stored = await request.app[STORE].get_order(order_id)
    if stored is None:
        raise NotFound(f"no order {order_id!r}")
    if stored.get("user") != claims.sub:
        raise Forbidden(f"order {order_id!r} belongs to another user")
    return claims.sub, stored


async def get_order(request: web.Request) -> web.Response:
    _, stored = await _owned_order(request)
    tag = etag(stored["version"])
    inm = request.headers.get("If-None-Match")
    if inm is not None and none_match(inm, tag):
        return web.Response(status=304, headers={"ETag": tag})
    return json_response(public_order(stored), headers={"ETag": tag})


async def update_order(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    order_id = _path_id(request)
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired("PUT needs an If-Match header with the order's ETag")
    body = await read_json(request)
    order = validate_order(body)
    retry = RetryIdentity(
        _retry_request_id(request),
        idempotency.fingerprint(request.method, request.path, canonical(order)),
    )
    update = await request.app[STORE].update_order(
        order_id, claims.sub, order, _now(), parse_if_match(header), retry
    )
    if update.outcome is UpdateOutcome.MISSING:
        raise NotFound(f"no order {order_id!r}")
    if update.outcome is UpdateOutcome.FORBIDDEN:
        raise Forbidden(f"order {order_id!r} belongs to another user")
    if update.outcome is UpdateOutcome.STALE:
        raise PreconditionFailed("the order has changed since this ETag; GET it again")
    assert update.order is not None
    headers = {"ETag": etag(update.order["version"])}
    if update.outcome is UpdateOutcome.REPLAYED:
        headers["Idempotent-Replayed"] = "true"
    return json_response(public_order(update.order), headers=headers)


def _retry_request_id(request: web.Request) -> str:
    """The request id when the client or the balancer set it (the same on every retry of one
    request); empty when the node made one up, so that it can never match a stored one."""
    incoming = request.headers.get("X-Request-ID")
    return incoming if incoming is not None and incoming == request[REQUEST_ID] else ""
