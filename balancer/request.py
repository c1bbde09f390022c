"""A client request as the proxy keeps it: parsed, rewritten, its body buffered for resending."""

from __future__ import annotations

from dataclasses import dataclass

from balancer.headers import Forward


@dataclass(slots=True)
class Request:
    """A client request, its body buffered so that it can be sent again."""

    method: str
    target: bytes
    http11: bool
    keep_alive: bool
    forward: Forward
    body: bytes
    started: float  # loop time

    def payload(self, host: bytes = b"") -> bytes:
        """The request as sent to a backend; ``host`` (``h:p``) is added as ``Host`` if given."""
        length = b"Content-Length: %d\r\n" % len(self.body) if self.body else b""
        if not self.body and self.method in ("POST", "PUT", "PATCH"):
            length = b"Content-Length: 0\r\n"
        head = b"%s %s HTTP/1.1\r\n" % (self.method.encode(), self.target)
        if host:
            head += b"Host: %s\r\n" % host
        return b"".join((head, self.forward.lines, length, b"\r\n", self.body))
