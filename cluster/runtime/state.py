"""The local runtime's state file and the pure decisions made from it.

``state.json`` records every process ``cluster up`` started: its role, name, port, pid and the
start time the kernel gave it (``/proc/<pid>/stat`` field 22, in clock ticks, read by
``cluster.runtime.pidstat``). A pid alone is not an identity: after a crash the kernel may hand
the same pid to an unrelated process, so a process counts as ours only when pid *and* start time
match. Nothing here does I/O except loading and saving the file; the rest is plain functions
over dataclasses, unit-tested.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cluster.runtime.base import NodeState
from cluster.runtime.pidstat import ProcStat

STATE_VERSION = 1


class StateError(ValueError):
    """``state.json`` cannot be read as a cluster state."""


@dataclass(frozen=True, slots=True)
class ProcRecord:
    """One process the runtime started."""

    role: str  # "redis" | "node" | "balancer"
    name: str
    port: int
    pid: int
    start_ticks: int
    log: str

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class LocalState:
    host: str
    secret_file: str
    redis: ProcRecord
    balancer: ProcRecord | None
    nodes: tuple[ProcRecord, ...]
    #: Which Redis server ``up`` chose, in words (``cluster status`` shows it).
    redis_server: str = ""
    admin_port: int | None = None  # the balancer's admin listener (None: not known yet)
    #: With ``CLUSTER_HA``: the other data servers (``redis-2``, ``redis-3``; ``redis`` is the
    #: first primary) and the sentinels. Which one is the primary now, only a sentinel knows.
    replicas: tuple[ProcRecord, ...] = ()
    sentinels: tuple[ProcRecord, ...] = ()

    def processes(self) -> tuple[ProcRecord, ...]:
        """Every process, in the order ``down`` stops them (traffic first, data last; the
        sentinels before the data servers, so that stopping those starts no failover)."""
        head = (self.balancer,) if self.balancer else ()
        return (*head, *self.nodes, *self.sentinels, *self.redis_members())

    def redis_members(self) -> tuple[ProcRecord, ...]:
        """The data servers: ``redis``, then the replicas it started with."""
        return (self.redis, *self.replicas)

    def with_redis_member(self, record: ProcRecord) -> LocalState:
        """This state with ``record`` replacing the data server of the same name."""
        if record.name == self.redis.name:
            return replace(self, redis=record)
        replicas = tuple(record if r.name == record.name else r for r in self.replicas)
        return replace(self, replicas=replicas)

    def node(self, name: str) -> ProcRecord | None:
        return next((n for n in self.nodes if n.name == name), None)

    def with_node(self, record: ProcRecord) -> LocalState:
        """This state with ``record`` replacing the node of the same name (or appended)."""
        nodes = [record if n.name == record.name else n for n in self.nodes]
        if self.node(record.name) is None:
            nodes.append(record)
        return replace(self, nodes=tuple(nodes))

    def without_node(self, name: str) -> LocalState:
        return replace(self, nodes=tuple(n for n in self.nodes if n.name != name))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "runtime": "local",
            "host": self.host,
            "secret_file": self.secret_file,
            "redis": asdict(self.redis),
            "balancer": asdict(self.balancer) if self.balancer else None,
            "nodes": [asdict(n) for n in self.nodes],
            "redis_server": self.redis_server,
            "admin_port": self.admin_port,
            **self._ha_json(),
        }

    def _ha_json(self) -> dict[str, Any]:
        if not self.sentinels:
            return {}  # the state of a cluster without HA keeps its shape
        return {
            "replicas": [asdict(r) for r in self.replicas],
            "sentinels": [asdict(s) for s in self.sentinels],
        }

    @classmethod
    def from_json(cls, data: Any) -> LocalState:
        try:
            if data.get("version") != STATE_VERSION or data.get("runtime") != "local":
                raise StateError(f"unsupported state (version {data.get('version')!r})")
            balancer = data["balancer"]
            return cls(
                host=str(data["host"]),
                secret_file=str(data["secret_file"]),
                redis=ProcRecord(**data["redis"]),
                balancer=ProcRecord(**balancer) if balancer else None,
                nodes=tuple(ProcRecord(**n) for n in data["nodes"]),
                redis_server=str(data.get("redis_server") or ""),
                admin_port=data.get("admin_port"),
                replicas=tuple(ProcRecord(**r) for r in data.get("replicas", ())),
                sentinels=tuple(ProcRecord(**r) for r in data.get("sentinels", ())),
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise StateError(f"malformed cluster state: {exc}") from exc


def load_state(path: Path) -> LocalState | None:
    """The state in ``path``, or ``None`` when there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return LocalState.from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise StateError(f"{path} is not JSON: {exc}") from exc


def save_state(path: Path, state: LocalState) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    tmp.replace(path)


def classify(record: ProcRecord, stat: ProcStat | None) -> NodeState:
    """Whether ``record``'s process runs, is frozen, or is gone (pid reused counts as gone)."""
    if stat is None:
        return NodeState.STOPPED
    if stat.start_ticks != record.start_ticks or stat.state in ("Z", "X", "x"):
        return NodeState.STOPPED
    if stat.state in ("T", "t"):
        return NodeState.PAUSED
    return NodeState.RUNNING


def node_name(index: int) -> str:
    return f"node-{index}"


def next_node_index(state: LocalState) -> int:
    """The smallest node number not in use (``node-1``, ``node-2`` …)."""
    used = {n.name for n in state.nodes}
    index = 1
    while node_name(index) in used:
        index += 1
    return index


def backends(state: LocalState) -> str:
    """``BALANCER_BACKENDS`` for the nodes of ``state``."""
    return ",".join(n.url(state.host) for n in state.nodes)


def all_backends_up(lb_status: dict[str, Any], urls: set[str]) -> bool:
    """True when the balancer reports every one of ``urls`` as ``up``."""
    states = {b.get("url", "").rstrip("/"): b.get("state") for b in lb_status.get("backends", [])}
    return all(states.get(url.rstrip("/")) == "up" for url in urls)
