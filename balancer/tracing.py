"""Request ids and trace context for forwarded requests. Pure (a seeded PRNG, no syscall).

W3C ``traceparent`` and B3 (``X-B3-TraceId``/``X-B3-SpanId``) are propagated when the client
sent them and created (from each other when one is present) when absent; a created request id
equals the created trace id, so logs and traces join (``headers.rewrite_request`` calls this).
"""

from __future__ import annotations

import os
import random
import re
from binascii import hexlify
from collections.abc import Callable

_TRACEPARENT = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_HEX_ID = re.compile(rb"[0-9a-f]{16}|[0-9a-f]{32}")
_ZERO_TRACE = b"0" * 32

_getrandbits = random.Random(os.urandom(32)).getrandbits


def random_hex(nbytes: int) -> bytes:
    """Random hex for request and trace ids: unique, not secret, so no syscall per request."""
    return hexlify(_getrandbits(nbytes * 8).to_bytes(nbytes, "big"))  # 3x '%x' formatting


def trace_lines(
    traceparent: bytes | None,
    b3_trace: bytes | None,
    fresh: bytes,
    new_hex: Callable[[int], bytes],
) -> tuple[bytes, ...]:
    if traceparent is None and b3_trace is None:  # the common case: a new trace
        fresh = fresh or new_hex(24)
        trace, span = fresh[:32], fresh[32:48]
        return (
            b"traceparent: 00-",
            trace,
            b"-",
            span,
            b"-01\r\nX-B3-TraceId: ",
            trace,
            b"\r\nX-B3-SpanId: ",
            span,
            b"\r\n",
        )
    match = _TRACEPARENT.fullmatch(traceparent) if traceparent else None
    if match is not None and match.group(1) != _ZERO_TRACE:
        trace, span, parent = match.group(1), match.group(2), match.group(0)
    else:
        fresh = fresh or new_hex(24)
        b3 = b3_trace.lower() if b3_trace else b""
        trace = b3.rjust(32, b"0") if _HEX_ID.fullmatch(b3) else fresh[:32]
        span = fresh[32:48]
        parent = b"00-" + trace + b"-" + span + b"-01"
    if b3_trace is not None:
        return (b"traceparent: ", parent, b"\r\n")
    return (
        b"traceparent: ",
        parent,
        b"\r\nX-B3-TraceId: ",
        trace,
        b"\r\nX-B3-SpanId: ",
        span,
        b"\r\n",
    )
