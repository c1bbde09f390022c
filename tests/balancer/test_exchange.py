"""The exchange in memory: retries, per-try timeouts, give-up answers and streaming, as playbooks.

Passive health tells slow from dead (``health``): a connect failure ejects at once
(``Ejected``), a timeout or reset only after ``BALANCER_EJECT_CONSECUTIVE`` (3) in a row.

No socket and no sleep: see ``playbook`` for the events (``>>``) and effects (``<<``).
"""

from __future__ import annotations

import pytest

from balancer.admin import metrics as admin_metrics
from tests.balancer.playbook import (
    OK,
    OK_TO_CLIENT,
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
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno"
CREATED = b"HTTP/1.1 201 Created\r\nX-Served-By: node-b\r\nContent-Length: 2\r\n\r\n{}"
SHED_BODY = b'{"type":"overloaded","title":"Service Unavailable","status":503}'


def shed(node: str) -> bytes:
    """A node's load-shedding answer: 503, Retry-After, problem+json, X-Not-Processed."""
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nX-Served-By: %s\r\nRetry-After: 2\r\n"
        b"X-Not-Processed: true\r\nContent-Type: application/problem+json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (node.encode(), len(SHED_BODY), SHED_BODY)
    )


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


def test_a_connect_failure_ejects_at_once_whatever_the_streak_threshold() -> None:
    """Nothing listens there (a killed node): not a matter of consecutive failures."""
    pb = Playbook("a", "b", eject_consecutive=1000)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Refused("a") << Ejected("a") << Dial("b")
    pb.done()
    assert pb.backend("a").counts.outlier_ejections == 0


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
    pb >> BackendCloses("a") << give_up(502, "the backend failed (reset)", 1)  # not ejected
    pb.done()  # strict: no Dial("b") went unnoticed
    assert pb.counters.retries == 0 and pb.backend("b").counts.requests == 0
    assert pb.backend("a").state.value == "up" and pb.backend("a").health.streak == 1


def test_a_post_without_key_gets_the_nodes_503_passed_on() -> None:
    """Without ``X-Not-Processed`` the node may have done the work: today's rule holds."""
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", UNAVAILABLE) << ToClient(Starts(b"HTTP/1.1 503 ", b"\r\n\r\nno"))
    pb.done()
    assert pb.counters.retries == 0


def test_a_shed_post_without_key_is_retried_on_another_backend() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", shed("node-a")) << BackendClosed("a") << Dial("b")  # not ejected
    pb >> Connected("b") << to("b", "POST")
    pb >> BackendSends("b", CREATED) << ToClient(Starts(b"HTTP/1.1 201 Created\r\n", b"node-b"))
    pb.done()
    a = pb.backend("a")
    assert a.state.value == "up" and a.counts.shed == 1 and a.counts.failures == 0
    assert pb.counters.shed_retries == 1 and pb.counters.retries == 1


def test_when_every_backend_sheds_the_client_gets_the_last_503_as_sent() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", shed("node-a")) << BackendClosed("a") << Dial("b")
    pb >> Connected("b") << to("b", "POST")
    relayed = Starts(
        b"HTTP/1.1 503 Service Unavailable\r\n",
        b"X-Served-By: node-b\r\n",
        b"Retry-After: 2\r\n",
        b"X-Not-Processed: true\r\n",  # kept: true of every try, and the client may resend
        b"Content-Type: application/problem+json\r\n",
        b"\r\n\r\n" + SHED_BODY,
    )
    pb >> BackendSends("b", shed("node-b")) << ToClient(relayed)
    pb.done()
    assert pb.counters.shed_retries == 1 and pb.counters.shed_relayed == 1
    assert pb.counters.local == {} and pb.counters.codes == {503: 1}
    assert all(b.state.value == "up" for b in pb.proxy.pool.backends)


def test_a_shed_answer_is_retried_within_the_tries() -> None:
    pb = Playbook("a", "b", "c", max_tries=2)
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", shed("node-a")) << BackendClosed("a") << Dial("b")
    pb >> Connected("b") << to("b", "POST")
    pb >> BackendSends("b", shed("node-b")) << ToClient(Starts(b"HTTP/1.1 503 ", b"node-b"))
    pb.done()
    assert pb.backend("c").counts.requests == 0


