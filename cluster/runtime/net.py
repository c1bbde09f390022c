"""Loopback plumbing: free ports to bind, whether one is taken, waiting for one to answer, and
JSON over HTTP (the balancer's ``/_lb/status``, ``PUT /_lb/backends``)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

HOST = "127.0.0.1"


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct ports nobody listens on right now (bound to 0 together, so none
    repeats; another process may still take one before the caller binds it)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]


def free_port(host: str = HOST) -> int:
    """One port nobody listens on right now."""
    return free_ports(1, host)[0]


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (bound like aiohttp binds, SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_port(host: str, port: int, timeout: float, alive: Callable[[], bool]) -> bool:
    """Wait until ``host:port`` accepts connections; False after ``timeout`` or once the
    process that should listen there is no longer ``alive``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def get_json(url: str, timeout: float = 2.0) -> dict[str, Any]:
    """GET ``url`` and parse the JSON body; raises ``OSError`` subclasses on failure."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data = json.loads(resp.read())
    if not isinstance(data, dict):
        raise urllib.error.URLError(f"{url} did not return a JSON object")
    return data


def put_json(url: str, document: Any, timeout: float = 5.0) -> dict[str, Any]:
    """PUT ``document`` as JSON to ``url``; the JSON answer. ``OSError`` subclasses on failure
    (``urllib.error.HTTPError`` for an error status: its body is the problem+json)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        data = json.loads(resp.read())
    if not isinstance(data, dict):
        raise urllib.error.URLError(f"{url} did not return a JSON object")
    return data
