"""What chaos-kill acts on: the nodes (the default), or a Redis data server of a Sentinel set.

    --target REGEX          nodes whose name matches (the default: every node)
    --target redis-primary  the data server the sentinels call the primary *now*, asked again
                            at every attempt (after a failover it is another one)
    --target redis-replica  a random data server that is not the primary

Both Redis targets need a cluster started with ``--ha``. ``--min-alive`` then counts live data
servers. A killed data server comes back (``--restart-after``) as a replica of the primary the
sentinels name, never as a primary of its own (``Runtime.restart_redis``).
"""

from __future__ import annotations

import re

from cluster.actions import Action
from cluster.runtime.base import NodeInfo, Runtime

REDIS_PRIMARY = "redis-primary"
REDIS_REPLICA = "redis-replica"
REDIS_TARGETS = (REDIS_PRIMARY, REDIS_REPLICA)


class NodeTargets:
    """The nodes, through the runtime's node methods."""

    def __init__(self, runtime: Runtime, pattern: re.Pattern[str] | None) -> None:
        self.runtime = runtime
        self._pattern = pattern

    def nodes(self) -> tuple[NodeInfo, ...]:
        return self.runtime.nodes()

    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern

    def signal(self, name: str, action: Action) -> None:
        self.runtime.signal(name, action)

    def restart(self, name: str) -> None:
        self.runtime.restart(name, wait=True)


class RedisTargets(NodeTargets):
    """The data servers of a Sentinel set; the pattern names the primary (or the others)."""

    def nodes(self) -> tuple[NodeInfo, ...]:
        return self.runtime.redis_members()

    def pattern(self) -> re.Pattern[str] | None:
        primary = self.runtime.redis_primary() or "(no primary)"
        wanted = self._pattern.pattern if self._pattern else REDIS_PRIMARY
        return primary_pattern(wanted, primary)

    def signal(self, name: str, action: Action) -> None:
        self.runtime.signal_redis(name, action)

    def restart(self, name: str) -> None:
        self.runtime.restart_redis(name)


def primary_pattern(target: str, primary: str) -> re.Pattern[str]:
    """The regex that picks ``target`` (``redis-primary`` or ``redis-replica``) when the
    sentinels name ``primary`` (pure)."""
    exact = re.escape(primary)
    return re.compile(f"^{exact}$" if target == REDIS_PRIMARY else f"^(?!{exact}$)")


def targets_for(runtime: Runtime, pattern: re.Pattern[str] | None) -> NodeTargets:
    """Redis targets for ``--target redis-primary|redis-replica``, else the nodes."""
    if pattern is not None and pattern.pattern in REDIS_TARGETS:
        return RedisTargets(runtime, pattern)
    return NodeTargets(runtime, pattern)
