from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import RedisServer, require


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (tests that stop Redis make their own)."""
    require(RedisServer.binary() is not None, "redis-server (Debian: apt-get install redis-server)")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database for each test."""
    redis_server.flush()
    return redis_server.url
