"""The local cluster with Redis HA (``cluster up --ha``): the primary killed under load.

1 primary + 2 replicas + 3 sentinels + 3 nodes on free ports, the nodes with
``REDIS_WAIT_REPLICAS=1``. The primary is SIGKILLed twice under load (the second time it is
the server promoted the first time); what the test asserts is what docs/operations.md states:
no request fails (the nodes ride the failover out within ``REDIS_FAILOVER_SECONDS``), no
acknowledged write is lost (WAIT), and the four invariants hold.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.runtime.base import NodeState
from cluster.runtime.local import LocalRuntime
from cluster.runtime.net import free_ports
from loadtest.failover.measure import lost_writes
from loadtest.failover.run import kill_primary
from loadtest.verify import check_orders, fetch_orders
from tests.cluster.support import ACCOUNTS, LoadLoop, LoadResult, assert_all_gone, cluster_config
from tests.support import REDIS_NEEDED, RedisServer, require

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    ports = free_ports(6)
    config = dataclasses.replace(
        cluster_config(tmp_path_factory.mktemp("ha"), 3), ha=True, wait_replicas=1,
        redis_port=ports[0], replica_ports=tuple(ports[1:3]), sentinel_ports=tuple(ports[3:]),
    )  # fmt: skip
    runtime = LocalRuntime(config)
    runtime.up(3)
    processes = runtime.processes()
    try:
        yield runtime
    finally:
        runtime.down()
        assert_all_gone(runtime, processes)


def test_status_names_the_sentinels_and_the_primary(cluster: LocalRuntime) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "status", "--json", "--runtime", "local",
         "--state-dir", str(cluster.config.state_dir)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    status = json.loads(out.stdout)
    assert status["sentinels"] == [f"127.0.0.1:{p}" for p in cluster.config.sentinel_ports]
    assert cluster.redis_primary() == "redis"
    assert status["redis"] == f"redis://127.0.0.1:{cluster.config.redis_port}/0"
    members = cluster.redis_members()
    assert [m.name for m in members] == ["redis", "redis-2", "redis-3"]
    assert all(m.state is NodeState.RUNNING for m in members)


async def load_while_killing(runtime: LocalRuntime, kills: int) -> tuple[LoadResult, list[str]]:
    load = LoadLoop(runtime.status().balancer, workers=6, max_seconds=90)
    task = asyncio.create_task(load.run())
    promoted = []
    try:
        await asyncio.sleep(2.0)
        for index in range(kills):
            if index:
                await asyncio.sleep(4.0)  # the restarted server syncs and the sentinels see it
            kill = await asyncio.to_thread(kill_primary, runtime)
            assert kill.new_primary is not None, f"no new primary after killing {kill.killed}"
            assert kill.seconds is not None and kill.seconds < 10
            promoted.append(kill.new_primary)
        await asyncio.sleep(1.0)
    finally:
        load.stop.set()
        result = await task
    return result, promoted


def test_killing_the_primary_under_load_fails_no_request_and_loses_no_write(
    cluster: LocalRuntime,
) -> None:
    result, promoted = asyncio.run(load_while_killing(cluster, kills=2))
    assert len(set(promoted)) == 2 and "redis" not in promoted[:1]
    assert result.requests > 200
    assert result.failures == []
    listed = fetch_orders(cluster.status().balancer, ACCOUNTS)
    assert [i for i in check_orders(result.acks, listed) if not i.ok] == []
    assert lost_writes(result.acks, listed) == (0, 0)
    # The server killed last came back as a replica: three data servers run, one primary.
    assert all(m.state is NodeState.RUNNING for m in cluster.redis_members())
    assert cluster.redis_primary() == promoted[-1]


def test_chaos_kill_targets_the_primary(cluster: LocalRuntime, tmp_path: Path) -> None:
    before = cluster.redis_primary()
    events = tmp_path / "chaos.jsonl"
    subprocess.run(
        [sys.executable, "-m", "cluster.chaos.kill", "--runtime", "local", "--state-dir",
         str(cluster.config.state_dir), "--interval", "0.5", "--count", "1", "--target",
         "redis-primary", "--restart-after", "3", "--events", str(events)],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [(e["action"], e["target"]) for e in lines] == [
        ("kill", before), ("restart", before), ("ready", before),
    ]  # fmt: skip
    assert cluster.redis_primary() not in (None, before)
