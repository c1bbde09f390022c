"""Settings of ``cluster`` and ``chaos-kill``: where the cluster runs and how it is started.

Read once from the environment by ``ClusterConfig.from_env()``; command-line options override
fields with ``dataclasses.replace``. Nothing else in the package reads ``os.environ`` (the
children inherit it, so ``BALANCER_*`` or ``NODE_*`` settings a user exported still apply).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it."""


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 0) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{key}={raw!r} is not an integer") from exc
    if value < minimum:
        raise ConfigError(f"{key}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{key}={raw!r} is not a number") from exc
    if value <= 0:
        raise ConfigError(f"{key}={value} must be positive")
    return value


def _ports(env: Mapping[str, str], key: str) -> tuple[int, ...]:
    raw = env.get(key, "").strip()
    if not raw:
        return ()
    try:
        return tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise ConfigError(f"{key}={raw!r} is not a comma-separated list of ports") from exc


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where and how the local cluster runs."""

    #: Directory of ``state.json``, the shared JWT secret and ``logs/`` (``CLUSTER_STATE_DIR``).
    state_dir: Path = Path(".cluster")
    #: Loopback address every process binds (``CLUSTER_HOST``).
    host: str = "127.0.0.1"
    #: The balancer's port (``CLUSTER_BALANCER_PORT``).
    balancer_port: int = 8080
    #: Port of node-1; node-i listens on ``node_port + i - 1`` (``CLUSTER_NODE_PORT``).
    node_port: int = 8081
    #: Explicit node ports, used before ``node_port`` (``CLUSTER_NODE_PORTS=8101,8102``).
    node_ports: tuple[int, ...] = ()
    #: The cluster's own ``redis-server`` (``CLUSTER_REDIS_PORT``), never the machine's 6379.
    redis_port: int = 6390
    #: How many nodes ``up`` starts (``NODES``).
    nodes: int = 3
    #: The nodes' ``REVOCATION`` mode (``REVOCATION``).
    revocation: str = "none"
    #: The nodes' ``DRAIN_SECONDS``; ``None`` leaves the node's default (``DRAIN_SECONDS``).
    drain_seconds: float | None = None
    #: How long ``up`` and a node restart wait for the balancer to report nodes up.
    ready_timeout: float = 30.0
    #: How long a process gets between SIGTERM and SIGKILL on ``down``.
    stop_timeout: float = 15.0
    #: The interpreter that runs ``-m nodes`` and ``-m balancer``.
    python: str = field(default_factory=lambda: sys.executable)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClusterConfig:
        env = os.environ if env is None else env
        drain = env.get("DRAIN_SECONDS")
        return cls(
            state_dir=Path(env.get("CLUSTER_STATE_DIR") or ".cluster"),
            host=env.get("CLUSTER_HOST") or "127.0.0.1",
            balancer_port=_int(env, "CLUSTER_BALANCER_PORT", 8080, 1),
            node_port=_int(env, "CLUSTER_NODE_PORT", 8081, 1),
            node_ports=_ports(env, "CLUSTER_NODE_PORTS"),
            redis_port=_int(env, "CLUSTER_REDIS_PORT", 6390, 1),
            nodes=_int(env, "NODES", 3, 1),
            revocation=env.get("REVOCATION") or "none",
            drain_seconds=_float(env, "DRAIN_SECONDS", 1.0) if drain else None,
            ready_timeout=_float(env, "CLUSTER_READY_TIMEOUT", 30.0),
            stop_timeout=_float(env, "CLUSTER_STOP_TIMEOUT", 15.0),
        )

    def port_of(self, index: int) -> int:
        """The port of the node numbered ``index`` (1-based)."""
        if index <= len(self.node_ports):
            return self.node_ports[index - 1]
        return self.node_port + index - 1

    @property
    def balancer_url(self) -> str:
        return f"http://{self.host}:{self.balancer_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"
