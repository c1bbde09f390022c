"""``GET /users/{id}/profile``: what a lean token leaves out, from Redis, cached per node."""

from __future__ import annotations

import time

from aiohttp import web

from nodes.auth import authenticate
from nodes.errors import NotFound
from nodes.handlers.common import json_response, require_self
from nodes.profile_cache import key
from nodes.state import PROFILES, REDIS


async def get_profile(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user = request.match_info["id"]
    require_self(claims, user)
    cache, now = request.app[PROFILES], time.monotonic()
    profile = cache.get(user, now)
    cached = profile is not None
    if profile is None:
        # The client decodes responses (decode_responses=True); redis-py's types cannot say so.
        raw = await request.app[REDIS].hgetall(key(user))
        profile = {str(k): str(v) for k, v in raw.items()}
        if not profile:
            raise NotFound(f"no profile for user {user!r}")
        cache.put(user, profile, now)
    return json_response({"id": user, "profile": profile, "cached": cached})
