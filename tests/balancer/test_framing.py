"""Request framing in memory: what counts toward the header limit, bodies however TCP splits
them, pipelining, and the ``Host`` rules of RFC 9112 §3.2 (issue 10, items 1 and 3).

No socket and no sleep: see ``playbook`` for the events (``>>``) and effects (``<<``).
"""

from __future__ import annotations

import pytest

from tests.balancer.playbook import (
    OK,
    OK_TO_CLIENT,
    BackendSends,
    ClientClosed,
    ClientSends,
    Connected,
    Dial,
    Playbook,
    Starts,
    ToBackend,
    ToClient,
    request,
)


def local(status: int, *parts: bytes) -> ToClient:
    """The balancer's own problem+json answer."""
    head = (b"X-Served-By: balancer\r\n", b"Content-Type: application/problem+json\r\n")
    return ToClient(Starts(b"HTTP/1.1 %d " % status, *head, *parts))


def forwarded(method: bytes, *parts: bytes) -> ToBackend:
    return ToBackend("a", Starts(method + b" /x HTTP/1.1\r\n", b"X-Request-ID: r-1", *parts))


# -- item 1: only header bytes count toward BALANCER_MAX_HEADER -------------------------------
@pytest.mark.parametrize("size", [40_000, 100_000, 1 << 20])
def test_a_body_read_together_with_its_head_is_forwarded_not_431(size: int) -> None:
    body = b'{"username":"' + b"u" * (size - 15) + b'"}'
    pb = Playbook("a")
    pb >> ClientSends(request("POST", "/x", body=body)) << Dial("a")
    pb >> Connected("a") << forwarded(b"POST", b"Content-Length: %d\r\n" % len(body), body)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


def test_a_chunked_body_read_together_with_its_head_is_forwarded() -> None:
    chunk = b"c" * 50_000
    raw = b"POST /x HTTP/1.1\r\nHost: lb\r\nX-Request-ID: r-1\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
    pb = Playbook("a")
    pb >> ClientSends(raw) << Dial("a")
    pb >> Connected("a") << forwarded(b"POST", b"Content-Length: 50000\r\n", chunk)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


def test_a_body_one_byte_over_the_limit_read_with_its_head_gets_413() -> None:
    pb = Playbook("a")
    limit = pb.config.max_body
    pb >> ClientSends(request("POST", "/x", body=b"b" * (limit + 1)))
    pb << local(413, b"BALANCER_MAX_BODY=%d" % limit) << ClientClosed()
    pb.done()


def test_a_body_split_anywhere_then_a_pipelined_request_are_both_answered() -> None:
    body = b"z" * 200_000
    raw = request("POST", "/x", body=body) + request("GET")
    cut = raw.index(b"\r\n\r\n") + 4
    pb = Playbook("a")
    pb >> ClientSends(raw[:cut]) >> ClientSends(raw[cut:-20]) << Dial("a")
    pb >> ClientSends(raw[-20:])
    pb >> Connected("a") << forwarded(b"POST", body)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT) << forwarded(b"GET")
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


def test_1200_pipelined_gets_in_one_read_are_all_answered_in_order() -> None:
    pb = Playbook("a")
    get = request("GET")
    pb >> ClientSends(get * 1200) << Dial("a")
    pb >> Connected("a") << forwarded(b"GET")
    for _ in range(1199):
        pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT) << forwarded(b"GET")
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.counters.codes == {200: 1200}


def test_a_head_that_never_ends_still_gets_431_before_it_fills_memory() -> None:
    pb = Playbook("a", max_header=1024)
    pb >> ClientSends(b"GET /x HTTP/1.1\r\nHost: lb\r\nX-Big: ")
    pb >> ClientSends(b"b" * 4000)  # one header value, never finished: on_header never fires
    pb >> ClientSends(b"b" * 4000)
    pb << local(431, b"BALANCER_MAX_HEADER=1024") << ClientClosed()
    pb.done()


def test_headers_over_the_limit_get_431_whatever_the_read_holds() -> None:
    pb = Playbook("a", max_header=1024)
    pb >> ClientSends(request("POST", "/x", "X-Big: " + "b" * 1100, body=b"{}"))
    pb << local(431) << ClientClosed()
    pb.done()


# -- item 3: Host (RFC 9112 §3.2) --------------------------------------------------------------
@pytest.mark.parametrize(
    "head",
    [
        b"GET /x HTTP/1.1\r\nHost: lb\r\nHost: lb\r\n\r\n",  # two, even when equal
        b"GET /x HTTP/1.1\r\nHost: a\r\nX-Other: 1\r\nhost: b\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",  # invalid values
        b"GET /x HTTP/1.1\r\nHost: user@lb\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: lb/x\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: lb:80x\r\n\r\n",
        b"GET /x HTTP/1.1\r\nX-Request-ID: r-1\r\n\r\n",  # HTTP/1.1 without one
    ],
)
def test_a_bad_host_is_answered_400_by_the_balancer(head: bytes) -> None:
    pb = Playbook("a")
    pb >> ClientSends(head) << local(400, b"Host") << ClientClosed()
    pb.done()
    assert pb.backend("a").counts.requests == 0  # never forwarded


@pytest.mark.parametrize(
    "host", [b"lb", b"LB.example:8080", b"[::1]:80", b"a_b.c", b"10.0.0.1", b""]
)
def test_a_good_host_is_forwarded_as_it_is(host: bytes) -> None:
    pb = Playbook("a")
    pb >> ClientSends(b"GET /x HTTP/1.1\r\nHost: %s\r\nX-Request-ID: r-1\r\n\r\n" % host)
    pb << Dial("a")
    pb >> Connected("a") << forwarded(b"GET", b"\r\nHost: %s\r\n" % host)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


def test_framing_the_parser_refuses_is_a_400_problem_not_relayed() -> None:
    for head in (
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    ):
        pb = Playbook("a")
        pb >> ClientSends(head) << local(400) << ClientClosed()
        pb.done()
