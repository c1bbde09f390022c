"""Blocking calls to the cluster's API (urllib, no event loop), for the tools that run outside
Locust and asyncio: the verifier after a run and the node benchmark before one.

``login`` is the one blocking way to get a demo user's token; the demo users and their password
rule come from ``servicekit.demo_users``.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from servicekit.demo_users import login_body


def call(
    url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """GET ``url`` (POST when there is a ``body``) and return the JSON object it answers."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def login(base_url: str, user: str = "alice") -> str:
    """An access token for the seeded demo ``user``."""
    return str(call(f"{base_url}/auth/login", login_body(user))["access_token"])
