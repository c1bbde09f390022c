"""The app factory: ``create_app(config)`` wires resources, middlewares and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import Gauge

from nodes.config import NodeConfig
from nodes.cpu_gate import CpuGate, calibrate, default_concurrency, thread_pool
from nodes.handlers import add_routes
from nodes.logs import AccessLog
from nodes.metrics import Metrics
from nodes.middleware import MAX_BODY_BYTES, node_middleware
from nodes.passwords import hash_password
from nodes.profile_cache import ProfileCache
from nodes.redis_client import connect, failover_retry, wait_for_replicas
from nodes.revocation.base import RevocationSettings
from nodes.revocation.factory import create_revocation
from nodes.seed import seeding_ctx
from nodes.sessions import SessionStore
from nodes.state import (
    ACCESS_LOG,
    CONFIG,
    HASHING,
    METRICS,
    PROFILES,
    READINESS,
    REDIS,
    REVOCATION,
    SESSIONS,
    STORE,
    TOKENS,
    VERIFIED,
    Readiness,
)
from nodes.store import Store
from nodes.token_cache import VerifiedTokens
from nodes.tokens import LEEWAY_SECONDS, TokenSettings


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """One Redis client (connection pool) per app: ``REDIS_URL``, or the primary the sentinels
    of ``REDIS_SENTINELS`` name (``nodes.redis_client``)."""
    config, metrics = app[CONFIG], app[METRICS]
    connection = connect(config)
    app[REDIS] = connection.client
    app[STORE] = Store(
        connection.client,
        failover=failover_retry(config),
        wait=wait_for_replicas(config),
        on_retry=lambda error: metrics.store_retries.labels(error).inc(),
    )
    yield
    await connection.aclose()


async def revocation_ctx(app: web.Application) -> AsyncIterator[None]:
    """The revocation mode of ``REVOCATION`` (``nodes.revocation``), started and closed."""
    config = app[CONFIG]
    # Logout-all markers must outlive the longest token this node issues.
    settings = RevocationSettings(
        max_token_ttl=max(RevocationSettings().max_token_ttl, config.jwt_ttl + LEEWAY_SECONDS),
        leeway=LEEWAY_SECONDS,
    )
    revocation = create_revocation(config.revocation, app[REDIS], app[METRICS].registry, settings)
    await revocation.start()
    app[REVOCATION] = revocation
    yield
    await revocation.close()


async def hashing_ctx(app: web.Application) -> AsyncIterator[None]:
    """Password hashing on a pool of ``LOGIN_CONCURRENCY`` threads, behind admission control.

    One hash at the node's cost, timed before serving, seeds the estimate of a hash's duration.
    """
    config, metrics = app[CONFIG], app[METRICS]
    concurrency = config.login_concurrency or default_concurrency()
    with thread_pool(concurrency, config.login_thread_niceness) as executor:
        gate = CpuGate(
            executor, concurrency, config.login_queue_seconds, observe=metrics.hash_seconds.observe
        )
        metrics.track_hashing(
            lambda: gate.queued, lambda: gate.running, lambda: gate.service_time.value
        )
        await calibrate(gate, hash_password, "calibration", config.password_hash_cost)
        app[HASHING] = gate
        yield


def create_app(config: NodeConfig) -> web.Application:
    """A node's application; resources live in ``cleanup_ctx``, state under ``web.AppKey``."""
    app = web.Application(middlewares=[node_middleware], client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config
    app[TOKENS] = TokenSettings(
        secret=config.jwt_secret,
        issuer=config.jwt_issuer,
        audience=config.jwt_audience,
        ttl=config.jwt_ttl,
    )
    app[VERIFIED] = VerifiedTokens(app[TOKENS])
    app[METRICS] = Metrics()
    app[ACCESS_LOG] = AccessLog(config.node_name)
    app[READINESS] = Readiness()
    app[PROFILES] = ProfileCache(config.profile_cache_seconds)
    if config.sessions == "memory":  # the stateful twin (nodes.sessions)
        store = app[SESSIONS] = SessionStore()
        Gauge("node_sessions", "Sessions held in this node's memory (SESSIONS=memory)",
              registry=app[METRICS].registry).set_function(lambda: len(store))  # fmt: skip
    app.cleanup_ctx.extend([redis_ctx, revocation_ctx, hashing_ctx, seeding_ctx])
    add_routes(app)
    return app
