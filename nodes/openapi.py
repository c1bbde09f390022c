"""The OpenAPI 3.1 description of the node's API (``GET /openapi.json``).

A test keeps its paths and methods equal to the router's routes.
"""

from __future__ import annotations

from typing import Any

from nodes.config import NodeConfig
from nodes.idempotency import MAX_KEY_LENGTH
from nodes.orders import (
    DEFAULT_LIMIT,
    ID_PATTERN,
    MAX_ITEM_CHARS,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUANTITY,
    MIN_QUANTITY,
    NOT_BLANK_PATTERN,
)

#: ``nodes.handlers.session`` refuses other passwords (400); a test holds the two equal (an
#: import would close a loop: the handlers serve this document).
MAX_PASSWORD_CHARS = 1024

_REF = "#/components/schemas/"
_PROBLEM = {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}}
_ERRORS = {
    "400": "Malformed JSON, or a body or query of the wrong shape, types or ranges (every "
    "body the node cannot accept is 400; 422 is kept for a reused Idempotency-Key)",
    "401": "No token, or an invalid, expired or revoked one (`WWW-Authenticate: Bearer`)",
    "403": "Authenticated, but the resource belongs to another user",
    "404": "No such resource",
    "409": "A request with this Idempotency-Key (another request, not a retry of this one) is "
    "still in progress (`Retry-After`)",
    "412": "If-Match names a stale version",
    "413": "The body is larger than 1 MiB",
    "422": "This Idempotency-Key was used with another body",
    "428": "If-Match is missing",
    "503": "Redis (or the revocation store, in a fail-closed mode) cannot be reached",
}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF + schema}}}


def _op(
    summary: str,
    ok: dict[str, Any],
    errors: str = "",
    *,
    auth: bool = True,
    **more: Any,
) -> dict[str, Any]:
    responses = dict(ok)
    for code in errors.split():
        responses[code] = {"description": _ERRORS[code], "content": _PROBLEM}
    op: dict[str, Any] = {"summary": summary, "responses": responses, **more}
    op["security"] = [{"bearer": []}] if auth else []
    return op


def _ok(code: str, description: str, schema: str | None = None, **headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema:
        answer["content"] = _json(schema)
    if headers:
        answer["headers"] = {name: {"schema": {"type": "string"}, "description": text}
                             for name, text in headers.items()}  # fmt: skip
    return {code: answer}


_PLAIN_ID = {"type": "string", "pattern": f"^{ID_PATTERN}$"}  # any other id is a 404
_USER_ID = {"name": "id", "in": "path", "required": True, "schema": _PLAIN_ID,
            "description": "A user id (the token's `sub`)", "example": "alice"}  # fmt: skip
_ORDER_ID = {"name": "id", "in": "path", "required": True, "schema": _PLAIN_ID,
             "description": "An order's `id` (the end of its `Location`)"}  # fmt: skip
_IDEM = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    # 1-255 printable ASCII characters as sent; a quoted structured-field string is the key
    # inside the quotes, so `""` (empty) is refused too.
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
               "pattern": '^(?!""$)[!-~]+$'},
    "description": "Scoped per user; records are kept for a day. The same key and body again "
    "replays the first answer (`Idempotent-Replayed: true`) and never creates a second order.",
}  # fmt: skip
_IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "The order's `ETag`, or `*`; any other value matches no version "
             "(412)"}  # fmt: skip
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False,
                  "schema": {"type": "string"}}  # fmt: skip
