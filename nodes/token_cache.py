"""A small per-node memo of *verified* tokens, so that a client's next request with the same
token skips the HMAC and JSON work of ``verify_token`` (about 40% of an authenticated
``/whoami``'s CPU, profiled with py-spy).

This is not session state. ``verify_token`` is a pure function of the token string, the node's
settings (secret, issuer, audience, leeway: the same on every node) and the clock; the only part
that depends on the clock is monotonic (``iat``/``nbf`` once passed stay passed) except ``exp``.
So the memo stores the claims of a token that passed, keyed by the exact token string, and on
every hit re-checks ``exp`` with the same leeway (and falls back to a full verification if the
clock went backwards). A failure is never stored, a changed token is a different key, a node that
never saw the token verifies it in full, and a restart only empties the memo: any node can still
serve any request. Revocation is asked after this, on every request (``nodes.auth``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from nodes.tokens import Claims, InvalidToken, TokenSettings, verify_token

#: Entries kept (LRU); a token is a few hundred bytes, so this is about a megabyte at most.
DEFAULT_SIZE = 4096


class VerifiedTokens:
    """``verify(token)`` is ``verify_token(settings, token)``, memoised for tokens that pass."""

    def __init__(
        self,
        settings: TokenSettings,
        size: int = DEFAULT_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.size = size
        self._clock = clock
        # token -> (claims, when they were verified)
        self._entries: OrderedDict[str, tuple[Claims, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def verify(self, token: str) -> Claims:
        """The token's claims, or ``InvalidToken`` exactly as ``verify_token`` would say."""
        now = self._clock()
        entry = self._entries.get(token)
        if entry is not None:
            claims, verified_at = entry
            if claims.exp <= now - self.settings.leeway:  # PyJWT's own expiry test
                del self._entries[token]
                raise InvalidToken("the token has expired")
            if verified_at <= now:
                self._entries.move_to_end(token)
                return claims
            del self._entries[token]  # the clock went backwards: verify again, in full
        claims = verify_token(self.settings, token)  # raises: nothing is stored
        self._entries[token] = (claims, now)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return claims
