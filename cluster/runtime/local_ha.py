"""The local runtime's Redis with Sentinel (``CLUSTER_HA``): one primary, two replicas and three
sentinels as local processes, each in its own directory under the state directory::

    redis/ redis-2/ redis-3/          the data servers (AOF on: a restarted one keeps its data)
    sentinel-1/ sentinel-2/ …         each sentinel's config file, which Sentinel rewrites
    logs/redis.log, logs/redis-2.log, logs/sentinel-1.log …

``redis`` starts as the primary, ``redis-2`` and ``redis-3`` as its replicas; after a failover
only the sentinels know which is the primary (``primary_name``). A data server that chaos
killed comes back as a replica of the primary the sentinels name, never as an empty primary
that its replicas would copy (Redis's documented way to lose every write).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from cluster.actions import PROCESS_ACTIONS, Action
from cluster.config import ClusterConfig
from cluster.runtime import procs, redis_server, sentinel
from cluster.runtime.base import ClusterError, NodeInfo, StartupFailed, UnknownNode
from cluster.runtime.state import LocalState, ProcRecord, save_state

#: The data servers' names, in port order (``redis`` is the first primary).
MEMBERS = ("redis", "redis-2", "redis-3")
#: ``repl-diskless-sync-delay`` 0: a replica that (re)joins gets its copy at once, not 5 s later.
DATA_OPTIONS = ("--repl-diskless-sync-delay", "0")
#: How long a restart waits for the sentinels to promote another server (seconds).
FAILOVER_WAIT = 15.0


@dataclass
class LocalSentinelSet:
    """Starts and restarts the HA Redis processes of one local cluster."""

    config: ClusterConfig
    dir: Path
    logs: Path

    @property
    def sentinel_addresses(self) -> list[sentinel.Address]:
        return [(self.config.host, port) for port in self.config.sentinel_ports]

    def node_env(self, state: LocalState) -> dict[str, str]:
        """How a node finds Redis: ``REDIS_URL``, or (HA) the sentinels, ``REDIS_URL`` blank."""
        if not state.sentinels:
            return {"REDIS_URL": f"redis://{state.host}:{state.redis.port}/0"}
        env = {"REDIS_URL": "", "REDIS_SENTINELS": ",".join(addresses(state, state.sentinels))}
        if self.config.wait_replicas is not None:
            env["REDIS_WAIT_REPLICAS"] = str(self.config.wait_replicas)
        return env

    def start(
        self, server: redis_server.ServerBinary
    ) -> tuple[ProcRecord, tuple[ProcRecord, ...], tuple[ProcRecord, ...]]:
        """Primary, replicas, sentinels; once every sentinel sees the whole set."""
        started: list[ProcRecord] = []
        try:
            ports = self.config.redis_ports
            primary = (self.config.host, ports[0])
            for name, port in zip(MEMBERS, ports, strict=True):
                started.append(
                    self._member(server, name, port, None if port == ports[0] else primary)
                )
            for index, port in enumerate(self.config.sentinel_ports, 1):
                started.append(self._sentinel(server, index, port, primary))
            self.wait_topology(len(ports) - 1)
        except BaseException:
            procs.stop_all(started, self.config.stop_timeout)
            raise
        data, sentinels = started[: len(MEMBERS)], started[len(MEMBERS) :]
        return data[0], tuple(data[1:]), tuple(sentinels)

    def _member(
        self,
        server: redis_server.ServerBinary,
        name: str,
        port: int,
        replica_of: sentinel.Address | None,
    ) -> ProcRecord:
        extra = [*DATA_OPTIONS]
        if replica_of is not None:
            extra += ["--replicaof", replica_of[0], str(replica_of[1])]
        child = redis_server.start(
            server, host=self.config.host, port=port, workdir=self.dir / name,
            log=self.logs / f"{name}.log", aof=True, extra=extra, name=name,
        )  # fmt: skip
        return child.record

    def _sentinel(
        self, server: redis_server.ServerBinary, index: int, port: int, primary: sentinel.Address
    ) -> ProcRecord:
        name = f"sentinel-{index}"
        workdir = self.dir / name
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "sentinel.conf"
        text = sentinel.config_text(port, primary, bind=self.config.host)
        conf.write_text(text + f"dir {workdir.resolve()}\n")
        child = redis_server.start(
            server, host=self.config.host, port=port, workdir=workdir,
            log=self.logs / f"{name}.log", name=name,
            argv=[server.path, str(conf.resolve()), "--sentinel"],
        )  # fmt: skip
        return child.record

    def wait_topology(self, replicas: int) -> None:
        deadline = time.monotonic() + self.config.ready_timeout
        while not sentinel.topology_ready(self.sentinel_addresses, replicas):
            if time.monotonic() > deadline:
                raise StartupFailed(
                    f"the sentinels did not see the primary, {replicas} replicas and each "
                    f"other within {self.config.ready_timeout:.0f}s; logs in {self.logs}"
                )
            time.sleep(0.2)

    def primary_name(self, state: LocalState) -> str | None:
        """Which data server the sentinels call the primary now (``None``: none is up)."""
        found = sentinel.ask_primary(_sentinels_of(state))
        by_port = {r.port: r.name for r in state.redis_members()}
        return by_port.get(found[1]) if found else None

    def _other_primary(
        self, sentinels: list[sentinel.Address], port: int
    ) -> sentinel.Address | None:
        """The primary once the sentinels name one other than the server on ``port``: a dead
        primary restarted before the failover would come back with only what its AOF holds
        (up to 1 s less) and stop the failover. ``None`` when none is named in time."""
        deadline = time.monotonic() + FAILOVER_WAIT
        primary = sentinel.ask_primary(sentinels)
        while (primary is None or primary[1] == port) and time.monotonic() < deadline:
            time.sleep(0.1)
            primary = sentinel.ask_primary(sentinels)
        return primary

    def restart_member(self, state: LocalState, name: str) -> ProcRecord:
        """Start data server ``name`` again: a replica of the primary the sentinels name, or,
        when they name none other (no failover happened), as it was, with its AOF."""
        record = next(r for r in state.redis_members() if r.name == name)
        procs.stop_all([record], self.config.stop_timeout)
        primary = self._other_primary(_sentinels_of(state), record.port)
        replica_of = primary if primary and primary[1] != record.port else None
        server = redis_server.find_server()
        return self._member(server, name, record.port, replica_of)


def _sentinels_of(state: LocalState) -> list[sentinel.Address]:
    """The sentinels of the running cluster (its state, not today's settings)."""
    return [(state.host, r.port) for r in state.sentinels]


def addresses(state: LocalState, records: tuple[ProcRecord, ...]) -> list[str]:
    """``host:port`` of each record (``REDIS_SENTINELS``, ``status``)."""
    return [f"{state.host}:{r.port}" for r in records]


class SentinelMembers:
    """``LocalRuntime``'s methods for chaos-kill's Redis targets (a mixin: it works on the
    runtime's state file, under the runtime's lock)."""

    ha: LocalSentinelSet
    state_path: Path

    def _state(self) -> LocalState:
        raise NotImplementedError

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def _ha_state(self) -> LocalState:
        state = self._state()
        if not state.sentinels:
            raise ClusterError("this cluster runs one Redis, not a Sentinel set: `cluster up --ha`")
        return state

    def redis_members(self) -> tuple[NodeInfo, ...]:
        state = self._ha_state()
        return tuple(
            NodeInfo(r.name, f"redis://{state.host}:{r.port}/0", r.pid, None, procs.state_of(r))
            for r in state.redis_members()
        )

    def redis_primary(self) -> str | None:
        return self.ha.primary_name(self._ha_state())

    def signal_redis(self, member: str, signal: Action) -> None:
        if signal not in PROCESS_ACTIONS:
            raise ClusterError(f"{signal} needs the docker runtime (a container network)")
        record = next((r for r in self._ha_state().redis_members() if r.name == member), None)
        if record is None:
            raise UnknownNode(f"no Redis server named {member!r} (servers: {', '.join(MEMBERS)})")
        procs.send(record, signal)

    def restart_redis(self, member: str) -> NodeInfo:
        record = self.ha.restart_member(self._ha_state(), member)
        with self._locked():
            save_state(self.state_path, self._state().with_redis_member(record))
        return next(m for m in self.redis_members() if m.name == member)
