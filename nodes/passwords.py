"""Password hashing with scrypt and a per-user salt.

A stored hash is self-describing, ``scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>``, so that
verification uses the parameters it was made with even when the node's cost setting changes.
Both functions are CPU-bound (tens of milliseconds): the async callers run them in a thread
(hashlib releases the GIL while it hashes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_R, _P, _DKLEN, _SALT_BYTES = 8, 1, 32, 16
_MAXMEM = 256 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, cost: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=2**cost, r=r, p=p, dklen=_DKLEN, maxmem=_MAXMEM
    )


def hash_password(password: str, cost: int = 14, salt: bytes | None = None) -> str:
    """A new self-describing hash of ``password`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, cost, _R, _P)
    return f"scrypt${cost}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong password or a bad hash."""
    try:
        scheme, cost, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not 10 <= int(cost) <= 20:
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(cost), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)
