"""The zero-failure claim at full speed, on containers: wrk through the published balancer to
three node containers while one is killed, one stopped (SIGTERM) and one paused."""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
from pathlib import Path

import pytest

from cluster.config import ClusterConfig
from cluster.runtime.choice import docker_engine_answers
from cluster.runtime.docker.config import DockerSettings
from cluster.runtime.docker.runtime import DockerRuntime
from loadtest.fullspeed.run import Settings, print_summary, run
from tests.support import free_port, require

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_full_speed_chaos_on_containers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(shutil.which("wrk") is not None, "wrk (Debian: apt-get install wrk)")
    require(docker_engine_answers(), "a Docker engine")
    project = f"sc-fs-{os.getpid()}-{secrets.token_hex(3)}"
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", project)  # chaos-kill finds the same project
    settings = dataclasses.replace(DockerSettings.from_env(), project=project)
    config = ClusterConfig(state_dir=tmp_path / "state", balancer_port=free_port(), nodes=3,
                           admin_port=free_port(), drain_seconds=2.0,
                           ready_timeout=120.0)  # fmt: skip
    runtime = DockerRuntime(config, settings)
    require(runtime.image_present(settings.app_image), f"the image {settings.app_image}")
    status = runtime.up(3)
    try:
        # 40 s: containers come back more slowly than processes, and chaos waits for them.
        summary = run(runtime, status.balancer, tmp_path / "out", Settings(duration=40))
    finally:
        runtime.down()
    print_summary(summary, "docker")
    assert summary.broken == []
    post = next(lane for lane in summary.lanes if lane.kind == "post")
    assert post.statuses.get(201, 0) > 500, "a full-speed run creates many orders"
