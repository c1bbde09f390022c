"""The revocation seam: what every mode implements, what it is given, what it raises.

The auth code verifies a JWT's signature and claims first (pure, no I/O), then asks a
``Revocation`` whether the token was revoked. Each mode of the ``REVOCATION`` table in
``docs/api.md`` is one subclass, in a module of its own (the tree is drawn in
``nodes.revocation``'s docstring); ``nodes.revocation.factory`` picks one. This module imports
nothing of its package, so every mode can import it.

Exceptions:

    RevocationError
     └── RevocationUnavailable  the store cannot be asked; the request fails closed with 503
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

#: The values of ``REVOCATION``; ``nodes.revocation.factory`` has one class for each.
MODES = ("none", "denylist", "denylist-fail-open", "cached")


class RevocationError(Exception):
    """Base of this module's errors."""


class RevocationUnavailable(RevocationError):
    """The revocation store could not be asked; the caller answers 503 (fail closed)."""


@dataclass(frozen=True, slots=True)
class RevocationSettings:
    """Tuning shared by the Redis-backed modes; the defaults suit a loopback or LAN Redis."""

    #: Upper bound of a Redis call on the request path (the denylist check), in seconds.
    check_timeout: float = 0.5
    #: Upper bound of a logout write or a resync, in seconds.
    write_timeout: float = 1.0
    #: After ``breaker_threshold`` failed checks in a row, checks fail at once for this long,
    #: then one trial goes to Redis.
    breaker_open_for: float = 0.25
    breaker_threshold: int = 3
    #: ``cached``: how often the whole set is re-read (heals a missed pub/sub message), seconds.
    resync_interval: float = 5.0
    #: The longest token lifetime: how long a logout-all's not-before time must be kept.
    max_token_ttl: int = 86400
    #: How long past its ``exp`` the verifier still accepts a token (its clock leeway): a
    #: revocation is kept that much longer, or a revoked token would work again in that window.
    leeway: int = 0
    #: At most one warning per this many seconds for repeated Redis failures.
    log_every: float = 5.0


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
