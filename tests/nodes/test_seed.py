"""Seeding the demo users: idempotent, and safe when several nodes start at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from nodes.passwords import verify_password
from nodes.seed import SEED_USERS, demo_password, seed_users
from nodes.store import Store


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[list[Store]]:
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    yield [Store(client) for client in clients]
    for client in clients:
        await client.aclose()


async def test_nodes_seeding_at_once_agree_on_one_complete_user_each(stores: list[Store]) -> None:
    await asyncio.gather(*(seed_users(store, cost=10) for store in stores))
    for user in SEED_USERS:
        stored = await stores[0].get_user(user)
        assert stored is not None and set(stored) == {"id", "name", "password"}
        assert verify_password(demo_password(user), stored["password"])
        assert demo_password(user) not in stored["password"]


async def test_seeding_again_changes_nothing(stores: list[Store]) -> None:
    assert await seed_users(stores[0], cost=10) == len(SEED_USERS)
    before = {u: await stores[0].get_user(u) for u in SEED_USERS}
    assert await seed_users(stores[1], cost=10) == 0
    assert {u: await stores[1].get_user(u) for u in SEED_USERS} == before


async def test_a_half_written_user_is_completed(stores: list[Store]) -> None:
    # An interrupted seed (non-transactional, older versions) left alice without a password.
    await stores[0].redis.hset("user:alice", mapping={"id": "alice", "name": "Alice"})
    assert await seed_users(stores[0], cost=10) == len(SEED_USERS)
    stored = await stores[0].get_user("alice")
    assert stored is not None and set(stored) == {"id", "name", "password"}
    assert verify_password(demo_password("alice"), stored["password"])


async def test_a_user_is_written_in_one_multi(stores: list[Store]) -> None:
    async def execs() -> int:
        stats = await stores[0].redis.info("commandstats")
        return int(stats.get("cmdstat_exec", {}).get("calls", 0))

    before = await execs()
    await stores[0].seed_user("dave", {"id": "dave", "name": "Dave", "password": "x"})
    assert await execs() == before + 1
