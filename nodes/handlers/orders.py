"""Users and their orders: reads and conditional updates (creation: ``nodes.handlers.creates``)."""

from __future__ import annotations

from aiohttp import web

from nodes import idempotency
from nodes.auth import authenticate
from nodes.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from nodes.handlers.common import (
    json_response,
    path_id,
    read_json,
    require_self,
    retry_request_id,
    utc_now,
)
from nodes.orders import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    RetryIdentity,
    canonical,
    etag,
    none_match,
    parse_if_match,
    public_order,
    validate_order,
)
from nodes.state import STORE
from nodes.store import UpdateOutcome


async def get_user(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user_id = path_id(request)
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
    user_id = path_id(request)
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


async def _owned_order(request: web.Request) -> tuple[str, dict[str, str]]:
    claims = await authenticate(request)
    order_id = path_id(request)
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
    order_id = path_id(request)
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired("PUT needs an If-Match header with the order's ETag")
    body = await read_json(request)
    order = validate_order(body)
    retry = RetryIdentity(
        retry_request_id(request),
        idempotency.fingerprint(request.method, request.path, canonical(order)),
    )
    update = await request.app[STORE].update_order(
        order_id, claims.sub, order, utc_now(), parse_if_match(header), retry
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
