"""Access tokens: issued with exactly the seven claims; forged or broken ones refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from nodes.tokens import CLAIMS, InvalidToken, TokenSettings, claims_for, issue_token, verify_token

SETTINGS = TokenSettings(secret=b"k" * 64, issuer="iss-test", audience="aud-test", ttl=900)
OTHER_KEY = b"o" * 64


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _good_claims(**changes: Any) -> dict[str, Any]:
    claims = claims_for(SETTINGS, "alice", int(time.time()))
    claims.update(changes)
    return claims


def _sign(claims: dict[str, Any], key: bytes = SETTINGS.secret, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def test_issued_token_has_exactly_the_seven_claims_and_verifies() -> None:
    now = int(time.time())
    token = issue_token(SETTINGS, "alice", now)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == set(CLAIMS)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = verify_token(SETTINGS, token)
    assert (claims.sub, claims.iat, claims.exp) == ("alice", now, now + 900)
    assert len(token) < 300  # no token bloat


def test_each_token_has_its_own_jti() -> None:
    now = int(time.time())
    first, second = (verify_token(SETTINGS, issue_token(SETTINGS, "bob", now)) for _ in "ab")
    assert first.jti != second.jti


def _refused(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verify_token(SETTINGS, token)


def test_alg_none_is_refused() -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_good_claims()).encode())
    _refused(f"{header}.{payload}.", "invalid")


def test_expired_token_is_refused() -> None:
    past = int(time.time()) - 3600
    _refused(_sign(_good_claims(iat=past - 900, exp=past)), "expired")


def test_token_within_leeway_is_accepted() -> None:
    now = int(time.time())
    assert verify_token(SETTINGS, _sign(_good_claims(iat=now - 900, exp=now - 2))).sub == "alice"


def test_token_signed_with_another_key_is_refused() -> None:
    _refused(_sign(_good_claims(), key=OTHER_KEY), "Signature verification failed")


@pytest.mark.parametrize("alg", ["HS512", "HS384"])
def test_other_hmac_algorithms_are_refused(alg: str) -> None:
    _refused(_sign(_good_claims(), alg=alg), "alg")


def test_rs256_header_is_refused() -> None:
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_good_claims()).encode())
    _refused(f"{header}.{payload}.{_b64(b'x' * 256)}", "alg")


@pytest.mark.parametrize("claim", CLAIMS)
def test_each_missing_claim_is_refused(claim: str) -> None:
    claims = _good_claims()
    del claims[claim]
    _refused(_sign(claims), claim)


def test_wrong_audience_is_refused() -> None:
    _refused(_sign(_good_claims(aud="someone-else")), "Audience")


def test_wrong_issuer_is_refused() -> None:
    _refused(_sign(_good_claims(iss="evil")), "issuer")


def test_tampered_payload_is_refused() -> None:
    header, _, signature = _sign(_good_claims()).split(".")
    forged = _b64(json.dumps(_good_claims(sub="bob")).encode())
    _refused(f"{header}.{forged}.{signature}", "Signature verification failed")


@pytest.mark.parametrize(
    "changes",
    [{"sub": 42}, {"jti": ""}, {"scope": ["a", "b"]}, {"iat": 1.5}, {"iat": True}],
    ids=["sub-int", "jti-empty", "scope-list", "iat-float", "iat-bool"],
)
def test_claims_of_the_wrong_type_are_refused(changes: dict[str, Any]) -> None:
    _refused(_sign(_good_claims(**changes)), "invalid")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "e30.e30.e30"])
def test_garbage_is_refused(garbage: str) -> None:
    _refused(garbage, "invalid")
