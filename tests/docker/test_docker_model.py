"""The Docker runtime's pure decisions and settings (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.runtime.base import NodeState, RuntimeUnavailable
from cluster.runtime.docker.config import DEFAULT_COMPOSE_FILE, DockerSettings
from cluster.runtime.docker.model import (
    choose_image,
    compose_command,
    compose_env,
    label_filter,
    network_filter,
    network_ip,
    node_name,
    node_state,
    node_url,
    published_port,
    ready,
)
from servicekit.settings import SettingError


def test_label_filters_name_the_project_and_service() -> None:
    assert label_filter("p") == {"label": ["com.docker.compose.project=p"]}
    assert label_filter("p", "node") == {
        "label": ["com.docker.compose.project=p", "com.docker.compose.service=node"]
    }
    assert network_filter("p")["label"][1] == "com.docker.compose.network=backplane"


def test_node_name_comes_from_the_compose_container_number() -> None:
    assert node_name({"com.docker.compose.container-number": "4"}) == "node-4"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("running", NodeState.RUNNING),
        ("restarting", NodeState.RUNNING),
        ("paused", NodeState.PAUSED),
        ("exited", NodeState.STOPPED),
        ("created", NodeState.STOPPED),
        ("dead", NodeState.STOPPED),
    ],
)
def test_docker_states_map_to_node_states(status: str, state: NodeState) -> None:
    assert node_state(status) is state


def test_network_ip_and_url_of_an_attached_and_a_partitioned_container() -> None:
    attrs = {"NetworkSettings": {"Networks": {"p_backplane": {"IPAddress": "172.20.0.3"}}}}
    assert network_ip(attrs, "p_backplane") == "172.20.0.3"
    assert network_ip({"NetworkSettings": {"Networks": {}}}, "p_backplane") is None
    assert network_ip({}, "p_backplane") is None
    assert node_url("172.20.0.3", "abc") == "http://172.20.0.3:8000"
    assert node_url(None, "abc") == "http://abc:8000"


def test_published_port() -> None:
    binding = {"HostIp": "0.0.0.0", "HostPort": "18080"}
    attrs = {"NetworkSettings": {"Ports": {"8080/tcp": [binding]}}}
    assert published_port(attrs) == 18080
    assert published_port({"NetworkSettings": {"Ports": {"8080/tcp": None}}}) is None
    assert published_port({}) is None
    admin = {"HostIp": "127.0.0.1", "HostPort": "19901"}
    attrs["NetworkSettings"]["Ports"]["9901/tcp"] = [admin]
    assert published_port(attrs, 9901) == 19901


def test_compose_command_prefers_the_plugin() -> None:
    assert compose_command(True, True) == ["docker", "compose"]
    assert compose_command(False, True) == ["docker-compose"]
    with pytest.raises(RuntimeUnavailable, match="docker-compose"):
        compose_command(False, False)


def test_choose_image_takes_the_request_else_the_first_present() -> None:
    present = {"b"}.__contains__
    assert choose_image("x", ("a", "b"), present) == "x"
    assert choose_image(None, ("a", "b"), present) == "b"
    assert choose_image(None, ("a",), present) is None


def test_compose_env_sets_the_file_variables_and_drops_an_inline_secret() -> None:
    env = compose_env(
        {"PATH": "/bin", "JWT_SECRET": "leak"},
        app_image="app:1",
        redis_image="redis:x",
        publish_port=18080,
        secret_file="/s/jwt",
        nodes=3,
        revocation="none",
        drain_seconds=2.0,
        extra=(("LOG_LEVEL", "DEBUG"),),
        admin_publish_port=19901,
    )
    assert "JWT_SECRET" not in env
    assert env["PATH"] == "/bin"
    assert env["APP_IMAGE"] == "app:1" and env["REDIS_IMAGE"] == "redis:x"
    assert env["BALANCER_PUBLISH_PORT"] == "18080"
    assert env["BALANCER_ADMIN_PUBLISH_PORT"] == "19901"
    assert env["JWT_SECRET_HOST_FILE"] == "/s/jwt"
    assert env["NODES"] == "3" and env["REVOCATION"] == "none"
    assert env["DRAIN_SECONDS"] == "2" and env["LOG_LEVEL"] == "DEBUG"
    no_drain = compose_env({}, app_image="a", redis_image="r", publish_port=1, secret_file="s",
                           nodes=1, revocation="none", drain_seconds=None)  # fmt: skip
    assert "DRAIN_SECONDS" not in no_drain


def test_ready_needs_every_url_up_and_every_gone_one_out() -> None:
    lb = {"backends": [{"url": "http://a:8000", "state": "up"},
                       {"url": "http://b:8000/", "state": "down"}]}  # fmt: skip
    assert ready(lb, {"http://a:8000"})
    assert not ready(lb, {"http://a:8000", "http://b:8000"})
    assert ready(lb, {"http://a:8000"}, gone={"http://b:8000"})
    assert not ready(lb, set(), gone={"http://a:8000"})


def test_settings_from_env() -> None:
    env = {"COMPOSE_PROJECT_NAME": "mine", "APP_IMAGE": "a:1", "REDIS_IMAGE": "r:1",
           "CLUSTER_COMPOSE_FILE": "/x/compose.yaml", "LOG_LEVEL": "DEBUG"}  # fmt: skip
    settings = DockerSettings.from_env(env)
    assert settings.project == "mine"
    assert settings.app_image == "a:1" and settings.redis_image == "r:1"
    assert settings.compose_file == Path("/x/compose.yaml")
    assert settings.extra_env == (("LOG_LEVEL", "DEBUG"),)
    default = DockerSettings.from_env({})
    assert default.project == "stateless-cluster" and default.redis_image is None
    assert default.compose_file == DEFAULT_COMPOSE_FILE and DEFAULT_COMPOSE_FILE.exists()


def test_a_bad_project_name_is_refused_with_its_variable() -> None:
    with pytest.raises(SettingError, match="COMPOSE_PROJECT_NAME: expected lower-case"):
        DockerSettings(project="Not OK")
    with pytest.raises(SettingError, match="COMPOSE_PROJECT_NAME"):
        DockerSettings.from_env({"COMPOSE_PROJECT_NAME": "-x"})
