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
        # Resending a shed answer costs its node nothing: it is a requeue, counted apart
        # (``RetryBudget``), so a burst of shedding never spends the retries a dead node needs.
        self.retry_budget = RetryBudget(
            config.retry_budget, config.retry_min, requeue_ratio=config.requeue_budget
        )
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

    def budget_left(self, shed: bool = False) -> bool:
        """Whether one more resend fits in the budget: a requeue when the answer was ``shed``,
        else a retry (see ``retry.RetryBudget``)."""
        return self.retry_budget.available(self.loop.time(), requeue=shed)

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
