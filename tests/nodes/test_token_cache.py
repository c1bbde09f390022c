"""The memo of verified tokens: the same answers as ``verify_token``, bounded, never a failure."""

from __future__ import annotations

import time

import jwt
import pytest

from nodes import token_cache
from nodes.app import create_app
from nodes.state import VERIFIED
from nodes.token_cache import VerifiedTokens
from nodes.tokens import (
    LEEWAY_SECONDS,
    Claims,
    InvalidToken,
    TokenSettings,
    claims_for,
    issue_token,
    verify_token,
)
from tests.nodes.conftest import ClientFactory
from tests.nodes.helpers import assert_problem, bearer, make_config

SETTINGS = TokenSettings(secret=b"k" * 64, issuer="iss-test", audience="aud-test", ttl=900)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token that goes through the full ``verify_token``."""
    seen: list[str] = []

    def counting(settings: TokenSettings, token: str) -> Claims:
        seen.append(token)
        return verify_token(settings, token)

    monkeypatch.setattr(token_cache, "verify_token", counting)
    return seen


def test_a_hit_returns_the_same_claims_without_verifying_again(full_checks: list[str]) -> None:
    memo = VerifiedTokens(SETTINGS)
    token = issue_token(SETTINGS, "alice", int(time.time()))
    first = memo.verify(token)
    assert memo.verify(token) == first == verify_token(SETTINGS, token)
    assert full_checks == [token] and len(memo) == 1


def test_an_expired_token_in_the_memo_is_refused_and_dropped(full_checks: list[str]) -> None:
    clock = Clock()
    memo = VerifiedTokens(SETTINGS, clock=clock)
    token = issue_token(SETTINGS, "alice", int(clock.now) - 100)
    claims = memo.verify(token)
    clock.now = claims.exp + LEEWAY_SECONDS - 0.5  # still inside PyJWT's leeway
    assert memo.verify(token) == claims
    clock.now = claims.exp + LEEWAY_SECONDS  # PyJWT: exp <= now - leeway is expired
    with pytest.raises(InvalidToken, match="the token has expired"):
        memo.verify(token)
    assert len(memo) == 0 and full_checks == [token]


def test_a_token_that_expired_before_it_was_seen_is_refused_by_pyjwt(
    full_checks: list[str],
) -> None:
    now = int(time.time())
    stale = jwt.encode({**claims_for(SETTINGS, "alice", now - 2000)}, SETTINGS.secret, "HS256")
    memo = VerifiedTokens(SETTINGS)
    for _ in range(2):
        with pytest.raises(InvalidToken, match="expired"):
            memo.verify(stale)
    assert len(memo) == 0 and full_checks == [stale, stale]


def test_a_tampered_token_is_never_served_from_the_memo(full_checks: list[str]) -> None:
    memo = VerifiedTokens(SETTINGS)
    token = issue_token(SETTINGS, "alice", int(time.time()))
    memo.verify(token)
    header, payload, signature = token.split(".")
    forged_payload = jwt.encode(claims_for(SETTINGS, "bob", int(time.time())), b"x" * 64)
    tampered = [
        f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}",
        f"{header}.{forged_payload.split('.')[1]}.{signature}",
        f"{token} ",
        token[:-1],
    ]
    for bad in tampered:
        for _ in range(2):  # a failure is not remembered either
            with pytest.raises(InvalidToken):
                memo.verify(bad)
    assert len(memo) == 1 and full_checks == [token] + [t for t in tampered for _ in range(2)]


def test_the_memo_is_bounded_and_keeps_the_recently_used(full_checks: list[str]) -> None:
    memo = VerifiedTokens(SETTINGS, size=3)
    now = int(time.time())
    tokens = [issue_token(SETTINGS, f"user{i}", now) for i in range(5)]
    for token in tokens[:3]:
        memo.verify(token)
    memo.verify(tokens[0])  # now the most recently used
    for token in tokens[3:]:
        memo.verify(token)
    assert len(memo) == 3
    full_checks.clear()
    for token in (tokens[0], tokens[3], tokens[4]):
        memo.verify(token)
    assert full_checks == []
    memo.verify(tokens[1])  # evicted: verified in full again
    assert full_checks == [tokens[1]] and len(memo) == 3


def test_a_clock_that_went_backwards_means_a_full_verification(full_checks: list[str]) -> None:
    clock = Clock()
    memo = VerifiedTokens(SETTINGS, clock=clock)
    token = issue_token(SETTINGS, "alice", int(clock.now))
    memo.verify(token)
    clock.now -= 60
    memo.verify(token)
    assert full_checks == [token, token]


def test_each_node_memo_has_its_own_settings() -> None:
    other = TokenSettings(secret=b"o" * 64, issuer="iss-test", audience="aud-test", ttl=900)
    token = issue_token(SETTINGS, "alice", int(time.time()))
    VerifiedTokens(SETTINGS).verify(token)
    with pytest.raises(InvalidToken):
        VerifiedTokens(other).verify(token)


async def test_a_memoised_token_is_still_checked_for_revocation(
    aiohttp_client: ClientFactory, redis_url: str
) -> None:
    api = await aiohttp_client(create_app(make_config(redis_url, revocation="denylist")))
    auth = await bearer(api)
    token = auth["Authorization"].split()[1]
    assert (await api.get("/whoami", headers=auth)).status == 200
    assert api.app[VERIFIED].verify(token).sub == "alice" and len(api.app[VERIFIED]) == 1
    assert (await api.post("/auth/logout", headers=auth)).status == 204
    resp = await api.get("/whoami", headers=auth)  # served from the memo, then refused
    await assert_problem(resp, 401, "invalid-token")
    assert "revoked" in resp.headers["WWW-Authenticate"]
