"""SESSIONS=memory, the stateful twin: the store (pure) and the node's session routes.

The point of the twin is what it loses, so the tests pin that down too: another node (another
app on the same Redis) does not know a session, and its cart does not exist there.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig
from nodes.sessions import MAX_CART_ITEMS, CartFull, SessionStore
from nodes.tokens import Claims
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import assert_problem, bearer, make_config

Client = TestClient[Any, Any]
LOGIN = {"username": "alice", "password": "alice-pass"}


def claims(exp: int = 100, sub: str = "alice") -> Claims:
    return Claims(sub=sub, jti=f"j{exp}", iat=0, exp=exp, scope="orders")


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"s{next(counter)}"


# -- the store ----------------------------------------------------------------------------------
def test_a_session_is_found_until_it_expires_then_dropped() -> None:
    store = SessionStore(new_id=ids())
    session = store.create(claims(exp=100), now=0)
    assert session.sid == "s1" and store.find("s1", now=99) is session
    assert store.find("s1", now=100) is None and len(store) == 0
    assert store.find("unknown", now=0) is None


def test_create_sweeps_expired_sessions_and_evicts_the_oldest_at_the_bound() -> None:
    store = SessionStore(limit=2, new_id=ids())
    store.create(claims(exp=10), now=0)
    store.create(claims(exp=50), now=0)
    store.create(claims(exp=60), now=20)  # s1 expired: swept, no eviction needed
    assert [store.find(s, now=20) is not None for s in ("s1", "s2", "s3")] == [False, True, True]
    store.create(claims(exp=70), now=20)  # at the bound: the oldest (s2) goes
    assert store.find("s2", now=20) is None and store.find("s4", now=20) is not None


def test_drop_and_the_cart_bound() -> None:
    store = SessionStore(new_id=ids())
    session = store.create(claims(), now=0)
    for n in range(MAX_CART_ITEMS):
        session.add(f"i{n}", 1)
    with pytest.raises(CartFull):
        session.add("one more", 1)
    assert store.drop("s1") and not store.drop("s1")


# -- the node -----------------------------------------------------------------------------------
@pytest.fixture
def memory_config(redis_url: str) -> NodeConfig:
    return make_config(redis_url, sessions="memory")


async def test_login_sets_a_session_cookie_that_authenticates(
    aiohttp_client: ClientFactory, memory_config: NodeConfig
) -> None:
    api = await aiohttp_client(create_app(memory_config))
    resp = await api.post("/auth/login", json=LOGIN)
    assert resp.status == 200 and (await resp.json())["token_type"] == "Bearer"  # unchanged
    cookie = resp.cookies["session_id"]
    assert cookie["httponly"] and cookie["path"] == "/" and cookie["samesite"] == "Lax"
    who = await api.get("/whoami")  # no Authorization header: the session's cookie
    assert who.status == 200 and (await who.json())["sub"] == "alice"


async def test_the_cart_lives_in_the_session(
    aiohttp_client: ClientFactory, memory_config: NodeConfig
) -> None:
    api = await aiohttp_client(create_app(memory_config))
    await api.post("/auth/login", json=LOGIN)
    added = await api.post("/cart", json={"item": "tea", "quantity": 2})
    assert added.status == 201
    cart = await (await api.get("/cart")).json()
    assert cart == {"items": [{"item": "tea", "quantity": 2}], "count": 1, "node": "node-test"}
    await assert_problem(await api.post("/cart", json={"item": " "}), 400)


async def test_another_node_does_not_know_the_session(
    aiohttp_client: ClientFactory, memory_config: NodeConfig
) -> None:
    one = await aiohttp_client(create_app(memory_config))
    other = await aiohttp_client(create_app(memory_config))
    sid = (await one.post("/auth/login", json=LOGIN)).cookies["session_id"].value
    await one.post("/cart", json={"item": "tea", "quantity": 1})
    resp = await other.get("/cart", cookies={"session_id": sid})
    await assert_problem(resp, 401, "session-unknown")
    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="stateless-cluster"')


async def test_logout_ends_the_session(
    aiohttp_client: ClientFactory, memory_config: NodeConfig
) -> None:
    api = await aiohttp_client(create_app(memory_config))
    await api.post("/auth/login", json=LOGIN)
    assert (await api.post("/auth/logout")).status == 204
    await assert_problem(await api.get("/cart"), 401, "missing-token")  # cookie cleared


async def test_the_stateless_default_has_no_session_and_no_cart(api: Client) -> None:
    resp = await api.post("/auth/login", json=LOGIN)
    assert "session_id" not in resp.cookies
    assert (await api.get("/cart", headers=await bearer(api))).status == 404
    paths = (await (await api.get("/openapi.json")).json())["paths"]
    assert "/cart" not in paths


async def test_the_document_lists_the_cart_in_memory_mode(
    aiohttp_client: ClientFactory, memory_config: NodeConfig
) -> None:
    api = await aiohttp_client(create_app(memory_config))
    doc = await (await api.get("/openapi.json")).json()
    assert set(doc["paths"]["/cart"]) == {"get", "post"}
    assert doc["components"]["securitySchemes"]["session"]["in"] == "cookie"
    metrics = await (await api.get("/metrics")).text()
    assert "node_sessions 0.0" in metrics
