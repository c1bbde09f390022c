"""The node's cookie mode (``AUTH_COOKIE``): login sets an HttpOnly cookie holding the same JWT,
and authentication accepts it only when the mode is on; Bearer works the same in every mode."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.app import create_app
from nodes.auth import COOKIE
from nodes.config import NodeConfig
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import make_config

LOGIN = {"username": "alice", "password": "alice-pass"}


async def client_for(aiohttp_client: ClientFactory, redis_url: str, mode: str) -> Any:
    return await aiohttp_client(create_app(make_config(redis_url, auth_cookie=mode)))


@pytest.mark.parametrize(
    ("mode", "attributes"),
    [
        ("lax", {"samesite=lax", "httponly", "path=/", "max-age=900"}),
        ("strict", {"samesite=strict", "httponly"}),
        ("none", {"samesite=none", "httponly", "secure"}),
    ],
)
async def test_login_sets_the_cookie(
    aiohttp_client: ClientFactory, redis_url: str, mode: str, attributes: set[str]
) -> None:
    client = await client_for(aiohttp_client, redis_url, mode)
    resp = await client.post("/auth/login", json=LOGIN)
    assert resp.status == 200
    token = (await resp.json())["access_token"]
    (header,) = resp.headers.getall("Set-Cookie")
    first, *rest = (part.strip() for part in header.split(";"))
    assert first == f"{COOKIE}={token}"
    assert attributes <= {part.lower() for part in rest}
    if mode != "none":
        assert "secure" not in {part.lower() for part in rest}
    whoami = await client.get("/whoami", headers={"Cookie": f"{COOKIE}={token}"})
    assert whoami.status == 200 and (await whoami.json())["sub"] == "alice"
    bearer = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status == 200


async def test_off_sets_no_cookie_and_ignores_one(
    aiohttp_client: ClientFactory, redis_url: str
) -> None:
    client = await client_for(aiohttp_client, redis_url, "off")
    resp = await client.post("/auth/login", json=LOGIN)
    assert "Set-Cookie" not in resp.headers
    token = (await resp.json())["access_token"]
    refused = await client.get("/whoami", headers={"Cookie": f"{COOKIE}={token}"})
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="stateless-cluster"'
    ok = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200


async def test_the_header_wins_over_the_cookie(
    aiohttp_client: ClientFactory, redis_url: str
) -> None:
    """A bad Bearer token is refused even with a good cookie: Bearer is exactly as before."""
    client = await client_for(aiohttp_client, redis_url, "lax")
    token = (await (await client.post("/auth/login", json=LOGIN)).json())["access_token"]
    resp = await client.get(
        "/whoami", headers={"Authorization": "Bearer nope", "Cookie": f"{COOKIE}={token}"}
    )
    assert resp.status == 401
    client.session.cookie_jar.clear()  # only the cookie sent by hand below
    bad_cookie = await client.get("/whoami", headers={"Cookie": f"{COOKIE}=nope"})
    assert bad_cookie.status == 401


def test_the_setting() -> None:
    base = {"JWT_SECRET": "x" * 32}
    assert NodeConfig.from_env(base).auth_cookie == "off"
    assert NodeConfig.from_env({**base, "AUTH_COOKIE": "none"}).auth_cookie == "none"
    with pytest.raises(ValueError, match="AUTH_COOKIE"):
        NodeConfig.from_env({**base, "AUTH_COOKIE": "Lax"})
