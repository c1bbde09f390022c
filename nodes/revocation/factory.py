"""Picks the ``Revocation`` of a ``REVOCATION`` mode: the one module that knows every mode."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from nodes.revocation.base import MODES, Revocation, RevocationSettings
from nodes.revocation.cached import CachedRevocation
from nodes.revocation.denylist import DenylistRevocation, FailOpenDenylistRevocation
from nodes.revocation.none import NoRevocation

_Build = Callable[[Redis, CollectorRegistry, RevocationSettings], Revocation]

#: One constructor per mode, keyed by the mode's name (a test checks these are ``MODES``).
BUILDERS: dict[str, _Build] = {
    NoRevocation.mode: lambda redis, registry, settings: NoRevocation(),
    DenylistRevocation.mode: DenylistRevocation,
    FailOpenDenylistRevocation.mode: FailOpenDenylistRevocation,
    CachedRevocation.mode: CachedRevocation,
}


def create_revocation(
    mode: str,
    redis: Redis,
    registry: CollectorRegistry,
    settings: RevocationSettings | None = None,
) -> Revocation:
    """The ``Revocation`` for ``mode`` (one of ``MODES``); metrics go into ``registry``."""
    build = BUILDERS.get(mode)
    if build is None:
        raise ValueError(
            f"REVOCATION={mode!r} is not a known mode; known modes: {', '.join(MODES)}"
        )
    return build(redis, registry, settings or RevocationSettings())
