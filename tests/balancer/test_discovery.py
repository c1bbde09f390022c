"""Backends from DNS, with the resolver swapped for a list the test controls."""

from __future__ import annotations

from collections import Counter

import aiohttp
import pytest

from balancer.pool import Pool
from tests.balancer.conftest import Backends, StartBalancer, lb_url, wait_until


def test_sync_adds_down_and_retires_gone_backends() -> None:
    pool = Pool(["http://10.0.0.1:80", "http://10.0.0.2:80"], rise=1, fall=1)
    for backend in pool.backends:
        backend.health.probe_ok()
    pool.refresh()
    pool.backends[1].counts.in_flight = 1  # busy: drained, not dropped
    added, retired = pool.sync(["http://10.0.0.2:80", "http://10.0.0.3:80"])
    assert (added, retired) == (["http://10.0.0.3:80"], ["http://10.0.0.1:80"])
    states = {b.url: b.state.value for b in pool.backends}
    assert states == {"http://10.0.0.2:80": "up", "http://10.0.0.3:80": "down"}
    added, retired = pool.sync(["http://10.0.0.3:80"])
    assert [b.state.value for b in pool.backends] == ["draining", "down"]
    assert pool.pick() is None  # draining and new backends get no traffic
    pool.backends[0].counts.in_flight = 0
    pool.reap()
    assert [b.url for b in pool.backends] == ["http://10.0.0.3:80"]


@pytest.mark.slow
async def test_discovery_follows_dns(backends: Backends, start_balancer: StartBalancer) -> None:
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    started = backends.start(hosts=hosts)
    port = started[0].port
    answer = hosts[:2]

    async def resolver(host: str, port: int) -> list[str]:
        assert host == "nodes.test"
        return list(answer)

    balancer = await start_balancer(
        discover=("nodes.test", port), discover_interval=0.1, resolver=resolver
    )
    pool = balancer.proxy.pool
    assert [b.url for b in pool.backends] == [f"http://{h}:{port}" for h in hosts[:2]]
    answer = hosts[1:]  # .1 leaves DNS, .3 joins (scale up and down, no config change)
    await wait_until(lambda: [b.url for b in pool.backends] == [b.url for b in started[1:]])
    await wait_until(lambda: all(b.state.value == "up" for b in pool.backends))
    served: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:
        for _ in range(6):
            async with session.get(lb_url(balancer, "/healthz")) as response:
                assert response.status == 200
                served[response.headers["X-Served-By"]] += 1
    assert served == {"stand-in-2": 3, "stand-in-3": 3}


@pytest.mark.slow
async def test_a_dns_failure_keeps_the_backends(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (backend,) = backends.start(1)
    calls = 0

    async def flaky(host: str, port: int) -> list[str]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError("temporary failure in name resolution")
        return ["127.0.0.1"]

    balancer = await start_balancer(
        discover=("nodes.test", backend.port), discover_interval=0.05, resolver=flaky
    )
    await wait_until(lambda: calls > 3)
    assert [b.state.value for b in balancer.proxy.pool.backends] == ["up"]
