"""The per-node cache of user profiles (pure): what a token should not carry, read from Redis.

A fat token carries the user's roles, permissions and profile on every request (token bloat:
measured by ``make bloat``). The fix keeps only ``sub`` and a short ``scope`` in the token and
reads the rest from a Redis hash per user (``profile:<id>``), cached here for
``PROFILE_CACHE_SECONDS``. Like the token memo, this is not session state: any node can build
it from Redis, a restarted node only loses speed, and a change shows everywhere within the TTL.
"""

from __future__ import annotations

from collections import OrderedDict

MAX_ENTRIES = 4096


def key(user: str) -> str:
    return f"profile:{user}"


class ProfileCache:
    """Profiles by user id, each kept ``ttl`` seconds (0: not at all), at most ``size`` users."""

    def __init__(self, ttl: float, size: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()

    def get(self, user: str, now: float) -> dict[str, str] | None:
        entry = self._entries.get(user)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def put(self, user: str, profile: dict[str, str], now: float) -> None:
        if self.ttl <= 0:
            return
        self._entries[user] = (now + self.ttl, profile)
        self._entries.move_to_end(user)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
