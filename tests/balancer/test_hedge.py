"""Hedging: a slow try of a request safe to send twice gets a second try, the first head wins.

The decisions (``hedge``) and the latency window (``latency``) as tables; the race
(``backup.Hedged``) as playbooks (see ``playbook``). With no latency known yet the hedge delay
is its cap, ``BALANCER_HEDGE_MAX``: 50 ms here.
"""

from __future__ import annotations

import itertools
import json

import pytest

from balancer import hedge
from balancer.admin import metrics as admin_metrics
from balancer.admin.routes import status_document
from balancer.config import BalancerConfig, ConfigError
from balancer.latency import BOUNDS, LatencyWindow, percentile
from tests.balancer.playbook import (
    OK,
    OK_TO_CLIENT,
    BackendClosed,
    BackendCloses,
    BackendSends,
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
KEYED = request("POST", "/x", "Idempotency-Key: k1", body=b"{}")
DELAY = 0.05
CREATED = b"HTTP/1.1 201 Created\r\nX-Served-By: node-a\r\nContent-Length: 2\r\n\r\n{}"
PROBLEM = b'{"type":"request-in-progress","status":409}'
IN_PROGRESS = (
    b"HTTP/1.1 409 Conflict\r\nX-Served-By: node-b\r\nRetry-After: 1\r\n"
    b"Content-Type: application/problem+json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(PROBLEM), PROBLEM)
)


def hedging(*hosts: str, **overrides: object) -> Playbook:
    return Playbook(*hosts, **{"hedge": True, "hedge_max": DELAY, **overrides})


def hedge_timer_armed(pb: Playbook) -> bool:
    """Whether the connection's current request waits for a hedge deadline."""
    exchange = pb.client.exchange
    return exchange is not None and exchange.hedge_at > 0.0


def to(host: str, method: str = "GET") -> ToBackend:
    return ToBackend(host, Starts(f"{method} /x HTTP/1.1\r\n".encode(), b"X-Request-ID: r-1"))


def sent_and_hedged(pb: Playbook, data: bytes = GET, method: str = "GET") -> None:
    """``a`` gets the request and no head within the delay: ``b`` gets the hedge."""
    pb >> ClientSends(data) << Dial("a")
    pb >> Connected("a") << to("a", method)
    pb >> Wait(DELAY - 0.01)  # not yet
    pb >> Wait(0.01) << Dial("b")
    pb >> Connected("b") << to("b", method)


# -- the race, as playbooks ---------------------------------------------------------------------
def test_a_slow_get_is_hedged_and_the_hedges_answer_relayed() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb)
    pb >> BackendSends("b", OK) << BackendClosed("a") << ToClient(OK_TO_CLIENT)
    pb >> BackendSends("a", OK)  # the cancelled try's late answer reaches no one
    pb.done()
    a, b = pb.backend("a"), pb.backend("b")
    assert pb.counters.hedges == 1 and pb.counters.hedges_won == 1 and pb.counters.retries == 0
    assert a.counts.in_flight == 0 and b.counts.in_flight == 0
    # cancelled, not failed: nothing held against the slow backend
    assert a.counts.failures == 0 and a.health.streak == 0 and a.state.value == "up"
    assert pb.counters.codes == {200: 1}
    assert len(b.idle) == 1 and not a.idle  # the winner's connection went back to the pool


def test_a_fast_answer_cancels_the_hedge_timer() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    assert hedge_timer_armed(pb)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    assert not hedge_timer_armed(pb)
    pb >> Wait(1.0)
    pb.done()
    assert pb.counters.hedges == 0


def test_the_own_try_answering_first_cancels_the_hedge() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb)
    pb >> BackendSends("a", OK) << BackendClosed("b") << ToClient(OK_TO_CLIENT)
    pb.done()
    b = pb.backend("b")
    assert pb.counters.hedges == 1 and pb.counters.hedges_won == 0
    assert b.counts.in_flight == 0 and b.counts.failures == 0 and b.health.streak == 0


def test_an_unkeyed_post_is_never_hedged() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(request("POST", body=b"{}")) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    assert not hedge_timer_armed(pb)  # no hedge timer at all
    pb >> Wait(2.0)
    pb >> BackendSends("a", CREATED) << ToClient(Starts(b"HTTP/1.1 201 Created\r\n"))
    pb.done()
    assert pb.counters.hedges == 0 and pb.backend("b").counts.requests == 0


