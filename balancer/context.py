"""What every connection of one balancer shares: settings, the pool, the counters, the budget.

One ``Proxy`` per process, built by ``app`` and passed to every client connection and exchange.
Its event loop and its ``dial`` (how a new backend connection is opened) are given to it, so
that tests run the proxy core on a fake loop with a fake dialer.
"""

from __future__ import annotations

import asyncio

from balancer.config import BalancerConfig
from balancer.counters import Counters
from balancer.hedge import delay
from balancer.latency import LatencyWindow
from balancer.pool import Pool
from balancer.retry import RetryBudget
from balancer.seams import Closable, Dial
from balancer.wheel import Wheel


class Proxy:
    """Shared state of one running balancer (one per process, passed to every connection)."""

    __slots__ = (
        "_hedge_delay",
        "_hedge_from",
        "closing",
        "config",
        "connections",
        "counters",
        "dial",
        "hedge_cap",
        "hedging",
        "latency",
        "loop",
        "pool",
        "requeue_budget",
        "retry_budget",
        "try_timeout",
        "wheel",
    )

    def __init__(
        self, config: BalancerConfig, pool: Pool, loop: asyncio.AbstractEventLoop, dial: Dial
    ) -> None:
        self.config = config
        self.pool = pool
        self.loop = loop
        self.dial = dial
        self.counters = Counters()
        self.try_timeout = config.try_timeout
        self.retry_budget = RetryBudget(config.retry_budget, config.retry_min)
        # Resending a shed answer costs its node nothing: a budget of its own (Finagle's
        # requeues), so a burst of shedding never spends the retries a dead node needs.
        self.requeue_budget = RetryBudget(config.requeue_budget, config.retry_min)
        # Hedging (``backup``): recent response-head latencies give the delay after which a
        # slow try gets a second one; the cap is never past the per-try timeout.
        self.hedging = config.hedge
        self.latency = LatencyWindow(config.hedge_percentile / 100.0)
        self.hedge_cap = min(config.hedge_max, config.try_timeout)
        self._hedge_from = 0.0
        self._hedge_delay = self.hedge_cap  # no latency known yet: the cap
        self.wheel = Wheel(loop)  # every request's hedge deadline, on one loop timer
        self.closing = False
        self.connections: set[Closable] = set()  # open client connections (for the drain)

    def budget_for(self, shed: bool) -> RetryBudget:
        """The budget a resend draws on: the requeue budget for a shed answer, else retries."""
        return self.requeue_budget if shed else self.retry_budget

    def budget_left(self, shed: bool = False) -> bool:
        """Whether one more resend fits in its budget (see ``retry.RetryBudget``)."""
        return self.budget_for(shed).available(self.loop.time())

    def hedge_delay(self) -> float:
        """Seconds a try may go without a response head before it is hedged (``hedge.delay``),
        recomputed only when the percentile moved (every 64 answers at most)."""
        latency = self.latency.value
        if latency != self._hedge_from:
            config = self.config
            self._hedge_from = latency
            self._hedge_delay = delay(
                latency, config.hedge_factor, config.hedge_min, self.hedge_cap
            )
        return self._hedge_delay
