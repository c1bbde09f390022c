"""``make bench-scale --runtime docker``'s fleet: Redis and N node containers of the project's
image on a private bridge network, each node limited to ``--quota`` cores (``--cpus``), its port
published on the host's loopback.

The fronts (this balancer, HAProxy) and wrk stay processes on this host, as in the local run.
They reach a node at its address on the bridge network (``via="ip"``, the default: the host
routes to it directly) or at its published port (``via="published"``: through Docker's
userland proxy, one more process copying every byte, which the CPU columns count as other
work). A container's CPU is read from its cgroup (``dockerspec.usage_files``), else from the
engine's stats API. Every container and the network are removed when the stack closes, on
failure and Ctrl-C too (one sweep by the run's label, registered before anything is created).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from cluster.runtime.base import MissingDependency
from cluster.runtime.docker.compose import docker_client, image_present, redis_image
from cluster.runtime.docker.model import network_ip
from cluster.runtime.net import free_ports
from loadtest.bench.scale import dockerspec
from loadtest.bench.scale.fleet import Fleet
from loadtest.bench.targets import wait_http

VIA = ("ip", "published")


def remove_run(client: Any, run: str) -> list[str]:
    """Remove every container and network labelled with ``run``; their names."""
    import docker

    mine = {"label": f"{dockerspec.LABEL}={run}"}
    removed = []
    for container in client.containers.list(all=True, filters=mine):
        with contextlib.suppress(docker.errors.NotFound):  # gone already
            container.remove(force=True, v=True)
            removed.append(container.name)
    for network in client.networks.list(filters=mine):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
            removed.append(network.name)
    return removed


def cpu_of(container: Any) -> float:
    """CPU seconds the container has used so far: its cgroup's file, else the stats API."""
    pid = container.attrs["State"]["Pid"]
    with contextlib.suppress(OSError, ValueError):
        text = Path(f"/proc/{pid}/cgroup").read_text()
        for path in dockerspec.usage_files(text):
            if path.exists():
                return dockerspec.usage_seconds(path.name, path.read_text())
    return dockerspec.stats_seconds(container.stats(stream=False, one_shot=True))


def started(client: Any, args: dict[str, Any]) -> Any:
    """Create and start one container; its attributes read once started (its pid among them)."""
    container = client.containers.create(**args)
    container.start()
    container.reload()
    return container


def ready(container: Any, address: str, work: Path) -> None:
    """Until the node answers ``/readyz`` 200; else its log, then the error."""
    try:
        wait_http(f"http://{address}/readyz", timeout=60)
    except RuntimeError:
        log = container.logs(tail=30).decode(errors="replace")
        (work / f"{container.name}.log").write_text(log)
        raise RuntimeError(f"{container.name} at {address} never became ready:\n{log}") from None


def start_docker(
    stack: ExitStack,
    work: Path,
    count: int,
    quota: float | None,
    image: str,
    via: str = "ip",
    run: str | None = None,
    period_us: int | None = None,
) -> Fleet:
    """Redis and ``count`` node containers from ``image``, removed when ``stack`` closes;
    ``run`` names them (and labels them: ``dockerspec.LABEL``), by default uniquely."""
    client = docker_client()
    stack.callback(client.close)
    if not image_present(client, image):
        raise MissingDependency(f"image {image} is not here: `make images`")
    redis = redis_image(None, partial(image_present, client))
    run = run or f"bench-scale-{os.getpid()}-{secrets.token_hex(3)}"
    stack.callback(remove_run, client, run)  # first: whatever was created is removed
    network = client.networks.create(f"{run}-net", driver="bridge", labels={dockerspec.LABEL: run})
    server = started(client, dockerspec.redis_args(run, redis, network.name))
    secret = secrets.token_hex(32)
    nodes, addresses = [], []
    for index, port in enumerate(free_ports(count), 1):
        args = dockerspec.node_args(run, index, image, network.name, secret, quota, port, period_us)
        node = started(client, args)
        ip = network_ip(node.attrs, network.name)
        addresses.append(f"{ip}:{dockerspec.NODE_PORT}" if via == "ip" else f"127.0.0.1:{port}")
        nodes.append(node)
    for node, address in zip(nodes, addresses, strict=True):
        ready(node, address, work)
    return Fleet(addresses, [partial(cpu_of, n) for n in nodes], partial(cpu_of, server))
