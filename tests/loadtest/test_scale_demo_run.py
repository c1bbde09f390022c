"""``make demo SCENARIO=scale`` for real, short: 2 → 4 → 2 CPU-limited nodes at full load, on
free ports; nothing fails, throughput rises on the scaled-out pool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cluster.runtime.net import free_ports
from loadtest import scale_demo
from loadtest.bench import cgroup
from tests.support import REDIS_NEEDED, RedisServer, require

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(240)]


def test_the_scale_scenario_passes_and_throughput_rises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(shutil.which("wrk") is not None, "wrk (Debian: apt-get install wrk)")
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    balancer, admin, redis, *nodes = free_ports(7)
    for name, value in {
        "CLUSTER_BALANCER_PORT": balancer,
        "CLUSTER_ADMIN_PORT": admin,
        "CLUSTER_REDIS_PORT": redis,
        "CLUSTER_NODE_PORTS": ",".join(map(str, nodes)),
        "CLUSTER_STATE_DIR": tmp_path / "cluster",
        "CLUSTER_READY_TIMEOUT": 60,
    }.items():
        monkeypatch.setenv(name, str(value))
    argv = ["--duration", "24", "--connections", "16", "--reports", str(tmp_path)]
    assert scale_demo.main(argv) == 0
    (summary_file,) = tmp_path.glob("scale-*/summary.json")
    summary = json.loads(summary_file.read_text())
    phases = {p["name"]: p for p in summary["phases"]}
    assert summary["same balancer process"] is True
    if cgroup.unavailable() is None:  # capacity-limited nodes: more of them, more throughput
        assert phases["scaled out"]["rps"] > 1.2 * phases["before the scale-out"]["rps"], phases
    assert (tmp_path / summary_file.parent.name / "timeline.png").exists()
