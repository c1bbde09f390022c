from __future__ import annotations

import itertools

import pytest

from balancer.headers import Upstream, filter_response, response_head, rewrite_request
from balancer.request import Request

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def counter_hex():  # type: ignore[no-untyped-def]
    counter = itertools.count(1)
    return lambda nbytes: f"{next(counter):x}".rjust(nbytes * 2, "a").encode()


def lines(raw: bytes) -> list[tuple[str, str]]:
    result = []
    for line in raw.decode().split("\r\n"):
        if line:
            name, _, value = line.partition(": ")
            result.append((name, value))
    return result


def names(raw: bytes) -> list[str]:
    return [name.lower() for name, _ in lines(raw)]


def test_request_gets_id_trace_and_forwarding_when_absent() -> None:
    forward = rewrite_request([(b"Host", b"x")], b"10.0.0.9", counter_hex())
    got = dict(lines(forward.lines))
    request_id = forward.request_id.decode()
    assert len(request_id) == 32 and got["X-Request-ID"] == request_id
    version, trace, span, flags = got["traceparent"].split("-")
    assert (version, flags, len(span)) == ("00", "01", 16)
    assert trace == request_id  # a created request id is the created trace id
    assert got["X-B3-TraceId"] == trace and got["X-B3-SpanId"] == span
    assert got["X-Forwarded-For"] == "10.0.0.9"
    assert got["X-Forwarded-Proto"] == "http"
    assert got["Host"] == "x"


def test_request_keeps_a_sane_id_and_a_valid_traceparent() -> None:
    forward = rewrite_request(
        [(b"X-Request-ID", b"abc-123"), (b"traceparent", PARENT.encode())], b"1.1.1.1"
    )
    got = dict(lines(forward.lines))
    assert forward.request_id == b"abc-123" and got["X-Request-ID"] == "abc-123"
    assert got["traceparent"] == PARENT
    assert got["X-B3-TraceId"] == TRACE


def test_request_replaces_an_insane_id_and_an_invalid_traceparent() -> None:
    forward = rewrite_request(
        [(b"X-Request-ID", b"bad id\x01"), (b"traceparent", b"00-" + b"0" * 32 + b"-1-01")],
        b"1.1.1.1",
    )
    got = dict(lines(forward.lines))
    assert forward.request_id != b"bad id\x01" and len(forward.request_id) == 32
    assert got["traceparent"] != "00-" + "0" * 32 + "-1-01"
    assert names(forward.lines).count("traceparent") == 1


def test_b3_is_propagated_and_seeds_the_traceparent() -> None:
    forward = rewrite_request([(b"X-B3-TraceId", TRACE.encode())], b"1.1.1.1")
    got = lines(forward.lines)
    assert ("X-B3-TraceId", TRACE) in got
    assert [n for n, _ in got].count("X-B3-TraceId") == 1
    assert dict(got)["traceparent"].split("-")[1] == TRACE


def test_forwarded_for_is_appended() -> None:
    forward = rewrite_request(
        [(b"X-Forwarded-For", b"1.2.3.4"), (b"x-forwarded-for", b"5.6.7.8")], b"127.0.0.1"
    )
    assert dict(lines(forward.lines))["X-Forwarded-For"] == "1.2.3.4, 5.6.7.8, 127.0.0.1"


