"""The typed keys under which the app holds its resources (never module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from nodes.config import NodeConfig
from nodes.cpu_gate import CpuGate
from nodes.logs import AccessLog
from nodes.metrics import Metrics
from nodes.profile_cache import ProfileCache
from nodes.revocation.base import Revocation
from nodes.sessions import SessionStore
from nodes.store import Store
from nodes.token_cache import VerifiedTokens
from nodes.tokens import TokenSettings


@dataclass
class Readiness:
    """What ``/readyz`` reports besides Redis: set by seeding and by the lifecycle."""

    seeded: bool = False
    draining: bool = False


CONFIG = web.AppKey("config", NodeConfig)
TOKENS = web.AppKey("tokens", TokenSettings)
#: The memo of verified tokens (``nodes.token_cache``): a pure function's cache, not sessions.
VERIFIED = web.AppKey("verified_tokens", VerifiedTokens)
METRICS = web.AppKey("metrics", Metrics)
#: Profiles read from Redis for ``GET /users/{id}/profile`` (``nodes.profile_cache``).
PROFILES = web.AppKey("profiles", ProfileCache)
#: The one JSON line per request (``nodes.logs``): through ``logging``, or deferred to its buffer.
ACCESS_LOG = web.AppKey("access_log", AccessLog)
READINESS = web.AppKey("readiness", Readiness)
REDIS = web.AppKey("redis", Redis)
STORE = web.AppKey("store", Store)
REVOCATION = web.AppKey("revocation", Revocation)
#: Password hashing: a bounded thread pool behind the admission decision (``nodes.cpu_gate``).
HASHING = web.AppKey("hashing", CpuGate)
#: A hash of no real password, verified when the user does not exist (equal login timing).
DUMMY_HASH = web.AppKey("dummy_hash", str)
#: ``SESSIONS=memory`` only: server-side sessions (``nodes.sessions``: the anti-pattern).
SESSIONS = web.AppKey("sessions", SessionStore)
#: The request id of the current request (set by the context middleware).
REQUEST_ID = web.RequestKey("request_id", str)
