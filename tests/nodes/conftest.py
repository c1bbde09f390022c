"""Fixtures of the node's tests: a config on the session's Redis, and a client of the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig
from tests.nodes.helpers import make_config

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def node_config(redis_url: str) -> NodeConfig:
    return make_config(redis_url)


@pytest.fixture
async def api(aiohttp_client: ClientFactory, node_config: NodeConfig) -> TestClient[Any, Any]:
    """A test client of one node on a clean Redis, users seeded."""
    return await aiohttp_client(create_app(node_config))
