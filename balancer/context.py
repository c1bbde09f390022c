"""What every connection of one balancer shares: settings, the pool, the counters, the budget.

One ``Proxy`` per process, built by ``app`` and passed to every client connection and exchange.
Its event loop and its ``dial`` (how a new backend connection is opened) are given to it, so
that tests run the proxy core on a fake loop with a fake dialer.
"""

from __future__ import annotations

import asyncio

from balancer.config import BalancerConfig
from balancer.counters import Counters
from balancer.pool import Pool
from balancer.retry import RetryBudget
from balancer.seams import Closable, Dial


class Proxy:
    """Shared state of one running balancer (one per process, passed to every connection)."""

    __slots__ = (
        "closing",
        "config",
        "connections",
        "counters",
        "dial",
        "loop",
        "pool",
        "retry_budget",
        "try_timeout",
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
        self.closing = False
        self.connections: set[Closable] = set()  # open client connections (for the drain)

    def budget_left(self) -> bool:
        """Whether one more retry fits in the retry budget (see ``retry.RetryBudget``)."""
        return self.retry_budget.available(self.loop.time())
