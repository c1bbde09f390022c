"""The whole local cluster under load: spread, chaos, rolling restart, clean shutdown.

One cluster (3 nodes, free ports, a temp state dir) serves the tests of this module; the last
test starts its own to check that ``down`` leaves nothing behind after chaos.
"""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.runtime.base import NodeState
from cluster.runtime.local import LocalRuntime
from loadtest.verify import check_orders, fetch_orders
from tests.cluster.support import (
    ACCOUNTS,
    LoadLoop,
    LoadResult,
    assert_all_gone,
    running_cluster,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def ledger() -> list[dict[str, object]]:
    """Every write acknowledged by any test of this module (they share one Redis)."""
    return []


async def load_while(runtime: LocalRuntime, action: object, workers: int = 6) -> LoadResult:
    """Run the load loop while ``action`` (a blocking callable) runs in a thread."""
    assert callable(action)
    load = LoadLoop(runtime.status().balancer, workers=workers, max_seconds=90)
    task = asyncio.create_task(load.run())
    try:
        await asyncio.sleep(1.0)  # the load is flowing before anything happens
        await asyncio.to_thread(action)
        await asyncio.sleep(1.0)
    finally:
        load.stop.set()
        result = await task
    return result


def assert_orders_intact(
    runtime: LocalRuntime, result: LoadResult, ledger: list[dict[str, object]]
) -> None:
    ledger.extend(result.acks)
    listed = fetch_orders(runtime.status().balancer, ACCOUNTS)
    broken = [i for i in check_orders(ledger, listed) if not i.ok]
    assert broken == []


def test_status_json_is_the_design_shape(cluster: LocalRuntime) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "status", "--json", "--runtime", "local",
         "--state-dir", str(cluster.config.state_dir)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    status = json.loads(out.stdout)
    assert set(status) == {"runtime", "balancer", "redis", "admin", "nodes"}
    assert status["runtime"] == "local"
    assert status["balancer"] == f"http://127.0.0.1:{cluster.config.balancer_port}"
    assert status["admin"] == f"http://127.0.0.1:{cluster.config.admin_port}"
    with urllib.request.urlopen(status["admin"] + "/_lb/status", timeout=10) as answer:
        assert len(json.load(answer)["backends"]) == 3
    with pytest.raises(urllib.error.HTTPError) as public:  # not on the public port
        urllib.request.urlopen(status["balancer"] + "/_lb/status", timeout=10)
    assert public.value.code == 404
    assert status["redis"] == f"redis://127.0.0.1:{cluster.config.redis_port}/0"
    assert [n["name"] for n in status["nodes"]] == ["node-1", "node-2", "node-3"]
    for node in status["nodes"]:
        assert set(node) == {"name", "url", "pid", "container", "state"}
        assert node["state"] == "running" and node["container"] is None
        assert isinstance(node["pid"], int)
    secret = Path(json.loads(cluster.state_path.read_text())["secret_file"])
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_round_robin_spreads_requests_evenly(
    cluster: LocalRuntime, ledger: list[dict[str, object]]
) -> None:
    async def sequential() -> LoadResult:
        load = LoadLoop(cluster.status().balancer, workers=3, max_seconds=4)
        return await load.run()

    result = asyncio.run(sequential())
    ledger.extend(result.acks)
    assert result.failures == []
    total = sum(result.served_by.values())
    assert set(result.served_by) == {"node-1", "node-2", "node-3"}
    for node, count in result.served_by.items():
        assert abs(count / total - 1 / 3) < 0.08, f"{node}: {count} of {total}"


def test_no_request_fails_while_nodes_are_killed_terminated_and_stopped(
    cluster: LocalRuntime, ledger: list[dict[str, object]]
) -> None:
    events: list[tuple[str, str]] = []

    def chaos() -> None:
        for node, signal in (("node-1", "KILL"), ("node-2", "TERM"), ("node-3", "STOP")):
            cluster.signal(node, signal)
            events.append((node, signal))
            time.sleep(2.5)
            if signal == "STOP":
                cluster.cont(node)
                time.sleep(1.0)
            else:
                cluster.restart(node, wait=True)

    result = asyncio.run(load_while(cluster, chaos))
    assert len(events) == 3
    assert result.requests > 200
    assert result.failures == []
    assert all(n.state is NodeState.RUNNING for n in cluster.nodes())
    assert_orders_intact(cluster, result, ledger)


def test_rolling_restart_loses_no_request(
    cluster: LocalRuntime, ledger: list[dict[str, object]]
) -> None:
    before = {n.name: n.pid for n in cluster.nodes()}
    result = asyncio.run(load_while(cluster, cluster.rolling_restart))
    after = {n.name: n.pid for n in cluster.nodes()}
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in before), "every node was replaced"
    assert result.failures == []
    lb = cluster.balancer_status()
    assert {b["state"] for b in lb["backends"]} == {"up"}
    assert_orders_intact(cluster, result, ledger)


def test_down_leaves_nothing_after_chaos(tmp_path: Path) -> None:
    with running_cluster(tmp_path, nodes=2) as runtime:
        processes = runtime.processes()
        runtime.stop("node-1")  # frozen: down must CONT it before TERM
        runtime.kill("node-2")
        time.sleep(0.2)
        states = {n.name: n.state for n in runtime.nodes()}
        assert states == {"node-1": NodeState.PAUSED, "node-2": NodeState.STOPPED}
        stopped = runtime.down()
        assert "node-1" in stopped and "redis" in stopped
        assert_all_gone(runtime, processes)
        assert runtime.down() == []  # idempotent