_RETRY_ID = {
    "name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "Kept by the balancer across its retries of one request (any value is "
    "accepted; one that is not 1-128 characters of `[A-Za-z0-9._:/+=-]` is replaced by a new "
    "id). A PUT retried after its first try applied is answered 200 with the current ETag, not "
    "412; a keyed POST retried while its first try still holds the key takes it over, not 409.",
}  # fmt: skip
_PAGE = [
    {"name": "offset", "in": "query",
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
    {"name": "limit", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
]  # fmt: skip
# Links drive schemathesis's stateful phase: a created order is read and updated with its ETag.
_ORDER_LINKS = {
    "GetOrder": {"operationId": "getOrder", "parameters": {"id": "$response.body#/id"}},
    "UpdateOrder": {"operationId": "updateOrder", "parameters": {
        "id": "$response.body#/id", "header.If-Match": "$response.header.ETag"}},
}  # fmt: skip


def _paths(config: NodeConfig) -> dict[str, Any]:
    cart = _cart_paths() if config.sessions == "memory" else {}
    return {**_auth_paths(config), **_resource_paths(), **cart, **_probe_paths()}


_SESSION_SCHEME = {"session": {"type": "apiKey", "in": "cookie", "name": "session_id"}}


def _cart_paths() -> dict[str, Any]:
    """``SESSIONS=memory`` only: session state in one node's memory (the anti-pattern)."""
    note = "Kept in the `session_id` session, in the memory of the node that created it only."
    cart, added = _ok("200", "The cart", "Cart"), _ok("201", "Added; the cart", "Cart")
    item = {
        "get": _op("The session's cart", cart, "401", operationId="getCart", description=note),
        "post": _op("Add a line to the session's cart", added, "400 401 413",
                    operationId="addToCart", description=note,
                    requestBody={"required": True, "content": _json("OrderInput")}),
    }  # fmt: skip
    for op in item.values():
        op["security"] = [{"session": []}]
    return {"/cart": item}


def _auth_paths(config: NodeConfig) -> dict[str, Any]:
    logout_note = (
        "In this node's revocation mode `none`, logout cannot take the token back: it stays "
        "valid until its `exp`. Other modes (`denylist`, `denylist-fail-open`, `cached`) "
        "revoke it on every node."
        if config.revocation == "none"
        else f"Revocation mode `{config.revocation}`: the token is refused on every node."
    )
    return {
        "/auth/login": {"post": _op(
            "Exchange a username and password for an access token",
            _ok("200", "A Bearer JWT", "Token"), "400 401 413 503", auth=False,
            operationId="login", requestBody={"required": True, "content": _json("Credentials")})},
        "/auth/logout": {"post": _op(
            "Revoke the presented token", _ok("204", "Logged out"), "401 503",
            operationId="logout", description=logout_note)},
        "/auth/logout-all": {"post": _op(
            "Revoke the presented token and every token of the caller issued in an earlier "
            "second", _ok("204", "Logged out everywhere"),
            "401 503", operationId="logoutAll", description=logout_note)},
        "/whoami": {"get": _op("The token's subject and the node that answered",
                               _ok("200", "Who", "Whoami"), "401 503", operationId="whoami")},
    }  # fmt: skip


def _resource_paths() -> dict[str, Any]:
    created = _ok("201", "Created (or replayed)", "Order", Location="/orders/{id}",
                  ETag="Strong validator of the version")  # fmt: skip
    created["201"]["links"] = _ORDER_LINKS
    updated = _ok(
        "200", "Updated, or replayed: a retry of the update that made the current version "
        "(same X-Request-ID and body, If-Match its base) changes nothing", "Order",
        ETag="The new version's validator",
        **{"Idempotent-Replayed": "`true` on a replayed retry"})  # fmt: skip
    updated["200"]["links"] = _ORDER_LINKS
    order = _ok("200", "The order", "Order", ETag="Strong validator")
    order["200"]["links"] = {"UpdateOrder": _ORDER_LINKS["UpdateOrder"]}
    return {
        "/users/{id}": {"get": _op("A user (only oneself)", _ok("200", "The user", "User"),
                                   "401 403 404 503", operationId="getUser",
                                   parameters=[_USER_ID])},
        "/users/{id}/profile": {"get": _op(
            "What a lean token leaves out (roles, profile), from Redis, cached per node",
            _ok("200", "The profile", "Profile"), "401 403 404 503", operationId="getProfile",
            parameters=[_USER_ID])},
        "/users/{id}/orders": {
            "get": _op("The user's orders, oldest first", _ok("200", "A page", "OrderList"),
                       "400 401 403 404 503", operationId="listOrders",
                       parameters=[_USER_ID, *_PAGE]),
            "post": _op(
                "Create an order, exactly once per Idempotency-Key", created,
                "400 401 403 404 409 413 422 503", operationId="createOrder",
                parameters=[_USER_ID, _IDEM, _RETRY_ID],
                requestBody={"required": True, "content": _json("OrderInput")}),
        },
        "/orders/{id}": {
            "get": _op("An order", {**order, **_ok("304", "Not modified (If-None-Match)")},
                       "401 403 404 503", operationId="getOrder",
                       parameters=[_ORDER_ID, _IF_NONE_MATCH]),
            "put": _op(
                "Replace an order if it has not changed (compare-and-set on the ETag)", updated,
                "400 401 403 404 412 413 428 503", operationId="updateOrder",
                parameters=[_ORDER_ID, _IF_MATCH, _RETRY_ID],
                requestBody={"required": True, "content": _json("OrderInput")}),
        },
    }  # fmt: skip


def _probe_paths() -> dict[str, Any]:
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/healthz": {"get": _op("Liveness", _ok("200", "The process serves", "Probe"),
                                auth=False, operationId="healthz")},
        "/readyz": {"get": _op(
            "Readiness: 503 while draining, before seeding or without Redis",
            {**_ok("200", "Ready", "Probe"), **_ok("503", "Not ready", "Probe")}, auth=False,
            operationId="readyz")},
        "/metrics": {"get": _op("Prometheus text format",
                                {"200": {"description": "Metrics", "content": text}},
                                auth=False, operationId="metrics")},
        "/openapi.json": {"get": _op(
            "This document", {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {"schema": {}}}}},
            auth=False, operationId="openapi")},
    }  # fmt: skip


