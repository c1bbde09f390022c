"""The answers the balancer makes itself, never a backend's: 408, 413, 431, 502-504, /_lb/*.

Pure: bytes out. Every one carries ``X-Served-By: balancer`` (proxied answers carry the node's)
and an exact ``Content-Length``; for HEAD the body is left out and its length kept, so the
framing of a keep-alive connection holds.
"""

from __future__ import annotations

from balancer.headers import status_line

SERVED_BY = b"X-Served-By: balancer\r\n"


class Rejected(Exception):
    """The request cannot be taken: answered ``status`` locally, then the connection is closed
    (``extra``: members added to the problem+json body, such as the limit)."""

    def __init__(self, status: int, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra


def local_answer(
    status: int,
    content_type: bytes,
    body: bytes,
    request_id: bytes,
    extra: list[tuple[bytes, bytes]],
    *,
    head_only: bool,
    close: bool,
) -> bytes:
    """The whole answer; ``head_only``: the head of a GET's answer (for HEAD)."""
    lines = [status_line(status), SERVED_BY]
    lines += (b"Content-Type: ", content_type, b"\r\nContent-Length: %d\r\n" % len(body))
    if request_id:
        lines += (b"X-Request-ID: ", request_id, b"\r\n")
    for name, value in extra:
        lines += (name, b": ", value, b"\r\n")
    if close:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    if not head_only:
        lines.append(body)
    return b"".join(lines)


def header_detail(limit: int) -> str:
    return (
        f"the request line and headers exceed BALANCER_MAX_HEADER={limit} bytes "
        "(an oversized Authorization token is the usual cause)"
    )


def body_detail(limit: int) -> str:
    return f"the request body exceeds BALANCER_MAX_BODY={limit} bytes"


def timeout_detail(head: bool, timeout: float) -> str:
    """408: the head did not arrive within the header timeout, or the body stalled."""
    if head:
        return (
            f"the request head did not arrive within BALANCER_CLIENT_HEADER_TIMEOUT={timeout:g} s"
        )
    return f"the request body stalled for BALANCER_CLIENT_IDLE_TIMEOUT={timeout:g} s"


def explain_value(notes: list[str]) -> bytes:
    """The ``X-LB-Explain`` header value: the notes of the tries, in order."""
    return "; ".join(notes).encode("latin-1", "replace")


def give_up_headers(status: int, notes: list[str] | None) -> list[tuple[bytes, bytes]]:
    """The extra headers of a give-up answer: ``Retry-After`` on a 503 (the balancer's own: a
    node's shed 503 is relayed with the node's), ``X-LB-Explain`` when ``notes`` are asked for."""
    extra: list[tuple[bytes, bytes]] = []
    if status == 503:
        extra.append((b"Retry-After", b"1"))
    if notes is not None:
        extra.append((b"X-LB-Explain", explain_value(notes)))
    return extra
