"""What every handler needs: reading a JSON body within limits, answering JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from nodes.errors import BadRequest, Forbidden, PayloadTooLarge
from nodes.middleware import MAX_BODY_BYTES
from nodes.tokens import Claims

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body: 413 over the limit, 400 when it is not JSON."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than the limit of {MAX_BODY_BYTES} bytes")
    raw = await request.read()  # aiohttp enforces the limit on chunked bodies (413)
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply", type_="malformed-json") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise BadRequest(f"the body is not valid JSON: {exc}", type_="malformed-json") from exc


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


def require_self(claims: Claims, user_id: str) -> None:
    """403 unless the token's subject is ``user_id``."""
    if claims.sub != user_id:
        raise Forbidden(f"the token of {claims.sub!r} may not access user {user_id!r}")
