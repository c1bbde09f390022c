"""The node's settings, read once from the environment.

``NodeConfig.from_env()`` is the only place in the package that reads environment variables;
each setting is declared once below (``servicekit.settings``: name, parser, default, help). A
missing or invalid setting raises ``ConfigError`` (``servicekit.settings.SettingError``), one
line that names the variable; the entry point prints it and exits with status 2.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from nodes.revocation.base import MODES
from servicekit.parsers import choice, comma_list, integer, matching, number, secret_bytes, text
from servicekit.settings import LOG_LEVEL, SettingError, field_of, read, setting

ConfigError = SettingError  # the name ``nodes.__main__`` and the tests catch

MIN_SECRET_BYTES = 32
_CLAIM = text("1 to 200 characters", lambda raw: 0 < len(raw) <= 200)


def _printable(raw: str) -> bool:
    return 0 < len(raw) <= 64 and all(0x21 <= ord(c) <= 0x7E for c in raw)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node needs to know, fixed for the life of the process."""

    node_name: str = setting(
        "NODE_NAME",
        text("1 to 64 printable ASCII characters without spaces", _printable),
        factory=socket.gethostname,
        shown="the hostname",
        help="the name in `X-Served-By`, logs and `/whoami`",
    )
    jwt_secret: bytes = setting(
        "JWT_SECRET",
        secret_bytes(MIN_SECRET_BYTES),
        secret=True,
        file=True,
        help="the HS256 signing key, the same on every node",
    )
    host: str = setting(
        "NODE_HOST", text("a host name or address"), "0.0.0.0", help="the address to listen on"
    )
    port: int = setting("NODE_PORT", integer(1, 65535), 8000, help="the TCP port to listen on")
    redis_url: str = setting(
        "REDIS_URL",
        text(
            "a URL starting with redis://, rediss:// or unix://",
            lambda raw: raw.startswith(("redis://", "rediss://", "unix://")),
        ),
        "redis://127.0.0.1:6379/0",
        help="users, orders, idempotency records (and the denylist, by mode)",
    )
    # Redis with Sentinel (nodes.redis_client). Either a plain REDIS_URL or sentinels, never both.
    redis_sentinels: tuple[str, ...] = setting(
        "REDIS_SENTINELS",
        comma_list(matching(r"[^\s:,]+:[0-9]{1,5}", "host:port"), "comma-separated host:port"),
        (),
        help="find the primary through these sentinels (`h1:26379,h2:26379`) instead of "
        "`REDIS_URL`, and ride out a failover; setting both is an error",
    )
    redis_sentinel_master: str = setting(
        "REDIS_SENTINEL_MASTER",
        text("1 to 64 printable ASCII characters", _printable),
        "mymaster",
        help="the name the sentinels monitor the primary under",
    )
    # Measured: a new primary 2.3-2.4 s after a SIGKILL (down-after-milliseconds 1000), and while
    # it is elected every node's /readyz is 503, so the balancer sends each request to one node
    # once: that node must ride it out. And the balancer gives a try 3 s (BALANCER_TRY_TIMEOUT):
    # the answer must come before. 2.5 s gave up 0.1 s before the promotion; 2.8 s leaves both.
    redis_failover_seconds: float = setting(
        "REDIS_FAILOVER_SECONDS",
        number(0.0, 60.0),
        2.8,
        help="with `REDIS_SENTINELS`: how long a Redis call that met a connection error or a "
        "timeout is retried on the primary the sentinels name before 503 (s)",
    )
    redis_wait_replicas: int = setting(
        "REDIS_WAIT_REPLICAS",
        integer(0, 16),
        0,
        help="after a create or update, `WAIT` for this many replicas before the 201/200 "
        "(503 if fewer confirm in time); 0: no WAIT, replication stays asynchronous",
    )
    redis_wait_timeout_ms: int = setting(
        "REDIS_WAIT_TIMEOUT_MS",
        integer(1, 60000),
        500,
        help="how long that `WAIT` may block (ms)",
    )
    redis_timeout: float = setting(
        "REDIS_TIMEOUT_SECONDS",
        number(0.05, 60.0),
        1.0,
        help="connect and per-command socket timeout (s)",
    )
    jwt_ttl: int = setting(
        "JWT_TTL_SECONDS", integer(1, 7 * 86400), 900, help="lifetime of an access token (s)"
    )
    # A blank issuer or audience is refused rather than taken as the default: a token with an
    # empty ``iss`` or ``aud`` would be a configuration mistake that verifies everywhere.
    jwt_issuer: str = setting(
        "JWT_ISSUER",
        _CLAIM,
        "stateless-cluster",
        help="the `iss` claim issued and required",
        blank_is_unset=False,
    )
    jwt_audience: str = setting(
        "JWT_AUDIENCE",
        _CLAIM,
        "stateless-cluster-api",
        help="the `aud` claim issued and required",
        blank_is_unset=False,
    )
    revocation: str = setting(
        "REVOCATION", choice(MODES), "none", help="how a token is taken back before `exp`"
    )
    # Cookie mode (docs/api.md): beside the Bearer header, never instead of it. ``none`` is sent
    # with ``Secure`` too, which browsers require for ``SameSite=None``.
    auth_cookie: str = setting(
        "AUTH_COOKIE",
        choice(("off", "lax", "strict", "none")),
        "off",
        help="login also sets an HttpOnly cookie holding the token, with this SameSite, and "
        "requests may authenticate with it; `off`: Bearer only",
    )
    # The stateful twin of `make compare` (nodes/sessions.py: the anti-pattern, on purpose).
    sessions: str = setting(
        "SESSIONS",
        choice(("none", "memory")),
        "none",
        help="`memory`: login also creates a session in this node's memory (a `session_id` "
        "cookie, the caller and a cart: `/cart`), and requests may authenticate with it; "
        "`none`: stateless, Bearer only",
    )
    profile_cache_seconds: float = setting(
        "PROFILE_CACHE_SECONDS",
        number(0.0, 3600.0),
        30.0,
        help="how long a node keeps a user's profile read from Redis (s); 0: read it every time",
    )
    drain_seconds: float = setting(
        "DRAIN_SECONDS",
        number(0.0, 600.0),
        3.0,
        help="how long a node keeps serving after SIGTERM with `/readyz` at 503 (s)",
    )
    shutdown_timeout: float = setting(
        "SHUTDOWN_TIMEOUT_SECONDS",
        number(0.0, 600.0),
        10.0,
        help="how long in-flight requests may take to finish after the drain (s)",
    )
    idempotency_ttl: int = setting(
        "IDEMPOTENCY_TTL_SECONDS",
        integer(60, 30 * 86400),
        86400,
        help="how long an `Idempotency-Key` record is kept (s)",
    )
    idempotency_lease: float = setting(
        "IDEMPOTENCY_LEASE_SECONDS",
        number(0.1, 3600.0),
        5.0,
        help="how long a reservation blocks others before a retry may take it over (s)",
    )
    password_hash_cost: int = setting(
        "PASSWORD_HASH_COST",
        integer(10, 20),
        14,
        help="scrypt's N is 2**cost for hashes created by this node",
    )
    log_level: str = field_of(LOG_LEVEL)

    # Admission control of logins (nodes.admission, nodes.cpu_gate).
    login_concurrency: int = setting(
        "LOGIN_CONCURRENCY",
        integer(0, 1024),
        0,
        help="password hashes run at once, one thread each; 0: one per CPU this process may use",
    )
    # Well under the balancer's 3 s per-try timeout: a queued login must never look dead.
    login_queue_seconds: float = setting(
        "LOGIN_QUEUE_SECONDS",
        number(0.0, 60.0),
        1.0,
        help="a login whose estimated wait for a hashing thread is longer is answered 503, "
        "unprocessed (s)",
    )

    login_thread_niceness: int = setting(
        "LOGIN_THREAD_NICENESS",
        integer(0, 19),
        10,
        help="how much lower the hashing threads' CPU priority is than the event loop's, so "
        "probes and cheap requests keep answering while hashing fills the cores (0: the same)",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NodeConfig:
        """Read and validate every setting; raise ``ConfigError`` naming the first bad one."""
        source = os.environ if environ is None else environ
        config: NodeConfig = read(cls, source)
        if config.redis_sentinels and source.get("REDIS_URL", "").strip():
            raise ConfigError("REDIS_URL", "REDIS_SENTINELS is set too; set only one")
        return config

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``REDIS_SENTINELS`` as ``(host, port)`` pairs."""
        pairs = (entry.rsplit(":", 1) for entry in self.redis_sentinels)
        return [(host, int(port)) for host, port in pairs]