def test_a_shed_answer_is_resent_within_the_requeue_budget() -> None:
    pb = Playbook("a", "b", requeue_budget=0.0, retry_min=0)
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", shed("node-a")) << ToClient(Starts(b"HTTP/1.1 503 ", b"node-a"))
    pb.done()
    assert pb.counters.budget_denied == 1 and pb.counters.shed_relayed == 1


def test_shedding_does_not_spend_the_retries_a_dead_node_needs() -> None:
    # The retry budget is spent (no share, no reserve): a shed answer still goes elsewhere,
    # drawing on the requeue budget, not on the retry budget.
    pb = Playbook("a", "b", retry_budget=0.0, retry_min=0)
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", shed("node-a")) << BackendClosed("a") << Dial("b")
    pb >> Connected("b") << to("b", "POST")
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.counters.shed_retries == 1 and pb.counters.budget_denied == 0


def test_a_post_with_an_idempotency_key_is_retried_after_a_reset() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", "/x", "Idempotency-Key: k1", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendCloses("a") << Dial("b")
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
    pb >> Wait(0.1) << BackendClosed("a") << Dial("b")  # abandoned, not ejected: slow, not dead
    pb >> Connected("b") << to("b")
    pb >> BackendSends("a", OK)  # a late answer of the abandoned attempt reaches no one
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("a").state.value == "up" and pb.backend("a").health.streak == 1
    assert pb.counters.waits == 0 and pb.counters.retries == 1


def test_a_slow_backend_is_ejected_after_consecutive_timeouts_only() -> None:
    pb = Playbook("a", "b")
    for timeouts in (1, 2, 3):
        pb >> ClientSends(GET) << Dial("a")  # round robin: a, then b for the retry
        pb >> Connected("a") << to("a")
        pb >> Wait(3.0) << BackendClosed("a")
        if timeouts == 3:  # BALANCER_EJECT_CONSECUTIVE: three in a row, no answer between
            pb << Ejected("a")
        if timeouts == 1:
            pb << Dial("b")
            pb >> Connected("b")
        pb << to("b")
        pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
        assert pb.backend("a").state.value == ("down" if timeouts == 3 else "up")
    pb.done()
    assert pb.backend("a").counts.ejections == 1 and pb.backend("a").counts.outlier_ejections == 1


def test_an_answer_between_slow_tries_resets_the_streak() -> None:
    pb = Playbook("a", "b", eject_consecutive=2)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(3.0) << BackendClosed("a") << Dial("b")
    pb >> Connected("b") << to("b")
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(2.0)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)  # slow, but an answer: alive
    assert pb.backend("a").health.streak == 0
    pb >> ClientSends(GET) << to("b")  # round robin
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb >> ClientSends(GET) << to("a")
    pb >> Wait(3.0) << BackendClosed("a") << to("b")  # one timeout since the answer: still up
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("a").state.value == "up" and pb.backend("a").health.streak == 1


def test_a_get_with_nothing_else_to_try_is_waited_on_until_the_request_deadline() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(3.0)  # the per-try timeout: no other backend, so the balancer waits on
    pb >> Wait(26.9)
    pb >> Wait(0.1) << BackendClosed("a")  # BALANCER_REQUEST_TIMEOUT (30 s)
    pb << give_up(504, "the backend did not answer within the request deadline", 1)
    pb.done()
    assert pb.counters.local == {504: 1}
    assert pb.counters.waits == 1 and pb.counters.wait_expired == 1
    assert pb.backend("a").state.value == "up"  # one failed try is not a streak


def test_a_get_with_nothing_else_to_try_gets_its_late_answer() -> None:
    pb = Playbook("a")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(8.0)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.counters.codes == {200: 1} and pb.backend("a").health.streak == 0


def test_an_unkeyed_post_past_the_per_try_timeout_gets_its_answer() -> None:
    """A login queued behind scrypt hashes on a live node: waited on, never sent twice."""
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> Wait(3.0)  # the per-try timeout: may not be sent again, so no Dial("b"), no 504
    pb >> Wait(2.0)
    pb >> BackendSends("a", CREATED) << ToClient(Starts(b"HTTP/1.1 201 Created\r\n", b"\r\n\r\n{}"))
    pb.done()
    a = pb.backend("a")
    assert a.state.value == "up" and a.counts.ejections == 0 and a.counts.failures == 0
    assert pb.counters.waits == 1 and pb.counters.retries == 0 and pb.counters.codes == {201: 1}
    assert pb.backend("b").counts.requests == 0


