"""``Idempotency-Key`` handling without I/O, after the IETF httpapi idempotency-key draft.

A record per (user, key) holds the request's fingerprint, the request id of its current owner, a
state and, once done, the stored response. A request with a key is first *reserved*; the
decision is this table, which the Lua script in ``nodes.lua`` (``RESERVE``) applies atomically
and a test checks against ``decide``:

    record   fingerprint  state    lease    request id       decision
    none     -            -        -        -                RESERVE     (new record, our lease)
    exists   differs      any      any      any              MISMATCH    (422)
    exists   same         done     any      any              REPLAY      (the stored response)
    exists   same         pending  expired  any              TAKE_OVER   (our owner, new lease)
    exists   same         pending  alive    the owner's      RETRY_TAKE_OVER (the same)
    exists   same         pending  alive    another or none  IN_PROGRESS (409 + Retry-After)

``RETRY_TAKE_OVER``: the balancer sends every try of one client request with the same
``X-Request-ID`` (``balancer.headers``; the client's own id when it sent a sane one). A try that
finds the key held by a live lease *with its own request id* is that request's retry: the
balancer gave up on the earlier try (a frozen or dead node), so waiting out the lease would only
turn the client's single request into a 409 it did not cause (measured at full speed: 10 in
7,510 keyed POSTs). It takes the reservation over at once. A request id the node made up is
never stored (empty), so it never matches; the client's own concurrent duplicate (another id)
still gets 409.

Creating the order and storing the response is one more script (``COMMIT``), fenced by the
owner token: a node that was paused past its lease, or whose try was taken over, and resumes
finds another owner and creates nothing, so an order is created exactly once whatever happens to
the nodes. If the earlier try commits first, the retry finds the record done and replays it. A
fenced try waits (within a bound) for the new owner's answer and replays it too, since it may be
the try the balancer still waits for (the frozen try can also be the one that takes over).
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from typing import Any

from nodes.errors import BadRequest

MAX_KEY_LENGTH = 255


class Decision(enum.StrEnum):
    """What RESERVE decided; the values are the script's reply words and the metric's labels."""

    RESERVE = "reserve"
    MISMATCH = "mismatch"
    REPLAY = "replay"
    IN_PROGRESS = "in_progress"
    TAKE_OVER = "take_over"
    RETRY_TAKE_OVER = "retry_take_over"


class CommitOutcome(enum.StrEnum):
    """What COMMIT did; the values are the script's reply words and the metric's labels."""

    COMMITTED = "committed"  # the order was created now, by this request
    REPLAY = "replay"  # already done (by this request's earlier try or a retry): its response
    FENCED = "fenced"  # another request took the key over: nothing was created


def decide(
    stored_fingerprint: str | None,
    state: str | None,
    lease_alive: bool,
    fingerprint: str,
    stored_request_id: str | None = None,
    request_id: str = "",
) -> Decision:
    """What a request with ``fingerprint`` and ``request_id`` ('' when the node made it up) may
    do given the record found under its key (``stored_request_id``: its owner's)."""
    if stored_fingerprint is None:
        return Decision.RESERVE
    if stored_fingerprint != fingerprint:
        return Decision.MISMATCH
    if state == "done":
        return Decision.REPLAY
    if not lease_alive:
        return Decision.TAKE_OVER
    if request_id and stored_request_id == request_id:
        return Decision.RETRY_TAKE_OVER
    return Decision.IN_PROGRESS


def parse_key(header: str | None) -> str:
    """The key from an ``Idempotency-Key`` header: 1-255 printable ASCII characters as sent (the
    OpenAPI document's pattern); a structured-field string (``"abc"``) is the key ``abc``."""
    if header is None or not header.strip():
        raise BadRequest(
            "this request needs an Idempotency-Key header", type_="idempotency-key-missing"
        )
    key = header.strip()
    if not len(key) <= MAX_KEY_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise BadRequest(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
            type_="idempotency-key-invalid",
        )
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key:
        raise BadRequest("Idempotency-Key must not be empty", type_="idempotency-key-invalid")
    return key


def fingerprint(method: str, path: str, body: Any) -> str:
    """A digest of the request: method, path and the body's canonical JSON (key order and
    whitespace do not matter, values do)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def retry_after(lease_ms: int) -> int:
    """``Retry-After`` seconds for a reservation whose lease has ``lease_ms`` left (at least 1)."""
    return max(1, math.ceil(lease_ms / 1000))
