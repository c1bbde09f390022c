"""The seam between the operations tool and a runtime: the ``Runtime`` ABC, what it reports, and
the errors it raises.

``cluster`` (the CLI) and ``chaos-kill`` only talk to a ``Runtime``; ``cluster.runtime.choice``
picks one. Exceptions (the message is meant for the user as is)::

    ClusterError
     ├── NotRunning          no cluster state (``status``/``chaos-kill`` before ``up``)
     ├── AlreadyRunning      ``up`` while a cluster of this state directory still runs
     ├── PortInUse           a port ``up`` needs is taken
     ├── MissingDependency   no Redis server (redis-server or the wheel's), or no Docker SDK
     ├── StartupFailed       a process exited or the balancer did not report nodes up in time
     ├── UnknownNode         an action names a node the cluster does not have
     └── RuntimeUnavailable  the runtime asked for cannot be used here
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from cluster.actions import Action
from cluster.config import ClusterConfig


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
    """The shape of ``cluster status --json`` (docs/operations.md)."""

    runtime: str
    balancer: str
    redis: str
    nodes: tuple[NodeInfo, ...]
    #: Which Redis server runs, for people (not in the JSON document): "redis-server 7.0.15 …".
    redis_server: str | None = None
    #: The balancer's admin listener (``/_lb/status``, ``/_lb/metrics``), on loopback.
    admin: str = ""
    #: With HA: the sentinels (``host:port``); ``redis`` is then the primary they name now.
    sentinels: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "runtime": self.runtime,
            "balancer": self.balancer,
            "redis": self.redis,
            "admin": self.admin,
            "nodes": [node.to_json() for node in self.nodes],
        }
        if self.sentinels:  # without HA the document keeps the shape docs/operations.md fixes
            doc["sentinels"] = list(self.sentinels)
        return doc


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
    def signal(self, node: str, signal: Action) -> None:
        """Carry out ``signal`` on ``node`` (``cluster.actions``): STOP freezes, CONT thaws."""

    def kill(self, node: str) -> None:
        self.signal(node, Action.KILL)

    def term(self, node: str) -> None:
        self.signal(node, Action.TERM)

    def stop(self, node: str) -> None:
        self.signal(node, Action.STOP)

    def cont(self, node: str) -> None:
        self.signal(node, Action.CONT)

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

    # -- Redis with Sentinel (``cluster up --ha``): what chaos-kill's Redis targets act on ------

    def redis_members(self) -> tuple[NodeInfo, ...]:
        """The data servers (``redis``, ``redis-2``, ``redis-3``) and their process state."""
        raise ClusterError("this cluster runs one Redis, not a Sentinel set: `cluster up --ha`")

    def redis_primary(self) -> str | None:
        """The data server the sentinels call the primary now (``None``: none is up)."""
        raise ClusterError("this cluster runs one Redis, not a Sentinel set: `cluster up --ha`")

    def signal_redis(self, member: str, signal: Action) -> None:
        """``signal`` (KILL, TERM, STOP, CONT) to one data server."""
        raise ClusterError("this cluster runs one Redis, not a Sentinel set: `cluster up --ha`")

    def restart_redis(self, member: str) -> NodeInfo:
        """Bring a data server back, as a replica of the current primary."""
        raise ClusterError("this cluster runs one Redis, not a Sentinel set: `cluster up --ha`")
