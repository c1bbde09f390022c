"""Finding where a server stops taking a request header (pure): the request, the answer's
status, and the bisection over the header's size.

Each server is probed with real requests (``loadtest.bloat.run``): the largest
``Authorization`` header it still answers with something other than its "too large" error, and
what it answers one byte beyond.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    """The largest header line (``Authorization: Bearer …``, bytes without CRLF) that passed,
    the smallest that did not, and the status the larger one got."""

    accepted: int
    refused: int | None  # None: nothing up to the probe's ceiling was refused
    status: int | None


def request(host: str, path: str, header: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{header}\r\nConnection: close\r\n\r\n").encode(
        "latin-1"
    )


def status_of(answer: bytes) -> int | None:
    """The status of an HTTP/1.x answer's first line, or None if it is not one."""
    first = answer.split(b"\r\n", 1)[0].split()
    if len(first) >= 2 and first[0].startswith(b"HTTP/1.") and first[1].isdigit():
        return int(first[1])
    return None


def find_limit(status_at: Callable[[int], tuple[int, int | None]], low: int, high: int) -> Limit:
    """Bisect the size (``status_at(size)`` → (the header line's real size, status)) between a
    ``low`` that passes and a ``high`` ceiling. Passing is any status but 400, 413, 431, 494 or
    no answer (a server that closes the connection on a too-large header)."""
    size, status = status_at(high)
    if passes(status):
        return Limit(size, None, None)
    accepted, refused, refused_status = status_at(low)[0], size, status
    lo, hi = low, high
    while hi - lo > 1:
        mid = (lo + hi) // 2
        size, status = status_at(mid)
        if passes(status):
            lo, accepted = mid, size
        else:
            hi, refused, refused_status = mid, size, status
    return Limit(accepted, refused, refused_status)


def passes(status: int | None) -> bool:
    return status is not None and status not in (400, 413, 431, 494)


def most_that_fit(size_of: Callable[[int], int], limit: int, ceiling: int = 5000) -> int:
    """The largest ``n`` with ``size_of(n) <= limit`` (``size_of`` grows with ``n``)."""
    lo, hi = 0, ceiling
    if size_of(hi) <= limit:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if size_of(mid) <= limit:
            lo = mid
        else:
            hi = mid
    return lo
