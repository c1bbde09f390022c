from __future__ import annotations

import pytest

from balancer.retry import Outcome, budget_allows, decide

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


@pytest.mark.parametrize(
    ("active", "retries", "ratio", "minimum", "allowed"),
    [
        (0, 0, 0.2, 3, True),  # the floor allows a few retries on an idle balancer
        (1, 2, 0.2, 3, True),
        (1, 3, 0.2, 3, False),
        (100, 19, 0.2, 3, True),
        (100, 20, 0.2, 3, False),
        (100, 0, 0.0, 0, False),
    ],
)
def test_budget(active: int, retries: int, ratio: float, minimum: int, allowed: bool) -> None:
    assert budget_allows(active, retries, ratio, minimum) is allowed
