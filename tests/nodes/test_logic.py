"""The node's pure decisions: idempotency, ETags and If-Match, order bodies, request ids, Bearer."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.auth import bearer_token, challenge
from nodes.errors import BadRequest
from nodes.idempotency import Decision, decide, fingerprint, parse_key, retry_after
from nodes.middleware import pick_request_id
from nodes.orders import (
    OrderInput,
    RetryIdentity,
    etag,
    is_retry_of_last_update,
    none_match,
    parse_if_match,
    validate_order,
)

# --- idempotency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored_fp", "state", "lease_alive", "stored_rid", "rid", "expected"),
    [
        (None, None, False, None, "r1", Decision.RESERVE),
        ("other", "pending", True, "r1", "r1", Decision.MISMATCH),
        ("other", "done", False, "r1", "r1", Decision.MISMATCH),
        ("fp", "done", False, "r1", "r1", Decision.REPLAY),
        ("fp", "done", True, "r2", "r1", Decision.REPLAY),
        # the client's own concurrent duplicate (another request id, or none): it waits
        ("fp", "pending", True, "r2", "r1", Decision.IN_PROGRESS),
        ("fp", "pending", True, "r1", "", Decision.IN_PROGRESS),
        ("fp", "pending", True, "", "", Decision.IN_PROGRESS),
        ("fp", "pending", True, None, "r1", Decision.IN_PROGRESS),  # a record from before rids
        # the balancer's retry of the very request whose earlier try holds the key
        ("fp", "pending", True, "r1", "r1", Decision.RETRY_TAKE_OVER),
        ("fp", "pending", False, "r1", "r1", Decision.TAKE_OVER),
        ("fp", "pending", False, "r2", "r1", Decision.TAKE_OVER),
        ("fp", "pending", False, None, "", Decision.TAKE_OVER),
    ],
)
def test_reservation_decision_table(
    stored_fp: str | None,
    state: str | None,
    lease_alive: bool,
    stored_rid: str | None,
    rid: str,
    expected: Decision,
) -> None:
    assert decide(stored_fp, state, lease_alive, "fp", stored_rid, rid) is expected


def test_fingerprint_ignores_key_order_and_whitespace_but_not_values() -> None:
    a = fingerprint("POST", "/users/alice/orders", {"item": "x", "quantity": 1})
    b = fingerprint("POST", "/users/alice/orders", {"quantity": 1, "item": "x"})
    c = fingerprint("POST", "/users/alice/orders", {"item": "x", "quantity": 2})
    d = fingerprint("POST", "/users/bob/orders", {"item": "x", "quantity": 1})
    assert a == b and len({a, c, d}) == 3


@pytest.mark.parametrize(
    ("header", "key"), [("abc-123", "abc-123"), ('"abc"', "abc"), ("  k  ", "k")]
)
def test_idempotency_key_is_parsed(header: str, key: str) -> None:
    assert parse_key(header) == key


@pytest.mark.parametrize(
    "header", [None, "", "  ", "a b", "x" * 256, '"' + "x" * 254 + '"', "é", '""']
)
def test_bad_idempotency_keys_are_400(header: str | None) -> None:
    with pytest.raises(BadRequest):
        parse_key(header)


def test_retry_after_rounds_up_and_is_at_least_one_second() -> None:
    assert [retry_after(ms) for ms in (0, 1, 999, 1000, 1001, 4500)] == [1, 1, 1, 1, 2, 5]


# --- orders ------------------------------------------------------------------------------


def test_valid_order() -> None:
    assert validate_order({"item": "book", "quantity": 3}) == OrderInput("book", 3)
    assert validate_order({"item": "x" * 200, "quantity": 1000}).quantity == 1000
    # an integral float is an integer to JSON Schema (and so to the OpenAPI document)
    assert validate_order({"item": "book", "quantity": 249.0}) == OrderInput("book", 249)
    # white space is ECMA-262's (the OpenAPI pattern's): U+0085 and U+001C are not white space
    assert validate_order({"item": "\x85", "quantity": 1}).item == "\x85"
    assert validate_order({"item": " \x1c ", "quantity": 1}).item == " \x1c "


@pytest.mark.parametrize(
    "body",
    [
        [],
        "order",
        None,
        {},
        {"item": "book"},
        {"quantity": 1},
        {"item": "", "quantity": 1},
        {"item": "   ", "quantity": 1},
        {"item": "\u3000\t\ufeff\u2028", "quantity": 1},
        {"item": "x" * 201, "quantity": 1},
        {"item": 5, "quantity": 1},
        {"item": "book", "quantity": 0},
        {"item": "book", "quantity": 1001},
        {"item": "book", "quantity": True},
        {"item": "book", "quantity": 1.5},
        {"item": "book", "quantity": 1e20},
        {"item": "book", "quantity": float("inf")},
        {"item": "book", "quantity": float("nan")},
        {"item": "book", "quantity": "1"},
        {"item": "book", "quantity": 1, "price": 3},
    ],
)
def test_invalid_orders_are_400_with_field_errors(body: Any) -> None:
    with pytest.raises(BadRequest) as info:
        validate_order(body)
    assert info.value.type_ == "invalid-body"


def test_etags_are_strong_and_follow_the_version() -> None:
    assert etag(1) == '"v1"' and etag("12") == '"v12"'


@pytest.mark.parametrize(
    ("header", "version", "allowed"),
    [
        ('"v3"', 3, True),
        ('"v3"', 4, False),
        ('"v2", "v3"', 3, True),
        ('W/"v3"', 3, False),  # If-Match uses the strong comparison
        ("*", 9, True),
        ('"other"', 1, False),
        ("v3", 3, False),  # not a quoted entity tag
        ('"v3', 3, False),
        ("", 1, False),
    ],
)
def test_if_match(header: str, version: int, allowed: bool) -> None:
    assert parse_if_match(header).allows(version) is allowed


RID = RetryIdentity("r1", "fp1")


@pytest.mark.parametrize(
    ("last", "this", "if_match", "retry"),
    [
        (RID, RID, '"v1"', True),  # the first try made v2; its answer was lost
        (RID, RID, "*", True),
        (RID, RID, '"v0", "v1"', True),
        (RID, RID, '"v2"', False),  # names the current version: a new update, not a retry
        (RID, RID, '"v0"', False),  # another update came between
        (RID, RetryIdentity("r2", "fp1"), '"v1"', False),  # another request
        (RID, RetryIdentity("r1", "fp2"), '"v1"', False),  # the same id with another body
        (RetryIdentity(), RetryIdentity("", "fp1"), '"v1"', False),  # no id: node-made
        (RetryIdentity("", "fp1"), RetryIdentity("", "fp1"), '"v1"', False),
    ],
)
def test_a_put_is_a_retry_only_of_the_update_that_made_the_version(
    last: RetryIdentity, this: RetryIdentity, if_match: str, retry: bool
) -> None:
    assert is_retry_of_last_update(2, last, this, parse_if_match(if_match)) is retry


def test_if_none_match_uses_weak_comparison() -> None:
    assert none_match('W/"v2"', '"v2"') and none_match("*", '"v1"')
    assert not none_match('"v1"', '"v2"')


# --- request ids and Bearer --------------------------------------------------------------


def test_sane_request_ids_are_echoed_others_replaced() -> None:
    assert pick_request_id("abc-123_X.y") == "abc-123_X.y"
    for bad in (None, "", "a b", "x" * 129, "id\r\nX-Evil: 1", "<script>"):
        new = pick_request_id(bad)
        assert new != bad and len(new) == 32


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_challenge_is_header_safe() -> None:
    value = challenge("invalid_token", 'missing the "jti" claim\r\n')
    assert value == (
        'Bearer realm="stateless-cluster", error="invalid_token", '
        'error_description="missing the jti claim"'
    )
