"""The Docker runtime's decisions, without I/O: names, states, addresses, commands, environment.

Containers are told apart only by their Compose labels (project, service, container number),
never by name patterns: a pattern could match someone else's containers on a shared engine.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from cluster.runtime.base import NodeState, RuntimeUnavailable

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
NETWORK_LABEL = "com.docker.compose.network"

NODE_SERVICE = "node"
BALANCER_SERVICE = "balancer"
REDIS_SERVICE = "redis"
#: The network of compose/compose.yaml (Compose names it ``<project>_backplane``).
NETWORK = "backplane"
NODE_PORT = 8000
BALANCER_PORT = 8080
#: The balancer's admin listener inside its container (published on the host's loopback only).
ADMIN_PORT = 9901

# Docker's container states, as ``status --json`` reports them.
_STATES = {
    "running": NodeState.RUNNING,
    "restarting": NodeState.RUNNING,
    "paused": NodeState.PAUSED,
}


def label_filter(project: str, service: str | None = None) -> dict[str, list[str]]:
    """The Docker API filter for the project's objects (and one service of it)."""
    labels = [f"{PROJECT_LABEL}={project}"]
    if service is not None:
        labels.append(f"{SERVICE_LABEL}={service}")
    return {"label": labels}


def network_filter(project: str) -> dict[str, list[str]]:
    """The Docker API filter for the project's network of compose/compose.yaml."""
    return {"label": [f"{PROJECT_LABEL}={project}", f"{NETWORK_LABEL}={NETWORK}"]}


def node_name(labels: Mapping[str, str]) -> str:
    """``node-<n>`` from Compose's container number: stable across restarts, reused on scale."""
    return f"node-{labels.get(NUMBER_LABEL, '?')}"


def node_state(status: str) -> NodeState:
    """Docker's ``running``/``paused``/``exited``/… as a ``NodeState``."""
    return _STATES.get(status, NodeState.STOPPED)


def network_ip(attrs: Mapping[str, Any], network: str) -> str | None:
    """The container's address on ``network``; ``None`` when it is not attached (partitioned)."""
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    ip = (networks.get(network) or {}).get("IPAddress")
    return str(ip) if ip else None


def node_url(ip: str | None, hostname: str) -> str:
    """The node's URL on the project network (by hostname while it has no address)."""
    return f"http://{ip or hostname}:{NODE_PORT}"


def published_port(attrs: Mapping[str, Any], port: int = BALANCER_PORT) -> int | None:
    """The host port Docker bound to the container's ``port`` (``None`` when not published)."""
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(f"{port}/tcp") or ():
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def compose_command(plugin: bool, standalone: bool) -> list[str]:
    """``docker compose`` when the CLI plugin answers, else the standalone ``docker-compose``."""
    if plugin:
        return ["docker", "compose"]
    if standalone:
        return ["docker-compose"]
    raise RuntimeUnavailable(
        "neither `docker compose` nor `docker-compose` is installed "
        "(Debian: apt-get install docker-compose)"
    )


def choose_image(
    requested: str | None, candidates: Sequence[str], present: Callable[[str], bool]
) -> str | None:
    """``requested`` when given, else the first of ``candidates`` that is present locally."""
    if requested:
        return requested
    return next((image for image in candidates if present(image)), None)


def compose_env(
    base: Mapping[str, str],
    *,
    app_image: str,
    redis_image: str,
    publish_port: int,
    secret_file: str,
    nodes: int,
    revocation: str,
    drain_seconds: float | None,
    extra: Sequence[tuple[str, str]] = (),
    admin_publish_port: int | None = None,
    wait_replicas: int | None = None,
) -> dict[str, str]:
    """The environment Compose interpolates compose/compose.yaml with."""
    env = dict(base)
    env.pop("JWT_SECRET", None)  # the nodes read the one shared secret file
    env.update(
        APP_IMAGE=app_image,
        REDIS_IMAGE=redis_image,
        BALANCER_PUBLISH_PORT=str(publish_port),
        JWT_SECRET_HOST_FILE=secret_file,
        NODES=str(nodes),
        REVOCATION=revocation,
    )
    if drain_seconds is not None:
        env["DRAIN_SECONDS"] = f"{drain_seconds:g}"
    if admin_publish_port is not None:
        env["BALANCER_ADMIN_PUBLISH_PORT"] = str(admin_publish_port)
    if wait_replicas is not None:  # compose/compose.ha.yaml hands it to the nodes
        env["REDIS_WAIT_REPLICAS"] = str(wait_replicas)
    env.update(dict(extra))
    return env


def backend_states(lb_status: Mapping[str, Any]) -> dict[str, str]:
    """``url -> state`` from the balancer's ``/_lb/status``."""
    return {
        str(b.get("url", "")).rstrip("/"): str(b.get("state"))
        for b in lb_status.get("backends", [])
    }


def ready(lb_status: Mapping[str, Any], urls: Collection[str], gone: Collection[str] = ()) -> bool:
    """Every one of ``urls`` is up in the balancer, and none of ``gone`` is still up there."""
    states = backend_states(lb_status)
    return all(states.get(u.rstrip("/")) == "up" for u in urls) and not any(
        states.get(u.rstrip("/")) == "up" for u in gone
    )
