"""Server-side sessions in one node's memory: THE ANTI-PATTERN, built only to be measured.

With ``SESSIONS=memory`` (the stateful twin of ``make compare``) a login also creates a session
here: a random id sent back as the ``session_id`` cookie, the claims of the token just issued
(who is calling, until when) and a cart. Nothing of it leaves this process, which is exactly what
the stateless design rules out:

- only this node knows the session: a request that another node receives is a stranger there
  (401, the client must log in again) and its cart does not exist there; so the balancer has to
  pin each client to one node (``BALANCER_STICKY=cookie``), and load follows clients, not
  requests;
- a node that is killed, drained, restarted or scaled in takes its sessions and carts with it;
- memory grows with the clients a node holds, and a new node only ever gets new clients.

The default, ``SESSIONS=none``, has none of this: the Bearer JWT carries who is calling, state
lives in Redis, and any node answers any request. Pure (no I/O): the clock and the id source are
the caller's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nodes.tokens import Claims

#: The cookie that carries the session id (HttpOnly, SameSite=Lax, Path=/).
COOKIE = "session_id"
#: Bounds, so that a login storm cannot take the node's memory: the oldest session goes first.
MAX_SESSIONS = 100_000
MAX_CART_ITEMS = 200


class CartFull(Exception):
    """The cart already holds ``MAX_CART_ITEMS`` lines."""


@dataclass(slots=True)
class Session:
    """One client's session: its claims (expiry included) and its cart, in this process only."""

    sid: str
    claims: Claims
    cart: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: str, quantity: int) -> dict[str, Any]:
        """Append a cart line; ``CartFull`` at the bound."""
        if len(self.cart) >= MAX_CART_ITEMS:
            raise CartFull(f"the cart holds at most {MAX_CART_ITEMS} lines")
        line = {"item": item, "quantity": quantity}
        self.cart.append(line)
        return line


def _new_id() -> str:
    return secrets.token_urlsafe(24)  # 192 bits: not guessable


class SessionStore:
    """Every session of this node, oldest first (a dict keeps insertion order)."""

    def __init__(self, limit: int = MAX_SESSIONS, new_id: Callable[[], str] = _new_id) -> None:
        self._sessions: dict[str, Session] = {}
        self._limit = limit
        self._new_id = new_id

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, claims: Claims, now: float) -> Session:
        """A new session for ``claims``; expired ones (and the oldest, at the bound) go first."""
        self._sweep(now)
        while len(self._sessions) >= self._limit:
            del self._sessions[next(iter(self._sessions))]
        session = Session(self._new_id(), claims)
        self._sessions[session.sid] = session
        return session

    def find(self, sid: str, now: float) -> Session | None:
        """The live session ``sid``; None when unknown here or expired (then dropped)."""
        session = self._sessions.get(sid)
        if session is not None and session.claims.exp <= now:
            del self._sessions[sid]
            return None
        return session

    def drop(self, sid: str) -> bool:
        """End the session ``sid`` (logout); whether it existed."""
        return self._sessions.pop(sid, None) is not None

    def _sweep(self, now: float) -> None:
        # Sessions are created in order and live as long as their token, whose lifetime is one
        # setting per node: the expired ones are at the front. Sweeping on each create keeps
        # the work O(1) amortised and needs no background task.
        sessions = self._sessions
        while sessions:
            oldest = next(iter(sessions.values()))
            if oldest.claims.exp > now:
                return
            del sessions[oldest.sid]
