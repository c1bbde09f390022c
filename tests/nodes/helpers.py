"""Helpers of the node's tests (fixtures are in ``conftest.py``)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from nodes.config import NodeConfig
from nodes.tokens import TokenSettings, claims_for


def make_config(redis_url: str, **overrides: Any) -> NodeConfig:
    """A node config for tests: a random secret, cheap password hashes, no drain."""
    settings: dict[str, Any] = {
        "node_name": "node-test",
        "jwt_secret": secrets.token_bytes(32),
        "redis_url": redis_url,
        "password_hash_cost": 10,
        "drain_seconds": 0.0,
        **overrides,
    }
    return NodeConfig(**settings)


async def bearer(client: TestClient[Any, Any], user: str = "alice") -> dict[str, str]:
    """An ``Authorization`` header for ``user`` obtained through ``POST /auth/login``."""
    resp = await client.post("/auth/login", json={"username": user, "password": f"{user}-pass"})
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def assert_problem(resp: Any, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    """``resp`` is an RFC 9457 problem with ``status``; returns the body."""
    assert resp.status == status, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.headers["X-Served-By"] == "node-test"
    assert resp.headers["X-Request-ID"]
    body: dict[str, Any] = await resp.json(content_type=None)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    if type_suffix is not None:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body


def token_for(
    config: NodeConfig, sub: str, *, issued: int | None = None, key: bytes | None = None
) -> str:
    """A token as a node of ``config`` would issue it (or signed with another ``key``)."""
    settings = TokenSettings(
        config.jwt_secret, config.jwt_issuer, config.jwt_audience, config.jwt_ttl
    )
    claims = claims_for(settings, sub, int(time.time()) if issued is None else issued)
    return jwt.encode(claims, key or config.jwt_secret, algorithm="HS256")


async def settle(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Return once ``condition()`` holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.005)
