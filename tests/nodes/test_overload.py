"""A node past its login capacity sheds at once, unprocessed, and never holds a login too long.

The node runs against the suite's real Redis with a slower scrypt injected (a sleep before the
real hash, at the cheap test cost): the queue forms for real, but the shared machine's CPU is
not what paces it. The same slowness applies to the start-up calibration, as a real cost would.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from nodes import passwords
from nodes.app import create_app
from nodes.state import HASHING, METRICS, REDIS
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import assert_problem, make_config, settle
from tests.support import free_port

HASH_SECONDS = 0.05
BOUND = 0.5  # at 50 ms a hash on one thread: about ten logins may wait
LOGINS = 40
TIMEOUT = 10.0


class SlowScrypt:
    """``passwords._scrypt`` after a sleep (no CPU spent); counts calls; can be held."""

    def __init__(self) -> None:
        self.real = passwords._scrypt
        self.calls = 0
        self.released = threading.Event()
        self.released.set()
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> bytes:
        with self._lock:
            self.calls += 1
        time.sleep(HASH_SECONDS)
        assert self.released.wait(TIMEOUT)
        return self.real(*args)


@pytest.fixture
def slow_scrypt(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowScrypt]:
    slow = SlowScrypt()
    monkeypatch.setattr(passwords, "_scrypt", slow)
    yield slow
    slow.released.set()


async def timed_login(client: TestClient[Any, Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    resp = await client.post("/auth/login", json={"username": "bob", "password": "bob-pass"})
    await resp.read()
    return resp, time.perf_counter() - start


async def assert_shed(resp: Any) -> None:
    body = await assert_problem(resp, 503, "overloaded")
    assert "NOT processed" in body["detail"]
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.headers["X-Not-Processed"] == "true"


async def test_a_burst_of_logins_is_served_or_shed_fast_and_unprocessed(
    aiohttp_client: ClientFactory, redis_url: str, slow_scrypt: SlowScrypt
) -> None:
    config = make_config(redis_url, login_concurrency=1, login_queue_seconds=BOUND)
    client = await aiohttp_client(create_app(config))
    keys_before, hashes_before = await client.app[REDIS].dbsize(), slow_scrypt.calls
    answers = await asyncio.gather(*(timed_login(client) for _ in range(LOGINS)))

    served = [seconds for resp, seconds in answers if resp.status == 200]
    shed = [seconds for resp, seconds in answers if resp.status != 200]
    for resp, _ in answers:
        if resp.status != 200:
            await assert_shed(resp)  # no other status, no other 5xx
    assert served and shed, (len(served), len(shed))
    # A shed login cost no password check; a served one exactly one. Nothing was written.
    assert slow_scrypt.calls - hashes_before == len(served)
    assert await client.app[REDIS].dbsize() == keys_before
    # Shed without waiting in the queue: sooner than the queue bound itself (measured: 0.1 s
    # on a quiet machine, 0.33 s with the two cores loaded by other work). Served within the
    # bound, its own hash, and what the estimate missed: the whole burst was admitted on the
    # calibration alone (measured: up to 0.7 s here).
    assert max(shed) < BOUND, sorted(shed)[-5:]
    assert max(served) < 2 * BOUND + HASH_SECONDS, sorted(served)[-5:]
    metrics = await (await client.get("/metrics")).text()
    assert f'node_shed_total{{route="/auth/login"}} {float(len(shed))}' in metrics
    assert "node_password_hash_queued 0.0" in metrics
    assert "node_password_hash_running 0.0" in metrics


async def _start(app: web.Application, port: int, *, handler_cancellation: bool) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=handler_cancellation)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _send_login(port: int) -> asyncio.StreamWriter:
    """A raw login; the caller closes the returned connection to leave before the answer."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"username": "carol", "password": "carol-pass"}).encode()
    head = "POST /auth/login HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
    writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    return writer


@pytest.mark.parametrize("handler_cancellation", [False, True], ids=["as-served", "test-server"])
async def test_a_client_that_disconnects_while_queued_gives_its_place_back(
    redis_url: str, slow_scrypt: SlowScrypt, handler_cancellation: bool
) -> None:
    """Production serves with aiohttp's default (no handler cancellation on disconnect); the
    test server cancels. Either way the place is given back and the password never checked."""
    config = make_config(redis_url, login_concurrency=1, login_queue_seconds=5.0)
    app, port = create_app(config), free_port()
    runner = await _start(app, port, handler_cancellation=handler_cancellation)
    try:
        gate = app[HASHING]
        slow_scrypt.released.clear()  # the first login holds the only thread
        calls = slow_scrypt.calls
        async with aiohttp.ClientSession() as session:
            holder = asyncio.create_task(session.post(
                f"http://127.0.0.1:{port}/auth/login",
                json={"username": "alice", "password": "alice-pass"},
            ))  # fmt: skip
            await settle(lambda: slow_scrypt.calls == calls + 1)
            writer = await _send_login(port)
            await settle(lambda: gate.queued == 1)
            writer.close()
            await settle(lambda: gate.queued == 0)  # given back before its turn came
            slow_scrypt.released.set()
            resp = await holder
            assert resp.status == 200, await resp.text()
        assert slow_scrypt.calls == calls + 1  # the login that left was never checked
        assert (gate.running, gate.queued) == (0, 0)
        metrics = app[METRICS].render().decode()
        assert re.search(r'node_http_requests_total\{[^}]*status="499"\} 1\.0', metrics)
    finally:
        await runner.cleanup()
