"""Header rewriting in both directions. Pure: bytes in, bytes out (this is the hot path).

Toward the backend: hop-by-hop headers and the ones named in ``Connection`` are stripped;
``X-Request-ID`` is kept when sane, else created; W3C ``traceparent`` and B3 are propagated, and
created (from each other when one is present) when absent (``tracing``); a created request id
equals the created trace id, so logs and traces join. ``X-LB-Explain`` is never forwarded.
``X-Forwarded-For`` gets the client address appended and ``X-Forwarded-Proto`` is set (the
connection's scheme: ``https`` on a TLS listener).
``Content-Length`` is set by the caller from the buffered body, so framing headers from the
client never pass. The client's ``Host`` is kept; when it sent none (HTTP/1.0), the caller adds
the backend's, since HTTP/1.1 requires one. Two ``Host`` headers, or one that is not
``host[:port]`` (RFC 3986), make the request a 400 (RFC 9112 §3.2: ``Forward.problem``); the
caller answers it instead of forwarding.

Toward the client: the same stripping; ``X-Request-ID`` is the balancer's; the framing is
reported to the caller, which re-frames the streamed body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus

from balancer.target import DUPLICATE_HOST, INVALID_HOST, valid_host
from balancer.tracing import random_hex, trace_lines

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
# Request headers the balancer reads; all but the last three are dropped and rewritten.
_R_ID, _R_TP, _R_XFF, _R_EXPLAIN, _R_EXPECT, _R_CONN, _R_LEN, _R_DROP, _R_IDEM, _R_B3, _R_HOST = (
    range(11)
)
_REQUEST_SPECIAL = {
    b"host": _R_HOST,
    b"x-request-id": _R_ID,
    b"traceparent": _R_TP,
    b"x-forwarded-for": _R_XFF,
    b"x-forwarded-proto": _R_DROP,
    b"x-lb-explain": _R_EXPLAIN,
    b"expect": _R_EXPECT,
    b"connection": _R_CONN,
    b"content-length": _R_LEN,
    b"idempotency-key": _R_IDEM,
    b"x-b3-traceid": _R_B3,
    **{name: _R_DROP for name in HOP_BY_HOP if name != b"connection"},
}
_PLAIN_CONNECTION = frozenset({b"close", b"keep-alive", b""})
_SANE_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


class Forward:
    """What the proxy needs from a client request's headers."""

    __slots__ = (
        "content_length",
        "expect_continue",
        "explain",
        "has_host",
        "host",
        "idempotency_key",
        "lines",
        "problem",
        "request_id",
    )

    def __init__(
        self,
        lines: bytes,
        request_id: bytes,
        explain: bool,
        idempotency_key: bool,
        expect_continue: bool,
        content_length: int,
        has_host: bool = True,
        host: bytes | None = None,
        problem: str | None = None,
    ) -> None:
        self.lines = lines  # header lines for the backend, each ending in CRLF, no blank line
        self.request_id = request_id
        self.explain = explain  # X-LB-Explain: 1
        self.idempotency_key = idempotency_key
        self.expect_continue = expect_continue
        self.content_length = content_length  # as announced by the client; -1: none
        self.has_host = has_host  # False: the caller adds the backend's Host
        self.host = host  # the client's Host value; None: it sent none
        self.problem = problem  # why the request must be answered 400 instead (bad Host)


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """Header names listed in a ``Connection`` value (``close``/``keep-alive`` aside)."""
    return frozenset(t.strip().lower() for t in value.split(b",")) - _PLAIN_CONNECTION


