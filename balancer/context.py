"""What every connection of one balancer shares: settings, the pool, counters, the budget."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from balancer.config import BalancerConfig
from balancer.pool import Pool
from balancer.retry import RetryBudget

if TYPE_CHECKING:
    from balancer.server import ClientProtocol

# Upper bounds (seconds) of the latency histogram's buckets.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Stats:
    """Plain counters on the hot path; ``admin`` turns them into Prometheus text when scraped."""

    __slots__ = ("aborted", "budget_denied", "codes", "latency_buckets", "latency_sum", "local")

    def __init__(self) -> None:
        self.codes: dict[int, int] = {}  # responses sent to clients, by status
        self.local: dict[int, int] = {}  # of which the balancer answered itself (413, 503 …)
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.budget_denied = 0
        self.aborted = 0  # responses cut short after they had started (backend died mid-body)

    def observe(self, status: int, seconds: float) -> None:
        self.codes[status] = self.codes.get(status, 0) + 1
        self.latency_buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds


class Proxy:
    """Shared state of one running balancer (one per process, passed to every connection)."""

    def __init__(self, config: BalancerConfig, pool: Pool) -> None:
        self.config = config
        self.pool = pool
        self.stats = Stats()
        self.loop = asyncio.get_running_loop()
        self.active = 0  # requests being forwarded
        self.active_retries = 0  # of which are on a retry
        self.retry_budget = RetryBudget(config.retry_budget, config.retry_min)
        self.closing = False
        self.connections: set[ClientProtocol] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def budget_left(self) -> bool:
        """Whether one more retry fits in the retry budget (see ``retry.RetryBudget``)."""
        return self.retry_budget.available(self.loop.time())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a helper coroutine, keeping a reference until it is done."""
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
