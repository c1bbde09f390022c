"""What ``make bloat`` measures, started for the length of an ``ExitStack``: two nodes on one
Redis (profile cache on and off), and, for the limit probes, this balancer, HAProxy and nginx
(the benchmarks' configurations, their header limits left at their defaults) in front of a
permissive stub whose own header limits are raised, so that only the proxy's limit shows."""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from cluster.runtime.net import free_port, free_ports
from loadtest.bench.peers import installed, start_haproxy, start_nginx
from loadtest.bench.targets import (
    PY,
    STUB,
    child,
    node_env,
    start_balancer,
    start_redis,
    wait_http,
)

#: Answers 200 to anything, with aiohttp's header limits raised to 1 MiB.
WIDE_STUB = """
import sys
from aiohttp import web
async def ok(request):
    return web.Response(text="ok", headers={"X-Served-By": "stub"})
app = web.Application()
app.router.add_get("/{tail:.*}", ok)
big = {"max_line_size": 1 << 20, "max_field_size": 1 << 20}
async def main():
    runner = web.AppRunner(app, access_log=None, **big)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    await __import__("asyncio").Event().wait()
__import__("asyncio").run(main())
"""


@dataclass(frozen=True, slots=True)
class Nodes:
    cached: tuple[str, int]  # base URL, pid: PROFILE_CACHE_SECONDS=30
    uncached: tuple[str, int]  # PROFILE_CACHE_SECONDS=0: one HGETALL per request
    redis_port: int
    secret: bytes


def start_nodes(stack: ExitStack, work: Path) -> Nodes:
    a, b, redis_port = free_ports(3)
    start_redis(stack, work, redis_port)
    secret = secrets.token_hex(32)
    started = []
    for name, port, ttl in (("node-cached", a, "30"), ("node-uncached", b, "0")):
        env = node_env(name, port, redis_port, secret, "WARNING") | {"PROFILE_CACHE_SECONDS": ttl}
        proc = stack.enter_context(child([PY, "-m", "nodes"], env, work / f"{name}.log"))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz")
        started.append((base, proc.pid))
    return Nodes(started[0], started[1], redis_port, secret.encode())


def start_proxies(stack: ExitStack, work: Path) -> dict[str, int]:
    """Proxy name → port, each in front of the wide stub; nginx only when installed."""
    stub = free_port()
    stack.enter_context(child([PY, "-c", WIDE_STUB, str(stub)]))
    wait_http(f"http://127.0.0.1:{stub}/readyz")
    ports = {"this balancer (16 KiB)": start_balancer(stack, [stub], work, 0)[0]}
    if installed("haproxy"):
        ports["HAProxy 2.6 (bufsize 16k)"] = start_haproxy(stack, [stub], work, 1)[0]
    if installed("nginx"):
        ports["nginx 1.22 (4 8k)"] = start_nginx(stack, [stub], work, 1)[0]
    bare = free_port()  # aiohttp's own defaults, as a bare app has them
    stack.enter_context(child([PY, "-c", STUB, str(bare), "bare"]))
    wait_http(f"http://127.0.0.1:{bare}/healthz")
    ports["aiohttp defaults (bare app)"] = bare
    ports["control: stub, limits 1 MiB"] = stub
    return ports
