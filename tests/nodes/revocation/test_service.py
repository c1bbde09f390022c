"""The revocation modes through the node's HTTP API (``create_app``), Redis stopped and restarted.

Complements ``test_api.py`` (the node's own tests of the seam): here each mode's
behaviour when Redis goes away and comes back, as a client sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import assert_problem, bearer, make_config
from tests.support import RedisServer, require

Client = TestClient[Any, Any]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    require(RedisServer.binary() is not None, "redis-server (Debian: apt-get install redis-server)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def two_nodes(aiohttp_client: ClientFactory, url: str, mode: str) -> tuple[Client, Client]:
    first = make_config(url, revocation=mode)
    fields = {name: getattr(first, name) for name in first.__dataclass_fields__}
    second = NodeConfig(**{**fields, "node_name": "node-test"})  # the same secret
    return await aiohttp_client(create_app(first)), await aiohttp_client(create_app(second))


async def status_soon(client: Client, auth: dict[str, str], want: int, within: float) -> float:
    """Seconds until ``GET /whoami`` answers ``want``; fails after ``within``."""
    start = time.monotonic()
    while (await client.get("/whoami", headers=auth)).status != want:
        if time.monotonic() - start > within:
            pytest.fail(f"/whoami did not answer {want} within {within}s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def revocation_status(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get("/readyz")).json()
    return dict(body["revocation"])


async def test_cached_logout_reaches_the_other_node_and_survives_redis_down(
    aiohttp_client: ClientFactory, own_redis: RedisServer
) -> None:
    one, two = await two_nodes(aiohttp_client, own_redis.url, "cached")
    revoked, valid = await bearer(one), await bearer(one, "bob")
    assert (await one.post("/auth/logout", headers=revoked)).status == 204
    assert await status_soon(two, revoked, 401, within=1.0) < 1.0
    own_redis.stop()
    await assert_problem(await two.get("/whoami", headers=revoked), 401, "invalid-token")
    assert (await two.get("/whoami", headers=valid)).status == 200
    status = await revocation_status(two)
    assert status["mode"] == "cached" and status["stale"] is True
    resp = await one.post("/auth/logout", headers=valid)  # cannot be told to the others
    await assert_problem(resp, 503, "revocation-unavailable")


async def test_cached_nodes_follow_again_after_redis_returns(
    aiohttp_client: ClientFactory, own_redis: RedisServer
) -> None:
    one, two = await two_nodes(aiohttp_client, own_redis.url, "cached")
    auth = await bearer(one)
    own_redis.stop()
    await asyncio.sleep(0.2)
    own_redis.start()  # empty: the users are gone, the tokens still verify
    start = time.monotonic()
    while (await revocation_status(two))["stale"] or (await revocation_status(one))["stale"]:
        assert time.monotonic() - start < 3.0, "still stale 3 s after Redis returned"
        await asyncio.sleep(0.02)
    assert (await one.post("/auth/logout", headers=auth)).status == 204
    await status_soon(two, auth, 401, within=1.0)


async def test_fail_open_serves_every_token_when_redis_is_down_and_counts_it(
    aiohttp_client: ClientFactory, own_redis: RedisServer
) -> None:
    api = await aiohttp_client(
        create_app(make_config(own_redis.url, revocation="denylist-fail-open"))
    )
    revoked, valid = await bearer(api), await bearer(api, "bob")
    assert (await api.post("/auth/logout", headers=revoked)).status == 204
    assert (await api.get("/whoami", headers=revoked)).status == 401
    own_redis.stop()
    assert (await api.get("/whoami", headers=valid)).status == 200
    assert (await api.get("/whoami", headers=revoked)).status == 200  # the price
    metrics = await (await api.get("/metrics")).text()
    assert "revocation_fail_open_accepted_total 2.0" in metrics
    resp = await api.post("/auth/logout", headers=valid)  # a logout never claims success
    await assert_problem(resp, 503, "revocation-unavailable")


async def test_denylist_answers_fast_503s_and_recovers(
    aiohttp_client: ClientFactory, own_redis: RedisServer
) -> None:
    api = await aiohttp_client(create_app(make_config(own_redis.url, revocation="denylist")))
    valid = await bearer(api)
    own_redis.stop()
    start = time.monotonic()
    for _ in range(20):
        await assert_problem(await api.get("/whoami", headers=valid), 503)
    assert (time.monotonic() - start) / 20 < 0.3  # no hang per request
    own_redis.start()
    assert await status_soon(api, valid, 200, within=3.0) < 3.0