def test_hop_by_hop_and_connection_named_headers_are_stripped() -> None:
    forward = rewrite_request(
        [
            (b"Host", b"x"),
            (b"Connection", b"keep-alive, X-Private"),
            (b"X-Private", b"secret"),
            (b"Keep-Alive", b"timeout=5"),
            (b"TE", b"trailers"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Upgrade", b"websocket"),
            (b"Proxy-Authorization", b"Basic x"),
            (b"Content-Length", b"5"),
            (b"X-LB-Explain", b"1"),
            (b"Expect", b"100-continue"),
            (b"Idempotency-Key", b"k1"),
            (b"Cookie", b"session=1"),
        ],
        b"1.1.1.1",
    )
    got = names(forward.lines)
    for gone in (
        "connection",
        "x-private",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "content-length",
        "x-lb-explain",
        "expect",
    ):
        assert gone not in got
    assert "idempotency-key" in got and "cookie" in got and "host" in got
    assert forward.explain and forward.idempotency_key and forward.expect_continue


def test_response_filter_strips_hop_by_hop_and_reports_framing() -> None:
    up = filter_response(
        [
            (b"Content-Type", b"text/plain"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Connection", b"X-Hop"),
            (b"X-Hop", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"X-Request-ID", b"theirs"),
            (b"X-Served-By", b"node-2"),
        ]
    )
    kept = [line.split(b":")[0].lower() for line in b"".join(up.lines).splitlines()]
    assert kept == [b"content-type", b"x-served-by"]
    assert up.chunked and up.content_length is None and up.served_by == b"node-2"


def test_response_filter_reports_content_length() -> None:
    up = filter_response([(b"Content-Length", b" 12 ")])
    assert (up.content_length, up.chunked, up.lines) == (b"12", False, [])


def _up(length: bytes | None = None, chunked: bool = False) -> Upstream:
    return Upstream([b"Content-Type", b": ", b"text/plain", b"\r\n"], length, chunked, None)


# (why, upstream, bodyless, http11, close, expected framing header, chunked, until_close, close)
FRAMING = [
    (
        "known length passes",
        _up(b"12"),
        False,
        True,
        False,
        b"Content-Length: 12",
        False,
        False,
        False,
    ),
    (
        "chunked stays chunked",
        _up(chunked=True),
        False,
        True,
        False,
        b"Transfer-Encoding: chunked",
        True,
        False,
        False,
    ),
    (
        "read-until-close gets chunked",
        _up(),
        False,
        True,
        False,
        b"Transfer-Encoding: chunked",
        True,
        True,
        False,
    ),
    (
        "HTTP/1.0: close delimits",
        _up(chunked=True),
        False,
        False,
        False,
        b"Connection: close",
        False,
        False,
        True,
    ),
    (
        "HEAD keeps the length",
        _up(b"12"),
        True,
        True,
        False,
        b"Content-Length: 12",
        False,
        False,
        False,
    ),
    ("204 has no framing", _up(), True, True, False, None, False, False, False),
    ("closing says so", _up(b"0"), False, True, True, b"Connection: close", False, False, True),
]


@pytest.mark.parametrize(
    ("why", "up", "bodyless", "http11", "close", "framing", "chunked", "until_close", "closes"),
    FRAMING,
    ids=[row[0] for row in FRAMING],
)
def test_response_head_framing(
    why: str,
    up: Upstream,
    bodyless: bool,
    http11: bool,
    close: bool,
    framing: bytes | None,
    chunked: bool,
    until_close: bool,
    closes: bool,
) -> None:
    head, got_chunked, got_until_close, got_close = response_head(
        200, up, request_id=b"r1", explain=None, bodyless=bodyless, http11=http11, close=close
    )
    assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-ID: r1\r\n")
    assert head.endswith(b"\r\n\r\n")
    header_lines = head.split(b"\r\n")[1:-2]
    if framing is None:
        assert not any(
            line.startswith((b"Content-Length", b"Transfer-Encoding")) for line in header_lines
        )
    else:
        assert framing in header_lines
    assert (got_chunked, got_until_close, got_close) == (chunked, until_close, closes)


def test_response_head_carries_the_explanation() -> None:
    head, *_ = response_head(
        503,
        _up(b"0"),
        request_id=b"r",
        explain=b"try=1 x",
        bodyless=False,
        http11=True,
        close=False,
    )
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nX-LB-Explain: try=1 x\r\n" in head


def test_request_payload_sets_the_length_of_the_buffered_body() -> None:
    forward = rewrite_request([(b"Host", b"x"), (b"Transfer-Encoding", b"chunked")], b"1.1.1.1")
    post = Request("POST", b"/o?a=1", True, True, forward, b"hello", 0.0).payload()
    assert post.startswith(b"POST /o?a=1 HTTP/1.1\r\nHost: x\r\n")
    assert post.endswith(b"Content-Length: 5\r\n\r\nhello")
    assert b"Transfer-Encoding" not in post
    empty_post = Request("POST", b"/o", True, True, forward, b"", 0.0).payload()
    assert empty_post.endswith(b"Content-Length: 0\r\n\r\n")
    get = Request("GET", b"/", True, True, forward, b"", 0.0).payload()
    assert b"Content-Length" not in get and get.endswith(b"\r\n\r\n")


def test_a_request_without_host_is_sent_with_the_backends() -> None:
    forward = rewrite_request([(b"Accept", b"*/*")], b"1.1.1.1")
    assert not forward.has_host
    get = Request("GET", b"/", False, False, forward, b"", 0.0).payload(b"10.0.0.5:8081")
    assert get.startswith(b"GET / HTTP/1.1\r\nHost: 10.0.0.5:8081\r\n")
    assert get.count(b"Host:") == 1
    kept = rewrite_request([(b"host", b"shop.example")], b"1.1.1.1")
    assert kept.has_host and b"host: shop.example\r\n" in kept.lines
    named = rewrite_request([(b"Host", b"h"), (b"Connection", b"Host")], b"1.1.1.1")
    assert not named.has_host and b"Host" not in named.lines  # stripped: the backend's is used
