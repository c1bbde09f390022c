"""``make bench-balancer`` end to end, very short: every target answers, figures are parsed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.balancer.conftest import ROOT
from tests.support import require


def _have(name: str) -> bool:
    return shutil.which(name) is not None or Path(f"/usr/sbin/{name}").exists()


@pytest.mark.slow
def test_bench_runs_every_target(tmp_path: Path) -> None:
    for tool in ("wrk", "haproxy", "nginx"):
        require(_have(tool), f"{tool} (Debian: apt-get install {tool})")
    report = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.bench.balancer",
            "--backends",
            "stub",
            "--rounds",
            "1",
            "--duration",
            "1",
            "--warmup",
            "0.5",
            "--connections",
            "8",
            "--json",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(report.read_text())["summary"]
    assert set(summary) == {"direct", "balancer", "haproxy", "nginx"}
    for name, row in summary.items():
        assert row["rps"] > 0 and row["errors"] == 0, name
        assert row["p99_ms"] >= row["p50_ms"] > 0, name
    assert summary["haproxy"]["rps_vs_haproxy"] == 1.0
    assert "target (≥ 0.8× HAProxy's req/s" in done.stdout
