"""Helpers for the whole-cluster tests: a local cluster on free ports, and a bounded load loop.

The cluster is started through ``LocalRuntime``, the same code ``cluster up`` runs, in a
temporary state directory and on free loopback ports (never the defaults 8080/8081…/6390).
The load loop is plain asyncio + aiohttp (Locust never runs inside pytest): a few workers act
like correct clients (fresh ``Idempotency-Key`` per create, 409 → wait and resend, ``If-Match``
updates with re-read on 412) and record every acknowledged write in the verifier's format.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from cluster.config import ClusterConfig
from cluster.runtime.base import NodeState
from cluster.runtime.local import LocalRuntime
from cluster.runtime.net import free_ports, port_free
from cluster.runtime.procs import state_of
from cluster.runtime.state import ProcRecord
from servicekit.demo_users import DEMO_USERS, login_body
from tests.support import REDIS_NEEDED, RedisServer, require

ACCOUNTS = DEMO_USERS


def cluster_config(state_dir: Path, nodes: int) -> ClusterConfig:
    balancer, admin, redis, *node_ports = free_ports(nodes + 3)
    return ClusterConfig(
        state_dir=state_dir,
        balancer_port=balancer,
        admin_port=admin,
        redis_port=redis,
        node_ports=tuple(node_ports),
        nodes=nodes,
        drain_seconds=2.0,
        ready_timeout=60.0,  # generous: other engineers' tests share these two cores
    )


@contextlib.contextmanager
def running_cluster(state_dir: Path, nodes: int = 3) -> Iterator[LocalRuntime]:
    """A started cluster; on exit, ``down`` and a check that nothing is left behind."""
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    runtime = LocalRuntime(cluster_config(state_dir, nodes))
    runtime.up(nodes)
    try:
        yield runtime
    finally:
        processes = runtime.processes() if runtime.state_path.exists() else ()
        runtime.down()
        assert_all_gone(runtime, processes)


def assert_all_gone(runtime: LocalRuntime, processes: tuple[ProcRecord, ...]) -> None:
    left = [p.name for p in processes if state_of(p) is not NodeState.STOPPED]
    assert left == [], f"still running after down: {left}"
    busy = [p.port for p in processes if not port_free(runtime.config.host, p.port)]
    assert busy == [], f"ports still bound after down: {busy}"
    assert not runtime.state_path.exists()


@dataclass
class LoadResult:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    acks: list[dict[str, Any]] = field(default_factory=list)
    stale_retries: int = 0
    in_progress_retries: int = 0


class LoadLoop:
    """Concurrent correct clients until ``stop`` is set or ``max_seconds`` pass."""

    def __init__(self, base_url: str, workers: int = 6, max_seconds: float = 60.0) -> None:
        self.base = base_url
        self.workers = workers
        self.max_seconds = max_seconds
        self.stop = asyncio.Event()
        self.result = LoadResult()
        self.orders: dict[str, list[str]] = {a: [] for a in ACCOUNTS}
        self.tokens: dict[str, str] = {}
        self.errors: list[str] = []  # bodies of 5xx answers, for the failure messages

    async def run(self) -> LoadResult:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as self.session:
            for account in ACCOUNTS:
                status, data, _ = await self.call("POST", "/auth/login", login_body(account))
                assert status == 200, f"login of {account} answered {status}"
                self.tokens[account] = data["access_token"]
            work = [self.worker(i) for i in range(self.workers)]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*work), self.max_seconds + 30)
        return self.result

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, Any]:
        self.result.requests += 1
        try:
            # X-LB-Explain: 1 makes the balancer say what each try met (kept for failures).
            headers = {**(headers or {}), "X-LB-Explain": "1"}
            async with self.session.request(method, self.base + path, json=body,
                                            headers=headers) as resp:  # fmt: skip
                data = await resp.json(content_type=None) if resp.content_length != 0 else None
                if served := resp.headers.get("X-Served-By"):
                    self.result.served_by[served] += 1
                if resp.status >= 500:
                    self.errors.append(f"{method} {path} {resp.status}: {data} "
                                       f"explain={resp.headers.get('X-LB-Explain')}")  # fmt: skip
                return resp.status, data, resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.result.failures.append(f"{method} {path}: {exc!r}")
            return 0, None, {}

    def expect(self, what: str, status: int, wanted: tuple[int, ...]) -> bool:
        if status in wanted:
            return True
        if status:  # 0: the exception is recorded already
            detail = self.errors[-1] if self.errors and status >= 500 else ""
            self.result.failures.append(f"{what}: {status} {detail}")
        return False

    async def worker(self, index: int) -> None:
        account = ACCOUNTS[index % len(ACCOUNTS)]
        auth = {"Authorization": f"Bearer {self.tokens[account]}"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_seconds
        for step in itertools.count():
            if self.stop.is_set() or loop.time() > deadline:
                return
            kind = step % 4
            if kind == 0:
                status, _, _ = await self.call("GET", "/whoami", headers=auth)
                self.expect("whoami", status, (200,))
            elif kind == 1:
                await self.create(account, auth)
            elif kind == 2:
                await self.update(account, auth)
            else:
                status, _, _ = await self.call("GET", f"/users/{account}/orders", headers=auth)
                self.expect("list", status, (200,))
            await asyncio.sleep(0.01)

    async def create(self, account: str, auth: dict[str, str]) -> None:
        body = {"item": f"item-{uuid.uuid4().hex[:12]}", "quantity": random.randint(1, 5)}
        headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
        for _ in range(8):
            status, data, resp_headers = await self.call(
                "POST", f"/users/{account}/orders", body, headers
            )
            if status == 409:
                self.result.in_progress_retries += 1
                await asyncio.sleep(float(resp_headers.get("Retry-After") or 1))
                continue
            if self.expect("create", status, (200, 201)):
                self.orders[account].append(data["id"])
                self.result.acks.append({"kind": "create", "user": account, "order": data["id"],
                                         **body, "etag": resp_headers.get("ETag")})  # fmt: skip
            return

    async def update(self, account: str, auth: dict[str, str]) -> None:
        if not self.orders[account]:
            return
        order = random.choice(self.orders[account])
        for _ in range(8):
            status, data, headers = await self.call("GET", f"/orders/{order}", headers=auth)
            if not self.expect("read", status, (200,)):
                return
            etag = headers.get("ETag", "")
            body = {"item": data["item"], "quantity": int(data["quantity"]) % 1000 + 1}
            status, _, headers = await self.call(
                "PUT", f"/orders/{order}", body, {**auth, "If-Match": etag}
            )
            if status == 412:
                self.result.stale_retries += 1
                continue
            if self.expect("update", status, (200,)):
                self.result.acks.append({"kind": "update", "user": account, "order": order,
                                         "if_match": etag, "etag": headers.get("ETag"),
                                         "quantity": body["quantity"]})  # fmt: skip
            return
