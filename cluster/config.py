"""Settings of ``cluster``, ``chaos-kill`` and the demo: where the cluster runs, how it starts.

Read once from the environment by ``ClusterConfig.from_env()``, each setting declared once below
(``servicekit.settings``); command-line options override fields with ``dataclasses.replace``.
Nothing else in the package reads ``os.environ`` (the children inherit it, so ``BALANCER_*`` or
``NODE_*`` settings a user exported still apply). A bad setting raises
``servicekit.settings.SettingError``, one line that names the variable.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.parsers import BOOLEAN, PATH, Parser, choice, comma_list, integer, number, text
from servicekit.settings import read, setting

#: What ``RUNTIME`` may name (``cluster.runtime.RUNTIMES`` spells the same three).
RUNTIME_CHOICES = ("auto", "local", "docker")

_POSITIVE = number(above=0.0)
_PORTS = comma_list(integer(1, 65535), "comma-separated ports")


def _flag(raw: str) -> bool:
    if raw.strip().lower() not in ("0", "1", "no", "yes", "off", "on", "false", "true"):
        raise ValueError(raw)
    return raw.strip().lower() in ("1", "yes", "on", "true")


_FLAG = Parser("1 or 0 (yes/no, on/off)", _flag)

#: The cluster's variants (``make compare``): the design, and its stateful twin (node sessions in
#: memory, ``nodes.sessions``) with and without the balancer pinning clients by cookie.
VARIANTS = ("stateless", "stateful+sticky", "stateful")


def variant_env(variant: str) -> dict[str, str]:
    """The node and balancer settings of a variant, passed to both (each reads its own)."""
    return {
        "SESSIONS": "none" if variant == "stateless" else "memory",
        "BALANCER_STICKY": "cookie" if variant == "stateful+sticky" else "off",
    }


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where and how the local cluster runs; ``describe(ClusterConfig)`` lists the settings."""

    state_dir: Path = setting(
        "CLUSTER_STATE_DIR",
        PATH,
        Path(".cluster"),
        help="directory of `state.json`, the shared JWT secret and `logs/`",
    )
    host: str = setting(
        "CLUSTER_HOST",
        text("a host name or address"),
        "127.0.0.1",
        help="loopback address every process binds",
    )
    balancer_port: int = setting(
        "CLUSTER_BALANCER_PORT", integer(1), 8080, help="the balancer's port for clients"
    )
    admin_port: int = setting(
        "CLUSTER_ADMIN_PORT",
        integer(1, 65535),
        9901,
        help="the balancer's admin listener (`/_lb/status`, `/_lb/metrics`), loopback only",
    )
    node_port: int = setting(
        "CLUSTER_NODE_PORT", integer(1), 8081, help="port of node-1; node-i listens on +i-1"
    )
    node_ports: tuple[int, ...] = setting(
        "CLUSTER_NODE_PORTS",
        comma_list(integer(), "comma-separated ports"),
        (),
        help="explicit node ports (`8101,8102`), used before `CLUSTER_NODE_PORT`",
    )
    redis_port: int = setting(
        "CLUSTER_REDIS_PORT",
        integer(1),
        6390,
        help="the cluster's own `redis-server`, never the machine's 6379",
    )
    # Redis with Sentinel (docs/operations.md, "Redis that survives its own chaos").
    ha: bool = setting(
        "CLUSTER_HA",
        _FLAG,
        False,
        help="`up` starts Redis as 1 primary + 2 replicas + 3 sentinels, the nodes find the "
        "primary through the sentinels",
    )
    replica_ports: tuple[int, ...] = setting(
        "CLUSTER_REDIS_REPLICA_PORTS",
        _PORTS,
        (),
        help="with `CLUSTER_HA`: the replicas' ports; unset: the two after `CLUSTER_REDIS_PORT`",
    )
    sentinel_ports: tuple[int, ...] = setting(
        "CLUSTER_SENTINEL_PORTS",
        _PORTS,
        (26390, 26391, 26392),
        help="with `CLUSTER_HA`: the three sentinels' ports",
    )
    wait_replicas: int | None = setting(
        "REDIS_WAIT_REPLICAS",
        integer(0, 16),
        None,
        help="the nodes' `REDIS_WAIT_REPLICAS` (with `CLUSTER_HA`); unset: the node's default",
    )
    nodes: int = setting("NODES", integer(1), 3, help="how many nodes `up` starts")
    tls: bool = setting(
        "CLUSTER_TLS",
        BOOLEAN,
        False,
        help="`up` makes a self-signed pair under the state dir (`tls/`, mode 0600) and the "
        "balancer serves HTTPS on its port (local runtime; `cluster up --tls`)",
    )
    # Passed on to the nodes as it is: the node checks it (and this package imports no node).
    revocation: str = setting(
        "REVOCATION", text("a node's revocation mode"), "none", help="the nodes' `REVOCATION`"
    )
    variant: str = setting(
        "CLUSTER_VARIANT",
        choice(VARIANTS),
        "stateless",
        help="`stateful`: the nodes keep sessions in memory (`SESSIONS=memory`, the anti-pattern "
        "`make compare` measures); `stateful+sticky`: also `BALANCER_STICKY=cookie`",
    )
    drain_seconds: float | None = setting(
        "DRAIN_SECONDS",
        _POSITIVE,
        None,
        help="the nodes' `DRAIN_SECONDS`; unset leaves the node's default",
    )
    ready_timeout: float = setting(
        "CLUSTER_READY_TIMEOUT",
        _POSITIVE,
        30.0,
        help="seconds `up` and a node restart wait for the balancer to report nodes up",
    )
    stop_timeout: float = setting(
        "CLUSTER_STOP_TIMEOUT",
        _POSITIVE,
        15.0,
        help="seconds a process gets between SIGTERM and SIGKILL on `down`",
    )
    #: The interpreter that runs ``-m nodes`` and ``-m balancer`` (not a setting).
    python: str = field(default_factory=lambda: sys.executable)
    # None: each command's own default (``auto`` for cluster and chaos-kill, ``local`` for the
    # demo); ``--runtime`` wins over it.
    runtime: str | None = setting(
        "RUNTIME",
        choice(RUNTIME_CHOICES),
        None,
        help="where the cluster runs when `--runtime` is not given",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClusterConfig:
        """Read and validate every setting; raise ``SettingError`` naming the first bad one."""
        return read(cls, env)

    def port_of(self, index: int) -> int:
        """The port of the node numbered ``index`` (1-based)."""
        if index <= len(self.node_ports):
            return self.node_ports[index - 1]
        return self.node_port + index - 1

    @property
    def balancer_url(self) -> str:
        return f"http://{self.host}:{self.balancer_port}"

    def service_ports(self) -> list[tuple[str, int]]:
        """``(what, port)`` of everything ``up`` binds but the nodes."""
        wanted = [(f"redis :{port}", port) for port in self.redis_ports]
        wanted += [(f"sentinel :{port}", port) for port in self.sentinel_ports if self.ha]
        return [*wanted, ("balancer", self.balancer_port), ("balancer admin", self.admin_port)]

    @property
    def redis_ports(self) -> tuple[int, ...]:
        """The data servers' ports: the primary's, then (with ``ha``) the two replicas'."""
        if not self.ha:
            return (self.redis_port,)
        replicas = self.replica_ports or (self.redis_port + 1, self.redis_port + 2)
        return (self.redis_port, *replicas)

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.admin_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"
