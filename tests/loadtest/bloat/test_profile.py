"""The fix of ``make bloat``: ``GET /users/{id}/profile`` from a Redis hash, cached per node."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from nodes.app import create_app
from nodes.profile_cache import ProfileCache, key
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import bearer, make_config


def test_the_cache_keeps_a_profile_for_its_ttl_and_a_bounded_number_of_users() -> None:
    cache = ProfileCache(ttl=30, size=2)
    cache.put("alice", {"name": "A"}, now=100)
    assert cache.get("alice", 129.9) == {"name": "A"} and cache.get("alice", 130) is None
    cache.put("bob", {}, 100)
    cache.put("carol", {}, 100)
    assert cache.get("alice", 101) is None  # the oldest went
    off = ProfileCache(ttl=0)
    off.put("alice", {"name": "A"}, 100)
    assert off.get("alice", 100) is None


@pytest.mark.parametrize("ttl", [30.0, 0.0])
async def test_profile_endpoint(aiohttp_client: ClientFactory, redis_url: str, ttl: float) -> None:
    client = await aiohttp_client(create_app(make_config(redis_url, profile_cache_seconds=ttl)))
    auth = await bearer(client)
    assert (await client.get("/users/alice/profile", headers=auth)).status == 404
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.hset(key("alice"), mapping={"name": "Alice", "roles": "a,b"})
    first = await (await client.get("/users/alice/profile", headers=auth)).json()
    assert first == {"id": "alice", "profile": {"name": "Alice", "roles": "a,b"}, "cached": False}
    await redis.hset(key("alice"), "name", "Changed")
    second = await (await client.get("/users/alice/profile", headers=auth)).json()
    assert second["cached"] is (ttl > 0)
    assert second["profile"]["name"] == ("Alice" if ttl > 0 else "Changed")
    assert (await client.get("/users/bob/profile", headers=auth)).status == 403
    assert (await client.get("/users/alice/profile")).status == 401
    await redis.delete(key("alice"))
    await redis.aclose()
