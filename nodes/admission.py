"""Admission of CPU-heavy work (password hashing): take a login, or shed it before any work.

Pure: no I/O, no clock, no event loop. ``nodes.cpu_gate`` counts the queue, measures the
durations and carries the verdict out::

    a login arrives ──▶ decide(queued, running, concurrency, service time, bound)
                          ├─ estimated wait ≤ bound ──▶ admitted: it takes a place in the queue
                          └─ estimated wait > bound ──▶ shed: 503, Retry-After, nothing done

The estimate is the queue's: ``running`` jobs hold the ``concurrency`` threads and ``queued``
ones wait ahead of the newcomer, all served in FIFO order at ``concurrency`` jobs per service
time. It counts the running jobs as just started (a full service time still to go), so it errs
towards shedding a little early rather than holding a login long enough to look dead to the
balancer (3 s per try). While a thread is free nothing waits, so a login is always admitted:
the estimator keeps being fed even after an outlier (a SIGSTOP mid-hash) inflated it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: What one hash is assumed to take before the first one was measured (scrypt N=2^14 on one
#: core of the 2-core development machine: 42-50 ms). The gate's calibration replaces it.
PRIOR_SERVICE_SECONDS = 0.05
#: Weight of each new measurement: the estimate follows a change of load within about five
#: hashes (a fraction of a second at tens of logins per second) and rides out single outliers.
EWMA_ALPHA = 0.2


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on one arriving job."""

    admitted: bool
    #: Estimated seconds before the job would get a thread.
    wait: float
    #: ``Retry-After`` for a shed job: the estimated time for the work ahead to clear, ≥ 1 s.
    retry_after: int


def estimated_wait(queued: int, running: int, concurrency: int, service_time: float) -> float:
    """Seconds a new job would wait for one of ``concurrency`` threads (0 when one is free)."""
    ahead = queued + running
    if ahead < concurrency:
        return 0.0
    # It starts at the (ahead - concurrency + 1)-th completion; completions come
    # ``concurrency`` per service time.
    return (ahead - concurrency + 1) * service_time / concurrency


def decide(
    queued: int, running: int, concurrency: int, service_time: float, bound: float
) -> Verdict:
    """Admit the job when its estimated wait is at most ``bound`` seconds, else shed it."""
    wait = estimated_wait(queued, running, concurrency, service_time)
    return Verdict(admitted=wait <= bound, wait=wait, retry_after=max(1, math.ceil(wait)))


class ServiceTime:
    """A moving estimate (EWMA) of one job's duration; the first measurement replaces the prior."""

    def __init__(self, prior: float = PRIOR_SERVICE_SECONDS, alpha: float = EWMA_ALPHA) -> None:
        if prior <= 0 or not 0 < alpha <= 1:
            raise ValueError("prior must be > 0 and alpha in (0, 1]")
        self._value = prior
        self._alpha = alpha
        self.samples = 0

    @property
    def value(self) -> float:
        return self._value

    def observe(self, seconds: float) -> None:
        """Fold in one measured duration (negative ones, from a clock step, are ignored)."""
        if seconds < 0:
            return
        self._value = seconds if self.samples == 0 else (
            self._alpha * seconds + (1 - self._alpha) * self._value
        )  # fmt: skip
        self.samples += 1
