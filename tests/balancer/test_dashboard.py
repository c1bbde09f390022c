"""The live dashboard on the admin listener: the page (self-contained), the event stream (tiles
that turn down or frozen as it happens, pool changes, posted chaos events), and the tile rule."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from typing import Any

import aiohttp
import pytest

from balancer.admin.dashboard import View, tile_state
from balancer.pool import Pool
from tests.balancer.conftest import Backends, StartBalancer, admin_url

pytestmark = pytest.mark.slow


def test_a_down_backend_whose_probes_time_out_is_frozen() -> None:
    pool = Pool(["http://a:1"], rise=1, fall=1)
    (backend,) = pool.backends
    backend.probe = "refused"
    assert tile_state(backend) == "down"
    backend.probe = "timeout"
    assert tile_state(backend) == "frozen"
    backend.health.probe_ok()
    assert tile_state(backend) == "up"  # up is up, whatever the last probe said


def test_the_view_turns_counters_into_rates() -> None:
    from balancer.counters import Counters

    pool = Pool(["http://a:1"], rise=1, fall=1)
    counters = Counters()
    view = View(pool.events)
    view.tick(pool.backends, counters, 10.0)
    pool.backends[0].counts.requests += 50
    counters.retries += 2
    pool.events.add("chaos", action="kill")
    doc = view.tick(pool.backends, counters, 10.5)
    assert doc["rps"] == 100.0 and doc["retries_per_s"] == 4.0
    assert [e["action"] for e in doc["events"]] == ["kill"]  # type: ignore[attr-defined,index]
    assert view.tick(pool.backends, counters, 11.0)["events"] == []


async def messages(response: aiohttp.ClientResponse) -> Any:
    """Each ``data:`` message of an event stream, parsed."""
    async for line in response.content:
        if line.startswith(b"data: "):
            yield json.loads(line[6:])


async def test_the_page_is_self_contained(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (first,) = backends.start(1)
    balancer = await start_balancer([first.url])
    async with (
        aiohttp.ClientSession() as session,
        session.get(admin_url(balancer, "/_lb/dashboard")) as response,
    ):
        page = await response.text()
        assert response.status == 200 and response.content_type == "text/html"
    assert 'new EventSource("/_lb/events")' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external asset
    assert "<link" not in page and "@import" not in page


async def test_the_stream_shows_health_pool_and_chaos_as_they_happen(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    first, second, third = backends.start(3)
    balancer = await start_balancer([first.url, second.url])
    loop = asyncio.get_running_loop()
    async with (
        aiohttp.ClientSession() as session,
        session.get(admin_url(balancer, "/_lb/events")) as response,
    ):
        assert response.headers["Content-Type"] == "text/event-stream"
        stream = messages(response)
        doc = await anext(stream)
        assert {t["url"]: t["state"] for t in doc["backends"]} == {
            first.url: "up",
            second.url: "up",
        }
        second.signal(signal.SIGKILL)
        killed = loop.time()
        async with asyncio.timeout(5):
            async for doc in stream:
                states = {t["url"]: t["state"] for t in doc["backends"]}
                if states[second.url] == "down":
                    break
        assert loop.time() - killed < 2.0, "the tile turns down within 2 s"
        body = json.dumps({"action": "kill", "target": "stand-in-2", "signal": "KILL"})
        async with session.post(
            admin_url(balancer, "/_lb/events"),
            data=body,
            headers={"Content-Type": "application/json"},
        ) as posted:
            assert posted.status == 202
        put = json.dumps({"backends": [first.url, third.url]})
        async with session.put(
            admin_url(balancer, "/_lb/backends"),
            data=put,
            headers={"Content-Type": "application/json"},
        ) as answer:
            assert answer.status == 200
        kinds: set[str] = set()
        async with asyncio.timeout(10):
            async for doc in stream:
                kinds |= {e["kind"] for e in doc["events"]}
                if {"chaos", "pool", "gone"} <= kinds:
                    break
        first.signal(signal.SIGSTOP)  # frozen: the kernel accepts, nobody answers
        async with asyncio.timeout(10):
            async for doc in stream:
                states = {t["url"]: t["state"] for t in doc["backends"]}
                if states[first.url] == "frozen":
                    break
        first.signal(signal.SIGCONT)
