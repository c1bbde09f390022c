"""Redis HA on Docker: compose/compose.ha.yaml as Compose and Swarm read it, and the HA cluster
with the primary container killed under load.

The cluster test runs its own Compose project (``sc-ha-<pid>-<random>``) on a free host port,
the nodes with ``REDIS_WAIT_REPLICAS=1``, and asserts what docs/operations.md states: no
request fails, no acknowledged write is lost, the invariants hold, and ``down`` leaves nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.config import ClusterConfig
from cluster.runtime.base import NodeState
from cluster.runtime.choice import docker_engine_answers
from cluster.runtime.docker.compose import Compose
from cluster.runtime.docker.config import DockerSettings
from cluster.runtime.docker.redis_ha import HA_FILE
from cluster.runtime.docker.runtime import DockerRuntime
from loadtest.failover.measure import lost_writes
from loadtest.failover.run import kill_primary
from loadtest.verify import check_orders, fetch_orders
from tests.cluster.support import ACCOUNTS, LoadLoop, LoadResult
from tests.docker.test_docker_cluster import leftovers
from tests.support import free_port, require

COMPOSE_FILE = HA_FILE.with_name("compose.yaml")
pytestmark = pytest.mark.docker


def _env(tmp_path: Path) -> dict[str, str]:
    secret = tmp_path / "jwt"
    secret.write_text("x" * 64)
    return {**os.environ, "JWT_SECRET_HOST_FILE": str(secret)}


def test_the_override_adds_replicas_and_sentinels_and_points_the_nodes_at_them(
    tmp_path: Path,
) -> None:
    require(shutil.which("docker-compose") or shutil.which("docker"), "docker compose")
    compose = Compose("sc-ha-config", COMPOSE_FILE, HA_FILE)
    services = compose.run(["config", "--services"], _env(tmp_path), timeout=60).split()
    assert sorted(services) == [
        "balancer", "node", "redis", "redis-2", "redis-3", "sentinel-1", "sentinel-2",
        "sentinel-3",
    ]  # fmt: skip
    out = compose.run(["config"], _env(tmp_path), timeout=60)
    assert "REDIS_SENTINELS: sentinel-1:26379,sentinel-2:26379,sentinel-3:26379" in out
    assert "sentinel down-after-milliseconds mymaster 1000" in " ".join(out.split())
    assert "resolve-hostnames" not in out  # addresses, not names: compose.ha.yaml says why
    default = Compose("sc-ha-config", COMPOSE_FILE).run(["config"], _env(tmp_path), timeout=60)
    assert "REDIS_SENTINELS" not in default and "sentinel-1" not in default


def test_swarm_s_stack_loader_takes_both_files(tmp_path: Path) -> None:
    """``docker stack config`` runs Swarm's loader without a swarm: what deploy would read."""
    require(shutil.which("docker") is not None, "the docker CLI")
    argv = ["docker", "stack", "config", "-c", str(COMPOSE_FILE), "-c", str(HA_FILE)]
    done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    if "unknown command" in done.stderr or "is not a docker command" in done.stderr:
        pytest.skip("this docker CLI has no `stack config`")
    assert done.returncode == 0, done.stderr
    assert "sentinel-3:" in done.stdout and "endpoint_mode: dnsrr" in done.stdout


@pytest.fixture(scope="module")
def ha_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRuntime]:
    require(docker_engine_answers(), "a Docker engine")
    project = f"sc-ha-{os.getpid()}-{secrets.token_hex(3)}"
    settings = dataclasses.replace(DockerSettings.from_env(), project=project)
    config = ClusterConfig(
        state_dir=tmp_path_factory.mktemp("docker-ha"), balancer_port=free_port(), nodes=3,
        drain_seconds=2.0, ready_timeout=120.0, ha=True, wait_replicas=1,
    )  # fmt: skip
    rt = DockerRuntime(config, settings)
    require(rt.image_present(settings.app_image), f"the image {settings.app_image}")
    rt.up(3)
    try:
        yield rt
    finally:
        for name in ("sentinel-1", "redis-2"):  # what the sentinels did, for a failure message
            for container in rt.containers(name):
                print(f"--- {name}:\n" + container.logs(tail=40).decode(errors="replace"))
        rt.down()
        assert leftovers(rt) == {"containers": [], "networks": [], "volumes": []}


async def _load_while_killing(rt: DockerRuntime, kills: int) -> tuple[LoadResult, list[str]]:
    load = LoadLoop(rt.status().balancer, workers=6, max_seconds=120)
    task = asyncio.create_task(load.run())
    promoted = []
    try:
        await asyncio.sleep(2.0)
        for index in range(kills):
            if index:
                await asyncio.sleep(5.0)
            kill = await asyncio.to_thread(kill_primary, rt)
            assert kill.new_primary is not None, f"no new primary after killing {kill.killed}"
            promoted.append(kill.new_primary)
        await asyncio.sleep(1.0)
    finally:
        load.stop.set()
        result = await task
    return result, promoted


@pytest.mark.slow
def test_killing_the_primary_container_under_load_fails_nothing_and_loses_nothing(
    ha_runtime: DockerRuntime,
) -> None:
    assert ha_runtime.status().sentinels == (
        "sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379",
    )  # fmt: skip
    assert ha_runtime.redis_primary() == "redis"
    result, promoted = asyncio.run(_load_while_killing(ha_runtime, kills=2))
    assert promoted[0] != "redis" and promoted[1] != promoted[0]
    assert result.requests > 200
    assert result.failures == []
    listed = fetch_orders(ha_runtime.status().balancer, ACCOUNTS)
    assert [i for i in check_orders(result.acks, listed) if not i.ok] == []
    assert lost_writes(result.acks, listed) == (0, 0)
    assert all(m.state is NodeState.RUNNING for m in ha_runtime.redis_members())
