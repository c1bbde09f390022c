"""Cookie pinning, the pure decisions of ``BALANCER_STICKY=cookie`` (off by default).

It exists for the stateful twin of ``make compare`` (``SESSIONS=memory`` on the nodes): to show
what stickiness costs, not because this design needs it. HAProxy's
``cookie SRV insert indirect nocache`` is the model:

- *insert*: the balancer, not the node, sets the pin cookie (``SRV=<backend id>; Path=/;
  HttpOnly``) on an answer from backend B to a client that did not present a pin for B;
- *indirect*: the pin cookie is taken out of the request the backend sees, and a client whose
  pin was honoured gets no new cookie;
- *nocache*: an answer that inserts a cookie also says ``Cache-Control: no-cache="set-cookie"``,
  so that no shared cache hands one client's pin to another;
- a pin that names a backend that is down, draining or gone is ignored: round robin picks, and
  the answer re-pins the client (on the stateful twin its session is lost all the same).

=================  ====================  =============  ==================================
pin presented      pinned backend        first try      answer from B sets the pin cookie
=================  ====================  =============  ==================================
none               -                     round robin    yes, to B
A's id             up                    A              only if B is not A (a retry)
A's id             down, draining        round robin    yes, to B
unknown id         -                     round robin    yes, to B
=================  ====================  =============  ==================================

A backend's id is a hash of its URL: the same after a balancer restart and on every balancer
with the same backend list, and it tells a client no address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache


@lru_cache(maxsize=1024)
def backend_id(url: str) -> bytes:
    """The pin cookie's value for the backend at ``url`` (12 hex digits)."""
    return hashlib.sha256(url.encode()).hexdigest()[:12].encode()


def _without(value: bytes, name: bytes) -> tuple[bytes, bytes | None]:
    """A ``Cookie`` value without the pairs named ``name``, and the first such pair's value."""
    kept: list[bytes] = []
    pin: bytes | None = None
    for pair in value.split(b";"):
        key, sep, val = pair.strip().partition(b"=")
        if sep and key == name:
            pin = val.strip() if pin is None else pin
        elif pair.strip():
            kept.append(pair.strip())
    return b"; ".join(kept), pin


def take_pin(lines: bytes, name: bytes) -> tuple[bytes, bytes | None]:
    """The forwarded header ``lines`` without the pin cookie (*indirect*), and the pin.

    ``lines`` are CRLF-ended header lines; a ``Cookie`` line left empty is dropped.
    """
    if name + b"=" not in lines:  # the common case, decided without a parse
        return lines, None
    out: list[bytes] = []
    pin: bytes | None = None
    for line in lines.split(b"\r\n")[:-1]:
        field, sep, value = line.partition(b":")
        if sep and field.strip().lower() == b"cookie":
            value, found = _without(value, name)
            pin = found if pin is None else pin
            if not value:
                continue
            line = field + b": " + value
        out.append(line + b"\r\n")
    return b"".join(out), pin


def choose(pin: bytes | None, ids: Sequence[bytes], up: Sequence[bool]) -> int | None:
    """The index of the backend the pin names when it is up; None: round robin decides."""
    if pin is None:
        return None
    for index, (ident, ok) in enumerate(zip(ids, up, strict=True)):
        if ident == pin:
            return index if ok else None
    return None


def needs_cookie(pin: bytes | None, served: bytes) -> bool:
    """Whether the answer from the backend ``served`` inserts the pin cookie (*indirect*)."""
    return pin != served


def cookie_lines(name: bytes, served: bytes) -> bytes:
    """The header lines an answer that pins the client to ``served`` gets (*insert nocache*)."""
    return (
        b"Set-Cookie: " + name + b"=" + served + b"; Path=/; HttpOnly\r\n"
        b'Cache-Control: no-cache="set-cookie"\r\n'
    )
