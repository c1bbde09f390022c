"""BALANCER_STICKY=cookie: the pure pinning decisions as a table, then the proxy in memory.

The model is HAProxy's ``cookie SRV insert indirect nocache`` (``balancer.sticky``). Off, the
default, nothing of this runs: ``test_proxy`` and ``test_exchange`` hold round robin to that.
"""

from __future__ import annotations

import pytest

from balancer import sticky
from balancer.health import State
from tests.balancer.playbook import (
    BackendSends,
    ClientSends,
    Connected,
    Dial,
    Ejected,
    Playbook,
    Refused,
    Starts,
    ToBackend,
    ToClient,
    request,
)

A, B = sticky.backend_id("http://a:80"), sticky.backend_id("http://b:80")


# -- the decisions ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pin", "up", "expected"),
    [
        (None, (True, True), None),  # no pin: round robin
        (A, (True, True), 0),  # pinned and up: that backend
        (B, (True, True), 1),
        (A, (False, True), None),  # pinned but down or draining: round robin, re-pinned
        (b"0123456789ab", (True, True), None),  # unknown (a removed backend): round robin
    ],
)
def test_choose(pin: bytes | None, up: tuple[bool, bool], expected: int | None) -> None:
    assert sticky.choose(pin, [A, B], up) == expected


@pytest.mark.parametrize(
    ("pin", "served", "inserts"), [(None, A, True), (A, A, False), (A, B, True), (b"x", A, True)]
)
def test_needs_cookie_only_when_the_answering_backend_is_not_the_pinned_one(
    pin: bytes | None, served: bytes, inserts: bool
) -> None:
    assert sticky.needs_cookie(pin, served) is inserts


@pytest.mark.parametrize(
    ("lines", "kept", "pin"),
    [
        (b"Accept: */*\r\n", b"Accept: */*\r\n", None),
        (b"Cookie: SRV=abc\r\nAccept: */*\r\n", b"Accept: */*\r\n", b"abc"),
        (b"cookie: a=1; SRV=abc; b=2\r\n", b"cookie: a=1; b=2\r\n", b"abc"),
        (b"Cookie: xSRV=1; SRVx=2\r\n", b"Cookie: xSRV=1; SRVx=2\r\n", None),  # not our name
        (b"Cookie: SRV=one\r\nCookie: SRV=two; c=3\r\n", b"Cookie: c=3\r\n", b"one"),
        (b"X-Note: SRV=abc\r\n", b"X-Note: SRV=abc\r\n", None),  # only Cookie lines
    ],
)
def test_take_pin_strips_the_pin_cookie_and_keeps_the_rest(
    lines: bytes, kept: bytes, pin: bytes | None
) -> None:
    assert sticky.take_pin(lines, b"SRV") == (kept, pin)


def test_backend_ids_are_stable_short_and_tell_no_address() -> None:
    assert sticky.backend_id("http://a:80") == A and len(A) == 12 and A != B
    assert b"a:80" not in A


# -- the proxy in memory ------------------------------------------------------------------------
def answer(node: str) -> bytes:
    return b"HTTP/1.1 200 OK\r\nX-Served-By: %s\r\nContent-Length: 2\r\n\r\nok" % node.encode()


PIN_A = b"Set-Cookie: SRV=" + A + b"; Path=/; HttpOnly\r\n"
PIN_B = b"Set-Cookie: SRV=" + B + b"; Path=/; HttpOnly\r\n"
NOCACHE = b'Cache-Control: no-cache="set-cookie"\r\n'


def sticky_playbook() -> Playbook:
    return Playbook("a", "b", sticky="cookie", sticky_cookie="SRV")


def test_a_new_client_is_pinned_by_an_inserted_cookie() -> None:
    pb = sticky_playbook()
    pb >> ClientSends(request("GET")) << Dial("a")
    pb >> Connected("a") << ToBackend("a", Starts(b"GET /x HTTP/1.1\r\n"))
    pb >> BackendSends("a", answer("node-a")) << ToClient(Starts(b"HTTP/1.1 200 ", PIN_A, NOCACHE))
    pb.done()


def test_a_pinned_client_goes_to_its_backend_the_cookie_stripped_and_not_set_again() -> None:
    pb = sticky_playbook()
    pinned_to_b = request("GET", "/x", f"Cookie: app=1; SRV={B.decode()}")
    pb >> ClientSends(pinned_to_b) << Dial("b")  # round robin would have picked a
    pb >> Connected("b") << ToBackend("b", Starts(b"GET /x", b"Cookie: app=1\r\n", without=B))
    (
        pb
        >> BackendSends("b", answer("node-b"))
        << ToClient(Starts(b"HTTP/1.1 200 ", without=b"Set-Cookie"))
    )
    pb.done()


def test_a_pin_to_a_down_backend_is_ignored_and_the_client_re_pinned() -> None:
    pb = sticky_playbook()
    pb.backend("a").health.state = State.DOWN
    pb.proxy.pool.refresh()
    pb >> ClientSends(request("GET", "/x", f"Cookie: SRV={A.decode()}")) << Dial("b")
    pb >> Connected("b") << ToBackend("b", Starts(b"GET /x", without=b"SRV="))
    pb >> BackendSends("b", answer("node-b")) << ToClient(Starts(b"HTTP/1.1 200 ", PIN_B))
    pb.done()


def test_a_retry_away_from_the_pinned_backend_re_pins_to_the_one_that_answered() -> None:
    pb = sticky_playbook()
    pb >> ClientSends(request("GET", "/x", f"Cookie: SRV={A.decode()}")) << Dial("a")
    pb >> Refused("a") << Ejected("a") << Dial("b")
    pb >> Connected("b") << ToBackend("b", Starts(b"GET /x"))
    pb >> BackendSends("b", answer("node-b")) << ToClient(Starts(b"HTTP/1.1 200 ", PIN_B))
    pb.done()


def test_off_by_default_no_cookie_is_inserted_and_cookies_pass() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("GET", "/x", f"Cookie: SRV={B.decode()}")) << Dial("a")
    pb >> Connected("a") << ToBackend("a", Starts(b"GET /x", b"Cookie: SRV=" + B))
    (
        pb
        >> BackendSends("a", answer("node-a"))
        << ToClient(Starts(b"HTTP/1.1 200 ", without=b"Set-Cookie"))
    )
    pb.done()
