"""Balancer settings, read once from the environment.

Nothing else in the package reads ``os.environ``. A missing or invalid setting raises
``ConfigError`` whose message names it; ``__main__`` prints that one line and exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class BalancerConfig:
    """Every balancer setting (environment variable in parentheses)."""

    host: str = "0.0.0.0"  # BALANCER_HOST: address to listen on
    port: int = 8080  # BALANCER_PORT
    backends: tuple[str, ...] = ()  # BALANCER_BACKENDS: http://host:port URLs
    discover: tuple[str, int] | None = None  # BALANCER_DISCOVER: host:port, every A record
    discover_interval: float = 2.0  # BALANCER_DISCOVER_INTERVAL (s)
    health_interval: float = 0.5  # BALANCER_HEALTH_INTERVAL (s) between /readyz probes
    health_timeout: float = 0.5  # BALANCER_HEALTH_TIMEOUT (s) for one probe
    rise: int = 2  # BALANCER_RISE: good probes before a down backend gets traffic
    fall: int = 2  # BALANCER_FALL: failed probes before an up backend is taken out
    connect_timeout: float = 0.25  # BALANCER_CONNECT_TIMEOUT (s)
    try_timeout: float = 3.0  # BALANCER_TRY_TIMEOUT (s): per-try wait for the response
    max_tries: int = 3  # BALANCER_MAX_TRIES: attempts per request, the first included
    retry_budget: float = 0.2  # BALANCER_RETRY_BUDGET: retries as a share of recent requests
    retry_min: int = 10  # BALANCER_RETRY_MIN: retries per second always allowed (reserve)
    max_body: int = 1 << 20  # BALANCER_MAX_BODY (bytes) buffered for resending; over: 413
    max_header: int = 16 << 10  # BALANCER_MAX_HEADER (bytes) request line + headers; over: 431
    shutdown_grace: float = 10.0  # BALANCER_SHUTDOWN_GRACE (s) for in-flight requests
    client_idle_timeout: float = 60.0  # BALANCER_CLIENT_IDLE_TIMEOUT (s): idle keep-alive, body
    client_header_timeout: float = 10.0  # BALANCER_CLIENT_HEADER_TIMEOUT (s): head, else 408
    log_level: str = "INFO"  # LOG_LEVEL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BalancerConfig:
        """Read and validate every setting; raise ``ConfigError`` naming the first bad one."""
        env = os.environ if env is None else env
        backends = _backends(env.get("BALANCER_BACKENDS", ""))
        discover = _discover(env.get("BALANCER_DISCOVER", ""))
        if not backends and discover is None:
            raise ConfigError("BALANCER_BACKENDS or BALANCER_DISCOVER must be set")
        if backends and discover is not None:
            raise ConfigError("BALANCER_BACKENDS and BALANCER_DISCOVER are exclusive: set one")
        level = env.get("LOG_LEVEL", "INFO").upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        d = cls()
        return cls(
            host=env.get("BALANCER_HOST", d.host) or d.host,
            port=_num(env, "BALANCER_PORT", int, d.port, 1, 65535),
            backends=backends,
            discover=discover,
            discover_interval=_num(env, "BALANCER_DISCOVER_INTERVAL", float, 2.0, 0.05),
            health_interval=_num(env, "BALANCER_HEALTH_INTERVAL", float, 0.5, 0.01),
            health_timeout=_num(env, "BALANCER_HEALTH_TIMEOUT", float, 0.5, 0.01),
            rise=_num(env, "BALANCER_RISE", int, 2, 1),
            fall=_num(env, "BALANCER_FALL", int, 2, 1),
            connect_timeout=_num(env, "BALANCER_CONNECT_TIMEOUT", float, 0.25, 0.001),
            try_timeout=_num(env, "BALANCER_TRY_TIMEOUT", float, 3.0, 0.001),
            max_tries=_num(env, "BALANCER_MAX_TRIES", int, 3, 1, 20),
            retry_budget=_num(env, "BALANCER_RETRY_BUDGET", float, 0.2, 0.0, 1.0),
            retry_min=_num(env, "BALANCER_RETRY_MIN", int, 10, 0),
            max_body=_num(env, "BALANCER_MAX_BODY", int, d.max_body, 0),
            max_header=_num(env, "BALANCER_MAX_HEADER", int, d.max_header, 256),
            shutdown_grace=_num(env, "BALANCER_SHUTDOWN_GRACE", float, 10.0, 0.0),
            client_idle_timeout=_num(env, "BALANCER_CLIENT_IDLE_TIMEOUT", float, 60.0, 0.01),
            client_header_timeout=_num(env, "BALANCER_CLIENT_HEADER_TIMEOUT", float, 10.0, 0.01),
            log_level=level,
        )


def _num(
    env: Mapping[str, str],
    name: str,
    kind: Callable[[str], T],
    default: T,
    low: float,
    high: float | None = None,
) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    number = float(value)  # type: ignore[arg-type]
    if number != number or number < low or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{name} must be {bounds}, got {raw!r}")
    return value


def _backends(raw: str) -> tuple[str, ...]:
    urls = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or port is None:
            raise ConfigError(f"BALANCER_BACKENDS: {item!r} is not an http://host:port URL")
        urls.append(f"http://{parts.hostname}:{port}")
    return tuple(dict.fromkeys(urls))


def _discover(raw: str) -> tuple[str, int] | None:
    raw = raw.strip()
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"BALANCER_DISCOVER must be host:port, got {raw!r}")
    return host, int(port)
