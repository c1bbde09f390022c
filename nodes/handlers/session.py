"""Log in, log out, and who am I."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from json.encoder import encode_basestring_ascii as _text

from aiohttp import web

from nodes.auth import COOKIE, authenticate, challenge
from nodes.cpu_gate import ClientGone, Shed, Ticket
from nodes.errors import BadRequest, Overloaded, Unauthorized, Unavailable
from nodes.handlers.common import json_response, read_json, valid_id
from nodes.middleware import route_template
from nodes.passwords import verify_password
from nodes.revocation.base import RevocationUnavailable, TokenRef
from nodes.sessions import COOKIE as SESSION_COOKIE
from nodes.state import (
    CONFIG,
    DUMMY_HASH,
    HASHING,
    METRICS,
    REVOCATION,
    SESSIONS,
    STORE,
    TOKENS,
    VERIFIED,
)
from nodes.tokens import Claims, issue_token

MAX_PASSWORD_CHARS = 1024


def _credentials(body: object) -> tuple[str, str]:
    """``(username, password)`` from a login body, or 400."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", type_="invalid-body")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest(
            "the body needs string fields 'username' and 'password'", type_="invalid-body"
        )
    if not password or len(password) > MAX_PASSWORD_CHARS:
        raise BadRequest(
            f"'password' must be 1-{MAX_PASSWORD_CHARS} characters", type_="invalid-body"
        )
    return username, password


def _admit(request: web.Request) -> Ticket:
    """A place in the hashing queue, or 503 at once: nothing read, checked, issued or written."""
    try:
        return request.app[HASHING].admit()
    except Shed as exc:
        request.app[METRICS].shed.labels(route_template(request)).inc()
        raise Overloaded(
            f"the node is overloaded (a login would wait about {exc.verdict.wait:.1f} s for "
            "its password check); the request was NOT processed: no password was checked, no "
            "token issued, nothing written. Send it again, to any node.",
            retry_after=exc.verdict.retry_after,
        ) from exc


def _gone(request: web.Request) -> bool:
    """The client closed the connection (aiohttp does not cancel the handler for that)."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def login(request: web.Request) -> web.Response:
    username, password = _credentials(await read_json(request))
    app = request.app
    # Decided before the user is read: shedding tells nothing about which names exist.
    with _admit(request) as ticket:
        user = await app[STORE].get_user(username) if valid_id(username) else None
        # An unknown user costs one hash too, so that timing does not tell which names exist.
        stored = user.get("password", app[DUMMY_HASH]) if user else app[DUMMY_HASH]
        matches = await _verify(request, ticket, password, stored)
    if user is None or not matches:
        app[METRICS].auth_failures.labels("credentials").inc()
        raise Unauthorized(
            "unknown user or wrong password",
            type_="invalid-credentials",
            headers={"WWW-Authenticate": challenge()},
        )
    token = issue_token(app[TOKENS], username, int(time.time()))
    config = app[CONFIG]
    response = json_response(
        {"access_token": token, "token_type": "Bearer", "expires_in": config.jwt_ttl},
        headers={"Cache-Control": "no-store"},
    )
    if config.auth_cookie != "off":  # the same JWT, in a cookie the page's scripts cannot read
        response.set_cookie(
            COOKIE, token, max_age=config.jwt_ttl, path="/", httponly=True,
            samesite=config.auth_cookie.capitalize(), secure=config.auth_cookie == "none",
        )  # fmt: skip
    if config.sessions == "memory":  # the stateful twin: a session only this node knows
        session = app[SESSIONS].create(app[VERIFIED].verify(token), time.time())
        response.set_cookie(SESSION_COOKIE, session.sid, max_age=config.jwt_ttl, path="/",
                            httponly=True, samesite="Lax")  # fmt: skip
    return response


async def _verify(request: web.Request, ticket: Ticket, password: str, stored: str) -> bool:
    """The password check on a hashing thread, once the ticket's turn comes."""
    try:
        return await ticket.run(verify_password, password, stored, gone=partial(_gone, request))
    except ClientGone as exc:
        # As aiohttp's handler cancellation would: nobody is left to answer (logged as 499).
        raise asyncio.CancelledError("the client left while its login was queued") from exc


def _ref(claims: Claims) -> TokenRef:
    return TokenRef(jti=claims.jti, sub=claims.sub, iat=claims.iat, exp=claims.exp)


async def logout(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    try:
        await request.app[REVOCATION].revoke(_ref(claims))
    except RevocationUnavailable as exc:
        raise Unavailable(
            "the revocation store cannot be reached; the token was not revoked",
            type_="revocation-unavailable",
            headers={"Retry-After": "1"},
        ) from exc
    response = web.Response(status=204)
    if request.app[CONFIG].sessions == "memory":
        request.app[SESSIONS].drop(request.cookies.get(SESSION_COOKIE, ""))
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def logout_all(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    revocation = request.app[REVOCATION]
    try:
        # Tokens issued in the same second as the logout-all stay valid (the mode's not-before
        # rule is ``iat < not_before``); the presented token is taken back by its jti too.
        await revocation.revoke_all(claims.sub, int(time.time()))
        await revocation.revoke(_ref(claims))
    except RevocationUnavailable as exc:
        raise Unavailable(
            "the revocation store cannot be reached; no token was revoked",
            type_="revocation-unavailable",
            headers={"Retry-After": "1"},
        ) from exc
    return web.Response(status=204)


async def whoami(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    return web.Response(
        body=whoami_body(claims, request.app[CONFIG].node_name), content_type="application/json"
    )


def whoami_body(claims: Claims, node: str) -> bytes:
    """``{"sub","jti","exp","node"}`` as ``json_response`` writes it, written straight:
    ``json.dumps`` with options builds an encoder per call, about 2 µs of a ``GET /whoami``."""
    return (
        f'{{"sub":{_text(claims.sub)},"jti":{_text(claims.jti)},"exp":{int(claims.exp)!r},'
        f'"node":{_text(node)}}}'
    ).encode()
