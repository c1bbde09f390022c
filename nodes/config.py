"""The node's settings, read once from the environment.

``NodeConfig.from_env()`` is the only place in the package that reads environment variables.
A missing or invalid setting raises ``ConfigError`` whose message names the variable; the
entry point prints it as one line and exits with status 2.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from nodes.revocation.base import MODES

MIN_SECRET_BYTES = 32
_T = TypeVar("_T", int, float)


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node needs to know, fixed for the life of the process."""

    #: ``NODE_NAME``: the name in ``X-Served-By``, logs and ``/whoami`` (default: the hostname).
    node_name: str
    #: ``JWT_SECRET`` or the content of ``JWT_SECRET_FILE``: the HS256 key, at least 32 bytes.
    jwt_secret: bytes = field(repr=False)
    #: ``NODE_HOST``: the address to listen on.
    host: str = "0.0.0.0"
    #: ``NODE_PORT``: the TCP port to listen on.
    port: int = 8000
    #: ``REDIS_URL``: users, orders, idempotency records (and the denylist, by mode).
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: ``REDIS_TIMEOUT_SECONDS``: connect and per-command socket timeout.
    redis_timeout: float = 1.0
    #: ``JWT_TTL_SECONDS``: lifetime of an access token.
    jwt_ttl: int = 900
    #: ``JWT_ISSUER`` / ``JWT_AUDIENCE``: the ``iss`` and ``aud`` claims issued and required.
    jwt_issuer: str = "stateless-cluster"
    jwt_audience: str = "stateless-cluster-api"
    #: ``REVOCATION``: one of ``nodes.revocation.MODES``.
    revocation: str = "none"
    #: ``DRAIN_SECONDS``: how long a node keeps serving after SIGTERM with ``/readyz`` at 503.
    drain_seconds: float = 3.0
    #: ``SHUTDOWN_TIMEOUT_SECONDS``: how long in-flight requests may take to finish after that.
    shutdown_timeout: float = 10.0
    #: ``IDEMPOTENCY_TTL_SECONDS``: how long an ``Idempotency-Key`` record is kept.
    idempotency_ttl: int = 86400
    #: ``IDEMPOTENCY_LEASE_SECONDS``: how long a reservation blocks others before a retry may
    #: take it over.
    idempotency_lease: float = 5.0
    #: ``PASSWORD_HASH_COST``: scrypt's N is 2**cost for hashes created by this node.
    password_hash_cost: int = 14
    #: ``LOG_LEVEL``: the root logger's level.
    log_level: str = "INFO"

    # Admission control of logins (nodes.admission, nodes.cpu_gate).
    #: ``LOGIN_CONCURRENCY``: password hashes run at once, one thread each; 0 (the default)
    #: means one per CPU this process may run on (its affinity).
    login_concurrency: int = 0
    #: ``LOGIN_QUEUE_SECONDS``: a login whose estimated wait for a hashing thread is longer is
    #: answered 503 at once, unprocessed. Keep it well under the balancer's per-try timeout.
    login_queue_seconds: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NodeConfig:
        """Read and validate every setting; raise ``ConfigError`` naming the first bad one."""
        env = os.environ if environ is None else environ
        return cls(
            node_name=_node_name(env),
            jwt_secret=_secret(env),
            host=env.get("NODE_HOST", "0.0.0.0") or "0.0.0.0",
            port=_number(env, "NODE_PORT", int, 8000, 1, 65535),
            redis_url=_redis_url(env),
            redis_timeout=_number(env, "REDIS_TIMEOUT_SECONDS", float, 1.0, 0.05, 60.0),
            jwt_ttl=_number(env, "JWT_TTL_SECONDS", int, 900, 1, 7 * 86400),
            jwt_issuer=_text(env, "JWT_ISSUER", "stateless-cluster"),
            jwt_audience=_text(env, "JWT_AUDIENCE", "stateless-cluster-api"),
            revocation=_choice(env, "REVOCATION", MODES, "none"),
            drain_seconds=_number(env, "DRAIN_SECONDS", float, 3.0, 0.0, 600.0),
            shutdown_timeout=_number(env, "SHUTDOWN_TIMEOUT_SECONDS", float, 10.0, 0.0, 600.0),
            idempotency_ttl=_number(env, "IDEMPOTENCY_TTL_SECONDS", int, 86400, 60, 30 * 86400),
            idempotency_lease=_number(env, "IDEMPOTENCY_LEASE_SECONDS", float, 5.0, 0.1, 3600.0),
            password_hash_cost=_number(env, "PASSWORD_HASH_COST", int, 14, 10, 20),
            log_level=_choice(env, "LOG_LEVEL", _LEVELS, "INFO", upper=True),
            # Admission control of logins.
            login_concurrency=_number(env, "LOGIN_CONCURRENCY", int, 0, 0, 1024),
            login_queue_seconds=_number(env, "LOGIN_QUEUE_SECONDS", float, 1.0, 0.0, 60.0),
        )


_LEVELS = tuple(logging.getLevelNamesMapping())


def _node_name(env: Mapping[str, str]) -> str:
    name = env.get("NODE_NAME") or socket.gethostname()
    if len(name) > 64 or not all(0x21 <= ord(c) <= 0x7E for c in name):
        raise ConfigError("NODE_NAME must be 1-64 printable ASCII characters without spaces")
    return name


def _secret(env: Mapping[str, str]) -> bytes:
    inline, path = env.get("JWT_SECRET"), env.get("JWT_SECRET_FILE")
    if inline and path:
        raise ConfigError("JWT_SECRET and JWT_SECRET_FILE are both set; set only one")
    if path:
        try:
            secret = Path(path).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigError(f"JWT_SECRET_FILE cannot be read: {exc.strerror}") from exc
        name = "JWT_SECRET_FILE"
    elif inline:
        secret, name = inline.encode(), "JWT_SECRET"
    else:
        raise ConfigError("JWT_SECRET (or JWT_SECRET_FILE) is required")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes")
    return secret


def _redis_url(env: Mapping[str, str]) -> str:
    url = env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    return url


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default)
    if not value or len(value) > 200:
        raise ConfigError(f"{name} must be 1-200 characters")
    return value


def _choice(
    env: Mapping[str, str],
    name: str,
    allowed: tuple[str, ...],
    default: str,
    *,
    upper: bool = False,
) -> str:
    value = env.get(name) or default
    value = value.upper() if upper else value
    if value not in allowed:
        raise ConfigError(f"{name} must be one of: {', '.join(allowed)} (got {value!r})")
    return value


def _number(
    env: Mapping[str, str],
    name: str,
    kind: Callable[[str], _T],
    default: _T,
    low: _T,
    high: _T,
) -> _T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a number between {low} and {high} (got {raw!r})"
        ) from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {raw!r})")
    return value
