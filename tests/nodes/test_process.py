"""``python -m nodes`` as a real process: config errors, serving, SIGTERM drain, exit 0."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support import RedisServer, free_port, require

ROOT = Path(__file__).resolve().parents[2]


def base_env(**settings: str) -> dict[str, str]:
    """A clean environment: nothing of the caller's leaks into the node's settings."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **settings}


def run_node(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodes"], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "JWT_SECRET"),
        ({"JWT_SECRET": "too-short"}, "JWT_SECRET: expected at least 32 bytes"),
        ({"JWT_SECRET": "s" * 32, "REVOCATION": "bogus"}, "REVOCATION"),
        ({"JWT_SECRET": "s" * 32, "NODE_PORT": "eighty"}, "NODE_PORT"),
    ],
)
def test_a_config_error_is_one_line_naming_the_setting_and_exit_2(
    settings: dict[str, str], named: str
) -> None:
    done = run_node(base_env(**settings))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: ") and named in lines[0]
    assert "s" * 32 not in done.stderr


class Node:
    """A node process on a free port, its stderr (JSON logs) in a file."""

    def __init__(self, redis_url: str, log: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(32)
        env = base_env(
            NODE_NAME="proc-1", NODE_HOST="127.0.0.1", NODE_PORT=str(self.port),
            REDIS_URL=redis_url, JWT_SECRET=self.secret, PASSWORD_HASH_COST="10", **settings,
        )  # fmt: skip
        self.log = log
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nodes"], env=env, cwd=ROOT, stderr=sink
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own: it is paused (SIGSTOP) to hold a request in flight."""
    require(RedisServer.binary() is not None, "redis-server")
    server = RedisServer()
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.send_signal(signal.SIGCONT)
    server.stop()


@pytest.fixture
def node(own_redis: RedisServer, tmp_path: Path) -> Iterator[Node]:
    started = Node(
        own_redis.url, tmp_path / "node.log", DRAIN_SECONDS=str(DRAIN), REDIS_TIMEOUT_SECONDS="20"
    )
    yield started
    started.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        yield session


async def wait_until_serving(http: aiohttp.ClientSession, node: Node) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert node.proc.poll() is None, node.log.read_text()
        try:
            async with http.get(node.url + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail("the node did not become ready within 30 s")


async def status_of(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> int:
    async with http.get(url, **kwargs) as resp:
        return resp.status


DRAIN = 4.0  # generous: the checks below must fit in it on a loaded 2-core machine


@pytest.mark.slow
async def test_sigterm_drains_finishes_in_flight_and_exits_zero(
    node: Node, own_redis: RedisServer, http: aiohttp.ClientSession
) -> None:
    await wait_until_serving(http, node)
    password = "alice-pass"
    login = {"username": "alice", "password": password}
    async with http.post(node.url + "/auth/login", json=login) as resp:
        token = (await resp.json())["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    async with http.get(node.url + "/whoami", headers=auth) as resp:
        assert resp.status == 200 and resp.headers["X-Served-By"] == "proc-1"

    # A request in flight across the whole drain: it waits for a paused Redis.
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)
    in_flight = asyncio.create_task(http.get(node.url + "/users/alice", headers=auth))
    await asyncio.sleep(0.3)
    signalled = time.monotonic()
    node.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    assert await status_of(http, node.url + "/readyz") == 503
    assert await status_of(http, node.url + "/whoami", headers=auth) == 200  # still serving
    assert await status_of(http, node.url + "/healthz") == 200
    assert time.monotonic() - signalled < DRAIN  # all of that within the drain period
    await asyncio.sleep(DRAIN + 1.0 - (time.monotonic() - signalled))
    assert node.proc.poll() is None  # past the drain, still finishing the in-flight request
    own_redis.proc.send_signal(signal.SIGCONT)
    late = await in_flight
    assert late.status == 200 and (await late.json())["id"] == "alice"
    assert await asyncio.to_thread(node.proc.wait, 20) == 0

    lines = [json.loads(line) for line in node.log.read_text().splitlines()]
    requests = [entry for entry in lines if entry.get("msg") == "request"]
    assert {"request_id", "node", "route", "method", "status", "duration_ms"} <= set(requests[0])
    assert any(e["route"] == "/readyz" and e["status"] == 503 for e in requests)
    assert any(e["route"] == "/users/{id}" and e["status"] == 200 for e in requests)
    text = node.log.read_text()
    assert token not in text and password not in text and node.secret not in text
    assert [e["msg"] for e in lines if e["logger"] == "nodes.lifecycle"][-1] == "stopped"


async def test_header_lines_the_balancer_accepts_reach_the_app(
    node: Node, http: aiohttp.ClientSession
) -> None:
    # The balancer accepts up to 16 KiB of headers (BALANCER_MAX_HEADER); aiohttp's own limits
    # (8190-byte lines, 128 headers) answered such requests with a bare text/plain 400.
    await wait_until_serving(http, node)
    one_long = {"X-Big": "a" * 10_000}
    many = {f"X-H{i}": "v" for i in range(600)}  # about 7 KiB in 600 lines
    for headers in (one_long, many):
        async with http.get(node.url + "/healthz", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["X-Served-By"] == "proc-1"


def test_a_port_in_use_is_one_line_naming_the_address_and_exit_1(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_node(
            base_env(
                NODE_NAME="proc-busy", NODE_HOST="127.0.0.1", NODE_PORT=str(port),
                REDIS_URL=redis_url, JWT_SECRET="s" * 32, PASSWORD_HASH_COST="10",
            )
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert errors == [errors[0]] and errors[0].startswith("error: cannot listen on ")
    assert f"127.0.0.1:{port}" in errors[0]


RAW_REJECTED = [
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  # duplicate Host (RFC 9112 3.2)
    b"GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n",  # a garbage request line
    b"POST /auth/login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /auth/login HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
]


async def raw_exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), timeout=10)
    finally:
        writer.close()


async def test_requests_the_http_parser_rejects_are_warnings_without_a_traceback(
    node: Node, http: aiohttp.ClientSession
) -> None:
    # aiohttp logged each of these at ERROR with a traceback (web_protocol.handle_error via the
    # aiohttp.server logger): a client's malformed request is not a node error.
    await wait_until_serving(http, node)
    for data in RAW_REJECTED:
        answer = await raw_exchange(node.port, data)
        assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer
    coded = await raw_exchange(
        node.port,
        b"POST /auth/login HTTP/1.1\r\nHost: a\r\nContent-Encoding: br\r\n"
        b"Content-Length: 7\r\n\r\ngarbage",
    )
    assert coded.startswith(b"HTTP/1.1 400") and b"unsupported-content-encoding" in coded
    await asyncio.sleep(1.0)  # the node writes its buffered log lines every 0.2 s
    lines = [json.loads(line) for line in node.log.read_text().splitlines()]
    parser = [e for e in lines if e["logger"] == "aiohttp.server"]
    assert len(parser) == len(RAW_REJECTED), parser
    for entry in parser:
        assert entry["level"] == "warning" and "exc" not in entry, entry
        assert entry["error"] in {"BadHttpMessage", "BadStatusLine", "TransferEncodingError"}
    assert "Duplicate 'Host' header" in parser[0]["reason"]
    assert not [e for e in lines if e["level"] in {"error", "critical"}]
