"""The zero-failure claim at full speed, on local processes: wrk through the balancer to three
real nodes while one is SIGKILLed, one SIGTERMed and one SIGSTOPped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loadtest.fullspeed.run import Settings, print_summary, run
from tests.cluster.support import running_cluster
from tests.support import require

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_full_speed_chaos_loses_nothing(tmp_path: Path) -> None:
    require(shutil.which("wrk") is not None, "wrk (Debian: apt-get install wrk)")
    with running_cluster(tmp_path / "cluster", nodes=3) as runtime:
        summary = run(runtime, runtime.status().balancer, tmp_path / "out", Settings())
    print_summary(summary, "local")  # shown with -s, and in the CI log on failure
    assert summary.broken == []
    post = next(lane for lane in summary.lanes if lane.kind == "post")
    assert post.statuses.get(201, 0) > 1000, "a full-speed run creates thousands of orders"
