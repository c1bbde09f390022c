"""May a failed attempt be sent again, or waited on? Pure decisions, table-tested.

A retry always goes to a *different* backend (the caller excludes the ones tried), only while
the retry budget lasts (see ``RetryBudget``), and never when it could duplicate a write:

- idempotent methods are retried on connect failure, reset, per-try timeout, 502 and 503;
- POST and PATCH only when the attempt never reached a backend (the connection was not made),
  when the backend shed it unprocessed (503 with ``X-Not-Processed: true``), or when the
  request carries ``Idempotency-Key`` (the node then deduplicates);
- a shed answer is retried whatever the method, as a *requeue*, counted apart from retries in
  ``RetryBudget`` (resending it costs its node nothing, and a burst of shedding must not spend
  the retries a dead node needs); when it is not (tries, backends or budget exhausted), it is
  relayed to the client as the node sent it (503, ``Retry-After``);
- nothing is retried once a byte of the response went to the client.

Slow is not failed: a try past its per-try timeout that may not be sent elsewhere (an unkeyed
POST, no other backend, the budget spent) is *waited on* (``Decision.wait``) while its backend
is up, until the request deadline (``BALANCER_REQUEST_TIMEOUT``); ``on_timer`` says what each
firing of a try's timer means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class Outcome(StrEnum):
    """What one attempt observed."""

    OK = "ok"  # a response that is passed on
    CONNECT_FAILED = "connect-failed"  # refused or unreachable: the request was never sent
    CONNECT_TIMEOUT = "connect-timeout"  # no handshake in time: never sent either
    RESET = "reset"  # the connection broke after the request was (partly) sent
    TIMEOUT = "timeout"  # no response within the per-try timeout
    BAD_RESPONSE = "bad-response"  # the backend answered something that is not HTTP
    STATUS_502 = "502"
    STATUS_503 = "503"
    SHED = "shed"  # 503 with X-Not-Processed: true: the node refused before doing any work
    DEADLINE = "deadline"  # no response within the request deadline (after waiting on it)
    TAKEN_OUT = "taken-out"  # health took the backend out while the try was waited on


NEVER_SENT = frozenset({Outcome.CONNECT_FAILED, Outcome.CONNECT_TIMEOUT})
# Nothing was processed: safe to send again whatever the method.
NOT_PROCESSED = NEVER_SENT | {Outcome.SHED}
RETRYABLE = NOT_PROCESSED | {
    Outcome.RESET,
    Outcome.TIMEOUT,
    Outcome.BAD_RESPONSE,
    Outcome.STATUS_502,
    Outcome.STATUS_503,
}
# Passive health (``health``): these take the backend out at once (nothing listens there) …
EJECT_AT_ONCE = NEVER_SENT
# … these count towards the outlier streak (the connection was accepted: slow, or dead).
STREAK = frozenset({Outcome.RESET, Outcome.TIMEOUT, Outcome.DEADLINE, Outcome.TAKEN_OUT})
PASSIVE = EJECT_AT_ONCE | STREAK  # the outcomes that feed passive health


class Reason(StrEnum):
    """Why ``decide`` said what it said (logged, and in ``X-LB-Explain``)."""

    RETRY = "retry"
    NOT_RETRYABLE = "not-retryable"
    RESPONSE_STARTED = "response-started"
    UNSAFE_WRITE = "unsafe-write"
    TRIES_EXHAUSTED = "tries-exhausted"
    NO_OTHER_BACKEND = "no-other-backend"
    BUDGET_EXHAUSTED = "budget-exhausted"


@dataclass(frozen=True, slots=True)
class Decision:
    """``retry``: send it to another backend; ``wait``: keep waiting on this try; else stop.

    ``reason`` says why it is not a retry (``wait`` or not), or is ``RETRY``.
    """

    retry: bool
    reason: Reason
    wait: bool = False


# One instance per (reason, wait): deciding allocates nothing.
_DECISIONS = {reason: Decision(reason is Reason.RETRY, reason) for reason in Reason}
_WAITS = {reason: Decision(False, reason, wait=True) for reason in Reason}


def decide(
    *,
    method: str,
    outcome: Outcome,
    has_idempotency_key: bool,
    attempt: int,
    max_tries: int,
    response_started: bool,
    budget_left: bool,
    other_backend: bool,
    backend_up: bool,
) -> Decision:
    """Whether attempt number ``attempt`` (1-based) may be followed by another one.

    A per-try ``TIMEOUT`` that is not retried is waited on (``wait``) while ``backend_up``
    (its backend is up or draining: alive by its probes), else the request gives up.
    """
    if outcome not in RETRYABLE:
        return _DECISIONS[Reason.NOT_RETRYABLE]
    if response_started:
        return _DECISIONS[Reason.RESPONSE_STARTED]
    reason = _why(
        method, outcome, has_idempotency_key, attempt, max_tries, budget_left, other_backend
    )
    if reason is not Reason.RETRY and outcome is Outcome.TIMEOUT and backend_up:
        return _WAITS[reason]
    return _DECISIONS[reason]


def _why(
    method: str,
    outcome: Outcome,
    has_key: bool,
    attempt: int,
    max_tries: int,
    budget_left: bool,
    other_backend: bool,
) -> Reason:
    if outcome not in NOT_PROCESSED and method not in IDEMPOTENT and not has_key:
        return Reason.UNSAFE_WRITE
    if attempt >= max_tries:
        return Reason.TRIES_EXHAUSTED
    if not other_backend:
        return Reason.NO_OTHER_BACKEND
    if not budget_left:
        return Reason.BUDGET_EXHAUSTED
    return Reason.RETRY


def on_timer(*, waiting: bool, deadline_passed: bool, backend_down: bool) -> Outcome | None:
    """What the timer of a try with no response yet means; ``None``: keep waiting.

    The first firing is the per-try timeout (``TIMEOUT``, then ``decide``); once the try is
    waited on, each firing checks the request deadline and the backend's health.
    """
    if deadline_passed:
        return Outcome.DEADLINE
    if not waiting:
        return Outcome.TIMEOUT
    if backend_down:
        return Outcome.TAKEN_OUT
    return None


def is_shed(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a 503's headers say ``X-Not-Processed: true`` (the node shed it unprocessed)."""
    for name, value in headers:
        if len(name) == 15 and name.lower() == b"x-not-processed":
            return value.strip().lower() == b"true"
    return False


def give_up(outcome: Outcome | None) -> tuple[int, str]:
    """What the client gets when no attempt (``None``: not one could be made) succeeded."""
    if outcome is None:
        return 503, "no backend is up"
    if outcome in NEVER_SENT:
        return 503, "no backend could be reached"
    if outcome is Outcome.TIMEOUT:
        return 504, "the backend did not answer in time"
    if outcome is Outcome.DEADLINE:
        return 504, "the backend did not answer within the request deadline"
    if outcome is Outcome.TAKEN_OUT:
        return 504, "the backend stopped answering its health checks while the request waited"
    return 502, f"the backend failed ({outcome.value})"


class RetryBudget:
    """How many retries the balancer may make: a share of recent requests, plus a reserve.

    Over a sliding window of ``window`` seconds, retries may be at most ``ratio`` of the
    requests, plus ``min_per_second`` retries per second that are always allowed (Finagle's
    ``RetryBudget``; Envoy's budget is the same idea over requests in flight). The window is
    what makes it right for this cluster: when one node of three dies, the third of the
    requests in flight that were on it all need a retry *at the same instant*, far above a
    share of the requests in flight, yet a small share of the last seconds' traffic. A cluster
    that fails everything still gets at most ``ratio`` more load from retries (plus the reserve),
    so it is not buried under its own retries.

    *Requeues* (resends of an answer the backend shed unprocessed) are counted apart, against
    ``requeue_ratio`` of the same requests and the same reserve (Finagle keeps its requeues
    apart the same way): a shed try cost its node nothing, and a burst of shedding must not
    spend the retries a dying node needs. ``requeue=True`` asks or spends that account.

    Time is passed in (``now``, seconds, any monotonic clock) so the budget is pure.
    """

    __slots__ = (
        "_requests",
        "_requeues",
        "_retries",
        "_seconds",
        "min_per_second",
        "ratio",
        "requeue_ratio",
        "window",
    )

    def __init__(
        self, ratio: float, min_per_second: int, window: int = 10, requeue_ratio: float = 0.0
    ) -> None:
        self.ratio = ratio
        self.requeue_ratio = requeue_ratio
        self.min_per_second = min_per_second
        self.window = window
        self._seconds = [-1] * window  # which second each slot counts
        self._requests = [0] * window
        self._retries = [0] * window
        self._requeues = [0] * window

    def _slot(self, now: float) -> int:
        second = int(now)
        slot = second % self.window
        if self._seconds[slot] != second:
            self._seconds[slot] = second
            self._requests[slot] = 0
            self._retries[slot] = 0
            self._requeues[slot] = 0
        return slot

    def deposit(self, now: float) -> None:
        """One new request (not a retry) arrived."""
        self._requests[self._slot(now)] += 1

    def available(self, now: float, requeue: bool = False) -> bool:
        """Whether one more retry (or requeue) fits in the budget now."""
        self._slot(now)
        oldest = int(now) - self.window
        spent_per_slot = self._requeues if requeue else self._retries
        requests = spent = 0
        for second, req, used in zip(self._seconds, self._requests, spent_per_slot, strict=True):
            if second > oldest:
                requests += req
                spent += used
        ratio = self.requeue_ratio if requeue else self.ratio
        return spent < self.min_per_second * self.window + ratio * requests

    def withdraw(self, now: float, requeue: bool = False) -> None:
        """One retry (or requeue) is being made."""
        (self._requeues if requeue else self._retries)[self._slot(now)] += 1
