"""What every handler needs: reading a JSON body within limits, answering JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from nodes.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from nodes.middleware import MAX_BODY_BYTES
from nodes.orders import ID_PATTERN
from nodes.state import REQUEST_ID
from nodes.tokens import Claims

_ID = re.compile(ID_PATTERN)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259: with duplicate names "the behavior is unpredictable"; two bodies that differ
    # only in which duplicate wins must not share an idempotency fingerprint, so refuse them.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("an object has the same name twice")
    return obj


# Built once: ``json.loads`` with keyword arguments would build a decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_unique_names)


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body: 413 over the limit, 400 when it is not JSON the node can keep."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than the limit of {MAX_BODY_BYTES} bytes")
    coding = request.headers.get("Content-Encoding")
    if coding is not None and coding.strip().lower() != "identity":
        # The production runner does not decompress (``nodes.lifecycle``): a coded body is
        # refused before it is read, whatever the coding and whether it is valid.
        raise BadRequest(
            "request bodies in a content coding are not accepted; send identity",
            type_="unsupported-content-encoding",
        )
    return parse_json(await request.read())  # aiohttp enforces the limit on chunked bodies


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, or 400: UTF-8 only, no NaN/Infinity, no duplicate names, no lone
    surrogate. Every string the node keeps can then be encoded again (the fingerprint, Redis,
    the answer): a lone surrogate raised UnicodeEncodeError there, a 500."""
    try:
        text = raw.decode()  # strict UTF-8: refuses encoded surrogates (ED A0 80) too
        value = _DECODER.decode(text)
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply", type_="malformed-json") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit, above
        raise BadRequest(f"the body is not valid JSON: {exc}", type_="malformed-json") from exc
    # Only a \u escape can make a lone surrogate now; most bodies have none and skip the walk.
    if "\\u" in text and _has_lone_surrogate(value):
        raise BadRequest(
            "the body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is no character",
            type_="malformed-json",
        )
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """True when a string anywhere in ``value`` (names too) holds a lone surrogate. Iterative:
    the value may be nested as deeply as the decoder allows."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def valid_id(value: str) -> bool:
    """User and order ids are short and plain: they become parts of Redis key names."""
    return _ID.fullmatch(value) is not None


def path_id(request: web.Request) -> str:
    """The route's ``{id}``; 404 unless it is a plain id."""
    value = request.match_info["id"]
    if not valid_id(value):
        raise NotFound(f"no resource at {request.path}")
    return value


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def retry_request_id(request: web.Request) -> str:
    """The request id when the client or the balancer set it (the same on every retry of one
    request); empty when the node made one up, so that it can never match a stored one."""
    incoming = request.headers.get("X-Request-ID")
    return incoming if incoming is not None and incoming == request[REQUEST_ID] else ""


def require_self(claims: Claims, user_id: str) -> None:
    """403 unless the token's subject is ``user_id``."""
    if claims.sub != user_id:
        raise Forbidden(f"the token of {claims.sub!r} may not access user {user_id!r}")