def test_a_keyed_post_is_hedged_and_the_duplicates_in_progress_409_not_relayed() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb, KEYED, "POST")
    pb >> BackendSends("b", IN_PROGRESS) << BackendClosed("b")  # discarded: a still runs
    pb >> BackendSends("a", CREATED) << ToClient(Starts(b"HTTP/1.1 201 Created\r\n", b"{}"))
    pb.done()
    b = pb.backend("b")
    assert pb.counters.hedges == 1 and pb.counters.hedge_discarded == 1
    assert pb.counters.codes == {201: 1} and b.counts.in_flight == 0 and b.counts.failures == 0


def test_a_409_is_relayed_when_no_other_try_runs() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(KEYED) << Dial("a")
    pb >> Connected("a") << to("a", "POST")
    pb >> BackendSends("a", IN_PROGRESS) << ToClient(Starts(b"HTTP/1.1 409 Conflict\r\n"))
    pb.done()


def test_the_hedges_503_is_discarded_and_the_own_try_answers() -> None:
    pb = hedging("a", "b", "c")
    sent_and_hedged(pb)
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno"
    pb >> BackendSends("b", unavailable) << BackendClosed("b")  # no third try: a still runs
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("c").counts.requests == 0 and pb.backend("b").counts.failures == 1


def test_the_own_try_failing_leaves_the_hedge_to_answer() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb)
    pb >> BackendCloses("a")  # a reset: a real failure, counted, but the hedge still runs
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("a").health.streak == 1 and pb.counters.retries == 0
    assert pb.counters.hedges_won == 0  # it did not beat an answer: there was none


def test_the_own_try_timing_out_leaves_the_hedge_to_answer() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb)
    pb >> Wait(3.0 - DELAY) << BackendClosed("a")  # a's per-try timeout; b's is 50 ms later
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("a").health.streak == 1


def test_a_hedge_that_cannot_connect_leaves_the_own_try_running() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(DELAY) << Dial("b")
    pb >> Refused("b") << Ejected("b")  # nothing listens there; the own try runs on
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("b").state.value == "down" and pb.backend("b").counts.in_flight == 0


def test_the_own_try_failing_while_the_hedge_dials() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(DELAY) << Dial("b")
    pb >> BackendCloses("a")  # the hedge becomes the request's own try, still dialling
    pb >> Connected("b") << to("b")
    pb >> BackendSends("b", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.backend("b").counts.in_flight == 0


def test_a_client_leaving_before_any_answer_lets_the_race_end() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb)
    pb >> ClientGone()  # as without a hedge: the answer is read, and dropped
    pb >> BackendSends("b", OK) << BackendClosed("a") << ToClient(OK_TO_CLIENT)
    pb.done()
    assert all(b.counts.in_flight == 0 for b in pb.proxy.pool.backends)


def test_hedges_refused_by_the_budget_are_counted() -> None:
    pb = hedging("a", "b", retry_budget=0.0, retry_min=0)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(1.0)  # no Dial("b")
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.counters.hedges_denied == 1 and pb.counters.hedges == 0


def test_a_hedge_spends_the_retry_budget() -> None:
    pb = hedging("a", "b", retry_budget=0.0, retry_min=1)  # one retry per second, over 10 s
    assert pb.proxy.retry_budget.available(pb.loop.now)
    for _ in range(10):
        pb.proxy.retry_budget.withdraw(pb.loop.now)
    pb.proxy.retry_budget._retries[int(pb.loop.now) % 10] -= 1  # room for exactly one
    sent_and_hedged(pb)
    assert not pb.proxy.budget_left()  # the hedge took it
    pb >> BackendSends("b", OK) << BackendClosed("a") << ToClient(OK_TO_CLIENT)
    pb.done()


def test_a_hedge_is_a_try_within_max_tries() -> None:
    pb = hedging("a", "b", max_tries=1)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> Wait(1.0)
    pb.done()
    assert pb.counters.hedges == 0


def test_off_means_no_hedge_timer() -> None:
    pb = hedging("a", "b", hedge=False)
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    assert not hedge_timer_armed(pb)
    pb.done()


def test_the_delay_follows_the_answers() -> None:
    pb = hedging("a", hedge_max=1.0)
    assert pb.proxy.hedge_delay() == 1.0  # nothing measured yet: the cap
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    for _ in range(63):  # answered at once: the floor
        pb >> ClientSends(GET) << to("a")
        pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
    assert pb.proxy.hedge_delay() == pb.config.hedge_min


def test_the_hedge_counters_are_in_the_metrics_and_the_status() -> None:
    pb = hedging("a", "b")
    sent_and_hedged(pb)
    pb >> BackendSends("b", OK) << BackendClosed("a") << ToClient(OK_TO_CLIENT)
    pb.done()
    metrics = admin_metrics.render(pb.proxy).decode()
    for line in (
        "balancer_hedges_total 1.0",
        "balancer_hedges_won_total 1.0",
        "balancer_hedge_budget_denied_total 0.0",
        "balancer_hedge_discarded_total 0.0",
        "balancer_hedge_delay_seconds ",
    ):
        assert line in metrics, line
    status = json.loads(json.dumps(status_document(pb.proxy)))
    assert status["hedges"] == 1 and status["hedges_won"] == 1


