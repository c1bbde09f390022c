"""Runtimes: one place that knows how to start, list and act on the cluster's nodes.

``cluster`` (the CLI) and ``chaos-kill`` only talk to a ``Runtime``:

    Runtime (abstract)
     ├── LocalRuntime    cluster/runtime/local.py: redis-server, nodes and the balancer as
     │                   local processes, each in its own process group
     └── DockerRuntime   cluster/runtime/docker.py (imported lazily): containers

A runtime module exposes ``create_runtime(config: ClusterConfig) -> Runtime``; ``get_runtime``
imports it only when asked, so the local runtime works without the Docker SDK.

Exceptions:

    ClusterError
     ├── NotRunning          no cluster state (``status``/``chaos-kill`` before ``up``)
     ├── AlreadyRunning      ``up`` while a cluster of this state directory still runs
     ├── PortInUse           a port ``up`` needs is taken
     ├── MissingDependency   ``redis-server`` (or the Docker SDK) is not installed
     ├── StartupFailed       a process exited or the balancer did not report nodes up in time
     ├── UnknownNode         an action names a node the cluster does not have
     └── RuntimeUnavailable  the runtime asked for cannot be used here
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from typing import Any, ClassVar

from cluster.config import ClusterConfig

RUNTIMES = ("auto", "local", "docker")
SIGNALS = ("KILL", "TERM", "STOP", "CONT")


class ClusterError(Exception):
    """Base of the runtime errors; the message is meant for the user as is."""


class NotRunning(ClusterError):
    pass


class AlreadyRunning(ClusterError):
    pass


class PortInUse(ClusterError):
    pass


class MissingDependency(ClusterError):
    pass


class StartupFailed(ClusterError):
    pass


class UnknownNode(ClusterError):
    pass


class RuntimeUnavailable(ClusterError):
    pass


class NodeState(StrEnum):
    """What a node process (or container) is doing, as ``status --json`` reports it."""

    RUNNING = "running"
    #: Exited, killed, or not started yet.
    STOPPED = "stopped"
    #: Frozen: SIGSTOP for a process, ``docker pause`` for a container.
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    url: str
    pid: int | None
    container: str | None
    state: NodeState

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "pid": self.pid,
            "container": self.container,
            "state": str(self.state),
        }


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """The shape of ``cluster status --json`` (DESIGN.md)."""

    runtime: str
    balancer: str
    redis: str
    nodes: tuple[NodeInfo, ...]
    #: The balancer's admin listener (``/_lb/status``, ``/_lb/metrics``), on loopback.
    admin: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "balancer": self.balancer,
            "redis": self.redis,
            "admin": self.admin,
            "nodes": [node.to_json() for node in self.nodes],
        }


class Runtime(ABC):
    """Starts, lists and acts on one cluster. Every method is synchronous and blocking."""

    name: ClassVar[str]

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config

    @abstractmethod
    def up(self, nodes: int) -> ClusterStatus:
        """Start Redis, ``nodes`` nodes and the balancer; return once every node is up."""

    @abstractmethod
    def down(self) -> list[str]:
        """Stop everything ``up`` started (idempotent); return what was stopped."""

    @abstractmethod
    def status(self) -> ClusterStatus:
        """What runs now; raises ``NotRunning`` when nothing was started."""

    def nodes(self) -> tuple[NodeInfo, ...]:
        return self.status().nodes

    @abstractmethod
    def signal(self, node: str, signal: str) -> None:
        """Send ``signal`` (one of ``SIGNALS``) to ``node``; STOP freezes it, CONT thaws it."""

    def kill(self, node: str) -> None:
        self.signal(node, "KILL")

    def term(self, node: str) -> None:
        self.signal(node, "TERM")

    def stop(self, node: str) -> None:
        self.signal(node, "STOP")

    def cont(self, node: str) -> None:
        self.signal(node, "CONT")

    @abstractmethod
    def restart(self, node: str, *, wait: bool = True) -> NodeInfo:
        """Replace ``node`` (gracefully if it still runs); with ``wait``, until it is up again."""

    @abstractmethod
    def rolling_restart(self) -> None:
        """Replace every node in turn; each must be up again before the next one goes."""

    @abstractmethod
    def scale(self, nodes: int) -> ClusterStatus:
        """Run ``nodes`` nodes from now on."""

    @abstractmethod
    def balancer_status(self) -> dict[str, Any]:
        """The balancer's ``/_lb/status`` document, read from its admin listener."""


def _docker_module() -> ModuleType | None:
    if importlib.util.find_spec("cluster.runtime.docker.runtime") is None:
        return None
    return importlib.import_module("cluster.runtime.docker.runtime")


def docker_engine_answers(timeout: float = 2.0) -> bool:
    """True when the Docker SDK is installed and an engine answers a ping."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # the SDK raises many kinds (no socket, permissions, API errors)
        return False


def choose_runtime(requested: str, docker_built: bool, engine_answers: bool) -> tuple[str, str]:
    """The runtime to use for ``requested`` and a sentence saying why (pure)."""
    if requested not in RUNTIMES:
        raise RuntimeUnavailable(f"RUNTIME={requested!r}: expected one of {', '.join(RUNTIMES)}")
    if requested != "auto":
        return requested, f"runtime: {requested} (asked for)"
    if not docker_built:
        return "local", "runtime: local (auto: the docker runtime is not built in this checkout)"
    if not engine_answers:
        return "local", "runtime: local (auto: no Docker engine answered)"
    return "docker", "runtime: docker (auto: a Docker engine answered)"


def find_runtime(requested: str, config: ClusterConfig) -> tuple[Runtime, str]:
    """The runtime of the cluster that already runs: ``auto`` means local when ``state.json``
    of ``config.state_dir`` exists (whatever ``auto`` would pick to start a new cluster)."""
    if requested == "auto" and (config.state_dir / "state.json").exists():
        runtime, _ = get_runtime("local", config)
        return runtime, "runtime: local (the cluster running from this state directory)"
    return get_runtime(requested, config)


def get_runtime(requested: str, config: ClusterConfig) -> tuple[Runtime, str]:
    """The runtime for ``requested`` (``auto``, ``local`` or ``docker``) and why it was chosen."""
    docker_built = importlib.util.find_spec("cluster.runtime.docker.runtime") is not None
    engine = docker_built and requested == "auto" and docker_engine_answers()
    chosen, reason = choose_runtime(requested, docker_built, engine)
    if chosen == "local":
        from cluster.runtime.local import create_runtime

        return create_runtime(config), reason
    module = _docker_module()
    if module is None:
        raise RuntimeUnavailable(
            "the docker runtime is not available: cluster/runtime/docker.py is missing "
            "(use RUNTIME=local)"
        )
    runtime: Runtime = module.create_runtime(config)
    return runtime, reason
