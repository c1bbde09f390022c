from __future__ import annotations

import pytest

from balancer.config import BalancerConfig
from servicekit.settings import SettingError

BACKENDS = {"BALANCER_BACKENDS": "http://127.0.0.1:8081, http://localhost:8082/"}


def test_defaults() -> None:
    config = BalancerConfig.from_env(BACKENDS)
    assert config.backends == ("http://127.0.0.1:8081", "http://localhost:8082")
    assert (config.host, config.port, config.max_tries, config.rise, config.fall) == (
        "0.0.0.0",
        8080,
        3,
        2,
        2,
    )
    assert config.max_body == 1 << 20 and config.retry_budget == 0.2 and config.retry_min == 10
    assert (config.client_idle_timeout, config.client_header_timeout) == (60.0, 10.0)
    assert (config.try_timeout, config.request_timeout, config.eject_consecutive) == (3.0, 30.0, 3)


def test_admin_listener_and_explain() -> None:
    config = BalancerConfig.from_env(BACKENDS)
    assert (config.admin_host, config.admin_port, config.explain) == ("127.0.0.1", 9901, False)
    env = {**BACKENDS, "BALANCER_ADMIN_PORT": "0", "BALANCER_EXPLAIN": "1"}
    config = BalancerConfig.from_env(env)
    assert config.admin_port is None and config.explain is True  # 0: no admin listener
    with pytest.raises(SettingError, match="BALANCER_ADMIN_PORT"):
        BalancerConfig.from_env({**BACKENDS, "BALANCER_ADMIN_PORT": "65536"})


def test_client_timeouts() -> None:
    env = {**BACKENDS, "BALANCER_CLIENT_IDLE_TIMEOUT": "5", "BALANCER_CLIENT_HEADER_TIMEOUT": "2.5"}
    config = BalancerConfig.from_env(env)
    assert (config.client_idle_timeout, config.client_header_timeout) == (5.0, 2.5)


def test_duplicates_and_blanks_are_dropped_and_blank_values_are_defaults() -> None:
    env = {"BALANCER_BACKENDS": "http://a:1,, http://a:1/x ,http://b:2", "BALANCER_PORT": ""}
    config = BalancerConfig.from_env(env)
    assert config.backends == ("http://a:1", "http://b:2") and config.port == 8080


def test_every_setting_is_read() -> None:
    env = {
        **BACKENDS,
        "BALANCER_HOST": "127.0.0.1",
        "BALANCER_PORT": "9000",
        "BALANCER_MAX_TRIES": "5",
        "BALANCER_RETRY_BUDGET": "0.5",
        "BALANCER_RETRY_MIN": "0",
        "BALANCER_MAX_BODY": "0",
        "BALANCER_SHUTDOWN_GRACE": "inf",
        "BALANCER_REQUEST_TIMEOUT": "12.5",
        "BALANCER_EJECT_CONSECUTIVE": "5",
        "LOG_LEVEL": "debug",
    }
    config = BalancerConfig.from_env(env)
    assert (config.host, config.port, config.max_tries) == ("127.0.0.1", 9000, 5)
    assert (config.retry_budget, config.retry_min, config.max_body) == (0.5, 0, 0)
    assert config.shutdown_grace == float("inf") and config.log_level == "DEBUG"
    assert (config.request_timeout, config.eject_consecutive) == (12.5, 5)


def test_discover() -> None:
    config = BalancerConfig.from_env({"BALANCER_DISCOVER": "node:8000"})
    assert config.discover == ("node", 8000) and config.backends == ()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "BALANCER_BACKENDS: required"),
        ({"BALANCER_BACKENDS": ","}, "BALANCER_BACKENDS: required"),
        ({"BALANCER_BACKENDS": "ftp://x:1"}, "BALANCER_BACKENDS: expected"),
        ({"BALANCER_BACKENDS": "http://x"}, "BALANCER_BACKENDS"),
        ({"BALANCER_BACKENDS": "http://x:port"}, "BALANCER_BACKENDS"),
        ({"BALANCER_DISCOVER": "node"}, "BALANCER_DISCOVER: expected host:port, got 'node'"),
        ({"BALANCER_DISCOVER": "node:0"}, "BALANCER_DISCOVER"),
        ({**BACKENDS, "BALANCER_DISCOVER": "node:1"}, "BALANCER_DISCOVER: BALANCER_BACKENDS"),
        ({**BACKENDS, "BALANCER_PORT": "http"}, "BALANCER_PORT"),
        ({**BACKENDS, "BALANCER_PORT": "70000"}, "BALANCER_PORT: expected an integer from 1"),
        ({**BACKENDS, "BALANCER_MAX_HEADER": "255"}, "BALANCER_MAX_HEADER"),
        ({**BACKENDS, "BALANCER_MAX_BODY": "-1"}, "BALANCER_MAX_BODY"),
        ({**BACKENDS, "BALANCER_TRY_TIMEOUT": "-1"}, "BALANCER_TRY_TIMEOUT"),
        ({**BACKENDS, "BALANCER_RETRY_BUDGET": "1.5"}, "BALANCER_RETRY_BUDGET"),
        ({**BACKENDS, "BALANCER_MAX_TRIES": "0"}, "BALANCER_MAX_TRIES"),
        ({**BACKENDS, "BALANCER_RISE": "two"}, "BALANCER_RISE"),
        ({**BACKENDS, "BALANCER_HEALTH_INTERVAL": "nan"}, "BALANCER_HEALTH_INTERVAL"),
        ({**BACKENDS, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        (
            {**BACKENDS, "BALANCER_REQUEST_TIMEOUT": "2"},
            "BALANCER_REQUEST_TIMEOUT: must be at least BALANCER_TRY_TIMEOUT",
        ),
        ({**BACKENDS, "BALANCER_EJECT_CONSECUTIVE": "0"}, "BALANCER_EJECT_CONSECUTIVE"),
        ({**BACKENDS, "BALANCER_CLIENT_IDLE_TIMEOUT": "0"}, "BALANCER_CLIENT_IDLE_TIMEOUT"),
        ({**BACKENDS, "BALANCER_CLIENT_HEADER_TIMEOUT": "x"}, "BALANCER_CLIENT_HEADER_TIMEOUT"),
    ],
)
def test_invalid_settings_are_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingError, match=named):
        BalancerConfig.from_env(env)
