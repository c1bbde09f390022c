"""Each revocation mode against a real Redis that the tests stop, freeze and start again.

Two ``Revocation`` instances on separate Redis clients stand for two nodes: a token revoked on
one must be rejected by the other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from nodes.revocation.base import (
    Revocation,
    RevocationSettings,
    RevocationUnavailable,
    TokenRef,
)
from nodes.revocation.cached import CachedRevocation
from nodes.revocation.factory import create_revocation
from nodes.revocation.store import JTI_INDEX, JTI_PREFIX
from tests.support import RedisServer, require

CHECKED = ("denylist", "denylist-fail-open", "cached")
FAST = RevocationSettings(resync_interval=0.3, breaker_open_for=0.1, log_every=0.0)

Factory = Callable[..., Awaitable[Revocation]]


def fresh_token(jti: str, sub: str = "alice", iat: int | None = None, life: int = 900) -> TokenRef:
    now = int(time.time())
    return TokenRef(jti=jti, sub=sub, iat=now if iat is None else iat, exp=now + life)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> float:
    """Seconds until ``check()`` holds; fails the test after ``within`` seconds."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may stop, freeze and start."""
    require(RedisServer.binary() is not None, "redis-server (Debian: apt-get install redis-server)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    """Build started ``Revocation``s, each with its own client and registry (one per "node")."""
    async with AsyncExitStack() as stack:

        async def build(mode: str, url: str, settings: RevocationSettings = FAST) -> Revocation:
            redis = Redis.from_url(url)
            stack.push_async_callback(redis.aclose)
            registry = CollectorRegistry()
            revocation = create_revocation(mode, redis, registry, settings)
            revocation.registry = registry  # type: ignore[attr-defined]
            await revocation.start()
            stack.push_async_callback(revocation.close)
            return revocation

        yield build


async def is_revoked_soon(revocation: Revocation, token: TokenRef) -> float:
    async def check() -> bool:
        return await revocation.is_revoked(token)

    return await eventually(check)


@pytest.mark.parametrize("mode", CHECKED)
async def test_a_token_revoked_on_one_node_is_rejected_on_another(
    mode: str, redis_url: str, make: Factory
) -> None:
    node1, node2 = await make(mode, redis_url), await make(mode, redis_url)
    revoked, kept = fresh_token("revoked"), fresh_token("kept")
    await node1.revoke(revoked)
    assert await is_revoked_soon(node2, revoked) < 1.0
    assert await node1.is_revoked(revoked)
    assert not await node2.is_revoked(kept)


async def test_mode_none_cannot_take_a_token_back(redis_url: str, make: Factory) -> None:
    node1, node2 = await make("none", redis_url), await make("none", redis_url)
    token = fresh_token("t")
    await node1.revoke(token)
    await node1.revoke_all("alice", int(time.time()) + 1)
    assert not await node1.is_revoked(token)
    assert not await node2.is_revoked(token)
    async with Redis.from_url(redis_url) as redis:
        assert await redis.keys("revoked:*") == []


@pytest.mark.parametrize("mode", CHECKED)
async def test_logout_all_takes_back_every_earlier_token_of_the_user(
    mode: str, redis_url: str, make: Factory
) -> None:
    node1, node2 = await make(mode, redis_url), await make(mode, redis_url)
    now = int(time.time())
    older, other_user = fresh_token("a", iat=now - 5), fresh_token("b", sub="bob", iat=now - 5)
    await node1.revoke_all("alice", now)
    await is_revoked_soon(node2, older)
    assert not await node2.is_revoked(fresh_token("c", iat=now))  # a login after it
    assert not await node2.is_revoked(other_user)


async def test_denylist_keys_expire_with_the_token(redis_url: str, make: Factory) -> None:
    node = await make("denylist", redis_url)
    await node.revoke(fresh_token("short", life=30))
    await node.revoke(fresh_token("expired", life=-1))  # nothing left to take back
    async with Redis.from_url(redis_url) as redis:
        assert 25_000 < await redis.pttl(JTI_PREFIX + "short") <= 30_000
        assert not await redis.exists(JTI_PREFIX + "expired")


@pytest.mark.parametrize("mode", CHECKED)
async def test_a_revocation_outlives_the_token_by_the_verifiers_leeway(
    mode: str, redis_url: str, make: Factory
) -> None:
    # The verifier accepts a token up to `leeway` seconds past its exp: a logout in that window
    # must still take it back, everywhere, and the denylist entry must last that long.
    settings = dataclasses.replace(FAST, leeway=5)
    node1, node2 = await make(mode, redis_url, settings), await make(mode, redis_url, settings)
    just_expired = fresh_token("late", life=-1)
    await node1.revoke(just_expired)
    await is_revoked_soon(node2, just_expired)
    async with Redis.from_url(redis_url) as redis:
        assert 3_000 < await redis.pttl(JTI_PREFIX + "late") <= 4_000


async def test_denylist_fails_closed_fast_when_redis_is_down(
    own_redis: RedisServer, make: Factory
) -> None:
    node = await make("denylist", own_redis.url)
    revoked, valid = fresh_token("r"), fresh_token("v")
    await node.revoke(revoked)
    own_redis.stop()
    for token in (valid, revoked, valid):
        start = time.monotonic()
        with pytest.raises(RevocationUnavailable):
            await node.is_revoked(token)
        assert time.monotonic() - start < FAST.check_timeout + 0.2
    with pytest.raises(RevocationUnavailable):
        await node.revoke(fresh_token("late"))
    own_redis.start()  # an empty Redis (no persistence): the check works again

    async def answers() -> bool:
        try:
            return not await node.is_revoked(valid)
        except RevocationUnavailable:
            return False

    assert await eventually(answers) < 2.0


async def test_denylist_times_out_on_a_frozen_redis(own_redis: RedisServer, make: Factory) -> None:
    node = await make("denylist", own_redis.url)
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)  # accepts nothing, answers nothing: no refusal
    start = time.monotonic()
    with pytest.raises(RevocationUnavailable):
        await node.is_revoked(fresh_token("v"))
    assert time.monotonic() - start < FAST.check_timeout + 0.5
    own_redis.proc.send_signal(signal.SIGCONT)


async def test_fail_open_accepts_counts_and_logs_when_redis_is_down(
    own_redis: RedisServer, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    node = await make("denylist-fail-open", own_redis.url)
    revoked, valid = fresh_token("r"), fresh_token("v")
    await node.revoke(revoked)
    assert await node.is_revoked(revoked)
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="nodes.revocation"):
        assert not await node.is_revoked(valid)
        assert not await node.is_revoked(revoked)  # the price: a revoked token gets through
    registry: CollectorRegistry = node.registry  # type: ignore[attr-defined]
    assert registry.get_sample_value("revocation_fail_open_accepted_total") == 2
    assert any(r.__dict__.get("outcome") == "accepted unchecked" for r in caplog.records)
    own_redis.start()
    await node.revoke(revoked)  # after the restart the denylist works again
    assert await is_revoked_soon(node, revoked) < 2.0


async def test_cached_keeps_rejecting_what_it_knew_while_redis_is_down(
    own_redis: RedisServer, make: Factory
) -> None:
    node1 = await make("cached", own_redis.url)
    node2 = await make("cached", own_redis.url)
    revoked, valid = fresh_token("r"), fresh_token("v")
    await node1.revoke(revoked)
    await is_revoked_soon(node2, revoked)
    assert node2.status()["stale"] is False
    own_redis.stop()

    async def stale() -> bool:
        return node2.status()["stale"] is True

    await eventually(stale)
    assert await node2.is_revoked(revoked)
    assert not await node2.is_revoked(valid)
    with pytest.raises(RevocationUnavailable):
        await node2.revoke(fresh_token("late"))


async def test_cached_recovers_and_heals_an_emptied_redis(
    own_redis: RedisServer, make: Factory
) -> None:
    node1 = await make("cached", own_redis.url)
    node2 = await make("cached", own_redis.url)
    revoked = fresh_token("r")
    await node1.revoke(revoked)
    await is_revoked_soon(node2, revoked)
    own_redis.stop()
    await asyncio.sleep(0.3)
    own_redis.start()  # no persistence: this Redis forgot the revocation

    async def fresh() -> bool:
        return node1.status()["stale"] is False and node2.status()["stale"] is False

    assert await eventually(fresh) < 2.0
    # The nodes wrote back what they knew, so a denylist node sees it too.
    denylist = await make("denylist", own_redis.url)
    assert await is_revoked_soon(denylist, revoked) < 1.0
    later = fresh_token("later")
    await node1.revoke(later)  # pub/sub works again
    assert await is_revoked_soon(node2, later) < 1.0


async def test_cached_goes_stale_on_a_frozen_redis_and_follows_again_after(
    own_redis: RedisServer, make: Factory
) -> None:
    node = await make("cached", own_redis.url)
    writer = await make("denylist", own_redis.url)
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)  # no reset, no refusal: only silence

    async def stale() -> bool:
        return node.status()["stale"] is True

    await eventually(stale)
    own_redis.proc.send_signal(signal.SIGCONT)

    async def fresh() -> bool:
        return node.status()["stale"] is False

    await eventually(fresh)
    token = fresh_token("after")
    await writer.revoke(token)
    assert await is_revoked_soon(node, token) < 1.0


async def test_cached_started_while_redis_is_down_catches_up(
    own_redis: RedisServer, make: Factory
) -> None:
    writer = await make("denylist", own_redis.url)
    revoked = fresh_token("r")
    await writer.revoke(revoked)
    own_redis.stop()
    node = await make("cached", own_redis.url)
    assert node.status()["stale"] is True
    own_redis.start()
    await writer.revoke(revoked)  # the restarted Redis is empty: store it again
    assert await is_revoked_soon(node, revoked) < 2.0


async def test_a_lost_pubsub_message_is_healed_by_the_resync(redis_url: str, make: Factory) -> None:
    quick = await make("cached", redis_url, RevocationSettings(resync_interval=0.3))
    slow = await make("cached", redis_url, RevocationSettings(resync_interval=60))
    token = fresh_token("lost")
    # Stored the way a revoke stores it, but its pub/sub message never goes out.
    async with Redis.from_url(redis_url) as redis:
        await redis.set(JTI_PREFIX + token.jti, "1", ex=900)
        await redis.zadd(JTI_INDEX, {token.jti: token.exp})
    assert await is_revoked_soon(quick, token) < 1.5
    assert not await slow.is_revoked(token)  # no message came: only a resync can find it


async def test_cached_ignores_a_malformed_message(redis_url: str, make: Factory) -> None:
    node = await make("cached", redis_url)
    assert isinstance(node, CachedRevocation)
    assert node.status()["subscribed"] is True  # start() waits for the subscription
    async with Redis.from_url(redis_url) as redis:
        await redis.publish("revocations", "not json")
    registry: CollectorRegistry = node.registry  # type: ignore[attr-defined]

    async def counted() -> bool:
        return registry.get_sample_value("revocation_redis_failures_total", {"op": "message"}) == 1

    await eventually(counted)
    assert node.status()["entries"] == 0


async def test_cached_forgets_expired_tokens(redis_url: str, make: Factory) -> None:
    node = await make("cached", redis_url)
    await node.revoke(fresh_token("brief", life=1))
    assert node.status()["entries"] == 1

    async def pruned() -> bool:
        return node.status()["entries"] == 0

    await eventually(pruned, within=5.0)
    async with Redis.from_url(redis_url) as redis:
        assert await redis.zcard(JTI_INDEX) == 0
