"""Every counter of one balancer process, in one place.

The hot path only increments plain ints on these objects (no metric object, no lock: one event
loop); ``admin`` reads them when ``/_lb/status`` or ``/_lb/metrics`` is asked for. Per-backend
counters sit in a ``BackendCounters`` that the ``Backend`` holds (one attribute hop, no lookup
per request); the rows of ``/_lb/status`` are the pool's backends with these.
"""

from __future__ import annotations

from bisect import bisect_left

# Upper bounds (seconds) of the latency histogram's buckets.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BackendCounters:
    """What one backend has served (``/_lb/status``'s per-backend members, and more metrics)."""

    __slots__ = (
        "answers",
        "ejections",
        "failures",
        "in_flight",
        "outlier_ejections",
        "requests",
        "shed",
    )

    def __init__(self) -> None:
        self.in_flight = 0  # attempts waiting for or streaming a response
        self.requests = 0  # attempts sent (retries included)
        self.answers = 0  # response heads received, any status: evidence of life (probes)
        self.failures = 0  # attempts that failed: connect, reset, timeout, 502/503, garbage
        self.ejections = 0  # passive or active health took it out (UP or DRAINING to DOWN)
        self.outlier_ejections = 0  # of which by failed tries in a row (BALANCER_EJECT_CONSECUTIVE)
        self.shed = 0  # 503 + X-Not-Processed answers: alive and protecting itself, not failures


class Counters:
    """The process's counters: requests, answers, retries, latency; and each backend's."""

    __slots__ = (
        "aborted",
        "active",
        "budget_denied",
        "codes",
        "hedge_discarded",
        "hedges",
        "hedges_denied",
        "hedges_won",
        "latency_buckets",
        "latency_sum",
        "local",
        "retries",
        "shed_relayed",
        "shed_retries",
        "wait_expired",
        "wait_taken_out",
        "waits",
    )

    def __init__(self) -> None:
        self.active = 0  # requests being forwarded
        self.codes: dict[int, int] = {}  # responses sent to clients, by status
        self.local: dict[int, int] = {}  # of which the balancer answered itself (413, 503 …)
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.retries = 0  # attempts that were retries
        self.budget_denied = 0  # retries the budget refused
        self.aborted = 0  # responses cut short after they had started (backend died mid-body)
        # Slow is not failed: tries past the per-try timeout waited on (not retryable elsewhere),
        # and how many of those waits ended in a 504: the request deadline, or the backend
        # taken out by health while waiting.
        self.waits = 0
        self.wait_expired = 0
        self.wait_taken_out = 0
        self.shed_retries = 0  # shed answers (503 + X-Not-Processed) retried on another backend
        self.shed_relayed = 0  # shed answers passed to the client (nothing left to try)
        # Hedging: second tries sent beside a slow one, those that answered first, those the
        # retry budget refused, and heads not relayed while the other try ran (502, 503, 409).
        self.hedges = 0
        self.hedges_won = 0
        self.hedges_denied = 0
        self.hedge_discarded = 0

    def observe(self, status: int, seconds: float) -> None:
        """A response went to a client (proxied or the balancer's own)."""
        self.codes[status] = self.codes.get(status, 0) + 1
        self.latency_buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def wait_ended(self, expired: bool) -> None:
        """A waited-on try ended in a 504: the request deadline (``expired``), or taken out."""
        if expired:
            self.wait_expired += 1
        else:
            self.wait_taken_out += 1

    def answered_locally(self, status: int) -> None:
        """The balancer answered in its own name (also counted by ``observe`` when timed)."""
        self.local[status] = self.local.get(status, 0) + 1
