"""Correct clients through the balancer, recording every answer with its time (asyncio).

Each worker loops: a keyed create (a fresh ``Idempotency-Key``; 409 → wait ``Retry-After`` and
send again), a conditional update (GET, then PUT with ``If-Match``; 412 → read again), a list.
Every acknowledged write goes into ``acks`` in the verifier's format (``loadtest.verify``); every
answer that is not what a correct client expects is a ``Failure`` with its time, so that the
failures can be placed against the failover's window.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from servicekit.demo_users import DEMO_USERS, login_body


@dataclass(frozen=True, slots=True)
class Failure:
    at: float  # time.time() when the request was sent
    what: str


@dataclass
class Record:
    requests: int = 0
    failures: list[Failure] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    #: (sent at, seconds) of every request, for the slowest answer in a window.
    latencies: list[tuple[float, float]] = field(default_factory=list)
    client_retries: int = 0  # 409 and 412: a correct client's own retries, not failures


class Clients:
    """``workers`` clients against ``base`` until ``stop`` is set."""

    def __init__(self, base: str, workers: int = 8) -> None:
        self.base = base
        self.workers = workers
        self.stop = asyncio.Event()
        self.record = Record()
        self.orders: dict[str, list[str]] = {u: [] for u in DEMO_USERS}

    async def run(self) -> Record:
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(timeout=timeout) as self.session:
            tokens = {u: await self._token(u) for u in DEMO_USERS}
            work = [
                self._worker(DEMO_USERS[i % len(DEMO_USERS)], tokens) for i in range(self.workers)
            ]
            await asyncio.gather(*work)
        return self.record

    async def _token(self, user: str) -> str:
        status, data, _ = await self.call("POST", "/auth/login", login_body(user))
        if status != 200:
            raise RuntimeError(f"login of {user} answered {status}")
        return str(data["access_token"])

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, Any]:
        self.record.requests += 1
        sent, started = time.time(), time.monotonic()
        try:
            async with self.session.request(
                method, self.base + path, json=body, headers=headers
            ) as resp:
                data = await resp.json(content_type=None) if resp.content_length != 0 else None
                return resp.status, data, resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.record.failures.append(Failure(sent, f"{method} {path}: {exc!r}"))
            return 0, None, {}
        finally:
            self.record.latencies.append((sent, time.monotonic() - started))

    def _expect(self, what: str, status: int, wanted: tuple[int, ...]) -> bool:
        if status in wanted:
            return True
        if status:
            self.record.failures.append(Failure(time.time(), f"{what}: {status}"))
        return False

    async def _worker(self, user: str, tokens: dict[str, str]) -> None:
        auth = {"Authorization": f"Bearer {tokens[user]}"}
        for step in itertools.count():
            if self.stop.is_set():
                return
            if step % 3 == 0:
                await self._create(user, auth)
            elif step % 3 == 1:
                await self._update(user, auth)
            else:
                status, _, _ = await self.call("GET", f"/users/{user}/orders?limit=5", None, auth)
                self._expect("list", status, (200,))
            await asyncio.sleep(0.005)

    async def _create(self, user: str, auth: dict[str, str]) -> None:
        body = {"item": f"item-{uuid.uuid4().hex[:16]}", "quantity": random.randint(1, 5)}
        headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
        for _ in range(10):
            status, data, answer = await self.call("POST", f"/users/{user}/orders", body, headers)
            if status == 409:
                self.record.client_retries += 1
                await asyncio.sleep(float(answer.get("Retry-After") or 1))
                continue
            if self._expect("create", status, (200, 201)):
                self.orders[user].append(data["id"])
                self.record.acks.append(
                    {"kind": "create", "user": user, "order": data["id"], **body,
                     "etag": answer.get("ETag"), "at": time.time()}
                )  # fmt: skip
            return

    async def _update(self, user: str, auth: dict[str, str]) -> None:
        if not self.orders[user]:
            return
        order = random.choice(self.orders[user])
        for _ in range(10):
            status, data, answer = await self.call("GET", f"/orders/{order}", None, auth)
            if not self._expect("read", status, (200,)):
                return
            etag = answer.get("ETag", "")
            body = {"item": data["item"], "quantity": int(data["quantity"]) % 1000 + 1}
            headers = {**auth, "If-Match": etag}
            status, _, answer = await self.call("PUT", f"/orders/{order}", body, headers)
            if status == 412:
                self.record.client_retries += 1
                continue
            if self._expect("update", status, (200,)):
                self.record.acks.append(
                    {"kind": "update", "user": user, "order": order, "if_match": etag,
                     "etag": answer.get("ETag"), "quantity": body["quantity"], "at": time.time()}
                )  # fmt: skip
            return


async def run_until(clients: Clients, stop_after: asyncio.Future[Any]) -> Record:
    """Run ``clients`` until ``stop_after`` is done (or failed), then let them finish."""
    task = asyncio.create_task(clients.run())
    with contextlib.suppress(Exception):
        await stop_after
    clients.stop.set()
    return await task
