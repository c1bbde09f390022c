"""Backends killed (SIGKILL), stopped (SIGSTOP) and terminated (SIGTERM) under concurrent load."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import aiohttp
import pytest

from tests.balancer.conftest import Backends, StartBalancer, lb_url, wait_until

pytestmark = pytest.mark.slow

WORKERS = 6  # concurrent clients
MAX_REQUESTS = 3000  # per test, whatever happens
TIMEOUT = aiohttp.ClientTimeout(total=20)


async def get_loop(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event, seen: list[object]
) -> None:
    while not stop.is_set() and len(seen) < MAX_REQUESTS:
        try:
            async with session.get(url, timeout=TIMEOUT) as response:
                await response.read()
                seen.append(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            seen.append(repr(exc))


async def post_loop(
    session: aiohttp.ClientSession,
    url: str,
    stop: asyncio.Event,
    worker: int,
    seen: list[tuple[str, object]],
) -> None:
    n = 0
    while not stop.is_set() and len(seen) < MAX_REQUESTS:
        key = f"w{worker}-{n}"
        n += 1
        try:
            async with session.post(
                url,
                data=b'{"item":"x"}',
                headers={"Idempotency-Key": key, "X-LB-Explain": "1"},
                timeout=TIMEOUT,
            ) as response:
                await response.read()
                explain = response.headers.get("X-LB-Explain", "")
                seen.append(
                    (key, 201 if response.status == 201 else f"{response.status} {explain}")
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            seen.append((key, repr(exc)))


async def under_load(
    backends: Backends, start_balancer: StartBalancer, signum: int, loop_factory: str
) -> tuple[list[object], Backends, int]:
    started = backends.start(3)
    balancer = await start_balancer([b.url for b in started], explain=True)  # X-LB-Explain
    stop = asyncio.Event()
    seen: list[object] = []
    async with aiohttp.ClientSession() as session:
        if loop_factory == "get":
            url = lb_url(balancer, "/echo?sleep=0.02")
            workers = [get_loop(session, url, stop, seen) for _ in range(WORKERS)]
        else:
            url = lb_url(balancer, "/orders?sleep=0.02")
            workers = [post_loop(session, url, stop, i, seen) for i in range(WORKERS)]  # type: ignore[arg-type]
        tasks = [asyncio.create_task(worker) for worker in workers]
        await asyncio.sleep(0.7)
        before = len(seen)
        started[1].signal(signum)
        await wait_until(lambda: balancer.proxy.pool.backends[1].state.value != "up")
        await asyncio.sleep(1.5)  # more load while the victim is out
        stop.set()
        await asyncio.gather(*tasks)
    return seen, backends, before


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM])
async def test_no_get_fails_when_a_backend_goes(
    backends: Backends, start_balancer: StartBalancer, signum: int
) -> None:
    seen, _, before = await under_load(backends, start_balancer, signum, "get")
    assert before > 10 and len(seen) > before  # load ran before and after the signal
    assert Counter(seen) == {200: len(seen)}


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP])
async def test_keyed_posts_are_created_exactly_once(
    backends: Backends, start_balancer: StartBalancer, signum: int
) -> None:
    seen, pool, _ = await under_load(backends, start_balancer, signum, "post")
    statuses = Counter(status for _, status in seen)  # type: ignore[misc]
    assert statuses == {201: len(seen)}
    created = Counter(str(post["key"]) for post in pool.posts())
    assert set(created) == {key for key, _ in seen}  # type: ignore[misc]
    assert [key for key, count in created.items() if count != 1] == []


@pytest.mark.parametrize(("signum", "expected"), [(signal.SIGKILL, 502), (signal.SIGSTOP, 504)])
async def test_unkeyed_post_to_a_dying_backend_is_never_sent_twice(
    backends: Backends, start_balancer: StartBalancer, signum: int, expected: int
) -> None:
    started = backends.start(2)
    balancer = await start_balancer([b.url for b in started])
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(
            session.post(lb_url(balancer, "/orders?sleep=10"), data=b"{}", timeout=TIMEOUT)
        )
        await wait_until(lambda: len(backends.posts()) == 1)
        victim = next(b for b in started if b.name == backends.posts()[0]["node"])
        victim.signal(signum)
        response = await request
        assert response.status == expected
        assert response.content_type == "application/problem+json"
        response.release()
    await asyncio.sleep(0.5)
    assert len(backends.posts()) == 1
