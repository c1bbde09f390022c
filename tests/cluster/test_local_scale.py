"""``cluster scale`` on the local runtime under load: 2 → 4 → 2 with the same balancer process
(same pid: the pool changes through ``PUT /_lb/backends``), no failed request, no refused
connection, every acknowledged write intact."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from cluster.runtime.base import NodeState
from cluster.runtime.local import LocalRuntime
from loadtest.verify import check_orders, fetch_orders
from tests.cluster.support import ACCOUNTS, LoadLoop, assert_all_gone, cluster_config
from tests.support import REDIS_NEEDED, RedisServer, require

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_scale_2_to_4_to_2_under_load_keeps_the_balancer_and_fails_nothing(
    tmp_path: Path,
) -> None:
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    config = dataclasses.replace(cluster_config(tmp_path, 4), nodes=2)
    runtime = LocalRuntime(config)
    runtime.up(2)
    try:
        balancer = runtime.processes()[0]
        assert balancer.role == "balancer"
        steps: list[list[str]] = []

        def scale() -> None:
            for count in (4, 2):
                status = runtime.scale(count)
                steps.append([n.name for n in status.nodes])
                lb = runtime.balancer_status()
                assert {b["state"] for b in lb["backends"]} == {"up"}
                assert len(lb["backends"]) == count
                asyncio.run(asyncio.sleep(1.0))  # load flows on the new pool a while

        async def under_load() -> LoadLoop:
            load = LoadLoop(runtime.status().balancer, workers=12, max_seconds=90)
            task = asyncio.create_task(load.run())
            await asyncio.sleep(1.0)
            await asyncio.to_thread(scale)
            load.stop.set()
            await task
            return load

        load = asyncio.run(under_load())
        result = load.result
        assert steps == [["node-1", "node-2", "node-3", "node-4"], ["node-1", "node-2"]]
        refused = [f for f in result.failures if "Connect" in f]
        assert refused == [] and result.failures == []
        assert result.requests > 300
        assert {"node-3", "node-4"} <= set(result.served_by), "the new nodes got traffic"
        after = runtime.processes()[0]
        assert (after.pid, after.start_ticks) == (balancer.pid, balancer.start_ticks)
        assert [n.state for n in runtime.nodes()] == [NodeState.RUNNING] * 2
        listed = fetch_orders(runtime.status().balancer, ACCOUNTS)
        assert [i for i in check_orders(result.acks, listed) if not i.ok] == []
    finally:
        processes = runtime.processes() if runtime.state_path.exists() else ()
        runtime.down()
    assert_all_gone(runtime, processes)
