"""The balancers ``make tls`` measures: the cluster's own, and another process beside it.

The other one runs over the same nodes, with the same certificate and key files but a context
(ticket key) of its own, or without TLS for the plain baseline. Started in our session, so that
Ctrl-C ends it too, and always stopped on the way out.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cluster.runtime import procs
from cluster.runtime.base import ClusterError
from cluster.runtime.local import LocalRuntime
from cluster.runtime.net import free_port, wait_port
from cluster.runtime.tls_pair import TlsPair
from loadtest.tls.client import client_context, plain_visit, visit


@dataclass(frozen=True, slots=True)
class Running:
    address: tuple[str, int]
    pid: int


def cluster_balancer(runtime: LocalRuntime) -> Running:
    """The cluster's balancer (its pid changes with ``restart_balancer``)."""
    pid = next(p.pid for p in runtime.processes() if p.role == "balancer")
    return Running((runtime.config.host, runtime.config.balancer_port), pid)


@contextlib.contextmanager
def another_balancer(runtime: LocalRuntime, pair: TlsPair | None, log: Path) -> Iterator[Running]:
    """A second balancer process over the cluster's nodes: TLS with ``pair``, or plain."""
    host, port = runtime.config.host, free_port()
    settings = {
        "BALANCER_HOST": host,
        "BALANCER_PORT": str(port),
        "BALANCER_ADMIN_PORT": "0",
        "BALANCER_BACKENDS": ",".join(n.url for n in runtime.status().nodes),
        "LOG_LEVEL": "WARNING",
    }
    if pair is not None:
        settings |= {"BALANCER_TLS_CERT": str(pair.cert), "BALANCER_TLS_KEY": str(pair.key)}
    argv = [runtime.config.python, "-m", "balancer"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALANCER_")} | settings
    proc, _ = procs.launch("balancer", "balancer-b", port, argv, env, log, detach=False)
    try:
        if not wait_port(host, port, 20, lambda: proc.poll() is None):
            raise ClusterError(f"a balancer did not listen; {log}:\n{procs.log_tail(str(log))}")
        _wait_answering((host, port), pair)
        yield Running((host, port), proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_answering(address: tuple[str, int], pair: TlsPair | None, within: float = 15.0) -> None:
    """Until a GET through it gets 200 (its probes have found the nodes up)."""
    context = client_context(pair.cert, "1.3") if pair is not None else None
    deadline = time.monotonic() + within
    while (visit(context, address).status if context else plain_visit(address)[0]) != 200:
        if time.monotonic() > deadline:
            raise ClusterError(f"the balancer at {address} answered no 200 within {within:g} s")
        time.sleep(0.1)
