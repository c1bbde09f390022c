"""A keyed POST retried by the balancer is not a 409 the client did not cause (issue 10, item 4).

Two apps on one Redis play two nodes. Node A's commit is held on a gate: its try "froze" after
reserving the key (a SIGSTOPped node). The balancer sends the retry to node B with the same
``X-Request-ID`` (``balancer.headers`` forwards one id for every try of a client request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig
from nodes.handlers import creates
from nodes.idempotency import CommitOutcome
from nodes.state import STORE
from nodes.store import Commit, Store, idem_keys
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import bearer

Client = TestClient[Any, Any]
ORDERS = "/users/alice/orders"
ORDER = {"item": "book", "quantity": 1}


class Frozen:
    """Holds a node's commits until ``thaw()``; records what each commit then did."""

    def __init__(self, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store: Store = client.app[STORE]
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()
        self.returned = asyncio.Event()
        self.outcomes: list[CommitOutcome] = []
        real: Callable[..., Awaitable[Commit]] = self.store.commit

        async def held(*args: Any, **kwargs: Any) -> Commit:
            self.reached.set()  # reserved, about to create: the node freezes here
            await self.gate.wait()
            result = await real(*args, **kwargs)
            self.outcomes.append(result.outcome)
            self.returned.set()
            return result

        monkeypatch.setattr(self.store, "commit", held)

    def thaw(self) -> None:
        self.gate.set()


@pytest.fixture
async def nodes(aiohttp_client: ClientFactory, node_config: NodeConfig) -> tuple[Client, Client]:
    return await aiohttp_client(create_app(node_config)), await aiohttp_client(
        create_app(node_config)
    )


async def orders_of(client: Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    listed = await (await client.get(ORDERS, headers=auth)).json()
    return list(listed["orders"])


async def test_the_retry_of_a_frozen_try_creates_the_order_and_the_first_try_is_fenced(
    nodes: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    auth = await bearer(a)
    headers = {**auth, "Idempotency-Key": "frozen", "X-Request-ID": "client-request-1"}
    frozen = Frozen(a, monkeypatch)
    first = asyncio.create_task(a.post(ORDERS, json=ORDER, headers=headers))
    await asyncio.wait_for(frozen.reached.wait(), 10)
    retry = await b.post(ORDERS, json=ORDER, headers=headers)  # the balancer's second try
    assert retry.status == 201, await retry.text()
    assert "Idempotent-Replayed" not in retry.headers
    order = await retry.json()
    frozen.thaw()  # the frozen node resumes: its commit finds the order done, creates nothing
    late = await first
    assert late.status == 201 and late.headers["Idempotent-Replayed"] == "true"
    assert (await late.json())["id"] == order["id"]
    assert frozen.outcomes == [CommitOutcome.REPLAY]
    assert [o["id"] for o in await orders_of(b, auth)] == [order["id"]]


async def test_a_fenced_try_answers_with_the_order_of_the_try_that_took_over(
    nodes: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both tries reserved; the first resumes while the second is still at work: it is fenced
    # and, since it may be the try the balancer waits for, answers with the second's order.
    a, b = nodes
    auth = await bearer(a)
    headers = {**auth, "Idempotency-Key": "both", "X-Request-ID": "client-request-2"}
    frozen_a, frozen_b = Frozen(a, monkeypatch), Frozen(b, monkeypatch)
    first = asyncio.create_task(a.post(ORDERS, json=ORDER, headers=headers))
    await asyncio.wait_for(frozen_a.reached.wait(), 10)
    second = asyncio.create_task(b.post(ORDERS, json=ORDER, headers=headers))
    await asyncio.wait_for(frozen_b.reached.wait(), 10)
    frozen_a.thaw()
    await asyncio.wait_for(frozen_a.returned.wait(), 10)
    assert frozen_a.outcomes == [CommitOutcome.FENCED] and not first.done()
    frozen_b.thaw()
    won, fenced = await second, await first
    assert (won.status, fenced.status) == (201, 201)
    assert fenced.headers["Idempotent-Replayed"] == "true"
    assert (await won.json())["id"] == (await fenced.json())["id"]
    assert frozen_b.outcomes == [CommitOutcome.COMMITTED]
    assert len(await orders_of(a, auth)) == 1


async def test_a_fenced_try_whose_taker_never_answers_is_409_in_bounded_time(
    nodes: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(creates, "TAKER_WAIT_SECONDS", 0.3)
    a, b = nodes
    auth = await bearer(a)
    headers = {**auth, "Idempotency-Key": "stuck", "X-Request-ID": "client-request-3"}
    frozen_a, frozen_b = Frozen(a, monkeypatch), Frozen(b, monkeypatch)
    first = asyncio.create_task(a.post(ORDERS, json=ORDER, headers=headers))
    await asyncio.wait_for(frozen_a.reached.wait(), 10)
    second = asyncio.create_task(b.post(ORDERS, json=ORDER, headers=headers))
    await asyncio.wait_for(frozen_b.reached.wait(), 10)
    frozen_a.thaw()
    fenced = await asyncio.wait_for(first, 5)
    assert fenced.status == 409 and fenced.headers["Retry-After"] == "1"
    frozen_b.thaw()
    assert (await second).status == 201
    assert len(await orders_of(a, auth)) == 1


@pytest.mark.parametrize("second_id", ["another-request", None])
async def test_the_clients_own_concurrent_duplicate_still_gets_409(
    nodes: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch, second_id: str | None
) -> None:
    a, b = nodes
    auth = await bearer(a)
    key = {"Idempotency-Key": "dup"}
    frozen = Frozen(a, monkeypatch)
    first = asyncio.create_task(
        a.post(ORDERS, json=ORDER, headers={**auth, **key, "X-Request-ID": "client-request-4"})
    )
    await asyncio.wait_for(frozen.reached.wait(), 10)
    other = {"X-Request-ID": second_id} if second_id else {}  # None: the node makes one up
    duplicate = await b.post(ORDERS, json=ORDER, headers={**auth, **key, **other})
    assert duplicate.status == 409 and int(duplicate.headers["Retry-After"]) >= 1
    frozen.thaw()
    done = await first
    assert done.status == 201 and "Idempotent-Replayed" not in done.headers
    assert frozen.outcomes == [CommitOutcome.COMMITTED]
    assert len(await orders_of(a, auth)) == 1


async def test_a_frozen_try_that_resumes_before_reserving_still_makes_one_order(
    nodes: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The frozen node had not reserved yet: the retry reserved and holds the key when the
    # frozen try arrives with the same id; it takes over and creates the order, and the retry
    # (which the balancer waits for) finds it done and answers with it: no 409, one order.
    a, b = nodes
    auth = await bearer(a)
    headers = {**auth, "Idempotency-Key": "late", "X-Request-ID": "client-request-5"}
    frozen_b = Frozen(b, monkeypatch)
    retry = asyncio.create_task(b.post(ORDERS, json=ORDER, headers=headers))
    await asyncio.wait_for(frozen_b.reached.wait(), 10)
    resumed = await a.post(ORDERS, json=ORDER, headers=headers)
    assert resumed.status == 201
    frozen_b.thaw()
    answer = await retry
    assert answer.status == 201 and answer.headers["Idempotent-Replayed"] == "true"
    assert (await answer.json())["id"] == (await resumed.json())["id"]
    assert frozen_b.outcomes == [CommitOutcome.REPLAY]
    assert len(await orders_of(a, auth)) == 1
    assert not await a.app[STORE].redis.exists(idem_keys("alice", "late")[1])
