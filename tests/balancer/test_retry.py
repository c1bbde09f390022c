from __future__ import annotations

import pytest

from balancer.retry import Outcome, RetryBudget, decide, give_up, is_shed, on_timer

Out = Outcome
BASE = {
    "has_idempotency_key": False,
    "attempt": 1,
    "max_tries": 3,
    "response_started": False,
    "budget_left": True,
    "other_backend": True,
    "backend_up": True,
}
WAIT = "wait"  # the retry? column of a try past its per-try timeout that is waited on

# (method, outcome, overrides, retry? (True, False or WAIT), reason)
TABLE = [
    ("GET", Out.CONNECT_FAILED, {}, True, "retry"),
    ("GET", Out.CONNECT_TIMEOUT, {}, True, "retry"),
    ("GET", Out.RESET, {}, True, "retry"),
    ("GET", Out.TIMEOUT, {}, True, "retry"),
    ("GET", Out.STATUS_502, {}, True, "retry"),
    ("GET", Out.STATUS_503, {}, True, "retry"),
    ("HEAD", Out.RESET, {}, True, "retry"),
    ("PUT", Out.TIMEOUT, {}, True, "retry"),
    ("DELETE", Out.RESET, {}, True, "retry"),
    ("OPTIONS", Out.STATUS_503, {}, True, "retry"),
    ("GET", Out.OK, {}, False, "not-retryable"),
    # writes: only when never sent, or with an Idempotency-Key
    ("POST", Out.CONNECT_FAILED, {}, True, "retry"),
    ("POST", Out.CONNECT_TIMEOUT, {}, True, "retry"),
    ("POST", Out.RESET, {}, False, "unsafe-write"),
    ("POST", Out.TIMEOUT, {}, WAIT, "unsafe-write"),
    ("POST", Out.STATUS_502, {}, False, "unsafe-write"),
    ("POST", Out.STATUS_503, {}, False, "unsafe-write"),
    ("PATCH", Out.RESET, {}, False, "unsafe-write"),
    ("PATCH", Out.CONNECT_FAILED, {}, True, "retry"),
    ("POST", Out.RESET, {"has_idempotency_key": True}, True, "retry"),
    ("POST", Out.TIMEOUT, {"has_idempotency_key": True}, True, "retry"),
    ("PATCH", Out.STATUS_503, {"has_idempotency_key": True}, True, "retry"),
    # limits
    ("GET", Out.RESET, {"response_started": True}, False, "response-started"),
    ("POST", Out.CONNECT_FAILED, {"response_started": True}, False, "response-started"),
    ("GET", Out.RESET, {"attempt": 3}, False, "tries-exhausted"),
    ("GET", Out.RESET, {"attempt": 2}, True, "retry"),
    ("GET", Out.RESET, {"max_tries": 1}, False, "tries-exhausted"),
    ("GET", Out.RESET, {"other_backend": False}, False, "no-other-backend"),
    ("GET", Out.RESET, {"budget_left": False}, False, "budget-exhausted"),
    ("POST", Out.RESET, {"budget_left": False}, False, "unsafe-write"),
    # a shed answer (503 + X-Not-Processed: true): nothing was processed, any method goes again
    ("POST", Out.SHED, {}, True, "retry"),
    ("PATCH", Out.SHED, {}, True, "retry"),
    ("GET", Out.SHED, {}, True, "retry"),
    ("POST", Out.SHED, {"attempt": 3}, False, "tries-exhausted"),
    ("POST", Out.SHED, {"other_backend": False}, False, "no-other-backend"),
    ("POST", Out.SHED, {"budget_left": False}, False, "budget-exhausted"),
    ("POST", Out.SHED, {"response_started": True}, False, "response-started"),
    # slow is not failed: a per-try timeout not retried elsewhere is waited on, while up
    ("POST", Out.TIMEOUT, {"has_idempotency_key": True}, True, "retry"),
    ("GET", Out.TIMEOUT, {"other_backend": False}, WAIT, "no-other-backend"),
    ("GET", Out.TIMEOUT, {"attempt": 3}, WAIT, "tries-exhausted"),
    ("GET", Out.TIMEOUT, {"budget_left": False}, WAIT, "budget-exhausted"),
    ("POST", Out.TIMEOUT, {"backend_up": False}, False, "unsafe-write"),
    ("GET", Out.TIMEOUT, {"other_backend": False, "backend_up": False}, False, "no-other-backend"),
    ("GET", Out.TIMEOUT, {"backend_up": False}, True, "retry"),
    ("GET", Out.TIMEOUT, {"response_started": True}, False, "response-started"),
    # what ends a wait is never retried: the deadline is the whole request's
    ("GET", Out.DEADLINE, {}, False, "not-retryable"),
    ("POST", Out.DEADLINE, {}, False, "not-retryable"),
    ("GET", Out.TAKEN_OUT, {}, False, "not-retryable"),
]


