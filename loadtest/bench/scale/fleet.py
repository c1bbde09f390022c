"""What ``make bench-scale`` measures behind its fronts, behind one small interface: a ``Fleet``
(a Redis server and N capacity-limited nodes) started for the length of an ``ExitStack``.

``start_local`` runs them as processes, each node in a cgroup v1 CPU quota
(``loadtest.bench.cgroup``); ``loadtest.bench.scale.containers.start_docker`` runs them as
containers of the project's image, each node with Docker's CPU limit (``--cpus``). The
measurement loop (``loadtest.bench.scale.run``) sees only the nodes' addresses and a CPU
reading per part, so both runtimes share it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cluster.runtime import redis_server
from cluster.runtime.net import free_ports
from cluster.runtime.pidstat import cpu_seconds
from loadtest.bench import cgroup
from loadtest.bench.targets import PY, child, node_env, wait_http

#: CPU seconds a part has used so far (a process's from ``/proc``, a container's from its cgroup).
CpuReader = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Fleet:
    """Redis and the nodes, running: what the fronts are put in front of."""

    #: ``host:port`` of each node, reachable from this host, in order (the first N are used).
    addresses: list[str]
    #: One reading per node, in the same order.
    nodes: list[CpuReader]
    redis: CpuReader


def local_quota(asked: float) -> tuple[float | None, str | None]:
    """The quota the local nodes get (None: none) and, when it is not the one asked, why."""
    if not asked:
        return None, None
    why_not = cgroup.unavailable()
    if why_not:
        return None, (
            f"no CPU quota per node: {why_not}; the nodes share the machine's "
            f"{os.cpu_count()} cores, so scaling stops at the core count"
        )
    return asked, None


def start_local(stack: ExitStack, work: Path, count: int, quota: float | None) -> Fleet:
    """Redis and ``count`` ``python -m nodes`` on loopback ports, each in its own CPU quota."""
    redis_port, *ports = free_ports(count + 1)
    server = redis_server.find_server()
    redis = redis_server.start(
        server, host="127.0.0.1", port=redis_port, workdir=work, log=work / "redis.log",
        detach=False,
    )  # fmt: skip
    stack.callback(redis.stop)
    secret = secrets.token_hex(32)
    pids = []
    for i, port in enumerate(ports, 1):
        env = node_env(f"node-{i}", port, redis_port, secret, "WARNING")
        proc = stack.enter_context(child([PY, "-m", "nodes"], env, work / f"node-{i}.log"))
        if quota:
            group = f"bench-scale-{os.getpid()}-node-{i}"
            stack.enter_context(cgroup.limited(group, proc.pid, quota))
        pids.append(proc.pid)
    for port in ports:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
    return Fleet(
        addresses=[f"127.0.0.1:{port}" for port in ports],
        nodes=[partial(cpu_seconds, pid) for pid in pids],
        redis=partial(cpu_seconds, redis.record.pid),
    )
