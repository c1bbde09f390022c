"""Access tokens: HS256 JWTs with exactly ``sub``, ``jti``, ``iat``, ``exp``, ``iss``, ``aud``
and ``scope``.

Issuing and verifying are pure (no I/O): verification pins the algorithm list to HS256,
requires every claim, checks ``iss`` and ``aud`` and the claim types, and allows a small leeway
for clocks that differ between nodes. Whether a valid token was revoked is asked afterwards,
through ``nodes.revocation``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt

ALGORITHM = "HS256"
CLAIMS = ("sub", "jti", "iat", "exp", "iss", "aud", "scope")
SCOPE = "orders"
LEEWAY_SECONDS = 5


class InvalidToken(Exception):
    """The token cannot be accepted; the message is safe to send back as ``error_description``."""


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """What issuing and verifying need; built from ``NodeConfig``."""

    secret: bytes
    issuer: str
    audience: str
    ttl: int
    leeway: int = LEEWAY_SECONDS


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified claims of a token."""

    sub: str
    jti: str
    iat: int
    exp: int
    scope: str


def claims_for(
    settings: TokenSettings, sub: str, now: int, jti: str | None = None
) -> dict[str, Any]:
    """The claim set of a new token for ``sub`` issued at ``now`` (seconds since the epoch)."""
    return {
        "sub": sub,
        "jti": jti or uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.ttl,
        "iss": settings.issuer,
        "aud": settings.audience,
        "scope": SCOPE,
    }


def issue_token(settings: TokenSettings, sub: str, now: int) -> str:
    """A signed access token for ``sub``."""
    return jwt.encode(claims_for(settings, sub, now), settings.secret, algorithm=ALGORITHM)


def verify_token(settings: TokenSettings, token: str) -> Claims:
    """The claims of ``token``, or ``InvalidToken`` saying why it is refused."""
    try:
        payload = jwt.decode(
            token,
            settings.secret,
            algorithms=[ALGORITHM],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway,
            options={"require": list(CLAIMS)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"the token is invalid: {_reason(exc)}") from exc
    return check_claims(payload)


def check_claims(payload: dict[str, Any]) -> Claims:
    """Type rules PyJWT does not enforce: ``iat``/``exp`` integers, short string ids."""
    sub, jti, iat, exp, scope = (payload.get(k) for k in ("sub", "jti", "iat", "exp", "scope"))
    if not (isinstance(sub, str) and 0 < len(sub) <= 64):
        raise InvalidToken("the token is invalid: bad 'sub' claim")
    if not (isinstance(jti, str) and 0 < len(jti) <= 64):
        raise InvalidToken("the token is invalid: bad 'jti' claim")
    if not (_is_int(iat) and _is_int(exp)) or iat >= exp:
        raise InvalidToken("the token is invalid: bad 'iat' or 'exp' claim")
    if not (isinstance(scope, str) and 0 < len(scope) <= 64):
        raise InvalidToken("the token is invalid: bad 'scope' claim")
    return Claims(sub=sub, jti=jti, iat=iat, exp=exp, scope=scope)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _reason(exc: jwt.InvalidTokenError) -> str:
    # PyJWT's messages name the claim or the problem without echoing token content.
    text = str(exc) or type(exc).__name__
    return text[:120]
