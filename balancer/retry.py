"""May a failed attempt be sent again? Pure decisions, table-tested.

A retry always goes to a *different* backend (the caller excludes the ones tried), only while
the retry budget lasts (Envoy's idea: retries in flight may be at most a share of the active
requests, with a small floor), and never when it could duplicate a write:

- idempotent methods are retried on connect failure, reset, per-try timeout, 502 and 503;
- POST and PATCH only when the attempt never reached a backend (the connection was not made),
  or when the request carries ``Idempotency-Key`` (the node then deduplicates);
- nothing is retried once a byte of the response went to the client.
"""

from __future__ import annotations

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


NEVER_SENT = frozenset({Outcome.CONNECT_FAILED, Outcome.CONNECT_TIMEOUT})
RETRYABLE = NEVER_SENT | {
    Outcome.RESET,
    Outcome.TIMEOUT,
    Outcome.BAD_RESPONSE,
    Outcome.STATUS_502,
    Outcome.STATUS_503,
}
# Outcomes that take the backend out at once (passive health).
EJECTING = NEVER_SENT | {Outcome.RESET, Outcome.TIMEOUT}


@dataclass(frozen=True, slots=True)
class Decision:
    retry: bool
    reason: str


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
) -> Decision:
    """Whether attempt number ``attempt`` (1-based) may be followed by another one."""
    if outcome not in RETRYABLE:
        return Decision(False, "not-retryable")
    if response_started:
        return Decision(False, "response-started")
    if outcome not in NEVER_SENT and method not in IDEMPOTENT and not has_idempotency_key:
        return Decision(False, "unsafe-write")
    if attempt >= max_tries:
        return Decision(False, "tries-exhausted")
    if not other_backend:
        return Decision(False, "no-other-backend")
    if not budget_left:
        return Decision(False, "budget-exhausted")
    return Decision(True, "retry")


def budget_allows(active_requests: int, active_retries: int, ratio: float, minimum: int) -> bool:
    """Envoy's retry budget: one more retry if it keeps retries within the allowed share."""
    return active_retries < max(minimum, int(active_requests * ratio))