def test_a_sticky_exchange_pins_the_backend_whose_hedge_won() -> None:
    pb = hedging("a", "b", sticky="cookie")
    sent_and_hedged(pb)
    pb >> BackendSends("b", OK) << BackendClosed("a") << ToClient(Starts(b"HTTP/1.1 200 ", b"SRV="))
    pb.done()


# -- the decisions, as tables -------------------------------------------------------------------
BASE = dict(
    enabled=True,
    method="GET",
    has_idempotency_key=False,
    attempt=1,
    max_tries=3,
    response_started=False,
    hedged=False,
    other_backend=True,
    budget_left=True,
)
R = hedge.Reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, R.HEDGE),
        ({"method": "HEAD"}, R.HEDGE),
        ({"method": "OPTIONS"}, R.HEDGE),
        ({"method": "PUT"}, R.HEDGE),
        ({"method": "DELETE"}, R.HEDGE),
        ({"method": "POST"}, R.UNSAFE_WRITE),
        ({"method": "PATCH"}, R.UNSAFE_WRITE),
        ({"method": "POST", "has_idempotency_key": True}, R.HEDGE),
        ({"method": "PATCH", "has_idempotency_key": True}, R.HEDGE),
        ({"enabled": False}, R.OFF),
        ({"response_started": True}, R.RESPONSE_STARTED),
        ({"hedged": True}, R.ALREADY_HEDGED),
        ({"attempt": 3}, R.TRIES_EXHAUSTED),
        ({"attempt": 2}, R.HEDGE),  # a retry may be hedged while tries are left
        ({"max_tries": 1}, R.TRIES_EXHAUSTED),
        ({"other_backend": False}, R.NO_OTHER_BACKEND),
        ({"budget_left": False}, R.BUDGET_EXHAUSTED),
        # the budget is asked last: it refuses only hedges that would have been sent
        ({"budget_left": False, "other_backend": False}, R.NO_OTHER_BACKEND),
        ({"budget_left": False, "method": "POST"}, R.UNSAFE_WRITE),
    ],
)
def test_decide(change: dict[str, object], reason: hedge.Reason) -> None:
    assert hedge.decide(**{**BASE, **change}) is reason  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("latency", "factor", "floor", "cap", "expected"),
    [
        (0.0, 2.0, 0.01, 1.0, 1.0),  # nothing known: the cap
        (0.002, 2.0, 0.01, 1.0, 0.01),  # the floor
        (0.02, 2.0, 0.01, 1.0, 0.04),
        (0.02, 1.5, 0.01, 1.0, 0.03),
        (0.8, 2.0, 0.01, 1.0, 1.0),  # the cap
        (0.8, 2.0, 0.01, 3.0, 1.6),
    ],
)
def test_delay(latency: float, factor: float, floor: float, cap: float, expected: float) -> None:
    assert hedge.delay(latency, factor, floor, cap) == pytest.approx(expected)


PROBLEM_TYPE = [(b"Content-Type", b"application/problem+json")]


@pytest.mark.parametrize(
    ("status", "headers", "keyed", "expected"),
    [
        (502, [], False, True),
        (503, [], False, True),
        (503, [(b"X-Not-Processed", b"true")], True, True),
        (409, PROBLEM_TYPE, True, True),  # the node's "in progress"
        (409, [(b"content-type", b"Application/Problem+JSON; charset=utf-8")], True, True),
        (409, PROBLEM_TYPE, False, False),  # a GET's 409 is an answer like any other
        (409, [(b"Content-Type", b"application/json")], True, False),
        (409, [], True, False),
        (200, [], True, False),
        (504, [], False, False),
        (500, [], False, False),
    ],
)
def test_discardable(
    status: int, headers: list[tuple[bytes, bytes]], keyed: bool, expected: bool
) -> None:
    assert hedge.discardable(status, headers, keyed) is expected


# -- the latency window -------------------------------------------------------------------------
def counts(**at: int) -> list[int]:
    """Bucket counts with ``b<i>=n`` samples in bucket ``i``."""
    row = [0] * (len(BOUNDS) + 1)
    for name, n in at.items():
        row[int(name[1:])] = n
    return row


