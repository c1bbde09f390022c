"""The node's HTTP API against a real Redis: auth, users, orders, ETags, error shapes."""

from __future__ import annotations

import time
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from nodes.config import NodeConfig
from tests.nodes.helpers import assert_problem, bearer, token_for

Client = TestClient[Any, Any]
ORDER = {"item": "book", "quantity": 2}


async def create(
    api: Client, auth: dict[str, str], key: str, body: Any = None, user: str = "alice"
) -> Any:
    return await api.post(
        f"/users/{user}/orders", json=ORDER if body is None else body,
        headers={**auth, "Idempotency-Key": key},
    )  # fmt: skip


# --- login, whoami, logout ----------------------------------------------------------------


async def test_login_returns_a_bearer_token(api: Client, node_config: NodeConfig) -> None:
    resp = await api.post("/auth/login", json={"username": "bob", "password": "bob-pass"})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", node_config.jwt_ttl)
    claims = jwt.decode(
        body["access_token"], node_config.jwt_secret, algorithms=["HS256"],
        audience=node_config.jwt_audience,
    )  # fmt: skip
    assert claims["sub"] == "bob"


async def test_bad_credentials_are_401(api: Client) -> None:
    for creds in (
        {"username": "alice", "password": "bob-pass"},
        {"username": "mallory", "password": "mallory-pass"},
        {"username": "user:alice", "password": "alice-pass"},
    ):
        resp = await api.post("/auth/login", json=creds)
        await assert_problem(resp, 401, "invalid-credentials")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer realm=")


async def test_malformed_login_bodies_are_400(api: Client) -> None:
    for raw in (b"{", b"[]", b'"x"', b'{"username": "alice"}', b'{"username": 1, "password": 2}'):
        resp = await api.post("/auth/login", data=raw)
        await assert_problem(resp, 400)


async def test_whoami_names_the_subject_and_the_node(api: Client) -> None:
    resp = await api.get("/whoami", headers=await bearer(api, "carol"))
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"sub", "jti", "exp", "node"}
    assert (body["sub"], body["node"]) == ("carol", "node-test")
    assert body["exp"] > time.time()


async def test_missing_token_is_401_with_a_bare_challenge(api: Client) -> None:
    resp = await api.get("/whoami")
    await assert_problem(resp, 401, "missing-token")
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="stateless-cluster"'


async def test_refused_tokens_are_401_invalid_token(api: Client, node_config: NodeConfig) -> None:
    tokens = [
        "not-a-jwt",
        token_for(node_config, "alice", key=b"x" * 32),
        token_for(node_config, "alice", issued=int(time.time()) - 3600),
    ]
    for token in tokens:
        resp = await api.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        await assert_problem(resp, 401, "invalid-token")
        challenge = resp.headers["WWW-Authenticate"]
        assert 'error="invalid_token"' in challenge and "error_description=" in challenge


async def test_logout_is_204_and_mode_none_cannot_take_the_token_back(api: Client) -> None:
    auth = await bearer(api)
    assert (await api.post("/auth/logout", headers=auth)).status == 204
    assert (await api.post("/auth/logout-all", headers=auth)).status == 204
    # Mode "none": the token stays valid until its exp (documented in the OpenAPI description).
    assert (await api.get("/whoami", headers=auth)).status == 200
    await assert_problem(await api.post("/auth/logout"), 401)


# --- users ----------------------------------------------------------------------------------


async def test_a_user_sees_only_themself(api: Client, node_config: NodeConfig) -> None:
    auth = await bearer(api)
    resp = await api.get("/users/alice", headers=auth)
    assert resp.status == 200
    assert await resp.json() == {"id": "alice", "name": "Alice"}
    await assert_problem(await api.get("/users/bob", headers=auth), 403)
    await assert_problem(await api.get("/users/bob/orders", headers=auth), 403)
    # A valid token for a user that does not exist (signed with the cluster's secret).
    ghost = token_for(node_config, "dave")
    await assert_problem(
        await api.get("/users/dave", headers={"Authorization": f"Bearer {ghost}"}), 404
    )


# --- orders ---------------------------------------------------------------------------------


async def test_create_read_list_an_order(api: Client) -> None:
    auth = await bearer(api)
    resp = await create(api, auth, "key-1")
    assert resp.status == 201
    order = await resp.json()
    assert resp.headers["Location"] == f"/orders/{order['id']}"
    assert resp.headers["ETag"] == '"v1"'
    assert "Idempotent-Replayed" not in resp.headers
    assert (order["user"], order["item"], order["quantity"], order["version"]) == (
        "alice", "book", 2, 1,
    )  # fmt: skip

    got = await api.get(resp.headers["Location"], headers=auth)
    assert got.status == 200 and got.headers["ETag"] == '"v1"'
    assert await got.json() == order
    cached = await api.get(resp.headers["Location"], headers={**auth, "If-None-Match": '"v1"'})
    assert cached.status == 304

    listed = await (await api.get("/users/alice/orders", headers=auth)).json()
    assert listed["orders"] == [order] and listed["total"] == 1


