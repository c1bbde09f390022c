"""NodeConfig.from_env: defaults, DESIGN's names, and one error naming each bad setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nodes.config import NodeConfig
from servicekit.settings import SettingError, describe, settings_of

SECRET = "s" * 32


def test_defaults_follow_design() -> None:
    config = NodeConfig.from_env({"JWT_SECRET": SECRET, "NODE_NAME": "n1"})
    assert (config.host, config.port) == ("0.0.0.0", 8000)
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert (config.jwt_ttl, config.revocation, config.drain_seconds) == (900, "none", 3.0)
    assert config.idempotency_ttl == 86400
    assert config.jwt_secret == SECRET.encode()


def test_every_setting_is_read() -> None:
    config = NodeConfig.from_env(
        {
            "NODE_NAME": "node-7",
            "NODE_HOST": "127.0.0.1",
            "NODE_PORT": "8087",
            "REDIS_URL": "redis://10.0.0.2:6390/1",
            "JWT_SECRET": SECRET,
            "JWT_TTL_SECONDS": "60",
            "REVOCATION": "cached",
            "DRAIN_SECONDS": "0.5",
            "IDEMPOTENCY_LEASE_SECONDS": "2",
            "LOG_LEVEL": "debug",
        }
    )
    assert (config.node_name, config.host, config.port) == ("node-7", "127.0.0.1", 8087)
    assert (config.jwt_ttl, config.revocation, config.drain_seconds) == (60, "cached", 0.5)
    assert (config.idempotency_lease, config.log_level) == (2.0, "DEBUG")


def test_node_name_defaults_to_the_hostname() -> None:
    assert NodeConfig.from_env({"JWT_SECRET": SECRET}).node_name


def test_secret_is_never_in_the_repr() -> None:
    assert SECRET not in repr(NodeConfig.from_env({"JWT_SECRET": SECRET}))


def test_secret_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"f" * 40 + b"\n")
    config = NodeConfig.from_env({"JWT_SECRET_FILE": str(path)})
    assert config.jwt_secret == b"f" * 40


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "JWT_SECRET"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET: expected at least 32 bytes, got 5 bytes"),
        ({"JWT_SECRET_FILE": "/nonexistent/secret"}, "JWT_SECRET_FILE: cannot read"),
        ({"JWT_SECRET": SECRET, "JWT_SECRET_FILE": "/x"}, "JWT_SECRET_FILE: JWT_SECRET is set too"),
        ({"NODE_PORT": "http"}, "NODE_PORT: expected an integer from 1 to 65535, got 'http'"),
        ({"NODE_PORT": "70000"}, "NODE_PORT"),
        ({"JWT_TTL_SECONDS": "0"}, "JWT_TTL_SECONDS"),
        ({"REVOCATION": "sometimes"}, "REVOCATION"),
        ({"DRAIN_SECONDS": "-1"}, "DRAIN_SECONDS"),
        ({"DRAIN_SECONDS": "nan"}, "DRAIN_SECONDS"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
        ({"NODE_NAME": "bad name"}, "NODE_NAME"),
        ({"NODE_NAME": "n" * 65}, "NODE_NAME"),
        ({"JWT_ISSUER": ""}, "JWT_ISSUER"),
        ({"IDEMPOTENCY_TTL_SECONDS": "59"}, "IDEMPOTENCY_TTL_SECONDS"),
        ({"PASSWORD_HASH_COST": "21"}, "PASSWORD_HASH_COST"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], named: str) -> None:
    base = (
        {} if "JWT_SECRET" in env or "JWT_SECRET_FILE" in env or not env else {"JWT_SECRET": SECRET}
    )
    with pytest.raises(SettingError, match=named):
        NodeConfig.from_env({**base, **env})


def test_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("too short\n")
    with pytest.raises(
        SettingError, match="JWT_SECRET_FILE: expected at least 32 bytes, got 9 bytes"
    ):
        NodeConfig.from_env({"JWT_SECRET_FILE": str(path)})


def test_blank_means_the_default() -> None:
    config = NodeConfig.from_env({"JWT_SECRET": SECRET, "NODE_HOST": "", "NODE_PORT": " "})
    assert (config.host, config.port) == ("0.0.0.0", 8000)


def test_a_short_secret_is_never_echoed() -> None:
    with pytest.raises(SettingError) as caught:
        NodeConfig.from_env({"JWT_SECRET": "hunter2-hunter2"})
    assert "hunter2" not in str(caught.value)


def test_every_field_is_a_declared_setting() -> None:
    names = [spec.name for spec in settings_of(NodeConfig)]
    assert names[:4] == ["NODE_NAME", "JWT_SECRET", "NODE_HOST", "NODE_PORT"]
    assert len(names) == len(dataclasses.fields(NodeConfig))
    assert "| `JWT_SECRET` or `JWT_SECRET_FILE` | at least 32 bytes | required |" in describe(
        NodeConfig
    )
