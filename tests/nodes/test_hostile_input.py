"""Nothing a client sends produces a 5xx: every body or query the node cannot take is a 400.

Cases found from outside (issue 10, item 2): a lone surrogate in a JSON string broke the
idempotency fingerprint (UnicodeEncodeError, 500); an offset past Redis's 64-bit range made
Redis answer an error (500); a body in a content coding the node cannot decode was a 500.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nodes.orders import MAX_OFFSET
from tests.nodes.helpers import assert_problem, bearer

Client = TestClient[Any, Any]
ORDERS = "/users/alice/orders"
# An escaped lone surrogate (high, low, reversed pair) and the same code point as raw bytes.
SURROGATE_BODIES = [
    b'{"item":"\\ud800","quantity":1}',
    b'{"item":"\\uDFFF","quantity":1}',
    b'{"item":"a\\udc00\\ud800b","quantity":1}',
    b'{"item":"x","quantity":1,"\\ud800":1}',
    b'{"item":"\xed\xa0\x80","quantity":1}',
]


async def _auth(api: Client, key: str | None = None) -> dict[str, str]:
    headers = await bearer(api)
    return {**headers, "Idempotency-Key": key} if key else headers


async def _created(api: Client) -> str:
    resp = await api.post(
        ORDERS, json={"item": "a", "quantity": 1}, headers=await _auth(api, "seed")
    )
    assert resp.status == 201
    return str(resp.headers["Location"])


@pytest.mark.parametrize("raw", SURROGATE_BODIES)
async def test_a_lone_surrogate_is_400_on_every_body_route(api: Client, raw: bytes) -> None:
    location = await _created(api)
    auth = await _auth(api)
    for method, path, headers in [
        ("POST", ORDERS, {**auth, "Idempotency-Key": "s"}),
        ("PUT", location, {**auth, "If-Match": '"v1"'}),
        ("PUT", "/orders/nothing", {**auth, "If-Match": '"v1"'}),
        ("POST", "/auth/login", {}),
    ]:
        resp = await api.request(method, path, data=raw, headers=headers)
        await assert_problem(resp, 400, "malformed-json")


async def test_a_surrogate_pair_is_one_character_and_accepted(api: Client) -> None:
    raw = b'{"item":"\\ud83d\\ude00","quantity":1}'
    resp = await api.post(ORDERS, data=raw, headers=await _auth(api, "pair"))
    assert resp.status == 201 and (await resp.json())["item"] == "\U0001f600"


async def test_a_lone_surrogate_deep_inside_is_found_and_an_escaped_backslash_is_not_one(
    api: Client,
) -> None:
    deep = b'{"item":"x","quantity":1,"e":' + b'[{"a":' * 400 + b'"\\ud800"' + b"}]" * 400 + b"}"
    await assert_problem(await api.post("/auth/login", data=deep), 400, "malformed-json")
    literal = b'{"item":"\\\\ud800","quantity":1}'  # the six characters \ud800, not a surrogate
    resp = await api.post(ORDERS, data=literal, headers=await _auth(api, "literal"))
    assert resp.status == 201 and (await resp.json())["item"] == "\\ud800"


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775709",
        f"offset={2**70}",
        f"offset={MAX_OFFSET + 1}",
        f"limit={2**70}",
        "offset=-1",
        "offset=%D9%A3",  # an Arabic-Indic digit: int() would take it
        "offset=+1",
        "offset=1_0",
        "offset=%201",
        "offset=",
        "limit=0",
        "limit=1001",
        "limit=1.0",
    ],
)
async def test_out_of_range_or_odd_paging_is_400(api: Client, query: str) -> None:
    resp = await api.get(f"{ORDERS}?{query}", headers=await _auth(api))
    await assert_problem(resp, 400, "invalid-query")


async def test_the_largest_offset_is_an_empty_page(api: Client) -> None:
    resp = await api.get(f"{ORDERS}?offset={MAX_OFFSET}&limit=1000", headers=await _auth(api))
    assert resp.status == 200
    assert await resp.json() == {"orders": [], "total": 0, "offset": MAX_OFFSET, "limit": 1000}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"item":"a","quantity":1e309}',
        b'{"item":"a","quantity":NaN}',
        b'{"item":"a","quantity":Infinity}',
        b'{"item":"a","quantity":-Infinity}',
        b'{"item":"a","quantity":1e20}',
        b'{"item":"a","quantity":249.5}',
        b'{"item":"a","quantity":' + b"9" * 5000 + b"}",
        b'{"item":"a","item":"b","quantity":1}',  # duplicate names: which one wins is undefined
        b'{"item":"a","quantity":1,"quantity":2}',
        b"[]",
        b'"order"',
        b"1",
        b"null",
        b"",
        b"\xef\xbb\xbf{}",  # a byte order mark: RFC 8259 forbids sending one
        '{"item":"a","quantity":1}'.encode("utf-16"),  # JSON is UTF-8
        b"[" * 100_000,
        b'{"a":' * 100_000,
    ],
)
async def test_bodies_the_node_cannot_take_are_400(api: Client, raw: bytes) -> None:
    auth = await _auth(api, "k")
    await assert_problem(await api.post(ORDERS, data=raw, headers=auth), 400)
    location = await _created(api)
    put = await api.put(location, data=raw, headers={**auth, "If-Match": '"v1"'})
    await assert_problem(put, 400)
    await assert_problem(await api.post("/auth/login", data=raw), 400)


async def test_an_integral_float_quantity_is_that_integer(api: Client) -> None:
    # 249.0 is an integer to JSON Schema (and to the OpenAPI document); it is the same order as
    # 249, so the same key with either body replays the first answer.
    auth = await _auth(api, "float")
    first = await api.post(ORDERS, data=b'{"item":"a","quantity":249.0}', headers=auth)
    assert first.status == 201 and (await first.json())["quantity"] == 249
    again = await api.post(ORDERS, json={"item": "a", "quantity": 249}, headers=auth)
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    put = await api.put(
        first.headers["Location"], data=b'{"item":"b","quantity":1E1}',
        headers={**auth, "If-Match": '"v1"'},
    )  # fmt: skip
    assert put.status == 200 and (await put.json())["quantity"] == 10


@pytest.mark.parametrize(
    ("coding", "raw"),
    [
        ("gzip", gzip.compress(b'{"item":"a","quantity":1}')),
        ("gzip", b"not gzip at all"),
        ("deflate", b"not deflate"),
        ("br", b"not brotli"),
    ],
    ids=["gzip", "bad-gzip", "bad-deflate", "bad-br"],
)
async def test_a_body_in_a_content_coding_is_400(api: Client, coding: str, raw: bytes) -> None:
    auth = {**await _auth(api, "coded"), "Content-Encoding": coding}
    body = await assert_problem(await api.post(ORDERS, data=raw, headers=auth), 400)
    assert body["type"].endswith("/unsupported-content-encoding")


async def test_any_content_type_is_read_as_json_and_garbage_is_still_400(api: Client) -> None:
    auth = await _auth(api, "ct")
    order = json.dumps({"item": "a", "quantity": 1})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "nonsense"):
        headers = {**auth, "Content-Type": content_type}
        assert (await api.post(ORDERS, data=order, headers=headers)).status == 201
        bad = await api.post(ORDERS, data=b"a=1&b=2", headers={**headers, "Idempotency-Key": "x"})
        await assert_problem(bad, 400, "malformed-json")
