"""Balancer settings, read once from the environment.

Nothing else in the package reads ``os.environ``; each setting is declared once below
(``servicekit.settings``: name, parser, default, help). A missing or invalid setting raises
``ConfigError`` (``servicekit.settings.SettingError``), one line that names it; ``__main__``
prints that line and exits 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from balancer.tls import CERT, KEY, server_context
from servicekit.parsers import (
    BOOLEAN,
    PATH,
    Parser,
    choice,
    comma_list,
    integer,
    matching,
    number,
    text,
)
from servicekit.settings import LOG_LEVEL, SettingError, field_of, read, setting

ConfigError = SettingError  # the name ``balancer.__main__`` and the tests catch


def backend_url(item: str) -> str:
    """``item`` as ``http://host:port`` (path and trailing slash dropped), or ValueError."""
    parts = urlsplit(item)
    port = parts.port  # ValueError when it is not a number
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise ValueError(item)
    return f"http://{parts.hostname}:{port}"


def _unique(urls: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(urls))


def _discover(raw: str) -> tuple[str, int]:
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(raw)
    return host, int(port)


_BACKEND_URLS = comma_list(Parser("", backend_url), "comma-separated http://host:port URLs")


def _admin_port(raw: str) -> int | None:
    port = integer(0, 65535).convert(raw)
    return port or None  # 0: no admin listener (an unknown ephemeral port helps no operator)


ADMIN_PORT = Parser("an integer from 0 to 65535 (0: none)", _admin_port)
BACKENDS = Parser(_BACKEND_URLS.expected, lambda raw: _unique(_BACKEND_URLS.convert(raw)))
DISCOVER = Parser("host:port", _discover)