def test_an_unkeyed_post_past_the_request_deadline_is_a_504() -> None:
    pb = Playbook("a", "b", request_timeout=10.0)
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> Wait(3.0)
    pb >> Wait(6.9)  # its timer looks at the backend every probe interval, and waits on
    pb >> Wait(0.1) << BackendClosed("a")
    pb << give_up(504, "the backend did not answer within the request deadline", 1)
    pb >> BackendSends("a", CREATED)  # too late: the attempt was abandoned
    pb.done()
    assert pb.counters.wait_expired == 1 and pb.backend("b").counts.requests == 0
    assert pb.backend("a").state.value == "up"


def test_a_waited_on_try_ends_when_health_takes_its_backend_out() -> None:
    """A frozen node (SIGSTOP) fails its probes: the request waiting on it is not kept 30 s."""
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> Wait(3.0)
    pb.backend("a").health.probe_failed(pb.loop.now)  # fall=1 in the playbook: down
    pb.proxy.pool.refresh()
    pb >> Wait(0.5) << BackendClosed("a")  # the next probe interval
    pb << give_up(
        504, "the backend stopped answering its health checks while the request waited", 1
    )
    pb.done()
    assert pb.counters.wait_taken_out == 1 and pb.backend("b").counts.requests == 0


def test_an_unkeyed_post_to_a_backend_already_down_is_not_waited_on() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb.backend("a").health.probe_failed(pb.loop.now)
    pb.proxy.pool.refresh()
    pb >> Wait(3.0) << BackendClosed("a") << give_up(504, "the backend did not answer in time", 1)
    pb.done()
    assert pb.counters.waits == 0


def test_the_timer_of_a_reused_connection_waits_for_the_later_request() -> None:
    """Armed once per connection: it fires at the first request's deadline and waits on."""
    pb = Playbook("a", request_timeout=3.0)  # so that the per-try timeout ends the request
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(1.0)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb >> Wait(1.0)
    pb >> ClientSends(GET) << to("a")  # sent at +2 s: due at +5 s
    pb >> Wait(1.5)  # the timer fires at +3 s and is re-armed
    pb >> Wait(1.4)
    pb >> Wait(0.1) << BackendClosed("a")
    pb << give_up(504, "the backend did not answer within the request deadline", 1)
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
    pb >> BackendCloses("a") << ClientClosed(aborted=True)
    pb.done()
    assert pb.counters.aborted == 1 and pb.counters.retries == 0
    assert pb.backend("a").health.streak == 1


def test_a_timeout_mid_body_cuts_the_client_off() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"
    pb >> BackendSends("a", head) << ToClient(Starts(b"HTTP/1.1 200 OK\r\n"))
    pb >> Wait(3.0) << BackendClosed("a") << ClientClosed(aborted=True)
    pb.done()
    assert pb.counters.retries == 0 and pb.backend("a").health.streak == 1


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


def test_the_new_cases_are_counted_in_the_metrics() -> None:
    pb = Playbook("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", shed("node-a")) << BackendClosed("a") << Dial("b")
    pb >> Connected("b") << to("b", "POST")
    pb >> Wait(3.0)  # waited on
    pb >> BackendSends("b", CREATED) << ToClient(Starts(b"HTTP/1.1 201 "))
    pb.done()
    metrics = admin_metrics.render(pb.proxy).decode()
    for line in (
        "balancer_waits_total 1.0",
        "balancer_wait_expired_total 0.0",
        "balancer_wait_taken_out_total 0.0",
        "balancer_shed_retries_total 1.0",
        "balancer_shed_relayed_total 0.0",
        'balancer_backend_shed_total{backend="a:80",url="http://a:80"} 1.0',
        'balancer_backend_outlier_ejections_total{backend="a:80",url="http://a:80"} 0.0',
    ):
        assert line in metrics, line
