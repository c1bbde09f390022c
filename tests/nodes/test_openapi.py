"""GET /openapi.json describes exactly the routes the node serves."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from nodes.app import create_app
from nodes.config import NodeConfig
from nodes.errors import BadRequest
from nodes.handlers.common import valid_id
from nodes.handlers.session import MAX_PASSWORD_CHARS
from nodes.idempotency import parse_key
from nodes.orders import MAX_LIMIT, MAX_OFFSET

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


def _schema_accepts(schema: dict[str, Any], value: str) -> bool:
    """The string keywords this document uses (type string, length, pattern) applied."""
    pattern = schema.get("pattern")
    return schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)) and (
        pattern is None or re.search(pattern, value) is not None
    )


def _parameter(doc: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    params = doc["paths"][path][method]["parameters"]
    return next(p for p in params if p["name"] == name)


SAMPLE_IDS = ["alice", "a" * 64, "a" * 65, "", "a.b-c_D9", "a:b", "a b", "é", "..", "a/b", "%"]
SAMPLE_KEYS = ["k", "x" * 255, "x" * 256, '"abc"', '""', '"' + "x" * 254 + '"', "a b", "é", '"']


async def test_the_document_states_the_limits_the_node_enforces(api: Client) -> None:
    doc = await (await api.get("/openapi.json")).json()
    for path, method in [("/users/{id}", "get"), ("/orders/{id}", "put")]:
        id_schema = _parameter(doc, path, method, "id")["schema"]
        for value in SAMPLE_IDS:
            assert _schema_accepts(id_schema, value) is valid_id(value), value
    key_schema = _parameter(doc, "/users/{id}/orders", "post", "Idempotency-Key")["schema"]
    for value in SAMPLE_KEYS:
        try:
            parse_key(value)
            accepted = True
        except BadRequest:
            accepted = False
        assert _schema_accepts(key_schema, value) is accepted, value
    credentials = doc["components"]["schemas"]["Credentials"]["properties"]
    assert credentials["password"]["minLength"] == 1
    assert credentials["password"]["maxLength"] == MAX_PASSWORD_CHARS
    page = {p["name"]: p["schema"] for p in doc["paths"]["/users/{id}/orders"]["get"]["parameters"]}
    assert (page["offset"]["minimum"], page["offset"]["maximum"]) == (0, MAX_OFFSET)
    assert (page["limit"]["minimum"], page["limit"]["maximum"]) == (1, MAX_LIMIT)
    for method in ("get", "post"):
        assert "404" in doc["paths"]["/users/{id}/orders"][method]["responses"]


async def test_operation_ids_are_unique_and_links_name_them(api: Client) -> None:
    doc = await (await api.get("/openapi.json")).json()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == len(served_routes(api.app))
    for item in doc["paths"].values():
        for op in item.values():
            for answer in op["responses"].values():
                for link in answer.get("links", {}).values():
                    assert link["operationId"] in ids
