"""compose/compose.yaml as Compose reads it (``config``): services, variables, Swarm keys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cluster.runtime.docker.compose import Compose
from tests.support import require

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "compose.yaml"

pytestmark = pytest.mark.docker


def compose_config(tmp_path: Path, *args: str, **env: str) -> str:
    available = shutil.which("docker-compose") is not None or shutil.which("docker") is not None
    require(available, "docker compose or docker-compose")
    secret = tmp_path / "jwt"
    secret.write_text("x" * 64)
    full_env = {**os.environ, "JWT_SECRET_HOST_FILE": str(secret), **env}
    return Compose("sc-config-check", COMPOSE_FILE).run(["config", *args], full_env, timeout=60)


def test_the_three_services(tmp_path: Path) -> None:
    services = compose_config(tmp_path, "--services").split()
    assert sorted(services) == ["balancer", "node", "redis"]


def test_images_port_and_replicas_come_from_the_environment(tmp_path: Path) -> None:
    out = compose_config(
        tmp_path, APP_IMAGE="me/app:1", REDIS_IMAGE="me/redis:1", BALANCER_PUBLISH_PORT="18081",
        NODES="4",
    )  # fmt: skip
    assert "image: me/app:1" in out and "image: me/redis:1" in out
    assert "published: 18081" in out or "18081:8080" in out
    assert "replicas: 4" in out


def test_the_admin_port_is_published_on_loopback_only(tmp_path: Path) -> None:
    out = compose_config(tmp_path, BALANCER_ADMIN_PUBLISH_PORT="19911")
    assert "127.0.0.1:19911:9901" in out  # never on every interface of the host
    assert "BALANCER_ADMIN_HOST: 0.0.0.0" in out  # inside the container, so Docker can reach it
    assert "127.0.0.1:9901:9901" in compose_config(tmp_path)  # the default


def test_defaults_and_the_swarm_deployment_keys(tmp_path: Path) -> None:
    out = compose_config(tmp_path)
    for needle in (
        "image: redis:7-alpine",
        "image: stateless-cluster/app:latest",
        "BALANCER_DISCOVER: node:8000",
        "REDIS_URL: redis://redis:6379/0",
        "JWT_SECRET_FILE: /run/secrets/jwt_secret",
        "endpoint_mode: dnsrr",
        "depends_on:",
        "order: start-first",
        "stop_grace_period: 15s",
        "- --appendonly",
    ):
        assert needle in out, needle
    assert "container_name" not in out  # the node service scales
