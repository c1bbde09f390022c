"""The exchange in memory: retries, per-try timeouts, give-up answers and streaming, as playbooks.

No socket and no sleep: see ``playbook`` for the events (``>>``) and effects (``<<``).
"""

from __future__ import annotations

import pytest

from tests.balancer.playbook import (
    BackendClosed,
    BackendCloses,
    BackendSends,
    ClientClosed,
    ClientGone,
    ClientSends,
    Connected,
    Dial,
    Ejected,
    Playbook,
    Refused,
    Starts,
    ToBackend,
    ToClient,
    Wait,
    request,
)

GET = request("GET")
OK = b"HTTP/1.1 200 OK\r\nX-Served-By: node-a\r\nContent-Length: 5\r\n\r\nhello"
OK_TO_CLIENT = (
    b"HTTP/1.1 200 OK\r\nX-Served-By: node-a\r\nX-Request-ID: r-1\r\nContent-Length: 5\r\n\r\nhello"
)
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno"


def to(host: str, method: str = "GET") -> ToBackend:
    """The client's request, as written to ``host``."""
    return ToBackend(host, Starts(f"{method} /x HTTP/1.1\r\n".encode(), b"X-Request-ID: r-1"))


def give_up(status: int, detail: str, tries: int) -> ToClient:
    """The balancer's own problem+json answer; ``Retry-After`` exactly on a 503."""
    parts = [
        b"X-Served-By: balancer\r\n",
        b"X-Request-ID: r-1\r\n",
        f'"detail":"{detail}"'.encode(),
        b'"tries":%d' % tries,
    ]
    retry_after = b"Retry-After: 1\r\n"
    if status == 503:
        return ToClient(Starts(b"HTTP/1.1 503 ", *parts, retry_after))
    return ToClient(Starts(b"HTTP/1.1 %d " % status, *parts, without=retry_after))


# -- the plain path and keep-alive --------------------------------------------------------------
def test_a_get_is_sent_and_its_answer_relayed_then_the_connection_reused() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb >> ClientSends(GET) << to("a")  # the idle keep-alive connection, no new dial
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.counters.codes == {200: 2} and pb.counters.retries == 0
    assert pb.backend("a").counts.in_flight == 0 and pb.backend("a").counts.requests == 2


# -- retries --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])  # a POST that never reached a node, too
@pytest.mark.parametrize("timed_out", [False, True])
def test_a_connect_failure_is_retried_on_another_backend(method: str, timed_out: bool) -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request(method)) << Dial("a")
    pb >> Refused("a", timed_out) << Ejected("a") << Dial("b")
    pb >> Connected("b") << to("b", method)
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.counters.retries == 1
    assert pb.backend("a").state.value == "down"


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [502, 503])
def test_a_502_or_503_is_retried_elsewhere_for_idempotent_methods(method: str, status: int) -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request(method)) << Dial("a")
    pb >> Connected("a") << to("a", method)
    answer = b"HTTP/1.1 %d Bad\r\nContent-Length: 2\r\n\r\nno" % status
    pb >> BackendSends("a", answer) << BackendClosed("a") << Dial("b")  # not ejected
    pb >> Connected("b") << to("b", method)
    pb >> BackendSends("b", OK)
    if method == "HEAD":  # no body follows a HEAD's head: the connection is not reused
        pb << BackendClosed("b")
    pb << ToClient(Starts(b"HTTP/1.1 200 OK\r\n"))
    pb.done()
    assert pb.counters.retries == 1 and pb.backend("a").state.value == "up"
    assert pb.backend("a").counts.failures == 1


def test_a_post_without_key_that_reached_a_node_is_never_sent_again() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendCloses("a") << Ejected("a") << give_up(502, "the backend failed (reset)", 1)
    pb.done()  # strict: no Dial("b") went unnoticed
    assert pb.counters.retries == 0 and pb.backend("b").counts.requests == 0


def test_a_post_without_key_gets_the_nodes_503_passed_on() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", UNAVAILABLE) << ToClient(Starts(b"HTTP/1.1 503 ", b"\r\n\r\nno"))
    pb.done()
    assert pb.counters.retries == 0


def test_a_post_with_an_idempotency_key_is_retried_after_a_reset() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", "/x", "Idempotency-Key: k1", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendCloses("a") << Ejected("a") << Dial("b")
    pb >> Connected("b") << ToBackend("b", Starts(b"POST /x HTTP/1.1\r\n", b"Idempotency-Key: k1"))
    pb.done()


def test_the_tries_run_out() -> None:
    pb = Playbook("a", "b", "c", "d", max_tries=2)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Refused("a") << Ejected("a") << Dial("b")
    pb >> Refused("b") << Ejected("b") << give_up(503, "no backend could be reached", 2)
    pb.done()


# -- the per-try timeout --------------------------------------------------------------------------
def test_a_get_with_no_answer_in_time_is_retried_elsewhere() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(2.9)  # not yet
    pb >> Wait(0.1) << BackendClosed("a") << Ejected("a") << Dial("b")
    pb >> Connected("b") << to("b")
    pb >> BackendSends("a", OK)  # a late answer of the abandoned attempt reaches no one
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


def test_a_timeout_with_nothing_else_to_try_is_a_504() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(3.0) << BackendClosed("a") << Ejected("a")
    pb << give_up(504, "the backend did not answer in time", 1)
    pb.done()
    assert pb.counters.local == {504: 1}


