from __future__ import annotations

import pytest

from balancer.retry import Outcome, RetryBudget, decide, give_up

Out = Outcome
BASE = {
    "has_idempotency_key": False,
    "attempt": 1,
    "max_tries": 3,
    "response_started": False,
    "budget_left": True,
    "other_backend": True,
}

# (method, outcome, overrides, retry?, reason)
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
    ("POST", Out.TIMEOUT, {}, False, "unsafe-write"),
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
]


@pytest.mark.parametrize(("method", "outcome", "overrides", "retry", "reason"), TABLE)
def test_decision_table(
    method: str, outcome: Outcome, overrides: dict[str, object], retry: bool, reason: str
) -> None:
    decision = decide(method=method, outcome=outcome, **{**BASE, **overrides})  # type: ignore[arg-type]
    assert (decision.retry, decision.reason) == (retry, reason)


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
        (Out.RESET, 502),
        (Out.BAD_RESPONSE, 502),
    ],
)
def test_what_the_client_gets_when_the_balancer_gives_up(outcome: Out | None, status: int) -> None:
    got, detail = give_up(outcome)
    assert got == status and detail
