"""The fat tokens verify on a node; the limit bisection and the probe's request, no network."""

from __future__ import annotations

import json
import secrets
import time

import jwt
import pytest

from loadtest.bloat import limits, tokens
from nodes.tokens import TokenSettings, claims_for, verify_token

SETTINGS = TokenSettings(secrets.token_bytes(32), "stateless-cluster", "stateless-cluster-api", 900)


@pytest.mark.parametrize("roles", tokens.ROLE_COUNTS)
def test_a_fat_token_verifies_and_its_extra_claims_are_ignored(roles: int) -> None:
    base = claims_for(SETTINGS, "alice", int(time.time()))
    token = tokens.sign(tokens.fat_claims(base, roles), SETTINGS.secret)
    claims = verify_token(SETTINGS, token)
    assert (claims.sub, claims.scope) == ("alice", "orders")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert len(payload["roles"]) == roles and payload["profile"]["email"] == "alice@example.org"


def test_sizes_grow_with_the_roles() -> None:
    base = claims_for(SETTINGS, "alice", 1_700_000_000, jti="0" * 32)
    sizes = [
        len(tokens.header_line(tokens.sign(tokens.fat_claims(base, n), SETTINGS.secret)))
        for n in tokens.ROLE_COUNTS
    ]
    assert sizes == sorted(sizes) and sizes[-1] > 32 << 10  # 1000 roles: past every default


def test_the_redis_profile_holds_what_the_token_left_out() -> None:
    stored = tokens.redis_profile("bob", 3)
    assert stored["roles"].split(",") == [tokens.role(i) for i in range(3)]
    assert json.dumps(stored)  # plain strings: a Redis hash


def fake_server(limit: int, refused: int | None) -> limits.Limit:
    return limits.find_limit(lambda pad: (pad + 20, 200 if pad + 20 <= limit else refused), 0, 1000)


@pytest.mark.parametrize(
    ("limit", "refused", "expected"),
    [
        (500, 431, limits.Limit(500, 501, 431)),
        (20, 400, limits.Limit(20, 21, 400)),
        (5000, 400, limits.Limit(1020, None, None)),  # the ceiling passed
        (300, None, limits.Limit(300, 301, None)),  # closed without an answer
    ],
)
def test_find_limit(limit: int, refused: int | None, expected: limits.Limit) -> None:
    assert fake_server(limit, refused) == expected


def test_most_that_fit() -> None:
    assert limits.most_that_fit(lambda n: 600 + 41 * n, 8190) == (8190 - 600) // 41
    assert limits.most_that_fit(lambda n: 600 + 41 * n, 100) == 0
    assert limits.most_that_fit(lambda n: n, 10**9) == 5000


def test_request_and_status() -> None:
    raw = limits.request("127.0.0.1:1", "/whoami", "Authorization: Bearer x")
    assert raw.startswith(b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: Bearer x")
    assert raw.endswith(b"\r\n\r\n")
    assert limits.status_of(b"HTTP/1.1 431 Request Header Fields Too Large\r\n") == 431
    assert limits.status_of(b"") is None and limits.status_of(b"garbage\r\n") is None
    assert not limits.passes(494) and limits.passes(401)
