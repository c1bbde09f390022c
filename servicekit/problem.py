"""RFC 9457 problem details (``application/problem+json``).

Both the node and the balancer answer errors with these bodies. ``type`` is a stable URI
reference per kind of problem so that clients can branch on it; ``title`` is the short human
summary of that kind; ``detail`` explains this occurrence.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://stateless-cluster.dev/problems/"


def problem_body(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    title: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem object; ``type_`` is a slug after ``TYPE_BASE`` (default: the status phrase)."""
    phrase = HTTPStatus(status).phrase
    slug = type_ or phrase.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return body


def problem_bytes(status: int, detail: str, **kwargs: Any) -> bytes:
    """The problem object serialised, for code paths that write raw HTTP."""
    return json.dumps(problem_body(status, detail, **kwargs), separators=(",", ":")).encode()


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> web.Response:
    """An aiohttp response carrying a problem+json body."""
    return web.Response(
        status=status,
        body=problem_bytes(status, detail, **kwargs),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )
