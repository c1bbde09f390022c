"""When a slow try is *hedged* (sent a second time, to another backend), and after how long.

Pure decisions, table-tested (``tests/balancer/test_hedge.py``); the exchange's hedging half
(``backup``) applies them. Envoy's ``hedge_on_per_try_timeout`` and Finagle's backup requests
are the models: a request that is safe to send twice and has had no response head within the
*hedge delay* gets a second try on another backend; the first head wins, the other try is
cancelled.

- Safe to send twice: the idempotent methods (``retry.IDEMPOTENT``), and POST or PATCH with an
  ``Idempotency-Key`` (the node deduplicates by key). Never an unkeyed POST.
- At most one hedge per request, never once a byte of the response went to the client, only
  within ``BALANCER_MAX_TRIES`` (a hedge is a try) and while the retry budget lasts (a hedge is
  a retry made early: it withdraws from the same budget).
- The delay (``delay``): a high percentile of recent response-head latencies
  (``latency.LatencyWindow``) times a factor, floored and capped (the cap is at most the per-try
  timeout, when a slow try would be retried anyway). Before any latency is known: the cap.
- While both tries run, a head that another try may still better is not relayed
  (``discardable``): a 502 or 503, and the node's "in progress" 409 of a keyed write (the other
  copy holds the key: it is the one whose answer counts).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from balancer.retry import IDEMPOTENT


class Reason(StrEnum):
    """What ``decide`` said (``HEDGE``, or why not)."""

    HEDGE = "hedge"
    OFF = "off"
    UNSAFE_WRITE = "unsafe-write"
    RESPONSE_STARTED = "response-started"
    ALREADY_HEDGED = "already-hedged"
    TRIES_EXHAUSTED = "tries-exhausted"
    NO_OTHER_BACKEND = "no-other-backend"
    BUDGET_EXHAUSTED = "budget-exhausted"


def safe(method: str, has_idempotency_key: bool) -> bool:
    """Whether sending this request twice can do no harm (checked once, when it is sent)."""
    return method in IDEMPOTENT or has_idempotency_key


def decide(
    *,
    enabled: bool,
    method: str,
    has_idempotency_key: bool,
    attempt: int,
    max_tries: int,
    response_started: bool,
    hedged: bool,
    other_backend: bool,
    budget_left: bool,
) -> Reason:
    """Whether the try running when the hedge delay passed gets a second try beside it.

    ``attempt``: tries made so far (1-based, the running one included); ``hedged``: a hedge of
    this request is running already. The budget is asked last, so that it is counted as
    refusing only hedges that would otherwise have been sent.
    """
    if not enabled:
        return Reason.OFF
    if not safe(method, has_idempotency_key):
        return Reason.UNSAFE_WRITE
    if response_started:
        return Reason.RESPONSE_STARTED
    if hedged:
        return Reason.ALREADY_HEDGED
    if attempt >= max_tries:
        return Reason.TRIES_EXHAUSTED
    if not other_backend:
        return Reason.NO_OTHER_BACKEND
    if not budget_left:
        return Reason.BUDGET_EXHAUSTED
    return Reason.HEDGE


def delay(latency: float, factor: float, floor: float, cap: float) -> float:
    """Seconds a try may go without a response head before it is hedged: ``latency`` (a recent
    percentile; 0.0 when none is known yet) times ``factor``, within ``[floor, cap]``."""
    if latency <= 0.0:
        return cap
    return min(max(latency * factor, floor), cap)


def discardable(status: int, headers: Iterable[tuple[bytes, bytes]], keyed: bool) -> bool:
    """Whether a head that comes while another try of the request still runs is dropped (that
    try answers instead): a 502 or 503, or for a keyed write the node's "in progress" 409
    (``application/problem+json``: the other copy is being processed under the same key)."""
    if status in (502, 503):
        return True
    if status != 409 or not keyed:
        return False
    for name, value in headers:
        if len(name) == 12 and name.lower() == b"content-type":
            return value.strip().lower().startswith(b"application/problem+json")
    return False
