"""How a node decides whether a verified token has been taken back.

This module is the seam between authentication and revocation. The auth code verifies a JWT's
signature and claims first (pure, no I/O), then asks a ``Revocation`` whether the token was
revoked. Each mode of DESIGN.md's table is one ``Revocation`` subclass:

    Revocation (abstract)
     ├── NoRevocation          mode "none": nothing is stored or checked; logout cannot take a
     │                          token back before its ``exp``
     └── (later) the denylist, denylist-fail-open and cached modes

Exceptions:

    RevocationError
     └── RevocationUnavailable  the store cannot be asked; the request fails closed with 503
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

MODES = ("none", "denylist", "denylist-fail-open", "cached")


class RevocationError(Exception):
    """Base of this module's errors."""


class RevocationUnavailable(RevocationError):
    """The revocation store could not be asked; the caller answers 503 (fail closed)."""


@dataclass(frozen=True, slots=True)
class TokenRef:
    """What revocation needs to know of a token whose signature and claims were verified."""

    jti: str
    sub: str
    iat: int
    exp: int


class Revocation(ABC):
    """One revocation mode. ``start``/``close`` run in the app's ``cleanup_ctx``."""

    mode: ClassVar[str]

    async def start(self) -> None:
        """Fill caches, subscribe to updates. Default: nothing to do."""
        return None

    async def close(self) -> None:
        """Cancel background work and release resources. Default: nothing to do."""
        return None

    @abstractmethod
    async def is_revoked(self, token: TokenRef) -> bool:
        """True when ``token`` was revoked (itself, or by a logout-all of its subject).

        Raises ``RevocationUnavailable`` when the answer cannot be known and the mode fails closed.
        """

    @abstractmethod
    async def revoke(self, token: TokenRef) -> None:
        """Take ``token`` back until its ``exp`` (logout)."""

    @abstractmethod
    async def revoke_all(self, sub: str, not_before: int) -> None:
        """Take back every token of ``sub`` issued before ``not_before`` (logout-all)."""

    def status(self) -> dict[str, object]:
        """Details for ``/readyz`` (for example whether a cache is stale)."""
        return {"mode": self.mode}


class NoRevocation(Revocation):
    """Mode ``none``: verification is signature and claims only; logout is a no-op."""

    mode = "none"

    async def is_revoked(self, token: TokenRef) -> bool:
        return False

    async def revoke(self, token: TokenRef) -> None:
        return None

    async def revoke_all(self, sub: str, not_before: int) -> None:
        return None


def create_revocation(mode: str, redis: Redis, registry: CollectorRegistry) -> Revocation:
    """The ``Revocation`` for ``mode`` (one of ``MODES``); metrics go into ``registry``."""
    if mode == "none":
        return NoRevocation()
    raise ValueError(f"REVOCATION={mode!r} is not implemented yet; known modes: {', '.join(MODES)}")
