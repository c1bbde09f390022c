"""The cluster as containers: up, spread, chaos under load, Redis persistence, scale, down.

One Compose project per test session (``sc-test-<pid>-<random>``), the balancer published on a
free host port (never 8080), a temporary state directory: a user's cluster or another test run
on the same engine is never touched. The images come from ``make images`` (``.ci/run`` builds
them offline); the load is the bounded asyncio loop of the local cluster tests, against the
published loopback port.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster.actions import Action
from cluster.config import ClusterConfig
from cluster.runtime.base import NodeState
from cluster.runtime.choice import docker_engine_answers
from cluster.runtime.docker.config import DockerSettings
from cluster.runtime.docker.model import label_filter
from cluster.runtime.docker.runtime import DockerRuntime
from loadtest.verify import check_orders, fetch_orders
from tests.cluster.support import ACCOUNTS, LoadLoop, LoadResult
from tests.support import free_port, require

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def leftovers(runtime: DockerRuntime) -> dict[str, list[str]]:
    """Containers, networks and volumes that still carry the project's label."""
    labels = label_filter(runtime.settings.project)
    client = runtime.client
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters=labels)],
        "networks": [n.name for n in client.networks.list(filters=labels)],
        "volumes": [v.name for v in client.volumes.list(filters=labels)],
    }


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRuntime]:
    require(docker_engine_answers(), "a Docker engine")
    project = f"sc-test-{os.getpid()}-{secrets.token_hex(3)}"
    # The balancer's default retry budget: chaos must pass on the settings users get.
    settings = dataclasses.replace(DockerSettings.from_env(), project=project)
    config = ClusterConfig(
        state_dir=tmp_path_factory.mktemp("docker"),
        balancer_port=free_port(),
        admin_port=free_port(),  # published on 127.0.0.1 (never the default 9901 here)
        nodes=3,
        drain_seconds=2.0,
        ready_timeout=120.0,  # container starts are slow on a loaded 2-core machine
    )
    rt = DockerRuntime(config, settings)
    present = rt.image_present(settings.app_image)
    require(present, f"the image {settings.app_image} (`make images`)")
    rt.up(3)
    try:
        yield rt
    finally:
        rt.down()  # idempotent: the last test already took it down


@pytest.fixture(scope="module")
def ledger() -> list[dict[str, Any]]:
    """Every write acknowledged by any test of this module (they share one Redis)."""
    return []


def run_load(rt: DockerRuntime, seconds: float, workers: int = 6) -> LoadResult:
    load = LoadLoop(rt.status().balancer, workers=workers, max_seconds=seconds)
    return asyncio.run(load.run())


async def load_while(rt: DockerRuntime, action: Any, workers: int = 6) -> LoadResult:
    """The load loop while ``action`` (blocking) runs in a thread; bounded at 150 s."""
    load = LoadLoop(rt.status().balancer, workers=workers, max_seconds=150)
    task = asyncio.create_task(load.run())
    try:
        await asyncio.sleep(2.0)  # the load flows before anything happens
        await asyncio.to_thread(action)
        await asyncio.sleep(2.0)
    finally:
        load.stop.set()
        result = await task
    return result


def assert_orders_intact(rt: DockerRuntime, acks: list[dict[str, Any]]) -> None:
    listed = fetch_orders(rt.status().balancer, ACCOUNTS)
    broken = [i for i in check_orders(acks, listed) if not i.ok]
    assert broken == []


def balancer_failures(rt: DockerRuntime) -> list[str]:
    """The balancer's log lines of requests it did not answer with 2xx (for failure messages)."""
    (balancer,) = rt.containers("balancer")
    lines = balancer.logs().decode(errors="replace").splitlines()
    return [line for line in lines if '"attempts"' in line and '"status":2' not in line][-10:]


def by_node(rt: DockerRuntime, served_by: dict[str, int]) -> dict[str, int]:
    names = rt.hostnames()
    return {names.get(host, host): count for host, count in served_by.items()}