@pytest.mark.parametrize(("method", "outcome", "overrides", "retry", "reason"), TABLE)
def test_decision_table(
    method: str, outcome: Outcome, overrides: dict[str, object], retry: bool | str, reason: str
) -> None:
    decision = decide(method=method, outcome=outcome, **{**BASE, **overrides})  # type: ignore[arg-type]
    got = WAIT if decision.wait else decision.retry
    assert (got, decision.reason) == (retry, reason)
    assert not (decision.wait and decision.retry)


# Each firing of the timer of a try with no response head yet:
# (waiting already?, request deadline passed?, backend down?) -> outcome (None: wait on)
TIMER_TABLE = [
    (False, False, False, Out.TIMEOUT),  # the per-try timeout: decide retries or waits
    (False, False, True, Out.TIMEOUT),  # decide: retried elsewhere, or given up (not waited on)
    (False, True, False, Out.DEADLINE),  # BALANCER_REQUEST_TIMEOUT = BALANCER_TRY_TIMEOUT
    (True, False, False, None),  # slow, alive: wait on
    (True, False, True, Out.TAKEN_OUT),  # its probes failed while we waited: frozen, or dead
    (True, True, False, Out.DEADLINE),  # the request deadline: 504
    (True, True, True, Out.DEADLINE),
]


@pytest.mark.parametrize(("waiting", "deadline_passed", "backend_down", "outcome"), TIMER_TABLE)
def test_timer_table(
    waiting: bool, deadline_passed: bool, backend_down: bool, outcome: Outcome | None
) -> None:
    got = on_timer(waiting=waiting, deadline_passed=deadline_passed, backend_down=backend_down)
    assert got is outcome


@pytest.mark.parametrize(
    ("headers", "shed"),
    [
        ([(b"X-Not-Processed", b"true")], True),
        ([(b"Retry-After", b"1"), (b"x-not-processed", b" TRUE ")], True),
        ([(b"X-Not-Processed", b"false")], False),
        ([(b"X-Not-Processed", b"")], False),
        ([(b"X-Not-Processed-By", b"true")], False),
        ([(b"Retry-After", b"1")], False),
        ([], False),
    ],
)
def test_a_shed_answer_is_told_by_its_header(
    headers: list[tuple[bytes, bytes]], shed: bool
) -> None:
    assert is_shed(headers) is shed


def test_budget_reserve_allows_retries_on_an_idle_balancer() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=1, window=10)
    for _ in range(10):  # the reserve: 1 per second over a 10 s window
        assert budget.available(100.0)
        budget.withdraw(100.0)
    assert not budget.available(100.0)


def test_budget_is_a_share_of_recent_requests() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=0, window=10)
    for _ in range(100):
        budget.deposit(50.0)
    for _ in range(20):
        assert budget.available(50.5)
        budget.withdraw(50.5)
    assert not budget.available(50.5)  # 20 retries for 100 requests: the share is used up


def test_budget_absorbs_a_burst_when_one_node_of_three_dies() -> None:
    # 90 requests/s for 10 s; then a third of 30 requests in flight fail at the same instant.
    # An in-flight share (Envoy's 20 % of 30 = 6) would refuse 4 of the 10; the window does not.
    budget = RetryBudget(ratio=0.2, min_per_second=0, window=10)
    for second in range(10):
        for _ in range(90):
            budget.deposit(float(second))
    for _ in range(10):
        assert budget.available(9.9)
        budget.withdraw(9.9)


def test_budget_forgets_what_left_the_window() -> None:
    budget = RetryBudget(ratio=0.5, min_per_second=0, window=5)
    for _ in range(10):
        budget.deposit(0.0)
    for _ in range(5):
        budget.withdraw(0.0)
    assert not budget.available(4.0)  # still inside the window: 5 of 5 used
    assert not budget.available(5.0)  # second 0 has left the window: no requests, no share
    budget.deposit(5.0)
    budget.deposit(5.0)
    assert budget.available(5.0)  # the old retries left with their requests


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (None, 503),
        (Out.CONNECT_FAILED, 503),
        (Out.CONNECT_TIMEOUT, 503),
        (Out.TIMEOUT, 504),
        (Out.DEADLINE, 504),
        (Out.TAKEN_OUT, 504),
        (Out.RESET, 502),
        (Out.BAD_RESPONSE, 502),
    ],
)
def test_what_the_client_gets_when_the_balancer_gives_up(outcome: Out | None, status: int) -> None:
    got, detail = give_up(outcome)
    assert got == status and detail


def test_requeues_are_counted_apart_from_retries() -> None:
    budget = RetryBudget(ratio=0.1, min_per_second=0, window=10, requeue_ratio=0.5)
    for _ in range(10):
        budget.deposit(3.0)  # the requests are counted once, for both accounts
    assert budget.available(3.0)
    budget.withdraw(3.0)  # the one retry 10 % of 10 requests allow
    assert not budget.available(3.0)
    for _ in range(5):  # requeues still have their own 50 %
        assert budget.available(3.0, requeue=True)
        budget.withdraw(3.0, requeue=True)
    assert not budget.available(3.0, requeue=True)
    assert not budget.available(3.0)  # and spent none of the retries' share