@dataclass(frozen=True, slots=True)
class BalancerConfig:
    """Every balancer setting; ``describe(BalancerConfig)`` lists them with their help."""

    host: str = setting(
        "BALANCER_HOST", text("a host name or address"), "0.0.0.0", help="address to listen on"
    )
    port: int = setting("BALANCER_PORT", integer(1, 65535), 8080, help="port for clients")
    # The balancer's own endpoints (/_lb/*) are served only here, never on the public port.
    # In code (tests), admin_port=0 asks the OS for a free port (``Balancer.admin_port``).
    admin_host: str = setting(
        "BALANCER_ADMIN_HOST",
        text("a host name or address"),
        "127.0.0.1",
        help="address of the admin listener (`/_lb/status`, `/_lb/metrics`); loopback by default",
    )
    admin_port: int | None = setting(
        "BALANCER_ADMIN_PORT", ADMIN_PORT, 9901, help="port of the admin listener; `0`: none"
    )
    explain: bool = setting(
        "BALANCER_EXPLAIN",
        BOOLEAN,
        False,
        help="honour `X-LB-Explain: 1` from clients (how each try went); off: ignored, stripped",
    )
    # Off by default, and off is the design: no node holds a session. `cookie` exists for the
    # stateful twin of `make compare` (balancer/sticky.py), to measure what stickiness costs.
    sticky: str = setting(
        "BALANCER_STICKY",
        choice(("off", "cookie")),
        "off",
        help="`cookie`: pin each client to the node that first answered it with a cookie the "
        "balancer inserts (HAProxy's `cookie … insert indirect nocache`); `off`: round robin only",
    )
    sticky_cookie: str = setting(
        "BALANCER_STICKY_COOKIE",
        matching(r"[A-Za-z0-9_.-]{1,64}", "1 to 64 letters, digits, `_`, `.` or `-`"),
        "SRV",
        help="the name of the pin cookie of `BALANCER_STICKY=cookie`",
    )
    backends: tuple[str, ...] = setting(
        "BALANCER_BACKENDS", BACKENDS, (), help="the nodes (or set `BALANCER_DISCOVER`)"
    )
    discover: tuple[str, int] | None = setting(
        "BALANCER_DISCOVER", DISCOVER, None, help="every A record of `host` is a backend"
    )
    discover_interval: float = setting(
        "BALANCER_DISCOVER_INTERVAL", number(0.05), 2.0, help="seconds between DNS lookups"
    )
    health_interval: float = setting(
        "BALANCER_HEALTH_INTERVAL", number(0.01), 0.5, help="seconds between `/readyz` probes"
    )
    health_timeout: float = setting(
        "BALANCER_HEALTH_TIMEOUT", number(0.01), 0.5, help="seconds one probe may take"
    )
    rise: int = setting(
        "BALANCER_RISE", integer(1), 2, help="good probes before a down backend gets traffic"
    )
    fall: int = setting(
        "BALANCER_FALL", integer(1), 2, help="failed probes before an up backend is taken out"
    )
    slow_start: float = setting(
        "BALANCER_SLOW_START",
        number(0.0, 600.0),
        0.0,
        help="seconds over which a backend that has just come up ramps from no share of the "
        "round-robin turns to its full share (Envoy's `slow_start_window`); `0`: off",
    )
    connect_timeout: float = setting(
        "BALANCER_CONNECT_TIMEOUT", number(0.001), 0.25, help="seconds per connect attempt"
    )
    try_timeout: float = setting(
        "BALANCER_TRY_TIMEOUT", number(0.001), 3.0, help="per-try wait for the response (s)"
    )
    request_timeout: float = setting(
        "BALANCER_REQUEST_TIMEOUT",
        number(0.001),
        30.0,
        help="seconds a request may wait for its response head before a 504; a try past "
        "`BALANCER_TRY_TIMEOUT` that may not be retried elsewhere is waited on until then",
    )
    eject_consecutive: int = setting(
        "BALANCER_EJECT_CONSECUTIVE",
        integer(1, 1000),
        3,
        help="failed tries in a row (timeouts, resets; no answer between) that eject a backend",
    )
    max_tries: int = setting(
        "BALANCER_MAX_TRIES", integer(1, 20), 3, help="attempts per request, the first included"
    )
    retry_budget: float = setting(
        "BALANCER_RETRY_BUDGET",
        number(0.0, 1.0),
        0.2,
        help="retries as a share of recent requests",
    )
    retry_min: int = setting(
        "BALANCER_RETRY_MIN", integer(0), 10, help="retries per second always allowed (reserve)"
    )
    requeue_budget: float = setting(
        "BALANCER_REQUEUE_BUDGET",
        number(0.0, 10.0),
        1.0,
        help="resends of shed answers (503 + `X-Not-Processed`) as a share of recent requests; "
        "a budget of their own (reserve `BALANCER_RETRY_MIN`), so shedding never spends the "
        "retries a dead node needs",
    )
    # Hedging (balancer/backup.py, Envoy's hedge_on_per_try_timeout, Finagle's backup requests):
    # a try safe to send twice with no response head within the hedge delay gets a second try
    # elsewhere; the first head wins. Delay: the percentile of recent head latencies × factor,
    # within [min, max] (max is never past BALANCER_TRY_TIMEOUT).
    hedge: bool = setting(
        "BALANCER_HEDGE",
        BOOLEAN,
        True,
        help="hedge slow tries of requests safe to send twice (idempotent, or keyed) on another "
        "backend; the first response head wins, the other try is cancelled",
    )
    hedge_percentile: float = setting(
        "BALANCER_HEDGE_PERCENTILE",
        number(50.0, 99.9),
        95.0,
        help="percentile of recent response-head latencies the hedge delay starts from",
    )
    hedge_factor: float = setting(
        "BALANCER_HEDGE_FACTOR",
        number(1.0, 100.0),
        2.0,
        help="the hedge delay is that percentile times this",
    )
    hedge_min: float = setting(
        "BALANCER_HEDGE_MIN", number(0.001, 60.0), 0.01, help="shortest hedge delay (s)"
    )
    hedge_max: float = setting(
        "BALANCER_HEDGE_MAX",
        number(0.001, 600.0),
        1.0,
        help="longest hedge delay (s), also the delay before any latency is known; at most "
        "`BALANCER_TRY_TIMEOUT`",
    )
    max_body: int = setting(
        "BALANCER_MAX_BODY",
        integer(0),
        1 << 20,
        help="request body bytes buffered for resending; over: 413",
    )
    max_header: int = setting(
        "BALANCER_MAX_HEADER",
        integer(256),
        16 << 10,
        help="bytes of request line and headers; over: 431",
    )
    shutdown_grace: float = setting(
        "BALANCER_SHUTDOWN_GRACE", number(0.0), 10.0, help="seconds for in-flight requests"
    )
    client_idle_timeout: float = setting(
        "BALANCER_CLIENT_IDLE_TIMEOUT",
        number(0.01),
        60.0,
        help="seconds a client connection may idle between requests or within a body",
    )
    client_header_timeout: float = setting(
        "BALANCER_CLIENT_HEADER_TIMEOUT",
        number(0.01),
        10.0,
        help="seconds a client has to send a request head, else 408",
    )
    # TLS on the public port (both or neither; read and checked at start, see ``balancer.tls``).
    tls_cert: Path | None = setting(
        CERT,
        PATH,
        None,
        help="PEM certificate (chain) for TLS on the public port; with `BALANCER_TLS_KEY`",
    )
    tls_key: Path | None = setting(
        KEY, PATH, None, help="PEM private key of `BALANCER_TLS_CERT`; unset: plain HTTP"
    )
    log_level: str = field_of(LOG_LEVEL)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BalancerConfig:
        """Read and validate every setting; raise ``ConfigError`` naming the first bad one."""
        config = read(cls, env)
        if not config.backends and config.discover is None:
            raise SettingError("BALANCER_BACKENDS", "required (or BALANCER_DISCOVER), not set")
        if config.backends and config.discover is not None:
            raise SettingError("BALANCER_DISCOVER", "BALANCER_BACKENDS is set too; set only one")
        if config.request_timeout < config.try_timeout:
            raise SettingError(
                "BALANCER_REQUEST_TIMEOUT",
                f"must be at least BALANCER_TRY_TIMEOUT ({config.try_timeout:g} s), "
                f"got {config.request_timeout:g}",
            )
        if config.hedge_min > config.hedge_max:
            raise SettingError(
                "BALANCER_HEDGE_MIN",
                f"must be at most BALANCER_HEDGE_MAX ({config.hedge_max:g} s), "
                f"got {config.hedge_min:g}",
            )
        _check_tls(config)
        return config


def _check_tls(config: BalancerConfig) -> None:
    """Both TLS files or neither; a file that does not load stops the balancer now, not later."""
    if config.tls_cert is None and config.tls_key is None:
        return
    if config.tls_cert is None or config.tls_key is None:
        unset, other = (CERT, KEY) if config.tls_cert is None else (KEY, CERT)
        raise SettingError(unset, f"required with {other}, not set (set both or neither)")
    server_context(config.tls_cert, config.tls_key)