def test_up_runs_three_node_containers_found_by_labels(runtime: DockerRuntime) -> None:
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": runtime.settings.project,
        "CLUSTER_BALANCER_PORT": str(runtime.config.balancer_port),
        "CLUSTER_STATE_DIR": str(runtime.config.state_dir),
    }
    out = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "status", "--json", "--runtime", "docker"],
        capture_output=True, text=True, check=True, timeout=60, env=env,
    )  # fmt: skip
    status = json.loads(out.stdout)
    assert status["runtime"] == "docker"
    assert status["balancer"] == f"http://127.0.0.1:{runtime.config.balancer_port}"
    assert status["admin"] == f"http://127.0.0.1:{runtime.config.admin_port}"
    assert status["redis"].startswith("redis://")
    assert [n["name"] for n in status["nodes"]] == ["node-1", "node-2", "node-3"]
    for node in status["nodes"]:
        assert node["state"] == "running" and node["pid"] is None
        assert node["container"].startswith(runtime.settings.project)
    services = sorted(c.labels["com.docker.compose.service"] for c in runtime.containers())
    assert services == ["balancer", "node", "node", "node", "redis"]
    assert {b["state"] for b in runtime.balancer_status()["backends"]} == {"up"}  # admin port
    with pytest.raises(urllib.error.HTTPError) as public:  # not on the public port
        urllib.request.urlopen(status["balancer"] + "/_lb/status", timeout=10)
    assert public.value.code == 404


def test_the_balancer_container_turns_healthy_through_its_admin_port(
    runtime: DockerRuntime,
) -> None:
    (balancer,) = runtime.containers("balancer")
    deadline = time.monotonic() + 60
    while balancer.attrs["State"]["Health"]["Status"] != "healthy":
        assert time.monotonic() < deadline, balancer.attrs["State"]["Health"]
        time.sleep(1)
        balancer.reload()


def test_the_balancer_spreads_evenly_over_the_containers(
    runtime: DockerRuntime, ledger: list[dict[str, Any]]
) -> None:
    result = run_load(runtime, seconds=5, workers=3)
    ledger.extend(result.acks)
    assert result.failures == []
    served = by_node(runtime, result.served_by)
    total = sum(served.values())
    assert set(served) == {"node-1", "node-2", "node-3"}
    for node, count in served.items():
        assert abs(count / total - 1 / 3) < 0.1, f"{node}: {count} of {total}"


def test_no_request_fails_while_containers_are_killed_paused_and_partitioned(
    runtime: DockerRuntime, ledger: list[dict[str, Any]]
) -> None:
    done: list[str] = []

    def chaos() -> None:
        runtime.kill("node-1")  # packets to it vanish; the engine will not restart it
        done.append("kill")
        time.sleep(3.0)
        runtime.restart("node-1", wait=True)
        runtime.stop("node-2")  # docker pause: handshakes complete, nothing answers
        done.append("pause")
        time.sleep(4.0)
        runtime.cont("node-2")
        time.sleep(2.0)
        runtime.signal("node-3", Action.PARTITION)  # off the network, still running
        done.append("partition")
        time.sleep(4.0)
        runtime.signal("node-3", Action.HEAL)
        runtime.wait_ready({n.url for n in runtime.nodes()})

    result = asyncio.run(load_while(runtime, chaos))
    ledger.extend(result.acks)
    assert done == ["kill", "pause", "partition"]
    assert result.requests > 200
    assert result.failures == [], "\n".join(balancer_failures(runtime))
    assert all(n.state is NodeState.RUNNING for n in runtime.nodes())
    assert_orders_intact(runtime, ledger)


