"""``PUT /_lb/backends``: the pool changed at run time, new backends probed first, removed ones
drained; the body rules (400, 415, 409); and the pool's membership and slow-start decisions."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import aiohttp
import pytest

from balancer.admin.body import BadBody, backend_list, chaos_event, header
from balancer.config import backend_url
from balancer.events import EventLog
from balancer.pool import Pool
from tests.balancer.conftest import Backends, StartBalancer, admin_url, lb_url, wait_until

JSON_TYPE = {"Content-Type": "application/json"}


def test_the_body_rules() -> None:
    ok = b'{"backends": ["http://127.0.0.1:81/", "http://h:82", "http://127.0.0.1:81"]}'
    assert backend_list(b"application/json; charset=utf-8", ok, backend_url) == [
        "http://127.0.0.1:81",
        "http://h:82",
    ]
    cases = [
        (b"text/plain", ok, 415),
        (b"", ok, 415),
        (b"application/json", b"{", 400),
        (b"application/json", b"[]", 400),
        (b"application/json", b'{"backends": "http://h:1"}', 400),
        (b"application/json", b'{"backends": []}', 400),
        (b"application/json", b'{"backends": ["https://h:1"]}', 400),
        (b"application/json", b'{"backends": ["http://h"]}', 400),
        (b"application/json", b'{"backends": [1]}', 400),
        (b"application/json", b'{"backends": ["http://h:1"], "more": 1}', 400),
    ]
    for content_type, body, status in cases:
        with pytest.raises(BadBody) as caught:
            backend_list(content_type, body, backend_url)
        assert caught.value.status == status, body
    assert chaos_event(b"application/json", b'{"action":"kill","target":"node-1"}') == {
        "action": "kill",
        "target": "node-1",
    }
    with pytest.raises(BadBody):
        chaos_event(b"application/json", b'{"target":"node-1"}')
    assert header(b"Host: x\r\nContent-Type: application/json\r\n", b"content-type") == (
        b"application/json"
    )


def test_sync_from_the_api_is_an_event_and_new_backends_start_down() -> None:
    pool = Pool(["http://a:1"], rise=1, fall=1)
    woken: list[bool] = []
    pool.wake = lambda: woken.append(True)
    added, removed = pool.sync(["http://a:1", "http://b:2"], "api")
    assert (added, removed, woken) == (["http://b:2"], [], [True])
    assert [b.state.value for b in pool.backends] == ["down", "down"]
    (event,) = pool.events.since(0)
    assert event["kind"] == "pool" and event["source"] == "api"
    pool.sync(["http://b:2"], "api")
    assert [b.url for b in pool.backends] == ["http://b:2"]  # idle: gone at once
    assert [e["kind"] for e in pool.events.since(1)] == ["pool", "gone"]


def test_the_event_log_keeps_the_last_entries() -> None:
    log = EventLog(keep=3, clock=lambda: 1.0)
    for i in range(5):
        log.add("chaos", action=str(i))
    assert [e["seq"] for e in log.since(0)] == [3, 4, 5]
    assert [e["action"] for e in log.since(4)] == ["4"]


def test_slow_start_gives_a_new_backend_a_growing_share() -> None:
    pool = Pool(["http://a:1", "http://b:2", "http://c:3"], rise=1, fall=1, slow_start=10.0)
    old_a, old_b, new = pool.backends
    for backend in (old_a, old_b):
        backend.health.probe_ok()
    pool.refresh()
    before = new.health.state
    new.health.probe_ok()
    pool.health_changed(new, before, "ok")
    assert new.warm_from > 0
    new.warm_from = time.monotonic() - 5.0  # half way through the window
    picks = Counter(pool.pick().url for _ in range(300))  # type: ignore[union-attr]
    # Full weight 1, 1 and about a half: the new one gets about a fifth (100 of 300 without).
    assert 40 <= picks["http://c:3"] <= 75, picks
    new.warm_from = time.monotonic() - 11.0  # the window is over
    picks = Counter(pool.pick().url for _ in range(300))  # type: ignore[union-attr]
    assert picks["http://c:3"] == 100 and new.warm_from == 0.0


async def put(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object], str]:
    async with session.put(url, data=body, headers=headers or JSON_TYPE) as response:
        return response.status, await response.json(content_type=None), response.content_type


@pytest.mark.slow
async def test_put_backends_probes_the_new_and_drains_the_removed(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    first, second = backends.start(2)
    balancer = await start_balancer([first.url])
    pool = balancer.proxy.pool
    async with aiohttp.ClientSession() as session:
        body = json.dumps({"backends": [first.url, second.url]}).encode()
        status, answer, _ = await put(session, admin_url(balancer, "/_lb/backends"), body)
        assert status == 200 and answer["added"] == [second.url] and answer["removed"] == []
        states = {b["url"]: b["state"] for b in answer["backends"]}  # type: ignore[attr-defined]
        assert states == {first.url: "up", second.url: "down"}  # probed before traffic
        await wait_until(lambda: all(b.state.value == "up" for b in pool.backends))
        served = Counter()
        for _ in range(6):
            async with session.get(lb_url(balancer, "/healthz")) as response:
                served[response.headers["X-Served-By"]] += 1
        assert served == {"stand-in-1": 3, "stand-in-2": 3}
        # A slow request on the first backend, then the first is removed: it finishes.
        slow = asyncio.create_task(session.get(lb_url(balancer, "/echo?sleep=0.8")))
        await wait_until(lambda: pool.backends[0].counts.in_flight == 1 or slow.done())
        body = json.dumps({"backends": [second.url]}).encode()
        status, answer, _ = await put(session, admin_url(balancer, "/_lb/backends"), body)
        assert status == 200 and answer["removed"] == [first.url]
        states = {b["url"]: b["state"] for b in answer["backends"]}  # type: ignore[attr-defined]
        assert states == {first.url: "draining", second.url: "up"}
        for _ in range(4):
            async with session.get(lb_url(balancer, "/healthz")) as response:
                assert response.headers["X-Served-By"] == "stand-in-2"
        response = await slow
        assert response.status == 200 and response.headers["X-Served-By"] == "stand-in-1"
        response.release()
        await wait_until(lambda: [b.url for b in pool.backends] == [second.url])
    kinds = [e["kind"] for e in pool.events.since(0)]
    assert kinds.count("pool") == 2 and "gone" in kinds


@pytest.mark.slow
async def test_put_backends_refuses_what_it_cannot_take(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (first,) = backends.start(1)
    balancer = await start_balancer([first.url])
    url = admin_url(balancer, "/_lb/backends")
    good = json.dumps({"backends": [first.url]}).encode()
    async with aiohttp.ClientSession() as session:
        status, answer, kind = await put(session, url, good, {"Content-Type": "text/plain"})
        assert (status, kind) == (415, "application/problem+json") and answer["status"] == 415
        for bad in (b"{", b'{"backends": []}', b'{"backends": ["ftp://x:1"]}'):
            status, answer, kind = await put(session, url, bad)
            assert (status, kind) == (400, "application/problem+json"), bad
        async with session.delete(url) as response:
            assert response.status == 405 and response.headers["Allow"] == "GET, PUT, HEAD"
        async with session.get(url) as response:
            assert [b["url"] for b in (await response.json())["backends"]] == [first.url]
    assert [b.url for b in balancer.proxy.pool.backends] == [first.url]


@pytest.mark.slow
async def test_put_backends_is_409_when_dns_owns_the_list(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (first,) = backends.start(1)

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    balancer = await start_balancer(discover=("nodes.test", first.port), resolver=resolver)
    async with aiohttp.ClientSession() as session:
        body = json.dumps({"backends": [first.url]}).encode()
        status, answer, _ = await put(session, admin_url(balancer, "/_lb/backends"), body)
    assert status == 409 and "BALANCER_DISCOVER" in str(answer["detail"])
