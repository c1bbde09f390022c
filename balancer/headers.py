"""Header rewriting in both directions. Pure: bytes in, bytes out.

Toward the backend: hop-by-hop headers and the ones named in ``Connection`` are stripped;
``X-Request-ID`` is kept when sane, else created; W3C ``traceparent`` and B3 are propagated, and
created (from each other when one is present) when absent; ``X-Forwarded-For`` gets the client
address appended and ``X-Forwarded-Proto`` is set. ``Content-Length`` is set by the caller from
the buffered body, so framing headers from the client never pass.

Toward the client: the same stripping; ``X-Request-ID`` is ours; framing is reported to the
caller, which re-frames the streamed body.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
# Hop-by-hop, or set by the balancer itself.
_REQUEST_DROP = HOP_BY_HOP | {
    b"content-length",
    b"expect",
    b"x-lb-explain",
    b"x-request-id",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"traceparent",
}
_RESPONSE_DROP = HOP_BY_HOP | {b"content-length", b"x-request-id"}
_SANE_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_TRACEPARENT = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_HEX_ID = re.compile(rb"[0-9a-f]{16}|[0-9a-f]{32}")
_ZERO_TRACE = b"0" * 32


def random_hex(nbytes: int) -> bytes:
    return os.urandom(nbytes).hex().encode()


@dataclass(frozen=True, slots=True)
class Forward:
    """What the proxy needs from a client request's headers."""

    lines: bytes  # header lines for the backend, each ending in CRLF, no blank line
    request_id: bytes
    explain: bool  # X-LB-Explain: 1
    idempotency_key: bool
    expect_continue: bool
    close: bool  # the client asked to close after this request


def rewrite_request(
    headers: list[tuple[bytes, bytes]],
    client_ip: bytes,
    new_hex: Callable[[int], bytes] = random_hex,
) -> Forward:
    """The backend's view of a client request's headers (see the module docstring)."""
    named = _connection_tokens(headers)
    found: dict[bytes, bytes] = {}
    out: list[bytes] = []
    for name, value in headers:
        lower = name.lower()
        if lower in _REQUEST_DROP or lower in named:
            if lower not in found:
                found[lower] = value
            elif lower == b"x-forwarded-for":
                found[lower] += b", " + value
            continue
        if lower == b"x-b3-traceid" or lower == b"idempotency-key":
            found[lower] = value
        out += (name, b": ", value, b"\r\n")
    request_id = found.get(b"x-request-id", b"")
    if not _SANE_ID.fullmatch(request_id):
        request_id = new_hex(16)
    out += (b"X-Request-ID: ", request_id, b"\r\n")
    out += _trace_lines(found.get(b"traceparent"), found.get(b"x-b3-traceid"), new_hex)
    forwarded = found.get(b"x-forwarded-for")
    out += (b"X-Forwarded-For: ", forwarded + b", " + client_ip if forwarded else client_ip)
    out.append(b"\r\nX-Forwarded-Proto: http\r\n")
    connection = found.get(b"connection", b"").lower()
    return Forward(
        lines=b"".join(out),
        request_id=request_id,
        explain=found.get(b"x-lb-explain", b"").strip() == b"1",
        idempotency_key=bool(found.get(b"idempotency-key", b"").strip()),
        expect_continue=found.get(b"expect", b"").lower() == b"100-continue",
        close=b"close" in connection,
    )


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(token.strip().lower() for token in value.split(b","))
    tokens -= {b"close", b"keep-alive", b""}
    return frozenset(tokens)


def _trace_lines(
    traceparent: bytes | None, b3_trace: bytes | None, new_hex: Callable[[int], bytes]
) -> list[bytes]:
    match = _TRACEPARENT.fullmatch(traceparent or b"")
    if match is not None and match.group(1) != _ZERO_TRACE:
        trace, span, parent = match.group(1), match.group(2), match.group(0)
    else:
        b3 = b3_trace.lower() if b3_trace else b""
        trace = b3.rjust(32, b"0") if _HEX_ID.fullmatch(b3) else new_hex(16)
        span = new_hex(8)
        parent = b"00-" + trace + b"-" + span + b"-01"
    lines = [b"traceparent: ", parent, b"\r\n"]
    if b3_trace is None:
        lines += (b"X-B3-TraceId: ", trace, b"\r\nX-B3-SpanId: ", span, b"\r\n")
    return lines


@dataclass(frozen=True, slots=True)
class Upstream:
    """What the proxy needs from a backend response's headers."""

    lines: list[bytes]  # header lines for the client, each ending in CRLF
    content_length: bytes | None
    chunked: bool
    served_by: bytes | None
    close: bool  # the backend will close the connection


def filter_response(headers: list[tuple[bytes, bytes]]) -> Upstream:
    """The client's view of a backend response's headers, plus its framing."""
    named = _connection_tokens(headers)
    lines: list[bytes] = []
    length: bytes | None = None
    chunked = close = False
    served_by: bytes | None = None
    for name, value in headers:
        lower = name.lower()
        if lower in _RESPONSE_DROP or lower in named:
            if lower == b"content-length":
                length = value.strip()
            elif lower == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lower == b"connection":
                close = close or b"close" in value.lower()
            continue
        if lower == b"x-served-by":
            served_by = value
        lines.append(name + b": " + value + b"\r\n")
    return Upstream(lines, length, chunked, served_by, close)
