"""The tokens of ``make bloat`` (pure): the node's own claim set plus what a fat token carries.

A fat token adds ``roles`` (N names like ``orders.reader.eu-west-0042``) and a ``profile`` (full
name, email, locale, department, address); the lean token is the node's own, ``sub`` and a
short ``scope`` only. They are signed with the cluster's secret, so the node verifies them: it
requires its seven claims and ignores any other (PyJWT checks only what it is told to).
"""

from __future__ import annotations

from typing import Any

import jwt

ALGORITHM = "HS256"
ROLE_COUNTS = (0, 10, 100, 1000)
REGIONS = ("eu-west", "eu-central", "us-east", "ap-south")


def role(i: int) -> str:
    verb = ("reader", "writer", "approver", "auditor")[i % 4]
    return f"orders.{verb}.{REGIONS[i // 4 % 4]}-{i:04d}"


def profile(user: str) -> dict[str, str]:
    """What an application is tempted to put into the token, and what the fix reads from Redis."""
    return {
        "name": f"{user.capitalize()} Example-Longname",
        "email": f"{user}@example.org",
        "locale": "en-GB",
        "department": "Procurement and Logistics, Region Europe West",
        "address": "42 Example Street, Flat 7, Sampletown, EX4 2PL, United Kingdom",
        "phone": "+44 20 7946 0958",
    }


def fat_claims(base: dict[str, Any], roles: int, pad: int = 0) -> dict[str, Any]:
    """``base`` (the node's claim set) plus ``roles`` roles and a profile; ``pad`` more bytes of
    an extra claim let the limit probes grow a token byte by byte."""
    claims = {**base, "roles": [role(i) for i in range(roles)], "profile": profile(base["sub"])}
    if pad:
        claims["pad"] = "x" * pad
    return claims


def sign(claims: dict[str, Any], secret: bytes) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def header_line(token: str) -> str:
    """The ``Authorization`` header as sent (what wrk's ``-H`` takes)."""
    return f"Authorization: Bearer {token}"


def redis_profile(user: str, roles: int) -> dict[str, str]:
    """The fix: the same data as a Redis hash (``profile:<user>``); roles comma-joined."""
    return {**profile(user), "roles": ",".join(role(i) for i in range(roles))}