def test_an_unkeyed_post_that_timed_out_is_not_retried() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> Wait(3.0) << BackendClosed("a") << Ejected("a")
    pb << give_up(504, "the backend did not answer in time", 1)
    pb.done()


def test_the_timer_of_a_reused_connection_waits_for_the_later_request() -> None:
    """Armed once per connection: it fires at the first request's deadline and waits on."""
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(1.0)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb >> Wait(1.0)
    pb >> ClientSends(GET) << to("a")  # sent at +2 s: due at +5 s
    pb >> Wait(1.5)  # the timer fires at +3 s and is re-armed
    pb >> Wait(1.4)
    pb >> Wait(0.1) << BackendClosed("a") << Ejected("a")
    pb << give_up(504, "the backend did not answer in time", 1)
    pb.done()


def test_every_body_byte_moves_the_deadline() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
    pb >> Wait(2.0)
    pb >> BackendSends("a", head + b"ab") << ToClient(Starts(b"HTTP/1.1 200 OK\r\n"))
    pb >> Wait(2.0)
    pb >> BackendSends("a", b"cd") << ToClient(b"cd")
    pb.done()


# -- give-up answers ------------------------------------------------------------------------------
def test_no_backend_at_all_is_a_503_at_once() -> None:
    pb = Playbook()
    pb >> ClientSends(GET) << give_up(503, "no backend is up", 0)
    pb.done()


def test_nothing_up_still_tries_one_backend() -> None:
    pb = Playbook("a", "b", up=False)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Refused("a") << give_up(503, "no backend could be reached", 1)
    pb.done()


def test_garbage_from_the_only_backend_is_a_502() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Refused("a") << Ejected("a") << give_up(503, "no backend could be reached", 1)
    pb >> ClientSends(GET) << Dial("a")  # down now, so the fallback
    pb >> Connected("a") << to("a")
    pb >> BackendSends("a", b"NOT HTTP\r\n\r\n") << BackendClosed("a")
    pb << give_up(502, "the backend failed (bad-response)", 1)
    pb.done()
    assert pb.counters.local == {503: 1, 502: 1}


# -- streaming ------------------------------------------------------------------------------------
def test_a_chunked_response_is_relayed_chunk_by_chunk() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    (
        pb
        >> BackendSends("a", head)
        << ToClient(b"HTTP/1.1 200 OK\r\nX-Request-ID: r-1\r\nTransfer-Encoding: chunked\r\n\r\n")
    )
    pb >> BackendSends("a", b"3\r\none\r\n") << ToClient(b"3\r\none\r\n")
    pb >> BackendSends("a", b"5\r\nthree\r\n0\r\n\r\n") << ToClient(b"5\r\nthree\r\n0\r\n\r\n")
    pb.done()
    assert pb.counters.codes == {200: 1}


def test_a_content_length_body_is_relayed_as_it_comes() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"
    pb >> BackendSends("a", head) << ToClient(Starts(b"HTTP/1.1 200 OK\r\n", b"Length: 6\r\n\r\n"))
    pb >> BackendSends("a", b"abc") << ToClient(b"abc")
    pb >> BackendSends("a", b"def") << ToClient(b"def")
    pb.done()


def test_nothing_is_retried_once_the_first_byte_went_to_the_client() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"
    pb >> BackendSends("a", head) << ToClient(Starts(b"HTTP/1.1 200 OK\r\n"))
    pb >> BackendCloses("a") << Ejected("a") << ClientClosed(aborted=True)
    pb.done()
    assert pb.counters.aborted == 1 and pb.counters.retries == 0


def test_a_timeout_mid_body_cuts_the_client_off() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"
    pb >> BackendSends("a", head) << ToClient(Starts(b"HTTP/1.1 200 OK\r\n"))
    pb >> Wait(3.0) << BackendClosed("a") << Ejected("a") << ClientClosed(aborted=True)
    pb.done()
    assert pb.counters.retries == 0


def test_a_client_leaving_mid_response_does_not_harm_the_backend() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    (
        pb
        >> BackendSends("a", b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
        << ToClient(Starts(b"HTTP/1.1 200 OK\r\n"))
    )
    pb >> ClientGone() << BackendClosed("a")
    pb.done()
    assert pb.counters.codes == {499: 1} and pb.backend("a").state.value == "up"
    assert pb.backend("a").counts.in_flight == 0


# -- what else rides on the exchange --------------------------------------------------------------
def test_a_retry_refused_by_the_budget_is_counted() -> None:
    pb = Playbook("a", "b", retry_budget=0.0, retry_min=0)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Refused("a") << Ejected("a") << give_up(503, "no backend could be reached", 1)
    pb.done()
    assert pb.counters.budget_denied == 1 and pb.counters.retries == 0


def test_without_a_client_host_each_attempt_names_its_backend() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(b"GET /x HTTP/1.0\r\nX-Request-ID: r-1\r\n\r\n") << Dial("a")
    pb >> Refused("a") << Ejected("a") << Dial("b")
    pb >> Connected("b") << ToBackend("b", Starts(b"GET /x HTTP/1.1\r\nHost: b:80\r\n"))
    pb.done()


def test_pipelined_requests_are_answered_in_order() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(GET + request("GET", "/y")) << Dial("a")  # the second one waits
    pb >> Connected("a") << to("a")
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT) << Dial("b")
    pb >> Connected("b") << ToBackend("b", Starts(b"GET /y HTTP/1.1\r\n"))
    pb.done()
