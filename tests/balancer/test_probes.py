"""Active health against a real HTTP server: a probe that times out while the backend keeps
answering proxied requests is slow, not dead; one that times out on a silent backend counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from balancer.context import Proxy
from balancer.health import State
from balancer.pool import Backend, Pool
from balancer.probes import probe
from tests.balancer.playbook import CONFIG


async def _hanging_readyz(request: web.Request) -> web.Response:
    await asyncio.sleep(5)  # longer than any probe waits: a frozen node, or a starved one
    return web.json_response({"status": "ready"})


@pytest.fixture
async def hanging() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/readyz", _hanging_readyz)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def _probe_twice(url: str, answers_between: list[int]) -> tuple[Backend, list[str]]:
    """An UP backend (fall 1) probed once per entry, after that many proxied answers."""
    config = replace(CONFIG, backends=(url,), health_timeout=0.1, fall=1, rise=1)
    pool = Pool(config.backends, rise=1, fall=1)
    backend = pool.backends[0]
    backend.health.probe_ok()
    pool.refresh()
    proxy = Proxy(config, pool, asyncio.get_running_loop(), cast(Any, None))
    seen = []
    async with aiohttp.ClientSession() as session:
        for answers in answers_between:
            backend.counts.answers += answers
            await probe(proxy, session, backend)
            seen.append(f"{backend.health.state.value}:{backend.probe}")
    return backend, seen


async def test_a_probe_timeout_on_a_backend_that_answers_requests_is_not_counted(
    hanging: str,
) -> None:
    backend, seen = await _probe_twice(hanging, [3, 0])
    # Answers since the last probe: slow, still up. None since: the timeout counts (fall 1).
    assert seen == ["up:slow (answering requests)", "down:timeout"]
    assert backend.counts.ejections == 1


async def test_a_probe_timeout_on_a_silent_backend_counts(hanging: str) -> None:
    backend, seen = await _probe_twice(hanging, [0])
    assert seen == ["down:timeout"] and backend.health.state is State.DOWN
