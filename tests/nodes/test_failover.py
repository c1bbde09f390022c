"""Riding out a Redis failover: the retry schedule, the settings, the retried calls, WAIT."""

from __future__ import annotations

from typing import Any

import pytest
import redis.exceptions
from redis.asyncio.sentinel import SentinelConnectionPool

from nodes.app import create_app
from nodes.config import NodeConfig
from nodes.failover import FailoverRetry, WaitForReplicas
from nodes.redis_client import connect, failover_retry
from nodes.resilient import StoreUnavailable, translated
from servicekit.settings import SettingError
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import bearer, make_config

SECRET = "s" * 32


def test_the_schedule_backs_off_and_stops_at_the_budget() -> None:
    retry = FailoverRetry(budget=1.0)
    assert [retry.delay(n, 0.0) for n in range(5)] == [0.05, 0.1, 0.2, 0.25, 0.25]
    assert retry.delay(3, 0.7) == 0.25 and retry.delay(3, 0.8) is None
    assert FailoverRetry().delay(0, 0.0) is None  # no budget: never retried


def test_wait_confirms_with_enough_replicas() -> None:
    assert WaitForReplicas(1).confirmed(1) and not WaitForReplicas(2).confirmed(1)
    assert WaitForReplicas(0).confirmed(0)


def test_sentinels_replace_the_url_and_both_are_refused() -> None:
    env = {"JWT_SECRET": SECRET, "NODE_NAME": "n", "REDIS_SENTINELS": "s1:26379, s2:26380"}
    config = NodeConfig.from_env(env)
    assert config.sentinel_addresses == [("s1", 26379), ("s2", 26380)]
    assert config.redis_sentinel_master == "mymaster"
    assert failover_retry(config).budget == 2.8
    assert NodeConfig.from_env({**env, "REDIS_URL": " "}).redis_sentinels  # blank is unset
    with pytest.raises(SettingError, match=r"^REDIS_URL: REDIS_SENTINELS is set too"):
        NodeConfig.from_env({**env, "REDIS_URL": "redis://r:6379/0"})
    with pytest.raises(SettingError, match=r"^REDIS_SENTINELS:"):
        NodeConfig.from_env({**env, "REDIS_SENTINELS": "s1"})


def test_a_plain_url_is_never_retried_and_sentinels_use_a_sentinel_pool() -> None:
    plain = make_config("redis://127.0.0.1:1/0")
    assert failover_retry(plain).budget == 0.0 and connect(plain).sentinel is None
    ha = make_config("redis://unused", redis_sentinels=("127.0.0.1:1",))
    connection = connect(ha)
    assert isinstance(connection.client.connection_pool, SentinelConnectionPool)


class Flaky:
    """Fails ``failures`` times with a connection error, then answers."""

    def __init__(self, failures: int, budget: float) -> None:
        self.failures, self.calls = failures, 0
        self.failover = FailoverRetry(budget)
        self.retried: list[str] = []

    def on_retry(self, error: str) -> None:
        self.retried.append(error)

    @translated
    async def get(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise redis.exceptions.ConnectionError("primary gone")
        return "value"


async def test_a_call_is_retried_until_the_primary_answers() -> None:
    flaky = Flaky(failures=3, budget=2.0)
    assert await flaky.get() == "value"
    assert flaky.calls == 4 and flaky.retried == ["ConnectionError"] * 3


async def test_past_the_budget_the_call_is_unavailable() -> None:
    flaky = Flaky(failures=100, budget=0.3)
    with pytest.raises(StoreUnavailable):
        await flaky.get()
    assert 2 <= flaky.calls <= 5
    no_budget = Flaky(failures=1, budget=0.0)
    with pytest.raises(StoreUnavailable):
        await no_budget.get()
    assert no_budget.calls == 1


async def test_with_wait_and_no_replica_a_create_is_503_and_its_resend_replays(
    aiohttp_client: ClientFactory, redis_url: str
) -> None:
    config = make_config(redis_url, redis_wait_replicas=1, redis_wait_timeout_ms=20)
    api = await aiohttp_client(create_app(config))
    headers = {**await bearer(api), "Idempotency-Key": "wait-1"}
    body: dict[str, Any] = {"item": "book", "quantity": 1}
    first = await api.post("/users/alice/orders", json=body, headers=headers)
    assert first.status == 503  # written on the primary, confirmed by no replica
    again = await api.post("/users/alice/orders", json=body, headers=headers)
    # What the README says: the resend replays the stored response, not re-confirmed.
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
