"""bench-scale's Docker fleet, behaviour only (no throughput): one node container started with
``--cpus 0.15``, answering through this balancer, its CPU read, and every container and the
network removed when the run ends, Ctrl-C included."""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from pathlib import Path

import pytest

from cluster.runtime.choice import docker_engine_answers
from cluster.runtime.docker.config import DockerSettings
from loadtest.api import call, login
from loadtest.bench.scale import dockerspec
from tests.support import require

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_a_limited_node_container_answers_through_the_balancer_and_is_removed(
    tmp_path: Path,
) -> None:
    require(docker_engine_answers(), "a Docker engine")
    from cluster.runtime.docker.compose import docker_client, image_present
    from loadtest.bench.scale.containers import start_docker
    from loadtest.bench.scale.run import start_ours

    image = DockerSettings.from_env().app_image
    client = docker_client()
    require(image_present(client, image), f"the image {image}")
    run = f"bench-scale-test-{secrets.token_hex(3)}"
    mine = {"label": f"{dockerspec.LABEL}={run}"}
    with pytest.raises(KeyboardInterrupt), ExitStack() as stack:
        fleet = start_docker(stack, tmp_path, 1, 0.15, image, run=run)
        names = sorted(c.name for c in client.containers.list(filters=mine))
        assert names == [f"{run}-node-1", f"{run}-redis"]
        node = client.containers.get(f"{run}-node-1")
        assert node.attrs["HostConfig"]["NanoCpus"] == 150_000_000
        port, _, _ = start_ours(stack, fleet.addresses[0], tmp_path)
        base = f"http://127.0.0.1:{port}"
        assert call(f"{base}/whoami", token=login(base, "alice"))["node"] == "node-1"
        assert fleet.nodes[0]() > 0 and fleet.redis() > 0
        raise KeyboardInterrupt  # Ctrl-C in the middle of a run
    assert client.containers.list(all=True, filters=mine) == []
    assert client.networks.list(filters=mine) == []
    client.close()