def test_chaos_kill_partitions_pauses_and_kills_containers_under_load(
    runtime: DockerRuntime, ledger: list[dict[str, Any]], tmp_path: Path
) -> None:
    events = tmp_path / "chaos.jsonl"
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": runtime.settings.project,
        "CLUSTER_BALANCER_PORT": str(runtime.config.balancer_port),
    }
    command = [
        sys.executable, "-m", "cluster.chaos.kill", "--runtime", "docker",
        "--state-dir", str(runtime.config.state_dir), "--signal", "PARTITION,STOP,KILL",
        "--count", "3", "--interval", "5", "--pause-for", "3", "--restart-after", "2",
        "--min-alive", "2", "--seed", "5", "--events", str(events),
    ]  # fmt: skip

    def chaos() -> None:
        subprocess.run(command, env=env, check=True, timeout=240, capture_output=True)

    result = asyncio.run(load_while(runtime, chaos))
    ledger.extend(result.acks)
    actions = [json.loads(line)["action"] for line in events.read_text().splitlines()]
    for done, undone in (("partition", "heal"), ("stop", "cont"), ("kill", "ready")):
        assert done in actions and undone in actions, actions
        assert actions.index(done) < actions.index(undone)
    assert result.failures == [], "\n".join(balancer_failures(runtime))
    runtime.wait_ready({n.url for n in runtime.nodes()})
    assert all(n.state is NodeState.RUNNING for n in runtime.nodes())
    assert_orders_intact(runtime, ledger)


def test_redis_killed_and_started_again_keeps_the_data(
    runtime: DockerRuntime, ledger: list[dict[str, Any]]
) -> None:
    # SIGKILL: no save on shutdown, so only the append-only file (fsync every second) can bring
    # the orders back; the last ones were acknowledged seconds ago.
    assert [a for a in ledger if a["kind"] == "create"], "earlier tests created orders"
    (redis,) = runtime.containers("redis")
    redis.kill()
    redis.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        redis.reload()
        if redis.attrs["State"].get("Health", {}).get("Status") == "healthy":
            break
        time.sleep(0.5)
    runtime.wait_ready({n.url for n in runtime.nodes()})
    assert_orders_intact(runtime, ledger)


def test_scale_2_to_4_to_2_under_load_fails_nothing_and_keeps_the_balancer(
    runtime: DockerRuntime, ledger: list[dict[str, Any]]
) -> None:
    (balancer,) = runtime.containers("balancer")
    started = balancer.attrs["State"]["StartedAt"]
    runtime.scale(2)
    steps: list[list[str]] = []
    names: dict[str, str] = {}  # container hostname -> node name, the removed ones included

    def scale() -> None:
        for count in (4, 2):
            steps.append([n.name for n in runtime.scale(count).nodes])
            names.update(runtime.hostnames())
            time.sleep(1.0)  # load flows on the new pool a while

    result = asyncio.run(load_while(runtime, scale, workers=12))
    ledger.extend(result.acks)
    assert steps == [[f"node-{i}" for i in range(1, 5)], ["node-1", "node-2"]]
    refused = [f for f in result.failures if "Connect" in f]
    assert refused == [] and result.failures == [], balancer_failures(runtime)
    served = {names.get(host, host) for host in result.served_by}
    assert {"node-3", "node-4"} <= served, "the new nodes got traffic"
    balancer.reload()
    assert balancer.attrs["State"]["StartedAt"] == started  # the same container, not restarted
    assert balancer.attrs["RestartCount"] == 0
    assert_orders_intact(runtime, ledger)


def test_scale_to_five_spreads_over_five_without_restarting_the_balancer(
    runtime: DockerRuntime, ledger: list[dict[str, Any]]
) -> None:
    (balancer,) = runtime.containers("balancer")
    started = balancer.attrs["State"]["StartedAt"]
    status = runtime.scale(5)
    assert [n.name for n in status.nodes] == [f"node-{i}" for i in range(1, 6)]
    balancer.reload()
    assert balancer.attrs["State"]["StartedAt"] == started
    assert balancer.attrs["RestartCount"] == 0
    result = run_load(runtime, seconds=5, workers=5)
    ledger.extend(result.acks)
    assert result.failures == []
    served = by_node(runtime, result.served_by)
    assert set(served) == {f"node-{i}" for i in range(1, 6)}
    total = sum(served.values())
    assert all(count / total > 0.1 for count in served.values()), served
    assert_orders_intact(runtime, ledger)


def test_down_leaves_no_container_network_or_volume(runtime: DockerRuntime) -> None:
    assert leftovers(runtime)["volumes"], "the Redis volume existed while the cluster ran"
    stopped = runtime.down()
    assert len(stopped) == 7  # redis, 5 nodes, balancer
    assert leftovers(runtime) == {"containers": [], "networks": [], "volumes": []}
    assert not Path(runtime.secret).exists()
