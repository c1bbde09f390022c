"""The paradox's measurements over HTTP: readiness, logins, propagation, load through an outage.

Every loop here is bounded in time; every request has a timeout; traffic goes to loopback only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from loadtest.paradox.stats import Sample
from servicekit.demo_users import login_body

USER = "alice"


class ProbeError(RuntimeError):
    """A node did not answer as the contract says (login refused, logout not 204, …)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def readiness(session: aiohttp.ClientSession, url: str) -> bool:
    """``/readyz`` is 200 and the revocation does not call itself stale."""
    try:
        async with session.get(url + "/readyz") as resp:
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    revocation = body.get("revocation", {}) if isinstance(body, dict) else {}
    return resp.status == 200 and not revocation.get("stale", False)


async def wait_ready(
    session: aiohttp.ClientSession, urls: Sequence[str], within: float, died: Callable[[], str]
) -> None:
    """Wait until every node is ready; fail with the logs of a node that exited."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        states = await asyncio.gather(*(readiness(session, url) for url in urls))
        if all(states):
            return
        if dead := died():
            raise ProbeError(f"a node exited while starting:\n{dead}")
        await asyncio.sleep(0.2)
    raise ProbeError(f"nodes not ready within {within:.0f}s: {list(urls)}")


async def login(session: aiohttp.ClientSession, url: str) -> str:
    async with session.post(url + "/auth/login", json=login_body(USER)) as resp:
        if resp.status != 200:
            raise ProbeError(f"login on {url} answered {resp.status}: {await resp.text()}")
        body = await resp.json()
    return str(body["access_token"])


async def logout(session: aiohttp.ClientSession, url: str, token: str) -> None:
    async with session.post(url + "/auth/logout", headers=bearer(token)) as resp:
        if resp.status != 204:
            raise ProbeError(f"logout on {url} answered {resp.status}: {await resp.text()}")


async def whoami(session: aiohttp.ClientSession, url: str, token: str) -> int:
    """The status of ``GET /whoami``; 0 when no answer came (refused, reset, timeout)."""
    try:
        async with session.get(url + "/whoami", headers=bearer(token)) as resp:
            await resp.read()
            return resp.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def propagation_trial(
    session: aiohttp.ClientSession, urls: Sequence[str], deadline: float
) -> list[float | None]:
    """Log in and out on the first node; per node, ms from the 204 until it first answers 401.

    Every node is polled back to back (one request at a time, kept-alive connection) from
    before the logout, so the resolution is one round trip. ``None``: still accepted after
    ``deadline`` seconds.
    """
    token = await login(session, urls[0])
    warm = [asyncio.Event() for _ in urls]
    first_401: list[float | None] = [None] * len(urls)
    logout_sent = asyncio.Event()

    async def poll(i: int) -> None:
        while True:
            status = await whoami(session, urls[i], token)
            if status == 401 and logout_sent.is_set():
                first_401[i] = time.monotonic()
                return
            if status != 200:
                raise ProbeError(f"{urls[i]}/whoami answered {status} to a valid token")
            warm[i].set()

    pollers = [asyncio.create_task(poll(i)) for i in range(len(urls))]
    try:
        await asyncio.wait_for(asyncio.gather(*(w.wait() for w in warm)), 10.0)
        logout_sent.set()
        await logout(session, urls[0], token)
        done_at = time.monotonic()
        await asyncio.wait(pollers, timeout=deadline)
        for task in pollers:
            if task.done() and task.exception():
                raise ProbeError(str(task.exception()))
    finally:
        for task in pollers:
            task.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
    return [None if t is None else max(0.0, (t - done_at) * 1000) for t in first_401]


@dataclass
class OutageRun:
    samples: list[Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # seconds since the phase started
    ready_after_restart: float | None = None


async def outage_phase(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    tokens: dict[str, str],
    kill: Callable[[], Awaitable[None]],
    restart: Callable[[], Awaitable[None]],
    timing: tuple[float, float, float],
    workers: int = 8,
) -> OutageRun:
    """Load every node with valid and revoked tokens; kill Redis, restart it, watch readiness.

    ``timing`` is (seconds before the kill, seconds Redis stays down, seconds observed after
    the restart). Workers alternate the token kinds and rotate over the nodes.
    """
    before, down, after = timing
    run = OutageRun()
    t0 = time.monotonic()
    stop_at = t0 + before + down + after

    async def worker(w: int) -> None:
        j = 0
        while time.monotonic() < stop_at and len(run.samples) < 1_000_000:
            kind = "valid" if j % 2 == 0 else "revoked"
            status = await whoami(session, urls[(j // 2 + w) % len(urls)], tokens[kind])
            run.samples.append(Sample(time.monotonic() - t0, kind, status))
            j += 1

    tasks = [asyncio.create_task(worker(w)) for w in range(workers)]
    try:
        await asyncio.sleep(before)
        run.marks["kill"] = time.monotonic() - t0  # the SIGKILL acts at once
        await kill()
        await asyncio.sleep(down)
        await restart()
        run.marks["restart"] = time.monotonic() - t0
        while time.monotonic() < stop_at and run.ready_after_restart is None:
            states = await asyncio.gather(*(readiness(session, url) for url in urls))
            if all(states):
                run.ready_after_restart = time.monotonic() - t0
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    run.marks["end"] = stop_at - t0
    return run
