"""One *lane* per revocation mode: its own ``redis-server`` and N nodes on free loopback ports.

Each lane is isolated, so killing one lane's Redis disturbs no other mode, and nothing touches
a user's cluster (8080, 8081…, 6390). Processes are started and stopped with the local
runtime's process helpers (``cluster.runtime.procs``): own process group, log file, identity
checked before any signal.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cluster.runtime import NodeState, procs
from cluster.runtime.state import ProcRecord

HOST = "127.0.0.1"


class LaneError(RuntimeError):
    """A process of a lane could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def parse_cpu_seconds(stat: str, ticks_per_second: int) -> float:
    """User + system CPU seconds from the text of ``/proc/<pid>/stat``."""
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


def cpu_seconds(record: ProcRecord | None) -> float:
    """CPU seconds a process has used so far; 0.0 when it is gone."""
    if record is None:
        return 0.0
    try:
        text = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return 0.0
    return parse_cpu_seconds(text, os.sysconf("SC_CLK_TCK"))


def write_secret(path: Path) -> Path:
    """A fresh JWT secret (64 hex characters, mode 0600), shared by the lane's nodes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return path


@dataclass
class Lane:
    """Redis and ``nodes`` processes of one mode; ``workdir`` holds their logs and the secret."""

    mode: str
    nodes: int
    workdir: Path
    redis_aof: bool = False
    redis_port: int = field(default_factory=free_port)
    node_ports: list[int] = field(default_factory=list)
    redis: ProcRecord | None = None
    node_procs: list[ProcRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = write_secret(self.workdir / "jwt-secret")
        if not self.node_ports:
            self.node_ports = [free_port() for _ in range(self.nodes)]

    @property
    def urls(self) -> list[str]:
        return [f"http://{HOST}:{port}" for port in self.node_ports]

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LaneError("redis-server is not installed (Debian: apt-get install redis-server)")
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        argv = [binary, "--port", str(self.redis_port), "--bind", HOST, "--save", ""]
        argv += ["--appendonly", "yes" if self.redis_aof else "no", "--dir", str(data.resolve())]
        log = self.workdir / "redis.log"
        self.redis = procs.spawn("redis", "redis", self.redis_port, argv, os.environ, log)
        if not procs.wait_port(HOST, self.redis_port, 15.0, self.redis):
            raise LaneError(f"redis-server did not start:\n{procs.log_tail(str(log))}")

    def kill_redis(self) -> None:
        """SIGKILL: no shutdown, connections reset, like a crash."""
        if self.redis is not None:
            procs.send(self.redis, "KILL")
            procs.wait_gone([self.redis], 5.0)
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
        return cpu_seconds(self.node_procs[0]), cpu_seconds(self.redis)

    def exited(self) -> str:
        """The log tails of nodes that exited ("" while all run), for an error message."""
        return "\n".join(
            f"{record.name}:\n{procs.log_tail(record.log)}"
            for record in self.node_procs
            if procs.state_of(record) is NodeState.STOPPED
        )

    def stop(self) -> None:
        """Stop every process of the lane (TERM, then KILL after a grace period)."""
        records = [*self.node_procs, *([self.redis] if self.redis else [])]
        procs.stop_all(records, 10.0)
        self.node_procs, self.redis = [], None