async def test_same_key_same_body_replays_the_same_order(api: Client) -> None:
    auth = await bearer(api)
    first = await create(api, auth, "key-r")
    again = await create(api, auth, "key-r", {"quantity": 2, "item": "book"})
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert await again.json() == await first.json()
    listed = await (await api.get("/users/alice/orders", headers=auth)).json()
    assert listed["total"] == 1


async def test_same_key_other_body_is_422(api: Client) -> None:
    auth = await bearer(api)
    assert (await create(api, auth, "key-m")).status == 201
    await assert_problem(await create(api, auth, "key-m", {"item": "pen", "quantity": 2}), 422)


async def test_keys_are_scoped_per_user(api: Client) -> None:
    alice, bob = await bearer(api, "alice"), await bearer(api, "bob")
    a = await create(api, alice, "shared-key")
    b = await create(api, bob, "shared-key", user="bob")
    assert a.status == b.status == 201
    assert "Idempotent-Replayed" not in b.headers
    assert (await a.json())["id"] != (await b.json())["id"]


async def test_create_needs_an_idempotency_key_and_a_valid_body(api: Client) -> None:
    auth = await bearer(api)
    resp = await api.post("/users/alice/orders", json=ORDER, headers=auth)
    await assert_problem(resp, 400, "idempotency-key-missing")
    body = await assert_problem(await create(api, auth, "k", {"item": "", "quantity": 0}), 400)
    assert {e["field"] for e in body["errors"]} == {"item", "quantity"}
    # bob may not create orders for alice
    await assert_problem(await create(api, await bearer(api, "bob"), "k"), 403)
    listed = await (await api.get("/users/alice/orders", headers=auth)).json()
    assert listed["total"] == 0


async def test_orders_of_others_are_403_unknown_404(api: Client) -> None:
    alice, bob = await bearer(api, "alice"), await bearer(api, "bob")
    location = (await create(api, alice, "k")).headers["Location"]
    await assert_problem(await api.get(location, headers=bob), 403)
    await assert_problem(
        await api.put(location, json=ORDER, headers={**bob, "If-Match": '"v1"'}), 403
    )
    await assert_problem(await api.get("/orders/0123456789abcdef", headers=alice), 404)
    await assert_problem(await api.get("/orders/bad:id", headers=alice), 404)


async def test_put_with_if_match(api: Client) -> None:
    auth = await bearer(api)
    location = (await create(api, auth, "k")).headers["Location"]
    change = {"item": "book", "quantity": 5}
    await assert_problem(await api.put(location, json=change, headers=auth), 428)
    stale = await api.put(location, json=change, headers={**auth, "If-Match": '"v7"'})
    await assert_problem(stale, 412)
    ok = await api.put(location, json=change, headers={**auth, "If-Match": '"v1"'})
    assert ok.status == 200 and ok.headers["ETag"] == '"v2"'
    updated = await ok.json()
    assert (updated["quantity"], updated["version"]) == (5, 2)
    assert updated["updated_at"] >= updated["created_at"]
    # The old tag never matches again; * matches any version.
    again = await api.put(location, json=change, headers={**auth, "If-Match": '"v1"'})
    await assert_problem(again, 412)
    star = await api.put(location, json=ORDER, headers={**auth, "If-Match": "*"})
    assert star.status == 200 and star.headers["ETag"] == '"v3"'
    bad = await api.put(
        location, json={"item": "x", "quantity": True}, headers={**auth, "If-Match": '"v3"'}
    )
    await assert_problem(bad, 400)
    missing = await api.put("/orders/nope", json=ORDER, headers={**auth, "If-Match": '"v1"'})
    await assert_problem(missing, 404)


async def test_orders_are_paged_oldest_first(api: Client) -> None:
    auth = await bearer(api)
    ids = [(await (await create(api, auth, f"k{i}")).json())["id"] for i in range(5)]
    page = await (await api.get("/users/alice/orders?offset=1&limit=2", headers=auth)).json()
    assert [o["id"] for o in page["orders"]] == ids[1:3]
    assert (page["total"], page["offset"], page["limit"]) == (5, 1, 2)
    for query in ("limit=0", "limit=1001", "offset=-1", "limit=ten"):
        await assert_problem(await api.get(f"/users/alice/orders?{query}", headers=auth), 400)
