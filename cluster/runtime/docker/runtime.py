"""The Docker runtime: Redis, N nodes and the balancer as containers of one Compose project.

``up``, ``scale`` and ``down`` go through the Compose CLI and compose/compose.yaml, the same file
a user runs by hand; everything else (status, chaos actions, restarts) goes through the Docker
SDK and finds containers by their Compose labels only (project and service). Chaos actions
(``cluster.actions``):

    KILL / TERM   ``kill`` through the API; the engine then counts the container as stopped by
                  hand, so its restart policy does not bring it back: ``restart`` starts it.
    STOP / CONT   ``pause`` / ``unpause`` (the cgroup freezer: TCP handshakes still complete).
    PARTITION     disconnect the node from the project network; HEAL reconnects it with its
                  service alias, so the balancer's DNS discovery finds it again.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Collection
from functools import cached_property
from typing import Any

from cluster.actions import Action
from cluster.config import ClusterConfig, variant_env
from cluster.runtime.base import (
    AlreadyRunning,
    ClusterError,
    ClusterStatus,
    MissingDependency,
    NodeInfo,
    NodeState,
    NotRunning,
    PortInUse,
    Runtime,
    StartupFailed,
    UnknownNode,
)
from cluster.runtime.docker.compose import (
    Compose,
    docker_client,
    ensure_shared_secret,
    image_present,
    redis_image,
)
from cluster.runtime.docker.config import DockerSettings
from cluster.runtime.docker.model import (
    ADMIN_PORT,
    BALANCER_PORT,
    BALANCER_SERVICE,
    NETWORK,
    NODE_SERVICE,
    compose_env,
    label_filter,
    network_filter,
    network_ip,
    node_name,
    node_state,
    node_url,
    published_port,
    ready,
)
from cluster.runtime.docker.redis_ha import HA_FILE, DockerSentinelMembers
from cluster.runtime.net import get_json, port_free

log = logging.getLogger("cluster.runtime.docker.runtime")


def create_runtime(config: ClusterConfig) -> DockerRuntime:
    return DockerRuntime(config, DockerSettings.from_env())


class DockerRuntime(DockerSentinelMembers, Runtime):
    """Containers of the Compose project ``settings.project``."""

    name = "docker"

    def __init__(
        self, config: ClusterConfig, settings: DockerSettings, client: Any | None = None
    ) -> None:
        super().__init__(config)
        self.settings = settings
        # With --ha, compose/compose.ha.yaml over the file (redis_ha.py).
        self.compose = Compose(settings.project, settings.compose_file, *([HA_FILE] * config.ha))
        self.secret = config.state_dir / "docker" / settings.project / "jwt-secret"
        self._client = client

    # -- engine and Compose ----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def image_present(self, image: str) -> bool:
        return image_present(self.client, image)

    @cached_property
    def redis_image(self) -> str:
        return redis_image(self.settings.redis_image, self.image_present)

    def _env(self, nodes: int) -> dict[str, str]:
        return compose_env(
            os.environ,
            app_image=self.settings.app_image,
            redis_image=self.redis_image,
            publish_port=self.config.balancer_port,
            secret_file=str(self.secret.resolve()),
            nodes=nodes,
            revocation=self.config.revocation,
            drain_seconds=self.config.drain_seconds,
            extra=(*variant_env(self.config.variant).items(), *self.settings.extra_env),
            admin_publish_port=self.config.admin_port,
            wait_replicas=self.config.wait_replicas,
        )

    def _compose(self, args: list[str], nodes: int) -> str:
        ensure_shared_secret(self.secret)  # Compose checks the secret's file on every command
        return self.compose.run(args, self._env(nodes))

    # -- finding containers ----------------------------------------------------------------------

    def containers(self, service: str | None = None) -> list[Any]:
        """Every container of the project (or of one service), found by Compose labels only."""
        found = self.client.containers.list(
            all=True, filters=label_filter(self.settings.project, service)
        )
        return list(found)

    def _node_containers(self) -> dict[str, Any]:
        nodes = {node_name(c.labels): c for c in self.containers(NODE_SERVICE)}
        return dict(sorted(nodes.items(), key=lambda item: int(item[0].split("-")[1] or 0)))

    def _container(self, node: str) -> Any:
        containers = self._node_containers()
        if node not in containers:
            raise UnknownNode(f"no node named {node!r} (nodes: {', '.join(containers)})")
        return containers[node]

    def _network(self) -> Any:
        networks = self.client.networks.list(filters=network_filter(self.settings.project))
        if not networks:
            raise NotRunning(f"the network of Compose project {self.settings.project!r} is gone")
        return networks[0]

    def _info(self, container: Any, network: str) -> NodeInfo:
        ip = network_ip(container.attrs, network)
        url = node_url(ip, container.id[:12])
        return NodeInfo(
            node_name(container.labels), url, None, container.name, node_state(container.status)
        )

    # -- Runtime ---------------------------------------------------------------------------------

    def up(self, nodes: int) -> ClusterStatus:
        if any(c.status != "exited" for c in self.containers()):
            raise AlreadyRunning(
                f"Compose project {self.settings.project!r} already runs (`cluster down`)"
            )
        if not self.image_present(self.settings.app_image):
            raise MissingDependency(f"image {self.settings.app_image} is not here: `make images`")
        self.redis_image  # noqa: B018 -- fails now, clearly, rather than inside Compose
        port = self.config.balancer_port
        if not (port_free("0.0.0.0", port) and port_free(self.config.host, port)):
            raise PortInUse(f"port {port} (balancer) is in use: CLUSTER_BALANCER_PORT=<free port>")
        if not port_free("127.0.0.1", self.config.admin_port):
            raise PortInUse(
                f"port {self.config.admin_port} (balancer admin) is in use: "
                "CLUSTER_ADMIN_PORT=<free port>"
            )
        try:
            self._compose(["up", "-d", "--no-build", "--scale", f"{NODE_SERVICE}={nodes}"], nodes)
            self.wait_ready(self._urls())
            if self.config.ha:
                self.wait_sentinels(max(self.config.ready_timeout, 60.0))
        except BaseException:
            self.down()
            raise
        return self.status()

    def down(self) -> list[str]:
        names = [c.name for c in self.containers()]
        timeout = f"{self.config.stop_timeout:.0f}"
        try:
            self._compose(["down", "--volumes", "--remove-orphans", "--timeout", timeout], 0)
        except ClusterError as exc:
            log.warning("compose down failed; removing through the API", extra={"error": str(exc)})
        self._sweep()
        shutil.rmtree(self.secret.parent, ignore_errors=True)
        return names

    def _sweep(self) -> None:
        """Remove whatever of the project Compose left (or never knew about)."""
        project = label_filter(self.settings.project)
        for container in self.containers():
            container.remove(force=True, v=True)
        for network in self.client.networks.list(filters=project):
            network.remove()
        for volume in self.client.volumes.list(filters=project):
            volume.remove(force=True)

    def status(self) -> ClusterStatus:
        containers = self.containers()
        if not containers:
            raise NotRunning(
                f"no container of Compose project {self.settings.project!r} "
                "(start one with `cluster up --runtime docker`)"
            )
        network = f"{self.settings.project}_{NETWORK}"
        nodes = tuple(self._info(c, network) for c in self._node_containers().values())
        redis, sentinels = self.redis_address(containers, network)
        return ClusterStatus(
            runtime=self.name,
            balancer=f"http://{self.config.host}:{self._balancer_port()}",
            redis=f"redis://{redis}:6379/0",
            nodes=nodes,
            admin=self._admin_url(),
            sentinels=sentinels,
        )

    def _balancer_port(self, inside: int = BALANCER_PORT) -> int:
        """The host port published for the balancer container's ``inside`` port."""
        balancer = self._service(BALANCER_SERVICE)
        port = published_port(balancer.attrs, inside) if balancer is not None else None
        return port or (
            self.config.admin_port if inside == ADMIN_PORT else self.config.balancer_port
        )

    def _admin_url(self) -> str:
        """The admin listener, published on the host's loopback only (compose/compose.yaml)."""
        return f"http://127.0.0.1:{self._balancer_port(ADMIN_PORT)}"

    def signal(self, node: str, signal: Action) -> None:
        import docker

        container = self._container(node)
        try:
            if signal in (Action.KILL, Action.TERM):
                container.kill(signal=f"SIG{signal}")
            elif signal == Action.STOP:
                container.pause()
            elif signal == Action.CONT:
                container.unpause()
            elif signal == Action.PARTITION:
                self._network().disconnect(container)
            elif signal == Action.HEAL:
                self._heal(container)
            else:
                raise ClusterError(f"unknown action {signal!r}")
        except docker.errors.APIError as exc:
            # As a signal to a process that is gone: acting on a stopped container is a no-op.
            log.warning("docker refused the action", extra={"node": node, "error": str(exc)})

    def _heal(self, container: Any) -> None:
        network = self._network()
        container.reload()
        if network_ip(container.attrs, network.name) is None:
            network.connect(container, aliases=[NODE_SERVICE, container.id[:12]])

    def restart(self, node: str, *, wait: bool = True) -> NodeInfo:
        container = self._container(node)
        if container.status == "paused":
            container.unpause()
        self._heal(container)
        if container.status in ("running", "restarting"):
            container.restart(timeout=int(self.config.stop_timeout))
        else:
            container.start()
        container.reload()
        info = self._info(container, self._network().name)
        if wait:
            self.wait_ready({info.url})
        return info

    def rolling_restart(self) -> None:
        for node in list(self._node_containers()):
            self.restart(node, wait=True)

    def scale(self, nodes: int) -> ClusterStatus:
        before = set(self._urls())
        # Only the node service, and no container recreated: the balancer keeps running and
        # finds the new replicas through DNS.
        args = ["up", "-d", "--no-build", "--no-deps", "--no-recreate"]
        self._compose([*args, "--scale", f"{NODE_SERVICE}={nodes}", NODE_SERVICE], nodes)
        urls = self._urls()
        self.wait_ready(urls, gone=before - set(urls))
        return self.status()

    def hostnames(self) -> dict[str, str]:
        """``container hostname -> node name``: a node names itself (``X-Served-By``) after its
        container's hostname unless ``NODE_NAME`` is set."""
        return {c.attrs["Config"]["Hostname"]: name for name, c in self._node_containers().items()}

    def balancer_status(self) -> dict[str, Any]:
        return get_json(f"{self._admin_url()}/_lb/status")

    # -- waiting ---------------------------------------------------------------------------------

    def _urls(self) -> list[str]:
        return [n.url for n in self.status().nodes if n.state is NodeState.RUNNING]

    def wait_ready(self, urls: Collection[str], gone: Collection[str] = ()) -> None:
        """Until the balancer reports every one of ``urls`` up (and none of ``gone``)."""
        deadline = time.monotonic() + max(self.config.ready_timeout, 60.0)
        last: Any = "no answer"
        while time.monotonic() < deadline:
            try:
                last = self.balancer_status()
                if ready(last, set(urls), set(gone)):
                    return
            except OSError as exc:
                last = exc
            time.sleep(0.25)
        raise StartupFailed(
            f"the balancer did not report {sorted(urls)} up in time (last answer: {last}); "
            f"see `docker-compose -p {self.settings.project} logs`"
        )
