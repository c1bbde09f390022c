"""A short headless Locust run against a local cluster, with chaos-kill killing one node.

Locust runs as a subprocess (it monkey-patches its process with gevent); so does chaos-kill,
exactly as a user runs them. Gated on zero failed requests and intact orders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.runtime.base import NodeState
from cluster.runtime.local import LocalRuntime
from loadtest.verify import verify
from tests.cluster.support import ACCOUNTS, running_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as runtime:
        yield runtime


def chaos_kill(cluster: LocalRuntime, *args: str) -> list[str]:
    return [sys.executable, "-m", "cluster.chaos.kill", "--runtime", "local",
            "--state-dir", str(cluster.config.state_dir), *args]  # fmt: skip


def test_chaos_dry_run_touches_nothing(cluster: LocalRuntime, tmp_path: Path) -> None:
    before = {n.name: n.pid for n in cluster.nodes()}
    events = tmp_path / "events.jsonl"
    subprocess.run(
        chaos_kill(cluster, "--dry-run", "--count", "2", "--interval", "0.2", "--seed", "1",
                   "--events", str(events)),
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["action"] for e in lines] == ["kill", "kill"]
    assert all(e["dry_run"] and e["target"] in before for e in lines)
    assert {n.name: n.pid for n in cluster.nodes()} == before
    assert all(n.state is NodeState.RUNNING for n in cluster.nodes())


def test_locust_with_one_kill_has_no_failure(cluster: LocalRuntime, tmp_path: Path) -> None:
    acks, summary, events = tmp_path / "acks.jsonl", tmp_path / "summary.json", tmp_path / "ev"
    env = {**os.environ, "LOAD_ACK_FILE": str(acks), "LOAD_SUMMARY_FILE": str(summary)}
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "12",
         "-r", "6", "-t", "15s", "--host", cluster.status().balancer, "--only-summary",
         "--csv", str(tmp_path / "locust"), "--csv-full-history"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(4)
        chaos = subprocess.run(
            chaos_kill(cluster, "--count", "1", "--interval", "2", "--signal", "KILL",
                       "--restart-after", "1", "--min-alive", "2", "--events", str(events)),
            timeout=90, capture_output=True, text=True,
        )  # fmt: skip
        output, _ = locust.communicate(timeout=120)
    finally:
        if locust.poll() is None:
            locust.kill()
            locust.wait()
    assert chaos.returncode == 0, chaos.stderr
    actions = [json.loads(line)["action"] for line in events.read_text().splitlines()]
    assert actions == ["kill", "restart", "ready"]
    assert locust.returncode == 0, output.decode()[-3000:]
    counters = json.loads(summary.read_text())
    assert counters["failures"] == 0 and counters["requests"] > 100
    assert counters["creates_acknowledged"] > 0 and counters["updates_acknowledged"] > 0
    assert (tmp_path / "locust_stats_history.csv").exists()
    broken = [i for i in verify(cluster.status().balancer, acks, ACCOUNTS) if not i.ok]
    assert broken == []
