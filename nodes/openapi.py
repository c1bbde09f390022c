"""The OpenAPI 3.1 description of the node's API (``GET /openapi.json``).

A test keeps its paths and methods equal to the router's routes.
"""

from __future__ import annotations

from typing import Any

from nodes.config import NodeConfig
from nodes.orders import MAX_ITEM_CHARS, MAX_QUANTITY, MIN_QUANTITY

_REF = "#/components/schemas/"
_PROBLEM = {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}}
_ERRORS = {
    "400": "Malformed JSON, or a body or query of the wrong shape, types or ranges (every "
    "body the node cannot accept is 400; 422 is kept for a reused Idempotency-Key)",
    "401": "No token, or an invalid, expired or revoked one (`WWW-Authenticate: Bearer`)",
    "403": "Authenticated, but the resource belongs to another user",
    "404": "No such resource",
    "409": "A request with this Idempotency-Key is still in progress (`Retry-After`)",
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


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_IDEM = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Scoped per user; records are kept for a day. The same key and body again "
    "replays the first answer (`Idempotent-Replayed: true`) and never creates a second order.",
}  # fmt: skip
_IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}
_RETRY_ID = {
    "name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "Kept by the balancer across its retries of one request: a PUT retried after "
    "its first try applied is answered 200 with the current ETag, not 412.",
}  # fmt: skip
_PAGE = [
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "limit", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
]  # fmt: skip


def _paths(config: NodeConfig) -> dict[str, Any]:
    return {**_auth_paths(config), **_resource_paths(), **_probe_paths()}


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
            requestBody={"required": True, "content": _json("Credentials")})},
        "/auth/logout": {"post": _op(
            "Revoke the presented token", _ok("204", "Logged out"), "401 503",
            description=logout_note)},
        "/auth/logout-all": {"post": _op(
            "Revoke the presented token and every token of the caller issued in an earlier "
            "second", _ok("204", "Logged out everywhere"),
            "401 503", description=logout_note)},
        "/whoami": {"get": _op("The token's subject and the node that answered",
                               _ok("200", "Who", "Whoami"), "401 503")},
    }  # fmt: skip


def _resource_paths() -> dict[str, Any]:
    return {
        "/users/{id}": {"get": _op("A user (only oneself)", _ok("200", "The user", "User"),
                                   "401 403 404 503", parameters=[_ID])},
        "/users/{id}/profile": {"get": _op(
            "What a lean token leaves out (roles, profile), from Redis, cached per node",
            _ok("200", "The profile", "Profile"), "401 403 404 503", parameters=[_ID])},
        "/users/{id}/orders": {
            "get": _op("The user's orders, oldest first", _ok("200", "A page", "OrderList"),
                       "400 401 403 503", parameters=[_ID, *_PAGE]),
            "post": _op(
                "Create an order, exactly once per Idempotency-Key",
                _ok("201", "Created (or replayed)", "Order", Location="/orders/{id}",
                    ETag="Strong validator of the version"),
                "400 401 403 409 413 422 503", parameters=[_ID, _IDEM],
                requestBody={"required": True, "content": _json("OrderInput")}),
        },
        "/orders/{id}": {
            "get": _op("An order", _ok("200", "The order", "Order", ETag="Strong validator"),
                       "401 403 404 503", parameters=[_ID]),
            "put": _op(
                "Replace an order if it has not changed (compare-and-set on the ETag)",
                _ok("200", "Updated, or replayed: a retry of the update that made the current "
                    "version (same X-Request-ID and body, If-Match its base) changes nothing",
                    "Order", ETag="The new version's validator",
                    **{"Idempotent-Replayed": "`true` on a replayed retry"}),
                "400 401 403 404 412 413 428 503", parameters=[_ID, _IF_MATCH, _RETRY_ID],
                requestBody={"required": True, "content": _json("OrderInput")}),
        },
    }  # fmt: skip


def _probe_paths() -> dict[str, Any]:
    return {
        "/healthz": {"get": _op("Liveness", _ok("200", "The process serves"), auth=False)},
        "/readyz": {"get": _op(
            "Readiness: 503 while draining, before seeding or without Redis",
            {**_ok("200", "Ready"), **_ok("503", "Not ready")}, auth=False)},
        "/metrics": {"get": _op("Prometheus text format", _ok("200", "Metrics"), auth=False)},
        "/openapi.json": {"get": _op("This document", _ok("200", "OpenAPI 3.1"), auth=False)},
    }  # fmt: skip


def _schemas() -> dict[str, Any]:
    string, integer = {"type": "string"}, {"type": "integer"}
    order_input = {
        "item": {"type": "string", "minLength": 1, "maxLength": MAX_ITEM_CHARS},
        "quantity": {"type": "integer", "minimum": MIN_QUANTITY, "maximum": MAX_QUANTITY},
    }
    order = {"id": string, "user": string, **order_input, "version": integer,
             "created_at": string, "updated_at": string}  # fmt: skip

    def obj(props: dict[str, Any], *, closed: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(props)}
        if closed:
            schema["additionalProperties"] = False
        return schema

    return {
        "Problem": {**obj({"type": string, "title": string, "status": integer, "detail": string}),
                    "description": "RFC 9457 problem details"},
        "Credentials": obj({"username": string, "password": string}),
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
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
