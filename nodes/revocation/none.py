"""Mode ``none``: verification is signature and claims only; nothing is stored or checked."""

from __future__ import annotations

from nodes.revocation.base import Revocation, TokenRef


class NoRevocation(Revocation):
    """Mode ``none``: logout is a no-op and cannot take a token back before its ``exp``."""

    mode = "none"

    async def is_revoked(self, token: TokenRef) -> bool:
        return False

    async def revoke(self, token: TokenRef) -> None:
        return None

    async def revoke_all(self, sub: str, not_before: int) -> None:
        return None
