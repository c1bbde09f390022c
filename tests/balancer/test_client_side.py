"""The client side on raw sockets: framing of the balancer's own answers, client timeouts,
``Host`` for HTTP/1.0 clients, ``X-Served-By: balancer`` on local answers, and what counts
toward the header limit when head and body share a write (issue 10, items 1 and 3)."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from tests.balancer.conftest import Backend, Backends, StartBalancer

pytestmark = pytest.mark.slow

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int) -> Streams:
    return await asyncio.open_connection("127.0.0.1", port)


async def read_response(
    reader: asyncio.StreamReader, head_only: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One response framed by Content-Length (what the balancer's own answers use)."""
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = b"" if head_only else await asyncio.wait_for(reader.readexactly(length), 10)
    return int(status_line.split()[1]), headers, body


async def request(
    streams: Streams, raw: bytes, head_only: bool = False
) -> tuple[int, dict[str, str], bytes]:
    reader, writer = streams
    writer.write(raw)
    await writer.drain()
    return await read_response(reader, head_only)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the balancer sends until it closes the connection (fails if it does not)."""
    return await asyncio.wait_for(reader.read(), seconds)


# -- 1. HEAD and 405 on /_lb/ -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/_lb/status", "/_lb/metrics"])
async def test_head_on_admin_sends_no_body_and_keeps_the_connection_framed(
    shared_backends: list[Backend], start_balancer: StartBalancer, path: str
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    assert balancer.admin_port is not None
    streams = await connect(balancer.admin_port)
    target = path.encode()
    status, headers, _ = await request(
        streams, b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % target, head_only=True
    )
    assert status == 200 and int(headers["content-length"]) > 0
    # Had a body been sent, this would read it as the next status line.
    status, headers, body = await request(streams, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
    assert status == 200 and len(body) == int(headers["content-length"]) > 0
    streams[1].close()


async def test_admin_405_names_the_allowed_methods(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    assert balancer.admin_port is not None
    streams = await connect(balancer.admin_port)
    raw = b"POST /_lb/status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    status, headers, body = await request(streams, raw)
    streams[1].close()
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert json.loads(body)["status"] == 405


async def test_head_answered_503_by_the_balancer_has_no_body(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (backend,) = backends.start(1)
    balancer = await start_balancer([backend.url])
    backend.signal(signal.SIGKILL)
    backend.proc.wait(timeout=10)
    streams = await connect(balancer.port)
    status, headers, _ = await request(
        streams, b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n", head_only=True
    )
    assert status == 503 and int(headers["content-length"]) > 0
    status, _, body = await request(streams, b"GET /_lb/status HTTP/1.1\r\nHost: x\r\n\r\n")
    streams[1].close()
    assert status == 404 and json.loads(body)["status"] == 404  # read as framed: no body before


# -- 2. client timeouts -----------------------------------------------------------------------
async def test_a_half_sent_head_gets_408_and_is_closed(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer(
        [shared_backends[0].url], client_header_timeout=0.5, client_idle_timeout=30.0
    )
    reader, writer = await connect(balancer.port)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow")  # slowloris: never finished
    await writer.drain()
    begun = time.monotonic()
    raw = await closed_within(reader, 10)
    assert 0.4 < time.monotonic() - begun < 5
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in head
    assert b"X-Served-By: balancer" in head
    assert "BALANCER_CLIENT_HEADER_TIMEOUT=0.5" in json.loads(body)["detail"]
    assert balancer.proxy.counters.local == {408: 1}  # balancer_local_responses{code="408"}
    writer.close()


async def test_a_stalled_body_gets_408(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer(
        [shared_backends[0].url], client_header_timeout=0.5, client_idle_timeout=1.0
    )
    reader, writer = await connect(balancer.port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    await writer.drain()
    raw = await closed_within(reader, 10)
    assert raw.startswith(b"HTTP/1.1 408 ")
    assert "BALANCER_CLIENT_IDLE_TIMEOUT=1" in json.loads(raw.partition(b"\r\n\r\n")[2])["detail"]
    writer.close()


async def test_idle_keep_alive_connections_are_closed_quietly(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer(
        [shared_backends[0].url], client_header_timeout=0.3, client_idle_timeout=1.0
    )
    silent_reader, silent = await connect(balancer.port)  # never sends a byte
    streams = await connect(balancer.port)
    # Requests spaced under the idle timeout keep the connection, well past both timeouts.
    for _ in range(6):
        status, _, _ = await request(streams, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200
        await asyncio.sleep(0.4)
    begun = time.monotonic()
    assert await closed_within(streams[0], 10) == b""  # nothing sent, just closed
    assert 0.4 < time.monotonic() - begun < 5
    assert await closed_within(silent_reader, 10) == b""
    streams[1].close()
    silent.close()


async def test_a_slow_response_is_not_cut_by_the_client_timeouts(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer(
        [shared_backends[0].url], client_header_timeout=0.2, client_idle_timeout=0.3
    )
    reader, writer = await connect(balancer.port)
    writer.write(b"GET /stream?n=5&gap=0.25 HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    raw = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)  # the last chunk
    assert raw.startswith(b"HTTP/1.1 200 ") and b"chunk-4" in raw
    writer.close()


# -- 3. Host for clients that sent none -------------------------------------------------------
async def test_http10_request_without_host_gets_the_backends(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    backend = shared_backends[0]
    balancer = await start_balancer([backend.url])
    reader, writer = await connect(balancer.port)
    writer.write(b"GET /echo HTTP/1.0\r\n\r\n")
    await writer.drain()
    raw = await closed_within(reader, 10)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    seen = [value for name, value in json.loads(body)["headers"] if name.lower() == "host"]
    assert seen == [f"{backend.host}:{backend.port}"]
    # A client's own Host is kept.
    streams = await connect(balancer.port)
    _, _, body = await request(streams, b"GET /echo HTTP/1.1\r\nHost: shop.example\r\n\r\n")
    streams[1].close()
    seen = [value for name, value in json.loads(body)["headers"] if name.lower() == "host"]
    assert seen == ["shop.example"]


# -- 4. X-Served-By on the balancer's own answers ---------------------------------------------
async def test_local_answers_say_the_balancer_served_them(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (backend,) = backends.start(1)
    balancer = await start_balancer([backend.url], max_body=10, max_header=1024)
    answers = {}
    for raw in (
        b"GET /_lb/status HTTP/1.1\r\nHost: x\r\n\r\n",  # 404 on the public port
        b"GET /x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 2000 + b"\r\n\r\n",
    ):
        streams = await connect(balancer.port)
        status, headers, _ = await request(streams, raw)
        streams[1].close()
        answers[status] = headers.get("x-served-by")
    streams = await connect(balancer.port)
    _, headers, _ = await request(streams, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert headers["x-served-by"] == "stand-in-1"  # a proxied answer keeps the node's
    backend.signal(signal.SIGKILL)
    backend.proc.wait(timeout=10)
    status, headers, _ = await request(streams, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    streams[1].close()
    answers[status] = headers.get("x-served-by")
    assert answers == {s: "balancer" for s in (400, 404, 413, 431, 503)}


# -- 5. only header bytes count toward BALANCER_MAX_HEADER (head and body in one write) --------
@pytest.mark.parametrize("size", [40_000, 100_000, 1 << 20])
async def test_a_body_written_with_its_head_is_forwarded(
    shared_backends: list[Backend], start_balancer: StartBalancer, size: int
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    body = b'{"username":"' + b"u" * (size - 15) + b'"}'
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    streams = await connect(balancer.port)
    status, _, answer = await request(streams, head + body)  # one write
    streams[1].close()
    assert status == 200 and json.loads(answer)["body_length"] == size


async def test_a_body_over_the_limit_written_with_its_head_gets_413(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    body = b"b" * ((1 << 20) + 1)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    reader, writer = await connect(balancer.port)
    writer.write(head + body)
    status, headers, answer = await read_response(reader)
    writer.close()
    assert status == 413 and headers["x-served-by"] == "balancer"
    assert "BALANCER_MAX_BODY=1048576" in json.loads(answer)["detail"]


async def test_1200_pipelined_gets_in_one_write_are_all_answered_in_order(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    raw = b"".join(b"GET /echo?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(1200))
    assert len(raw) > 40_000
    reader, writer = await connect(balancer.port)
    writer.write(raw)
    for i in range(1200):
        status, _, body = await read_response(reader)
        assert (status, json.loads(body)["path"]) == (200, f"/echo?i={i}")
    writer.close()


# -- 6. two Host headers: the balancer's 400, not the node's plain one -----------------------
async def test_duplicate_host_is_answered_400_problem_by_the_balancer(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    reader, writer = await connect(balancer.port)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    raw = await closed_within(reader, 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"X-Served-By: balancer" in head
    assert b"Content-Type: application/problem+json" in head
    assert "Host" in json.loads(body)["detail"]
    assert balancer.proxy.pool.backends[0].counts.requests == 0
