"""The seeded demo accounts and their password rule, defined once for the nodes and the clients.

The contract: users ``alice``, ``bob`` and ``carol``; each password is the name followed by
``-pass``. The nodes seed them (``nodes.seed``); Locust's users, the verifier, the benchmarks,
the paradox probes and the tests log in with them.

Pure and standard-library only, so that Locust's gevent-patched process can import it too.
"""

from __future__ import annotations

DEMO_USERS = ("alice", "bob", "carol")


def demo_password(user: str) -> str:
    """The demo credential rule: the name followed by ``-pass``."""
    return f"{user}-pass"


def login_body(user: str) -> dict[str, str]:
    """The JSON body of ``POST /auth/login`` for a demo user."""
    return {"username": user, "password": demo_password(user)}