def rewrite_request(
    headers: list[tuple[bytes, bytes]],
    client_ip: bytes,
    new_hex: Callable[[int], bytes] = random_hex,
    named: frozenset[bytes] = frozenset(),
    scheme: bytes = b"http",
) -> Forward:
    """The backend's view of a client request's headers (see the module docstring)."""
    out: list[bytes] = []
    request_id = traceparent = b3 = forwarded = connection = None
    explain = expect = idem = has_host = False
    host: bytes | None = None
    problem: str | None = None
    length = -1
    special = _REQUEST_SPECIAL
    for name, value in headers:
        lower = name.lower()
        kind = special.get(lower)
        if kind is None:
            if not named or lower not in named:
                out += (name, b": ", value, b"\r\n")
            continue
        if kind == _R_HOST:
            if host is not None:
                problem = DUPLICATE_HOST
            elif not valid_host(value):
                problem = INVALID_HOST
            host = value
            if not named or lower not in named:
                out += (name, b": ", value, b"\r\n")
                has_host = True
        elif kind == _R_ID:
            request_id = request_id or value
        elif kind == _R_TP:
            traceparent = traceparent or value
        elif kind == _R_XFF:
            forwarded = value if forwarded is None else forwarded + b", " + value
        elif kind == _R_EXPLAIN:
            explain = explain or value.strip() == b"1"
        elif kind == _R_EXPECT:
            expect = value.lower() == b"100-continue"
        elif kind == _R_CONN:
            connection = value if connection is None else connection + b"," + value
        elif kind == _R_LEN:
            length = int(value) if value.strip().isdigit() else -1
        elif kind >= _R_IDEM and lower not in named:
            if kind == _R_IDEM:
                idem = idem or bool(value.strip())
            else:
                b3 = value
            out += (name, b": ", value, b"\r\n")
    if connection is not None and not named:
        tokens = connection_tokens(connection)
        if tokens:  # rare: strip the headers it names too
            return rewrite_request(headers, client_ip, new_hex, tokens, scheme)
    fresh = b""
    if request_id is None or not _SANE_ID.fullmatch(request_id):
        fresh = new_hex(24)
        request_id = fresh[:32]
    out += (b"X-Request-ID: ", request_id, b"\r\n")
    out += trace_lines(traceparent, b3, fresh, new_hex)
    out += (b"X-Forwarded-For: ", forwarded + b", " + client_ip if forwarded else client_ip)
    out += (b"\r\nX-Forwarded-Proto: ", scheme, b"\r\n")
    lines = b"".join(out)
    return Forward(lines, request_id, explain, idem, expect, length, has_host, host, problem)


# Response headers the balancer reads (all dropped, except X-Served-By).
_S_LENGTH, _S_TE, _S_CONN, _S_DROP, _S_SERVED = range(5)
_RESPONSE_SPECIAL = {
    b"content-length": _S_LENGTH,
    b"transfer-encoding": _S_TE,
    b"connection": _S_CONN,
    b"x-request-id": _S_DROP,
    b"x-served-by": _S_SERVED,
    **{name: _S_DROP for name in HOP_BY_HOP if name not in (b"connection", b"transfer-encoding")},
}


class Upstream:
    """What the proxy needs from a backend response's headers."""

    __slots__ = ("chunked", "content_length", "lines", "served_by")

    def __init__(
        self,
        lines: list[bytes],
        content_length: bytes | None,
        chunked: bool,
        served_by: bytes | None,
    ) -> None:
        self.lines = lines  # header lines for the client as parts to join, CRLF-ended
        self.content_length = content_length
        self.chunked = chunked
        self.served_by = served_by


def filter_response(
    headers: list[tuple[bytes, bytes]], named: frozenset[bytes] = frozenset()
) -> Upstream:
    """The client's view of a backend response's headers, plus its framing."""
    lines: list[bytes] = []
    length = served_by = connection = None
    chunked = False
    special = _RESPONSE_SPECIAL
    for name, value in headers:
        lower = name.lower()
        kind = special.get(lower)
        if kind is None or kind == _S_SERVED:
            if not named or lower not in named:
                lines += (name, b": ", value, b"\r\n")
            if kind == _S_SERVED:
                served_by = value
        elif kind == _S_LENGTH:
            length = value.strip()
        elif kind == _S_TE:
            chunked = b"chunked" in value.lower()
        elif kind == _S_CONN:
            connection = value if connection is None else connection + b"," + value
    if connection is not None and not named:
        tokens = connection_tokens(connection)
        if tokens:
            return filter_response(headers, tokens)
    return Upstream(lines, length, chunked, served_by)


_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n`` with the standard reason phrase (cached)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase.encode()
        except ValueError:
            phrase = b""
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, phrase)
    return line


def response_head(
    status: int,
    up: Upstream,
    *,
    request_id: bytes,
    explain: bytes | None,
    bodyless: bool,
    http11: bool,
    close: bool,
) -> tuple[bytes, bool, bool, bool]:
    """The head sent to the client and how the streamed body is framed.

    Returns ``(head, chunked, until_close, close)``: re-chunk the body for the client; the
    backend's body ends when it closes the connection; close the client connection after it.
    A body of known length passes as it is; one of unknown length is chunked for HTTP/1.1
    clients, or delimited by closing the connection for HTTP/1.0 ones.
    """
    parts = [status_line(status), *up.lines, b"X-Request-ID: ", request_id, b"\r\n"]
    if explain is not None:
        parts += (b"X-LB-Explain: ", explain, b"\r\n")
    chunked = until_close = False
    if up.content_length is not None:
        parts += (b"Content-Length: ", up.content_length, b"\r\n")
    elif not bodyless:
        until_close = not up.chunked
        if http11:
            chunked = True
            parts.append(b"Transfer-Encoding: chunked\r\n")
        else:
            close = True
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts), chunked, until_close, close
