"""Exactly-once creation and lost-update-free updates, under concurrency and delays.

The RESERVE script is checked against ``nodes.idempotency.decide`` over every case of its table;
a node "paused" past its lease (the SIGSTOP case) is played at the ``Store`` level: it resumes
after a retry took its reservation over and must not create a second order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from nodes.idempotency import CommitOutcome, Decision, decide, fingerprint
from nodes.orders import OrderInput, RetryIdentity, is_retry_of_last_update, parse_if_match
from nodes.state import STORE
from nodes.store import NewOrder, Store, StoredResponse, StoreUnavailable, UpdateOutcome, idem_keys
from tests.nodes.helpers import bearer

Client = TestClient[Any, Any]
ORDER = {"item": "book", "quantity": 1}


@pytest.fixture
async def store(redis_url: str) -> Any:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield Store(client)
    await client.aclose()


def new_order(order_id: str, user: str = "alice") -> NewOrder:
    body = f'{{"id":"{order_id}"}}'
    response = StoredResponse(201, f"/orders/{order_id}", '"v1"', body)
    return NewOrder(order_id, user, OrderInput("book", 1), "2026-01-01T00:00:00Z", response)


async def order_count(store: Store, user: str = "alice") -> int:
    return int(await store.redis.llen(f"user:{user}:orders"))


async def test_twenty_concurrent_posts_with_one_key_create_one_order(api: Client) -> None:
    auth = {**await bearer(api), "Idempotency-Key": "same-key"}
    responses = await asyncio.gather(
        *(api.post("/users/alice/orders", json=ORDER, headers=auth) for _ in range(20))
    )
    statuses = Counter(
        (r.status, r.headers.get("Idempotent-Replayed") == "true") for r in responses
    )
    assert statuses[(201, False)] == 1, statuses
    assert set(statuses) <= {(201, False), (201, True), (409, False)}, statuses
    ids = {(await r.json())["id"] for r in responses if r.status == 201}
    assert len(ids) == 1
    for r in responses:
        if r.status == 409:
            assert int(r.headers["Retry-After"]) >= 1
    listed = await (await api.get("/users/alice/orders", headers=auth)).json()
    assert listed["total"] == 1 and listed["orders"][0]["id"] in ids


async def test_racing_puts_with_one_etag_exactly_one_wins(api: Client) -> None:
    auth = await bearer(api)
    created = await api.post(
        "/users/alice/orders", json=ORDER, headers={**auth, "Idempotency-Key": "k"}
    )
    location = created.headers["Location"]
    responses = await asyncio.gather(
        *(
            api.put(location, json={"item": f"v{i}", "quantity": i + 1},
                    headers={**auth, "If-Match": '"v1"'})
            for i in range(12)
        )
    )  # fmt: skip
    statuses = Counter(r.status for r in responses)
    assert statuses == Counter({200: 1, 412: 11})
    winner = next(r for r in responses if r.status == 200)
    final = await (await api.get(location, headers=auth)).json()
    assert final == await winner.json() and final["version"] == 2


CASES = [
    # (record fingerprint, state, lease alive, record's request id, this request's id)
    (None, None, False, None, "r1"),
    ("other", "pending", True, "r1", "r1"),
    ("other", "done", False, "r1", "r1"),
    ("fp", "done", False, "r1", "r1"),
    ("fp", "done", True, "r2", "r1"),
    ("fp", "pending", True, "r2", "r1"),
    ("fp", "pending", True, "r1", "r1"),
    ("fp", "pending", True, "r1", ""),
    ("fp", "pending", True, "", ""),
    ("fp", "pending", True, None, "r1"),
    ("fp", "pending", False, "r1", "r1"),
    ("fp", "pending", False, "r2", "r1"),
    ("fp", "pending", False, None, ""),
]


@pytest.mark.parametrize(("stored_fp", "state", "lease", "stored_rid", "rid"), CASES)
async def test_reserve_script_follows_the_decision_table(
    store: Store,
    stored_fp: str | None,
    state: str | None,
    lease: bool,
    stored_rid: str | None,
    rid: str,
) -> None:
    rec, lease_key = idem_keys("alice", "k")
    if stored_fp is not None:
        await store.redis.hset(rec, mapping={"fp": stored_fp, "owner": "old", "state": str(state)})
        if stored_rid is not None:
            await store.redis.hset(rec, "rid", stored_rid)
        if state == "done":
            await store.redis.hset(
                rec, mapping={"status": 201, "location": "/orders/1", "etag": '"v1"', "body": "{}"}
            )
    if lease:
        await store.redis.set(lease_key, "old", px=10_000)
    reservation = await store.reserve("alice", "k", "fp", "new", 5_000, 60, rid)
    expected = decide(stored_fp, state, lease, "fp", stored_rid, rid)
    assert reservation.outcome is expected
    owns = {Decision.RESERVE, Decision.TAKE_OVER, Decision.RETRY_TAKE_OVER}
    assert await store.redis.hget(rec, "owner") == ("new" if expected in owns else "old")
    if expected in owns:  # the new owner's lease and request id
        assert await store.redis.get(lease_key) == "new"
        assert await store.redis.hget(rec, "rid") == rid
        assert 0 < await store.redis.pttl(lease_key) <= 5_000


async def test_a_paused_owner_resuming_after_takeover_creates_nothing(store: Store) -> None:
    first = await store.reserve("alice", "k", "fp", "owner-a", 100, 60)
    assert first.outcome is Decision.RESERVE
    await asyncio.sleep(0.2)  # owner-a is "SIGSTOPped" past its lease
    second = await store.reserve("alice", "k", "fp", "owner-b", 5_000, 60)
    assert second.outcome is Decision.TAKE_OVER
    assert (await store.commit("k", "owner-a", new_order("from-a"))).outcome is CommitOutcome.FENCED
    assert (
        await store.commit("k", "owner-b", new_order("from-b"))
    ).outcome is CommitOutcome.COMMITTED
    # owner-a retries its commit (or resumes only now): it gets the stored answer, no order.
    late = await store.commit("k", "owner-a", new_order("from-a"))
    assert late.outcome is CommitOutcome.REPLAY and late.response is not None
    assert late.response.location == "/orders/from-b"
    assert await order_count(store) == 1
    assert not await store.redis.exists("order:from-a")


async def test_a_committed_record_survives_a_late_release(store: Store) -> None:
    await store.reserve("alice", "k", "fp", "owner-a", 5_000, 60)
    await store.commit("k", "owner-a", new_order("o1"))
    await store.release("alice", "k", "owner-a")
    replay = await store.reserve("alice", "k", "fp", "owner-b", 5_000, 60)
    assert replay.outcome is Decision.REPLAY and await order_count(store) == 1


async def test_a_released_reservation_can_be_taken_at_once(store: Store) -> None:
    await store.reserve("alice", "k", "fp", "owner-a", 60_000, 60)
    await store.release("alice", "k", "owner-a")
    assert (
        await store.reserve("alice", "k", "fp", "owner-b", 5_000, 60)
    ).outcome is Decision.RESERVE


async def test_records_expire_after_the_ttl(store: Store) -> None:
    await store.reserve("alice", "k", "fp", "owner-a", 5_000, 86400)
    ttl = await store.redis.ttl(idem_keys("alice", "k")[0])
    assert 86000 < ttl <= 86400


async def test_http_409_while_in_progress_then_takeover(api: Client, store: Store) -> None:
    auth = {**await bearer(api), "Idempotency-Key": "stuck"}
    # Another node reserved this key and stopped: the fingerprint is what the node computes.
    fp = fingerprint("POST", "/users/alice/orders", ORDER)
    assert (
        await store.reserve("alice", "stuck", fp, "stopped-node", 2_000, 60)
    ).outcome is Decision.RESERVE
    busy = await api.post("/users/alice/orders", json=ORDER, headers=auth)
    assert busy.status == 409 and busy.headers["Retry-After"] in {"1", "2"}
    for _ in range(200):  # until the lease runs out (at most 10 s)
        if await store.redis.pttl(idem_keys("alice", "stuck")[1]) <= 0:
            break
        await asyncio.sleep(0.05)
    taken = await api.post("/users/alice/orders", json=ORDER, headers=auth)
    assert taken.status == 201 and "Idempotent-Replayed" not in taken.headers
    late = await store.commit("stuck", "stopped-node", new_order("late"))
    assert late.outcome is CommitOutcome.REPLAY
    assert await order_count(store) == 1


@pytest.mark.parametrize(("first", "second"), [("z", "z:lease"), ("z:lease", "z"), ("a:b", "a")])
async def test_keys_with_colons_never_share_a_redis_name(
    store: Store, first: str, second: str
) -> None:
    # Both reservations pending at once: one's lease must not be the other's record.
    assert (
        await store.reserve("alice", first, "fp1", "o1", 60_000, 60)
    ).outcome is Decision.RESERVE
    assert (
        await store.reserve("alice", second, "fp2", "o2", 60_000, 60)
    ).outcome is Decision.RESERVE
    assert (await store.commit(first, "o1", new_order("one"))).outcome is CommitOutcome.COMMITTED
    assert (await store.commit(second, "o2", new_order("two"))).outcome is CommitOutcome.COMMITTED
    for key, fp, order_id in ((first, "fp1", "one"), (second, "fp2", "two")):
        replay = await store.reserve("alice", key, fp, "o3", 60_000, 60)
        assert replay.outcome is Decision.REPLAY and replay.response is not None
        assert replay.response.location == f"/orders/{order_id}"
    assert await order_count(store) == 2


async def test_http_keys_z_and_z_lease_are_two_keys(api: Client) -> None:
    auth = await bearer(api)
    # z:lease first: z's lease (SET, then DEL at commit) used to wipe z:lease's done record.
    bodies = {"z:lease": {"item": "zl", "quantity": 2}, "z": {"item": "z", "quantity": 1}}
    seen: dict[str, str] = {}
    for _ in range(2):  # the second round replays each key's own order
        for key, body in bodies.items():
            headers = {**auth, "Idempotency-Key": key}
            resp = await api.post("/users/alice/orders", json=body, headers=headers)
            assert resp.status == 201, await resp.text()
            order = await resp.json()
            assert order["item"] == body["item"]
            assert seen.setdefault(key, order["id"]) == order["id"]
    assert len(set(seen.values())) == 2
    listed = await (await api.get("/users/alice/orders", headers=auth)).json()
    assert listed["total"] == 2


async def test_a_failed_release_is_logged_with_the_request_id(
    api: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    auth = {**await bearer(api), "Idempotency-Key": "k", "X-Request-ID": "release-test-1"}
    store = api.app[STORE]

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("redis: ConnectionError")

    monkeypatch.setattr(store, "commit", down)
    monkeypatch.setattr(store, "release", down)
    with caplog.at_level(logging.WARNING, logger="nodes.orders"):
        resp = await api.post("/users/alice/orders", json=ORDER, headers=auth)
    assert resp.status == 503
    [record] = [r for r in caplog.records if r.name == "nodes.orders"]
    assert record.levelno == logging.WARNING
    assert record.__dict__["request_id"] == "release-test-1"
    assert "StoreUnavailable" in record.__dict__["error"]


async def put(api: Client, location: str, auth: dict[str, str], body: Any, **headers: str) -> Any:
    return await api.put(location, json=body, headers={**auth, **headers})


async def create_via(api: Client, auth: dict[str, str]) -> Any:
    created = await api.post(
        "/users/alice/orders", json=ORDER, headers={**auth, "Idempotency-Key": "put-test"}
    )
    assert created.status == 201
    return created


async def test_a_retried_put_after_the_first_try_applied_is_200_not_412(api: Client) -> None:
    # The balancer retries a PUT on another node when the first node answered late or 503
    # after it applied the update; the retry keeps the request's X-Request-ID.
    auth = await bearer(api)
    location = (await create_via(api, auth)).headers["Location"]
    change = {"item": "pen", "quantity": 3}
    first = await put(api, location, auth, change, **{"If-Match": '"v1"', "X-Request-ID": "r-1"})
    retry = await put(api, location, auth, change, **{"If-Match": '"v1"', "X-Request-ID": "r-1"})
    assert (first.status, retry.status) == (200, 200), await retry.text()
    assert first.headers["ETag"] == retry.headers["ETag"] == '"v2"'
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await retry.json() == await first.json()
    current = await (await api.get(location, headers=auth)).json()
    assert current["version"] == 2 and current["quantity"] == 3


async def test_a_stale_put_that_is_not_a_retry_is_still_412(api: Client) -> None:
    auth = await bearer(api)
    location = (await create_via(api, auth)).headers["Location"]
    change = {"item": "pen", "quantity": 3}
    ok = await put(api, location, auth, change, **{"If-Match": '"v1"', "X-Request-ID": "r-1"})
    assert ok.status == 200
    others = [
        {"If-Match": '"v1"', "X-Request-ID": "r-2"},  # another request id
        {"If-Match": '"v1"'},  # no id: the node makes a fresh one
    ]
    for headers in others:
        assert (await put(api, location, auth, change, **headers)).status == 412
    other_body = {"item": "pen", "quantity": 4}
    reused = await put(
        api, location, auth, other_body, **{"If-Match": '"v1"', "X-Request-ID": "r-1"}
    )
    assert reused.status == 412
    # Once another update came between, the first request's retry is stale like any other.
    assert (await put(api, location, auth, change, **{"If-Match": '"v2"'})).status == 200
    late = await put(api, location, auth, change, **{"If-Match": '"v1"', "X-Request-ID": "r-1"})
    assert late.status == 412
    current = await (await api.get(location, headers=auth)).json()
    assert current["version"] == 3


@pytest.mark.parametrize(
    ("last", "this", "if_match"),
    [
        (RetryIdentity("r1", "f"), RetryIdentity("r1", "f"), '"v1"'),
        (RetryIdentity("r1", "f"), RetryIdentity("r1", "f"), "*"),
        (RetryIdentity("r1", "f"), RetryIdentity("r1", "f"), '"v2"'),
        (RetryIdentity("r1", "f"), RetryIdentity("r1", "f"), "garbage"),
        (RetryIdentity("r1", "f"), RetryIdentity("r2", "f"), '"v1"'),
        (RetryIdentity("r1", "f"), RetryIdentity("r1", "g"), '"v1"'),
        (RetryIdentity("", "f"), RetryIdentity("", "f"), '"v1"'),
    ],
)
async def test_update_script_replays_exactly_when_the_decision_says(
    store: Store, last: RetryIdentity, this: RetryIdentity, if_match: str
) -> None:
    await store.redis.hset(
        "order:o1",
        mapping={"id": "o1", "user": "alice", "item": "a", "quantity": 1, "version": 1,
                 "created_at": "t", "updated_at": "t"},
    )  # fmt: skip
    condition = parse_if_match(if_match)
    made = await store.update_order(
        "o1", "alice", OrderInput("b", 2), "t2", parse_if_match("*"), last
    )
    assert made.outcome is UpdateOutcome.UPDATED
    again = await store.update_order("o1", "alice", OrderInput("b", 2), "t3", condition, this)
    expected = is_retry_of_last_update(2, last, this, condition)
    if expected:
        assert again.outcome is UpdateOutcome.REPLAYED
    elif condition.allows(2):
        assert again.outcome is UpdateOutcome.UPDATED
    else:
        assert again.outcome is UpdateOutcome.STALE
    version = await store.redis.hget("order:o1", "version")
    assert version == ("2" if again.outcome is not UpdateOutcome.UPDATED else "3")
