"""Who is calling: the Bearer token of a request, verified, then checked for revocation.

401 answers carry ``WWW-Authenticate: Bearer realm=...`` (RFC 6750): without ``error`` when no
token was sent, with ``error="invalid_token"`` and a description when one was refused.
"""

from __future__ import annotations

import re
import time

from aiohttp import web

from nodes import sessions
from nodes.errors import Unauthorized, Unavailable
from nodes.revocation.base import RevocationUnavailable, TokenRef
from nodes.state import CONFIG, METRICS, REVOCATION, SESSIONS, VERIFIED
from nodes.tokens import Claims, InvalidToken

REALM = "stateless-cluster"
#: The cookie of the cookie mode (``AUTH_COOKIE``); it holds the same JWT as the Bearer header.
COOKIE = "access_token"
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')


def challenge(error: str | None = None, description: str | None = None) -> str:
    """The ``WWW-Authenticate`` value; the description is made header- and quote-safe."""
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{_UNSAFE.sub("", description)[:200]}"'
    return value


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _refuse(
    request: web.Request, reason: str, description: str, type_: str | None = None
) -> Unauthorized:
    request.app[METRICS].auth_failures.labels(reason).inc()
    return Unauthorized(
        description,
        type_=type_,
        headers={"WWW-Authenticate": challenge("invalid_token", description)},
    )


async def authenticate(request: web.Request) -> Claims:
    """The verified, unrevoked claims of the request's token, or 401/503."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None and request.app[CONFIG].auth_cookie != "off":
        token = request.cookies.get(COOKIE) or None  # cookie mode: sent by the browser itself
    if token is None and request.app[CONFIG].sessions == "memory":
        return await _unrevoked(request, session_of(request).claims)  # the stateful twin
    if token is None:
        request.app[METRICS].auth_failures.labels("missing").inc()
        raise Unauthorized(
            "this request needs an Authorization: Bearer token",
            type_="missing-token",
            headers={"WWW-Authenticate": challenge()},
        )
    try:
        claims = request.app[VERIFIED].verify(token)  # verify_token, memoised per node
    except InvalidToken as exc:
        raise _refuse(request, "invalid", str(exc)) from exc
    return await _unrevoked(request, claims)


def session_of(request: web.Request) -> sessions.Session:
    """The session in this node's memory that the request's cookie names, or 401.

    ``SESSIONS=memory`` only (``nodes.sessions``, the anti-pattern): another node, or this one
    after a restart, does not know the session, and the client has to log in again.
    """
    sid = request.cookies.get(sessions.COOKIE)
    if not sid:
        request.app[METRICS].auth_failures.labels("missing").inc()
        raise Unauthorized(
            "this request needs a session cookie or an Authorization: Bearer token",
            type_="missing-token",
            headers={"WWW-Authenticate": challenge()},
        )
    session = request.app[SESSIONS].find(sid, time.time())
    if session is None:
        raise _refuse(
            request, "session", "no such session on this node: log in again", "session-unknown"
        )
    return session


async def _unrevoked(request: web.Request, claims: Claims) -> Claims:
    """``claims`` once the revocation mode says they were not taken back, or 401/503."""
    ref = TokenRef(jti=claims.jti, sub=claims.sub, iat=claims.iat, exp=claims.exp)
    try:
        revoked = await request.app[REVOCATION].is_revoked(ref)
    except RevocationUnavailable as exc:
        raise Unavailable(
            "the revocation store cannot be reached; the token cannot be checked",
            type_="revocation-unavailable",
            headers={"Retry-After": "1"},
        ) from exc
    if revoked:
        raise _refuse(request, "revoked", "the token has been revoked")
    return claims
