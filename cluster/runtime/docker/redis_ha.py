"""The Docker runtime's Redis with Sentinel (``cluster up --runtime docker --ha``).

compose/compose.ha.yaml, passed after compose/compose.yaml, adds the replicas ``redis-2`` and
``redis-3`` and the sentinels ``sentinel-1`` … ``sentinel-3``; ``redis`` is the first primary.
Which one is the primary now, a sentinel is asked, inside its container (``redis-cli`` through
the Docker API: nothing is published, and the host need not reach the project network); it
answers an address, mapped back to a service. A data server that chaos killed is started again
only once the sentinels have promoted another (started before, it would come back as the
primary with what its append-only file holds and stop the failover), and then told
``REPLICAOF`` the primary: it may come back with another address, which the sentinels (who know
addresses, not names: compose.ha.yaml says why) then learn from the primary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cluster.actions import Action
from cluster.runtime.base import ClusterError, NodeInfo, StartupFailed, UnknownNode
from cluster.runtime.docker.model import (
    NETWORK,
    REDIS_SERVICE,
    SERVICE_LABEL,
    network_ip,
    node_state,
)

HA_FILE = Path(__file__).resolve().parents[3] / "compose" / "compose.ha.yaml"
MEMBERS = ("redis", "redis-2", "redis-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
SENTINEL_PORT = 26379
MASTER_NAME = "mymaster"
#: How long a restart waits for the sentinels to promote another data server (seconds).
FAILOVER_WAIT = 20.0


def parse_master(output: str) -> dict[str, str]:
    """``redis-cli SENTINEL MASTER`` output (field and value on alternate lines) as a dict."""
    lines = output.splitlines()
    return dict(zip(lines[::2], lines[1::2], strict=False))


def primary_host(master: dict[str, str]) -> str | None:
    """The primary's host, unless the sentinel thinks it is down (pure)."""
    flags = set(master.get("flags", "").split(","))
    if "master" not in flags or flags & {"s_down", "o_down"}:
        return None
    return master.get("ip")


class DockerSentinelMembers:
    """``DockerRuntime``'s methods for chaos-kill's Redis targets (a mixin)."""

    settings: Any

    def containers(self, service: str | None = None) -> list[Any]:
        raise NotImplementedError

    def _service(self, service: str) -> Any | None:
        found = self.containers(service)
        return found[0] if found else None

    def _members(self) -> dict[str, Any]:
        members = {name: self._service(name) for name in MEMBERS}
        if members["redis-2"] is None:
            raise ClusterError("this cluster runs one Redis, not a Sentinel set: `cluster up --ha`")
        return {name: c for name, c in members.items() if c is not None}

    def redis_members(self) -> tuple[NodeInfo, ...]:
        network = f"{self.settings.project}_{NETWORK}"
        return tuple(
            NodeInfo(name, f"redis://{network_ip(c.attrs, network) or name}:6379/0", None,
                     c.name, node_state(c.status))
            for name, c in self._members().items()
        )  # fmt: skip

    def redis_address(self, containers: list[Any], network: str) -> tuple[str, tuple[str, ...]]:
        """The address of ``redis`` (with HA: of the primary now), and the sentinels."""
        sentinels = self.sentinel_addresses()
        wanted = self.redis_primary() if sentinels else REDIS_SERVICE
        redis = next((c for c in containers if c.labels.get(SERVICE_LABEL) == wanted), None)
        return (network_ip(redis.attrs, network) if redis else None) or REDIS_SERVICE, sentinels

    def sentinel_addresses(self) -> tuple[str, ...]:
        return tuple(f"{name}:{SENTINEL_PORT}" for name in SENTINELS if self._service(name))

    def redis_primary(self) -> str | None:
        members = self._members()
        network = f"{self.settings.project}_{NETWORK}"
        by_ip = {network_ip(c.attrs, network): name for name, c in members.items()}
        for name in SENTINELS:
            host = self._ask(name)
            if host is not None:
                return host if host in members else by_ip.get(host)
        return None

    def _ask(self, sentinel: str) -> str | None:
        return primary_host(self._master(sentinel))

    def _master(self, sentinel: str) -> dict[str, str]:
        container = self._service(sentinel)
        if container is None or container.status != "running":
            return {}
        argv = ["redis-cli", "-p", str(SENTINEL_PORT), "--raw", "sentinel", "master", MASTER_NAME]
        code, output = container.exec_run(argv)
        return parse_master(output.decode()) if code == 0 else {}

    def wait_sentinels(self, timeout: float) -> None:
        """Until every sentinel sees the primary up, both replicas and the two other sentinels
        (a failover right after ``up`` can then pick a replica at once)."""
        deadline = time.monotonic() + timeout
        while not all(self._whole(name) for name in SENTINELS):
            if time.monotonic() > deadline:
                raise StartupFailed(f"the sentinels did not see the whole set in {timeout:.0f}s")
            time.sleep(0.5)

    def _whole(self, sentinel: str) -> bool:
        master = self._master(sentinel)
        return (
            primary_host(master) is not None
            and int(master.get("num-slaves", 0)) >= len(MEMBERS) - 1
            and int(master.get("num-other-sentinels", 0)) >= len(SENTINELS) - 1
        )

    def signal_redis(self, member: str, signal: Action) -> None:
        container = self._members().get(member)
        if container is None:
            raise UnknownNode(f"no Redis server named {member!r} (servers: {', '.join(MEMBERS)})")
        if signal in (Action.KILL, Action.TERM):
            container.kill(signal=f"SIG{signal}")
        elif signal is Action.STOP:
            container.pause()
        elif signal is Action.CONT:
            container.unpause()
        else:
            raise ClusterError(f"{signal} is not an action on a Redis server")

    def restart_redis(self, member: str) -> NodeInfo:
        deadline = time.monotonic() + FAILOVER_WAIT
        while self.redis_primary() in (None, member) and time.monotonic() < deadline:
            time.sleep(0.2)
        container = self._members()[member]
        if container.status == "paused":
            container.unpause()
        elif container.status != "running":
            container.start()
        self._follow_primary(member)
        return next(m for m in self.redis_members() if m.name == member)

    def _follow_primary(self, member: str) -> None:
        """``REPLICAOF`` the primary the sentinels name, once ``member`` answers."""
        network = f"{self.settings.project}_{NETWORK}"
        members = self._members()
        primary = self.redis_primary()
        if primary in (None, member):
            return
        address = network_ip(members[primary].attrs, network)
        deadline = time.monotonic() + FAILOVER_WAIT
        while time.monotonic() < deadline:
            code, _ = members[member].exec_run(["redis-cli", "replicaof", str(address), "6379"])
            if code == 0:
                return
            time.sleep(0.2)
        raise ClusterError(f"{member} did not accept REPLICAOF {address} 6379")
