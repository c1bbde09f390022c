"""The node's use of the revocation seam, end to end: two nodes on one Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig
from nodes.state import CONFIG
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import assert_problem, bearer, make_config, token_for
from tests.support import RedisServer, require

Client = TestClient[Any, Any]


async def two_nodes(
    aiohttp_client: ClientFactory, redis_url: str, mode: str
) -> tuple[Client, Client]:
    first = make_config(redis_url, revocation=mode)
    second = NodeConfig(**{**_fields(first), "node_name": "node-test"})  # same secret
    return await aiohttp_client(create_app(first)), await aiohttp_client(create_app(second))


def _fields(config: NodeConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


@pytest.mark.parametrize("mode", ["denylist", "denylist-fail-open"])
async def test_logout_on_one_node_refuses_the_token_on_another(
    aiohttp_client: ClientFactory, redis_url: str, mode: str
) -> None:
    one, two = await two_nodes(aiohttp_client, redis_url, mode)
    auth = await bearer(one)
    assert (await two.get("/whoami", headers=auth)).status == 200
    assert (await one.post("/auth/logout", headers=auth)).status == 204
    resp = await two.get("/whoami", headers=auth)
    await assert_problem(resp, 401, "invalid-token")
    assert "revoked" in resp.headers["WWW-Authenticate"]
    assert (await two.get("/whoami", headers=await bearer(two))).status == 200


async def test_logout_all_refuses_every_earlier_token(
    aiohttp_client: ClientFactory, redis_url: str
) -> None:
    one, two = await two_nodes(aiohttp_client, redis_url, "denylist")
    config = one.app[CONFIG]
    current = await bearer(one)
    earlier = {"Authorization": f"Bearer {token_for(config, 'alice', issued=int(time.time()) - 5)}"}
    assert (await two.get("/whoami", headers=earlier)).status == 200
    assert (await one.post("/auth/logout-all", headers=current)).status == 204
    for auth in (current, earlier):
        await assert_problem(await two.get("/whoami", headers=auth), 401)
    bob = await bearer(two, "bob")
    assert (await one.get("/whoami", headers=bob)).status == 200


async def test_denylist_fails_closed_when_redis_is_gone(aiohttp_client: ClientFactory) -> None:
    require(RedisServer.binary() is not None, "redis-server")
    server = RedisServer()
    server.start()
    try:
        api = await aiohttp_client(create_app(make_config(server.url, revocation="denylist")))
        auth = await bearer(api)
        assert (await api.get("/whoami", headers=auth)).status == 200
        server.stop()
        resp = await api.get("/whoami", headers=auth)
        await assert_problem(resp, 503, "revocation-unavailable")
        assert resp.headers["Retry-After"] == "1"
        ready = await api.get("/readyz")
        assert ready.status == 503 and (await ready.json())["redis"] != "ok"
    finally:
        server.stop()