def _schemas() -> dict[str, Any]:
    string, integer = {"type": "string"}, {"type": "integer"}
    order_input = {
        # At least one character that is not white space: the node refuses a blank item.
        "item": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_ITEM_CHARS,
            "pattern": NOT_BLANK_PATTERN,
        },
        # An integral number (249.0) is an integer to JSON Schema, and the node takes it.
        "quantity": {"type": "integer", "minimum": MIN_QUANTITY, "maximum": MAX_QUANTITY},
    }
    order = {"id": string, "user": string, **order_input, "version": integer,
             "created_at": string, "updated_at": string}  # fmt: skip

    def obj(props: dict[str, Any], *, closed: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(props)}
        if closed:
            schema["additionalProperties"] = False
        return schema

    credentials = {
        # Any other username is no user: 401, as for a wrong password.
        "username": {**_PLAIN_ID, "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD_CHARS},
    }
    return {
        "Problem": {**obj({"type": string, "title": string, "status": integer, "detail": string}),
                    "description": "RFC 9457 problem details"},
        "Credentials": obj(credentials),
        "Token": obj({"access_token": string, "token_type": {"const": "Bearer"},
                      "expires_in": integer}),
        "Whoami": obj({"sub": string, "jti": string, "exp": integer, "node": string}),
        "User": obj({"id": string, "name": string}),
        "Profile": obj({"id": string, "profile": {"type": "object"},
                        "cached": {"type": "boolean"}}),
        "OrderInput": obj(order_input, closed=True),
        "Order": obj(order),
        "OrderList": obj({"orders": {"type": "array", "items": {"$ref": _REF + "Order"}},
                          "total": integer, "offset": integer, "limit": integer}),
        "Cart": obj({"items": {"type": "array", "items": {"$ref": _REF + "OrderInput"}},
                     "count": integer, "node": string}),
        "Probe": {"type": "object", "properties": {"status": string}, "required": ["status"]},
    }  # fmt: skip


def openapi_document(config: NodeConfig) -> dict[str, Any]:
    """The whole document for a node configured with ``config``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stateless-cluster node API",
            "version": "1.0.0",
            "description": "Every response carries `X-Served-By` and `X-Request-ID`; every "
            "error is an RFC 9457 problem+json body. Tokens are HS256 JWTs with exactly `sub`, "
            "`jti`, `iat`, `exp`, `iss`, `aud` and `scope`.",
        },
        "paths": _paths(config),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                **(_SESSION_SCHEME if config.sessions == "memory" else {}),
            },
        },
    }
