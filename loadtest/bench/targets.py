"""What a benchmark measures, started for the length of an ``ExitStack``: the backends (real
nodes with their own Redis server, or a minimal aiohttp app) and this balancer in front of them.

HAProxy and nginx, the peers, are in ``loadtest.bench.peers``. Every process is a child of the
benchmark, on a free loopback port, terminated (then killed) when the stack closes.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from cluster.runtime import redis_server
from cluster.runtime.net import free_ports

PY = sys.executable

STUB = """
import sys
from aiohttp import web
name = sys.argv[2]
async def ok(request):
    return web.Response(text="ok", headers={"X-Served-By": name})
app = web.Application()
app.router.add_get("/healthz", ok)
app.router.add_get("/readyz", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


@contextmanager
def child(
    command: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, terminated (then killed) when the block ends."""
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if log:
            out.close()  # type: ignore[union-attr]


def start_redis(stack: ExitStack, work: Path, port: int) -> None:
    """A Redis server for the nodes on ``port``, stopped with the stack."""
    server = redis_server.find_server()
    redis = redis_server.start(
        server, host="127.0.0.1", port=port, workdir=work, log=work / "redis.log", detach=False
    )
    stack.callback(redis.stop)
    print(f"Redis server: {server.describe()}", flush=True)


def node_env(name: str, port: int, redis_port: int, secret: str, log_level: str) -> dict[str, str]:
    """The settings of one ``python -m nodes``."""
    return {
        "NODE_NAME": name,
        "NODE_HOST": "127.0.0.1",
        "NODE_PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "JWT_SECRET": secret,
        "LOG_LEVEL": log_level,
    }


def start_backends(stack: ExitStack, kind: str, work: Path) -> list[int]:
    """Three backends, ``nodes`` (with a Redis server) or ``stub``; their ports, once ready."""
    *ports, redis_port = free_ports(4)
    if kind == "stub":
        for i, port in enumerate(ports, 1):
            stack.enter_context(child([PY, "-c", STUB, str(port), f"stub-{i}"]))
    else:
        start_redis(stack, work, redis_port)
        secret = secrets.token_hex(32)
        for i, port in enumerate(ports, 1):
            env = node_env(f"node-{i}", port, redis_port, secret, "WARNING")
            stack.enter_context(child([PY, "-m", "nodes"], env, work / f"node-{i}.log"))
    for port in ports:
        wait_http(f"http://127.0.0.1:{port}/readyz")
    return ports


def start_balancer(stack: ExitStack, ports: list[int], work: Path, threads: int) -> tuple[int, int]:
    """This balancer in front of ``ports``; its port and pid once every backend is up."""
    port, admin = free_ports(2)
    env = {
        "BALANCER_HOST": "127.0.0.1",
        "BALANCER_PORT": str(port),
        "BALANCER_ADMIN_PORT": str(admin),
        "LOG_LEVEL": "WARNING",
        "BALANCER_BACKENDS": ",".join(f"http://127.0.0.1:{p}" for p in ports),
    }
    proc = stack.enter_context(child([PY, "-m", "balancer"], env, work / "balancer.log"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/_lb/status", timeout=1) as r:
                if all(b["state"] == "up" for b in json.load(r)["backends"]):
                    return port, proc.pid
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the balancer's backends did not come up")
