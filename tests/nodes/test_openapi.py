"""GET /openapi.json describes exactly the routes the node serves."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig

Client = TestClient[Any, Any]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }


async def test_the_document_lists_exactly_the_served_routes(
    api: Client, node_config: NodeConfig
) -> None:
    resp = await api.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    described = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    assert described == served_routes(create_app(node_config))


async def test_every_operation_is_complete(api: Client) -> None:
    doc = await (await api.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["summary"] and op["responses"], (method, path)
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            for code in op["responses"]:
                assert re.fullmatch(r"[1-5][0-9][0-9]", code)
    for ref in re.findall(r'"#/components/schemas/(\w+)"', str(doc).replace("'", '"')):
        assert ref in schemas


async def test_logout_says_mode_none_cannot_take_a_token_back(api: Client) -> None:
    doc = await (await api.get("/openapi.json")).json()
    assert "cannot take the token back" in doc["paths"]["/auth/logout"]["post"]["description"]
