"""The balancer in front of real stand-in backend processes: routing, headers, limits, admin."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter

import aiohttp
import pytest

from tests.balancer.conftest import (
    Backend,
    Backends,
    StartBalancer,
    admin_url,
    lb_url,
    wait_until,
)

pytestmark = pytest.mark.slow


async def test_round_robin_ignores_cookies_and_client(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    started = shared_backends
    balancer = await start_balancer([b.url for b in started])
    served: Counter[str] = Counter()
    headers = {"Cookie": "SERVERID=stand-in-1; session=abc", "X-Forwarded-For": "10.9.9.9"}
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            async with session.get(lb_url(balancer, "/healthz"), headers=headers) as response:
                assert response.status == 200
                served[response.headers["X-Served-By"]] += 1
    assert served == {"stand-in-1": 10, "stand-in-2": 10, "stand-in-3": 10}


async def test_request_headers_seen_by_the_backend(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    sent = {
        "X-Forwarded-For": "203.0.113.7",
        "Connection": "keep-alive, X-Private",
        "X-Private": "secret",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(lb_url(balancer, "/echo"), headers=sent, data=b"12345") as r,
    ):
        assert r.status == 200
        echoed = await r.json()
        returned_id = r.headers["X-Request-ID"]
        assert "X-Secret-Hop" not in r.headers  # named in the backend's Connection header
        assert r.headers["X-Kept"] == "yes"
    seen = {name.lower(): value for name, value in echoed["headers"]}
    assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-request-id"] == returned_id and len(returned_id) == 32
    assert seen["traceparent"] == sent["traceparent"]
    assert seen["x-b3-traceid"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    for gone in ("x-private", "keep-alive", "te", "connection"):
        assert gone not in seen
    assert echoed["body_length"] == 5


async def test_an_incoming_request_id_is_kept(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    async with (
        aiohttp.ClientSession() as session,
        session.get(lb_url(balancer, "/echo"), headers={"X-Request-ID": "r-42"}) as r,
    ):
        echoed = await r.json()
        assert r.headers["X-Request-ID"] == "r-42"
    assert ["X-Request-ID", "r-42"] in echoed["headers"]
    assert any(name == "traceparent" for name, _ in echoed["headers"])


async def test_oversized_header_block_gets_431_naming_the_limit(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url], max_header=4096)
    token = "Bearer " + "x" * 5000  # a bloated JWT
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
    writer.write(f"GET /echo HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert b"application/problem+json" in head
    problem = json.loads(body)
    assert problem["status"] == 431 and problem["limit"] == 4096
    assert "BALANCER_MAX_HEADER=4096" in problem["detail"]


async def test_oversized_body_gets_413(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url], max_body=1000)
    async with aiohttp.ClientSession() as session:
        async with session.post(lb_url(balancer, "/orders"), data=b"x" * 1001) as r:
            assert r.status == 413
            assert r.content_type == "application/problem+json"
            assert (await r.json())["limit"] == 1000

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(4):
                yield b"y" * 400

        async with session.post(lb_url(balancer, "/orders"), data=chunks()) as r:
            assert r.status == 413
        async with session.post(lb_url(balancer, "/echo"), data=b"z" * 1000) as r:
            assert r.status == 200 and (await r.json())["body_length"] == 1000
    log = shared_backends[0].log
    assert not log.exists() or log.read_text() == ""  # nothing reached a backend


async def test_streamed_and_head_responses(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    async with aiohttp.ClientSession() as session:
        async with session.get(lb_url(balancer, "/stream?n=4&gap=0.05")) as r:
            assert r.headers.get("Transfer-Encoding") == "chunked"
            first = await r.content.readline()
            assert first == b"chunk-0\n"
            rest = await r.read()
            assert rest == b"chunk-1\nchunk-2\nchunk-3\n"
        async with session.head(lb_url(balancer, "/echo")) as r:
            assert r.status == 200 and await r.read() == b""
        async with session.get(lb_url(balancer, "/healthz")) as r:  # the connection still works
            assert r.status == 200


async def test_explain_says_how_a_request_was_routed(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    started = backends.start(2)
    balancer = await start_balancer(
        [b.url for b in started], health_interval=5.0, rise=1, explain=True
    )
    started[0].signal(signal.SIGKILL)
    started[0].proc.wait(timeout=10)
    explained = []
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(lb_url(balancer, "/echo"), headers={"X-LB-Explain": "1"}) as r:
                assert r.status == 200
                explained.append(r.headers["X-LB-Explain"])
    retried = next(e for e in explained if "then=retry" in e)
    assert "try=1 backend=stand-in-1 outcome=connect-failed then=retry" in retried
    assert "try=2 backend=stand-in-2 outcome=200" in retried


async def test_status_and_metrics(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    started = shared_backends[:2]
    balancer = await start_balancer([b.url for b in started])
    async with aiohttp.ClientSession() as session:
        for _ in range(4):
            async with session.get(lb_url(balancer, "/healthz")) as r:
                assert r.status == 200
        async with session.get(admin_url(balancer, "/_lb/status")) as r:
            status = await r.json()
        async with session.get(admin_url(balancer, "/_lb/metrics")) as r:
            metrics = await r.text()
        async with session.get(admin_url(balancer, "/_lb/nothing")) as r:
            assert r.status == 404 and r.headers["X-Served-By"] == "balancer"
            assert r.content_type == "application/problem+json"
        async with session.get(lb_url(balancer, "/_lb/status")) as r:  # not on the public port
            assert r.status == 404 and r.headers["X-Served-By"] == "balancer"
    assert status["strategy"] == "round_robin" and status["retries"] == 0
    assert [b["name"] for b in status["backends"]] == ["stand-in-1", "stand-in-2"]
    for entry, backend in zip(status["backends"], started, strict=True):
        assert set(entry) == {
            "name",
            "url",
            "state",
            "in_flight",
            "requests",
            "failures",
            "ejections",
        }
        assert entry["url"] == backend.url and entry["state"] == "up"
        assert entry["requests"] == 2 and entry["in_flight"] == 0
    assert 'balancer_responses_total{code="200"}' in metrics
    assert "balancer_request_duration_seconds_bucket" in metrics
    assert 'balancer_backend_up{backend="stand-in-1"' in metrics


async def test_nothing_up_answers_503_quickly(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    started = backends.start(2)
    balancer = await start_balancer([b.url for b in started], explain=True)
    for backend in started:
        backend.signal(signal.SIGKILL)
        backend.proc.wait(timeout=10)
    async with aiohttp.ClientSession() as session:
        begun = time.monotonic()
        async with session.get(lb_url(balancer, "/echo")) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "1"
            assert r.content_type == "application/problem+json"
            assert (await r.json())["status"] == 503
        assert time.monotonic() - begun < 2.0
        await wait_until(lambda: not balancer.proxy.pool.any_up())
        begun = time.monotonic()
        async with session.get(lb_url(balancer, "/echo"), headers={"X-LB-Explain": "1"}) as r:
            assert r.status == 503  # the least recently failed one was tried once
            assert r.headers["X-LB-Explain"].count("try=") == 1
        assert time.monotonic() - begun < 2.0


async def test_nothing_up_still_tries_the_least_recently_failed(
    backends: Backends, start_balancer: StartBalancer
) -> None:
    (backend,) = backends.start(1, drain=30)
    balancer = await start_balancer([backend.url])
    backend.signal(signal.SIGTERM)  # readyz 503 for 30 s while it keeps serving
    await wait_until(lambda: balancer.proxy.pool.backends[0].state.value == "draining")
    async with (
        aiohttp.ClientSession() as session,
        session.get(lb_url(balancer, "/healthz")) as r,
    ):
        assert r.status == 200 and r.headers["X-Served-By"] == "stand-in-1"


async def test_a_503_is_retried_elsewhere_then_passed_on(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([b.url for b in shared_backends], explain=True)
    async with (
        aiohttp.ClientSession() as session,
        session.get(lb_url(balancer, "/status/503"), headers={"X-LB-Explain": "1"}) as r,
    ):
        assert r.status == 503  # every backend said 503: the last answer is passed on
        explain = r.headers["X-LB-Explain"]
    assert explain.count("then=retry") == 2
    assert explain.endswith("then=stop(tries-exhausted)")
    assert len({part.split()[1] for part in explain.split("; ")}) == 3  # three backends
    assert balancer.proxy.counters.retries == 2
    assert all(b.state.value == "up" for b in balancer.proxy.pool.backends)  # no ejection


async def test_a_client_leaving_mid_response_does_not_harm_the_backend(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
    writer.write(b"GET /stream?n=40&gap=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
    writer.close()
    (backend,) = balancer.proxy.pool.backends
    await wait_until(lambda: backend.counts.in_flight == 0)
    assert backend.state.value == "up" and backend.counts.ejections == 0
    assert balancer.proxy.counters.codes.get(499) == 1


async def test_expect_continue_is_answered_by_the_balancer(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
    writer.write(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    await writer.drain()
    assert await asyncio.wait_for(reader.readline(), 10) == b"HTTP/1.1 100 Continue\r\n"
    assert await asyncio.wait_for(reader.readline(), 10) == b"\r\n"
    writer.write(b"body")
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    echoed = json.loads(await reader.readexactly(length))
    writer.close()
    assert echoed["body_length"] == 4
    assert "expect" not in {name.lower() for name, _ in echoed["headers"]}
