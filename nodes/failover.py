"""How long a node keeps trying Redis through a failover, and how often (pure: no I/O).

With Sentinel (``REDIS_SENTINELS``) a dead primary is replaced in a second or two: the sentinels
need ``down-after-milliseconds`` (1 s in this project's deployments) to call it down, a moment to
agree and elect a leader, and one promotion. A node that met a connection error or a timeout
asks again, each time through the sentinels (redis-py's ``SentinelConnectionPool`` re-discovers
the primary on every new connection), until the ``budget`` is spent; only then does the request
get its 503. The schedule is a short exponential backoff, capped, so that the first tries after
the promotion come quickly (measured here: a new primary 2.3-2.4 s after a SIGKILL)::

    attempt   0     1     2     3     4 …
    wait (s)  0.05  0.1   0.2   0.25  0.25 …   until elapsed + wait > budget: give up

Only calls that are safe to send twice are retried (``nodes.store`` says which, and why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FailoverRetry:
    """The retry schedule of one Redis call; ``budget`` 0 means "never retry"."""

    budget: float = 0.0
    first: float = 0.05
    cap: float = 0.25

    def delay(self, attempt: int, elapsed: float) -> float | None:
        """Seconds to wait before try ``attempt + 1``, or ``None``: the budget is spent."""
        if self.budget <= 0:
            return None
        wait = min(self.cap, math.ldexp(self.first, attempt))
        if elapsed + wait > self.budget:
            return None
        return wait


@dataclass(frozen=True, slots=True)
class WaitForReplicas:
    """``WAIT replicas timeout_ms`` after each acknowledged write; ``replicas`` 0: no WAIT."""

    replicas: int = 0
    timeout_ms: int = 500

    def confirmed(self, acknowledged: int) -> bool:
        """Whether ``acknowledged`` replicas (WAIT's reply) are enough to answer success."""
        return acknowledged >= self.replicas
