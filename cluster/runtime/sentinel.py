"""Redis Sentinel for both runtimes: the sentinels' configuration, tuned for a demo, and the
questions the runtimes ask them (where is the primary now? is the set ready?).

Tuning (the defaults are made for production, where a false failover costs more):

    down-after-milliseconds 1000   (default 30000) a primary silent for 1 s is subjectively down
    failover-timeout        2000   (default 180000) a failed attempt is tried again after 2 × this
    parallel-syncs          2      both replicas resync from a new primary at once
    quorum                  2      of 3 sentinels must agree that the primary is down

Measured here: a new primary 2.0-2.5 s after the primary is SIGKILLed (local processes). A set
that just started fails over less well (a sentinel that has not yet seen a replica's INFO
aborts with "no good replica" and retries 4 s later), so ``up`` waits until every sentinel
knows every replica and every other sentinel (``topology_ready``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

MASTER_NAME = "mymaster"
QUORUM = 2
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000
PARALLEL_SYNCS = 2

Address = tuple[str, int]


def config_text(port: int, primary: Address, *, bind: str | None) -> str:
    """A sentinel's configuration file (compose/compose.ha.yaml writes the same lines)."""
    lines = [f"port {port}"]
    if bind:
        lines.append(f"bind {bind}")
    lines += [
        f"sentinel monitor {MASTER_NAME} {primary[0]} {primary[1]} {QUORUM}",
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
        f"sentinel parallel-syncs {MASTER_NAME} {PARALLEL_SYNCS}",
    ]
    return "\n".join(lines) + "\n"


def _client(address: Address, timeout: float) -> redis.Redis:
    host, port = address
    return redis.Redis(
        host=host, port=port, socket_timeout=timeout, socket_connect_timeout=timeout,
        decode_responses=True,
    )  # fmt: skip


def _master(address: Address, timeout: float) -> dict[str, Any] | None:
    try:
        with _client(address, timeout) as client:
            state: dict[str, Any] = client.sentinel_master(MASTER_NAME)
    except (redis.RedisError, OSError):
        return None
    return state


def healthy_primary(state: dict[str, Any] | None) -> Address | None:
    """The primary of a ``SENTINEL MASTER`` reply, unless that sentinel thinks it is down."""
    if not state or not state.get("is_master") or state.get("is_sdown") or state.get("is_odown"):
        return None
    return str(state["ip"]), int(state["port"])


def ask_primary(sentinels: Sequence[Address], timeout: float = 0.5) -> Address | None:
    """Where the first sentinel that answers says the primary is (``None``: none knows one up)."""
    for address in sentinels:
        primary = healthy_primary(_master(address, timeout))
        if primary is not None:
            return primary
    return None


def _replicas_linked(address: Address, timeout: float) -> int:
    try:
        with _client(address, timeout) as client:
            replicas: list[dict[str, Any]] = client.sentinel_slaves(MASTER_NAME)
    except (redis.RedisError, OSError):
        return 0
    return sum(1 for r in replicas if not r.get("is_sdown") and r.get("master-link-status") == "ok")


def topology_ready(sentinels: Sequence[Address], replicas: int, timeout: float = 0.5) -> bool:
    """Every sentinel sees the primary up, every other sentinel, and ``replicas`` replicas
    linked to it: a failover from now on can pick a replica at once."""
    for address in sentinels:
        state = _master(address, timeout)
        if healthy_primary(state) is None or state is None:
            return False
        if int(state.get("num-other-sentinels", 0)) < len(sentinels) - 1:
            return False
        if _replicas_linked(address, timeout) < replicas:
            return False
    return True
