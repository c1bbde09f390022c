"""What every answer carries, errors of the HTTP layer, probes and metrics; a little fuzzing."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.handlers import ROUTES
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import assert_problem, bearer, make_config
from tests.support import free_port

Client = TestClient[Any, Any]


async def test_every_answer_carries_the_node_and_a_request_id(api: Client) -> None:
    auth = await bearer(api)
    for method, path, headers in [
        ("GET", "/healthz", {}),
        ("GET", "/whoami", auth),
        ("GET", "/whoami", {}),
        ("GET", "/nowhere", {}),
        ("DELETE", "/orders/x", auth),
    ]:
        resp = await api.request(method, path, headers=headers)
        assert resp.headers["X-Served-By"] == "node-test", (method, path)
        assert len(resp.headers["X-Request-ID"]) == 32


async def test_a_sane_request_id_is_echoed(api: Client) -> None:
    resp = await api.get("/healthz", headers={"X-Request-ID": "req-42.abc"})
    assert resp.headers["X-Request-ID"] == "req-42.abc"


async def test_unknown_path_404_wrong_method_405(api: Client) -> None:
    await assert_problem(await api.get("/nope"), 404)
    resp = await api.delete("/whoami")
    await assert_problem(resp, 405)
    assert resp.headers["Allow"] == "GET"
    head = await api.head("/whoami")  # no implicit HEAD; its answer has no body
    assert head.status == 405 and head.headers["X-Served-By"] == "node-test"


async def test_bodies_over_one_mib_are_413(api: Client) -> None:
    auth = {**await bearer(api), "Idempotency-Key": "big"}
    big = json.dumps({"item": "x" * (1024 * 1024), "quantity": 1})
    await assert_problem(await api.post("/users/alice/orders", data=big, headers=auth), 413)

    async def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        for _ in range(17):
            yield b" " * 65536

    await assert_problem(await api.post("/auth/login", data=chunks()), 413)


async def test_malformed_json_is_400(api: Client) -> None:
    auth = {**await bearer(api), "Idempotency-Key": "k"}
    for raw in (b"{", b"\xff\xfe", b"1" * 5000, b"[" * 100000):
        resp = await api.post("/users/alice/orders", data=raw, headers=auth)
        await assert_problem(resp, 400)


async def test_healthz_readyz_metrics(api: Client) -> None:
    assert (await api.get("/healthz")).status == 200
    ready = await api.get("/readyz")
    assert ready.status == 200
    body = await ready.json()
    assert (body["status"], body["redis"], body["seeded"]) == ("ready", "ok", True)
    assert body["revocation"]["mode"] == "none"
    await api.get("/whoami", headers=await bearer(api))
    text = await (await api.get("/metrics")).text()
    assert 'node_http_requests_total{method="GET",route="/whoami",status="200"} 1.0' in text
    assert (
        'node_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/whoami"}' in text
    )
    assert "node_draining 0.0" in text


async def test_each_app_has_its_own_metrics(aiohttp_client: ClientFactory, redis_url: str) -> None:
    one = await aiohttp_client(create_app(make_config(redis_url)))
    two = await aiohttp_client(create_app(make_config(redis_url)))
    await one.get("/healthz")
    text = await (await two.get("/metrics")).text()
    assert 'route="/healthz"' not in text


async def test_without_redis_readyz_is_503_and_writes_503(aiohttp_client: ClientFactory) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    api = await aiohttp_client(create_app(make_config(dead, redis_timeout=0.2)))
    ready = await api.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["seeded"] is False
    resp = await api.post("/auth/login", json={"username": "alice", "password": "alice-pass"})
    body = await assert_problem(resp, 503, "database-unavailable")
    assert resp.headers["Retry-After"] == "1" and "redis" not in body["detail"].lower()
    assert (await api.get("/healthz")).status == 200


FUZZ_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, "", "x", "\x00", "é" * 10, [], [1], {}, {"a": {"b": []}},
    {"item": None}, {"username": [], "password": {}}, {"item": "a", "quantity": "1"},
]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
async def test_fuzzing_never_produces_a_500(api: Client, seed: int) -> None:
    rng = random.Random(seed)
    auth = await bearer(api)
    for _ in range(40):
        method, template, _ = rng.choice(ROUTES)
        path = template.replace(
            "{id}", rng.choice(["alice", "bob", "x" * 80, "%00", "a:b", "..", "0"])
        )
        headers = {**(auth if rng.random() < 0.7 else {}), "Content-Type": "application/json"}
        if rng.random() < 0.5:
            headers["Idempotency-Key"] = rng.choice(["k", "", " ", "x" * 300, "é"])
        if rng.random() < 0.3:
            headers["If-Match"] = rng.choice(["*", '"v1"', "garbage", 'W/"v1"', ""])
        if rng.random() < 0.5:
            data = json.dumps(rng.choice(FUZZ_VALUES)).encode()
        else:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        resp = await api.request(method, path, data=data, headers=headers)
        assert resp.status < 500, (method, path, await resp.text())
        if resp.status >= 400:
            await assert_problem(resp, resp.status)


async def test_one_log_line_per_request_without_secrets(
    api: Client, caplog: pytest.LogCaptureFixture
) -> None:
    auth = await bearer(api)
    token = auth["Authorization"].split()[1]
    caplog.clear()
    with caplog.at_level("INFO", logger="nodes.access"):
        await api.get(
            "/whoami", headers={**auth, "X-Request-ID": "rid-1", "traceparent": "00-ab-cd-01"}
        )
        await api.get("/nowhere")
    lines = [r for r in caplog.records if r.name == "nodes.access"]
    assert len(lines) == 2
    first = vars(lines[0])
    assert (first["request_id"], first["route"], first["status"]) == ("rid-1", "/whoami", 200)
    assert (first["method"], first["node"], first["trace"]) == ("GET", "node-test", "00-ab-cd-01")
    assert first["duration_ms"] >= 0
    assert (vars(lines[1])["route"], vars(lines[1])["status"]) == ("unmatched", 404)
    assert not any(token in str(vars(r)) or "alice-pass" in str(vars(r)) for r in caplog.records)
