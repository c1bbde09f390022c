"""The two listeners on raw sockets: the admin surface only on the admin port, nothing of it (or
of the nodes' ``/metrics``) on the public one, and ``X-LB-Explain`` only when enabled (issue 10,
item 5)."""

from __future__ import annotations

import json

import pytest

from tests.balancer.conftest import Backend, StartBalancer
from tests.balancer.test_client_side import connect, request

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "target",
    [b"/_lb/status", b"/_lb/metrics", b"http://x/_lb/status", b"/metrics", b"/metrics/x"],
)
async def test_the_public_port_answers_404_and_proxies_nothing(
    shared_backends: list[Backend], start_balancer: StartBalancer, target: bytes
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    streams = await connect(balancer.port)
    status, headers, body = await request(streams, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
    # The connection goes on, with the next request proxied as usual.
    after, _, _ = await request(streams, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    streams[1].close()
    assert status == 404 and headers["x-served-by"] == "balancer"
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 404 and b"backends" not in body
    assert after == 200 and balancer.proxy.pool.backends[0].counts.requests == 1


async def test_the_admin_listener_answers_on_its_own_port(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url])
    assert balancer.admin_port not in (None, balancer.port)
    assert balancer.config.admin_host == "127.0.0.1"  # loopback unless told otherwise
    streams = await connect(balancer.admin_port)  # type: ignore[arg-type]
    status, _, body = await request(streams, b"GET /_lb/status HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and json.loads(body)["backends"][0]["url"] == shared_backends[0].url
    raw = b"GET http://x/_lb/metrics HTTP/1.1\r\nHost: x\r\n\r\n"  # absolute-form too
    status, headers, body = await request(streams, raw)
    assert status == 200 and b"balancer_backend_up" in body
    for other in (b"/", b"/echo", b"/metrics", b"/_lb/nope"):  # nothing else, no proxying
        raw = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % other
        status, headers, body = await request(streams, raw)
        assert status == 404 and headers["content-type"] == "application/problem+json"
    streams[1].close()
    assert balancer.proxy.pool.backends[0].counts.requests == 0


async def test_no_admin_listener_when_asked_for_none(
    shared_backends: list[Backend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([shared_backends[0].url], admin_port=None)
    assert balancer.admin_port is None


@pytest.mark.parametrize("enabled", [False, True])
async def test_x_lb_explain_is_ignored_unless_enabled(
    shared_backends: list[Backend], start_balancer: StartBalancer, enabled: bool
) -> None:
    balancer = await start_balancer([shared_backends[0].url], explain=enabled)
    streams = await connect(balancer.port)
    raw = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-LB-Explain: 1\r\n\r\n"
    status, headers, body = await request(streams, raw)
    streams[1].close()
    assert status == 200
    assert ("x-lb-explain" in headers) is enabled
    sent = [name.lower() for name, _ in json.loads(body)["headers"]]
    assert "x-lb-explain" not in sent  # never forwarded