@pytest.mark.parametrize(
    ("row", "quantile", "expected"),
    [
        (counts(), 0.95, 0.0),
        (counts(b0=1), 0.95, BOUNDS[0]),
        (counts(b10=95, b20=5), 0.95, BOUNDS[10]),
        (counts(b10=94, b20=6), 0.95, BOUNDS[20]),
        (counts(b10=99, b20=1), 0.99, BOUNDS[10]),
        (counts(b10=98, b20=2), 0.99, BOUNDS[20]),
        (counts(b10=1, b64=1), 0.99, BOUNDS[-1]),  # above the last bound: the last bound
        (counts(b3=1, b5=1), 0.5, BOUNDS[3]),
    ],
)
def test_percentile(row: list[int], quantile: float, expected: float) -> None:
    assert percentile(row, quantile) == expected


def test_the_bounds_are_log_spaced_from_a_quarter_millisecond() -> None:
    assert BOUNDS[0] == 0.00025 and BOUNDS[4] == pytest.approx(0.0005)
    assert 10.0 < BOUNDS[-1] < 16.0
    assert all(b / a == pytest.approx(2**0.25) for a, b in itertools.pairwise(BOUNDS))


def test_a_sample_lands_in_the_bucket_whose_bound_is_not_below_it() -> None:
    window = LatencyWindow(0.5, size=8, refresh=1)
    window.record(0.0011)
    assert window.value >= 0.0011 and window.value < 0.0011 * 1.2


def test_the_window_is_refreshed_every_refresh_samples() -> None:
    window = LatencyWindow(0.95, size=100, refresh=10)
    for _ in range(9):
        window.record(0.02)
    assert window.value == 0.0  # not computed yet
    window.record(0.02)
    assert 0.02 <= window.value < 0.024


def test_the_window_forgets_all_but_the_last_generation() -> None:
    window = LatencyWindow(0.95, size=20, refresh=10)
    for _ in range(20):
        window.record(0.5)  # a slow spell: one full generation
    assert window.value >= 0.5
    for _ in range(20):
        window.record(0.002)  # fast again: the previous generation still counts
    assert window.value >= 0.5
    for _ in range(10):
        window.record(0.002)  # the slow generation is gone
    assert window.value < 0.0025


# -- the settings -------------------------------------------------------------------------------
def test_the_hedge_settings() -> None:
    env = {"BALANCER_BACKENDS": "http://a:80"}
    config = BalancerConfig.from_env(env)
    assert config.hedge is True and config.hedge_percentile == 95.0
    assert (config.hedge_factor, config.hedge_min, config.hedge_max) == (2.0, 0.01, 1.0)
    off = BalancerConfig.from_env({**env, "BALANCER_HEDGE": "0"})
    assert off.hedge is False
    with pytest.raises(ConfigError, match="BALANCER_HEDGE_MIN"):
        BalancerConfig.from_env({**env, "BALANCER_HEDGE_MIN": "2", "BALANCER_HEDGE_MAX": "1"})
    with pytest.raises(ConfigError, match="BALANCER_HEDGE_PERCENTILE"):
        BalancerConfig.from_env({**env, "BALANCER_HEDGE_PERCENTILE": "100"})


def test_the_loser_is_noted_once_for_the_log_and_x_lb_explain() -> None:
    pb = hedging("a", "b", explain=True)
    sent_and_hedged(pb, request("GET", "/x", "X-LB-Explain: 1"))
    explained = Starts(b"HTTP/1.1 200 ", b"X-LB-Explain: try=1 backend=a:80 outcome=lost-race")
    pb >> BackendSends("b", OK) << BackendClosed("a") << ToClient(explained)
    pb.done()


def test_a_hedge_deadline_met_late_waits_for_the_reads_of_that_turn() -> None:
    """The balancer itself stalled (the loop ran no timer for 100 ms): the own try's head may be
    unread in its socket, so the hedge is looked at again one tick later, not sent at once."""
    pb = hedging("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb.loop.now += 0.1  # the process did not run; then the wheel fires before any read
    pb >> Wait(0.0)
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)  # the head that was waiting
    pb >> Wait(0.01)
    pb.done()
    assert pb.counters.hedges == 0


def test_a_late_deadline_still_hedges_one_tick_on_when_no_head_came() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb.loop.now += 0.1
    pb >> Wait(0.0)
    pb >> Wait(0.002) << Dial("b")
    pb.done()


def test_a_late_deadline_is_looked_at_again_once_only() -> None:
    pb = hedging("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Connected("a") << to("a")
    pb.loop.now += 0.1
    pb >> Wait(0.0)  # late: looked at again a tick on
    pb.loop.now += 0.1
    pb >> Wait(0.0) << Dial("b")  # late again: hedged now, however late the loop runs
    pb.done()
