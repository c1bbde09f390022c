"""What the admin listener accepts in a request body, checked without I/O.

``PUT /_lb/backends``: ``{"backends": ["http://host:port", …]}`` with
``Content-Type: application/json``. Each URL is read by the rule given (the admin listener
gives ``BALANCER_BACKENDS``'s, ``config.backend_url``: http, a host, a port; path and trailing
slash dropped); duplicates are kept once. ``POST /_lb/events``: ``{"action", "target", "signal"}``
(strings; ``chaos-kill`` sends one per action). Anything else is ``BadBody``: a 415 for another
content type, a 400 naming what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable

MAX_BACKENDS = 256
MAX_TEXT = 100  # characters kept of an event's text fields


class BadBody(Exception):
    """The body cannot be taken; ``status`` 400 or 415, ``detail`` says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def header(lines: bytes, name: bytes) -> bytes:
    """The value of header ``name`` (lower case) in raw header lines, ``b""`` when absent."""
    for line in lines.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return b""


def json_object(content_type: bytes, body: bytes) -> dict[str, object]:
    """The body as a JSON object, if it is one and says so."""
    media = content_type.split(b";", 1)[0].strip().lower()
    if media != b"application/json":
        shown = media.decode("latin-1") or "none"
        raise BadBody(415, f"the body must be application/json (Content-Type: {shown})")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadBody(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadBody(400, "the body must be a JSON object")
    return data


def backend_list(content_type: bytes, body: bytes, backend_url: Callable[[str], str]) -> list[str]:
    """The backends of a ``PUT /_lb/backends`` body, normalised by ``backend_url`` (which
    raises ``ValueError`` for what is not one), in order, each once."""
    data = json_object(content_type, body)
    urls = data.get("backends")
    if set(data) != {"backends"} or not isinstance(urls, list):
        raise BadBody(400, 'the body must be {"backends": ["http://host:port", …]}')
    if not urls or len(urls) > MAX_BACKENDS:
        raise BadBody(400, f"from 1 to {MAX_BACKENDS} backends (an empty pool refuses everything)")
    wanted = []
    for item in urls:
        try:
            if not isinstance(item, str):
                raise ValueError(item)
            wanted.append(backend_url(item))
        except ValueError:
            raise BadBody(400, f"not an http://host:port URL: {item!r}") from None
    return list(dict.fromkeys(wanted))


def chaos_event(content_type: bytes, body: bytes) -> dict[str, object]:
    """The fields of a ``POST /_lb/events`` body (action required; strings, shortened)."""
    data = json_object(content_type, body)
    fields: dict[str, object] = {}
    for name in ("action", "target", "signal"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise BadBody(400, f"{name} must be a string")
        if value:
            fields[name] = value[:MAX_TEXT]
    if "action" not in fields:
        raise BadBody(400, 'the body must be {"action": …, "target": …, "signal": …}')
    return fields
