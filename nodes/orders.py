"""Orders without I/O: body validation, the stored and public shapes, ETags and ``If-Match``.

An order's ETag is a strong validator derived from its version counter (``"v3"``); every
successful PUT increments the counter atomically in Redis, so two representations with the
same tag are byte-identical and a stale tag can never match again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nodes.errors import BadRequest

MAX_ITEM_CHARS = 200
#: An item holds a character that is not white space. "White space" is ECMA-262's ``\s``, the
#: one JSON Schema patterns use, spelled out so that every regex engine reads the OpenAPI
#: document's pattern alike (Python's ``str.strip`` and ``\s`` differ from it, e.g. on U+0085).
NOT_BLANK_PATTERN = r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_NOT_BLANK = re.compile(NOT_BLANK_PATTERN)
#: User and order ids: short and plain, since they become parts of Redis key names.
ID_PATTERN = "[A-Za-z0-9_.-]{1,64}"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
#: Redis takes list indexes as signed 64-bit integers and answers an error past them (a 500, as
#: found from outside); no list here comes near 2^31 entries, so any larger offset is a 400.
MAX_OFFSET = 2**31 - 1
MIN_QUANTITY, MAX_QUANTITY = 1, 1000
_FIELDS = frozenset({"item", "quantity"})
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*(?:,|$)')


@dataclass(frozen=True, slots=True)
class OrderInput:
    """A validated ``{"item", "quantity"}`` body."""

    item: str
    quantity: int


def validate_order(body: object) -> OrderInput:
    """The order in ``body``, or ``BadRequest`` listing every field that is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", type_="invalid-body")
    errors: list[dict[str, str]] = []
    for name in sorted(set(body) - _FIELDS):
        errors.append({"field": name, "message": "unknown field"})
    item, quantity = body.get("item"), _integral(body.get("quantity"))
    if not isinstance(item, str) or not _NOT_BLANK.search(item) or len(item) > MAX_ITEM_CHARS:
        errors.append(
            {
                "field": "item",
                "message": f"a non-empty string of at most {MAX_ITEM_CHARS} characters",
            }
        )
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not MIN_QUANTITY <= quantity <= MAX_QUANTITY
    ):
        errors.append(
            {"field": "quantity", "message": f"an integer from {MIN_QUANTITY} to {MAX_QUANTITY}"}
        )
    if errors:
        raise BadRequest("the order is not valid", type_="invalid-body", errors=errors)
    assert isinstance(item, str) and isinstance(quantity, int)
    return OrderInput(item=item, quantity=quantity)


def _integral(value: object) -> object:
    """An integral float (``249.0``, ``1E1``) as that integer: JSON Schema, and so the OpenAPI
    document, calls it an integer. Anything else is returned as it is (NaN and infinities are
    refused by the body reader; ``float.is_integer`` is False for them anyway)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical(order: OrderInput) -> dict[str, Any]:
    """The order as the JSON object its idempotency fingerprint is taken of: ``249.0`` and
    ``249`` are one order, and the same key with either body replays the first answer."""
    return {"item": order.item, "quantity": order.quantity}


def public_order(stored: Mapping[str, str]) -> dict[str, Any]:
    """The JSON shape of an order from its Redis hash."""
    return {
        "id": stored["id"],
        "user": stored["user"],
        "item": stored["item"],
        "quantity": int(stored["quantity"]),
        "version": int(stored["version"]),
        "created_at": stored["created_at"],
        "updated_at": stored["updated_at"],
    }


def etag(version: int | str) -> str:
    """The strong ETag of an order at ``version``."""
    return f'"v{int(version)}"'


@dataclass(frozen=True, slots=True)
class Precondition:
    """A parsed ``If-Match``: ``*``, or the versions named by its strong entity tags."""

    any_version: bool
    versions: frozenset[int]

    def allows(self, version: int) -> bool:
        return self.any_version or version in self.versions


def parse_if_match(header: str) -> Precondition:
    """Parse ``If-Match``; weak tags and tags not made here never match (strong comparison)."""
    if header.strip() == "*":
        return Precondition(any_version=True, versions=frozenset())
    versions: set[int] = set()
    pos = 0
    while pos < len(header):
        match = _ENTITY_TAG.match(header, pos)
        if match is None:
            return Precondition(any_version=False, versions=frozenset())
        weak, opaque = match.group(1), match.group(2)
        if not weak and re.fullmatch(r"v[0-9]{1,18}", opaque):
            versions.add(int(opaque[1:]))
        pos = match.end()
    return Precondition(any_version=False, versions=frozenset(versions))


@dataclass(frozen=True, slots=True)
class RetryIdentity:
    """What tells a retry of one PUT from another PUT: the request id the client or the balancer
    set (kept across the balancer's retries; empty when the node made one up, which never
    repeats) and the body's fingerprint."""

    request_id: str = ""
    fingerprint: str = ""


def is_retry_of_last_update(
    version: int, last: RetryIdentity, this: RetryIdentity, condition: Precondition
) -> bool:
    """True when ``this`` PUT is a retry of the update that made ``version``: the same request id
    and body as the last update, and ``If-Match`` named the version it started from. Such a
    retry (the first try applied, but its answer was lost or late) gets 200, not 412."""
    return (
        bool(this.request_id)
        and this == last
        and (condition.any_version or version - 1 in condition.versions)
    )


def none_match(header: str, current: str) -> bool:
    """True when ``If-None-Match`` names ``current`` (weak comparison, as RFC 9110 asks)."""
    if header.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return current in tags
