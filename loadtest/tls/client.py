"""A TLS client that keeps its session: one connection, one request, the session for the next.

Blocking sockets and the standard library's ``ssl``, the way a client library keeps a session:
``SSLSocket.session`` of one connection is passed to the next ``wrap_socket(..., session=...)``
and ``session_reused`` says whether the server took it. The session is read *after* the
response: in TLS 1.3 the server's tickets (``NewSessionTicket``) arrive after the handshake, so
a session taken right after ``do_handshake()`` has none to resume with.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True, slots=True)
class Visit:
    """What one connection saw."""

    version: str  # as the socket reports it: ``TLSv1.3``
    reused: bool  # the server resumed the session offered
    handshake_s: float  # ``do_handshake()``, TCP connect excluded
    status: int
    served_by: str  # ``X-Served-By``: the node that answered
    session: ssl.SSLSession | None  # to offer on the next connection


def client_context(cafile: Path, version: str) -> ssl.SSLContext:
    """A verifying client context that speaks exactly TLS ``version`` (``1.2`` or ``1.3``)."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.minimum_version = context.maximum_version = VERSIONS[version]
    return context


def visit(
    context: ssl.SSLContext,
    address: tuple[str, int],
    session: ssl.SSLSession | None = None,
    path: str = "/healthz",
) -> Visit:
    """Connect (offering ``session``), handshake, GET ``path``, read the answer, close."""
    host, port = address
    with socket.create_connection(address, timeout=10) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with context.wrap_socket(
            raw, server_hostname=host, session=session, do_handshake_on_connect=False
        ) as conn:
            started = time.perf_counter()
            conn.do_handshake()
            took = time.perf_counter() - started
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            status, headers = read_response(conn)
            return Visit(
                str(conn.version()),
                bool(conn.session_reused),
                took,
                status,
                headers.get("x-served-by", ""),
                conn.session,
            )


def plain_visit(address: tuple[str, int], path: str = "/healthz") -> tuple[int, str]:
    """The same GET on a new plain TCP connection (the baseline): status and ``X-Served-By``."""
    host, port = address
    with socket.create_connection(address, timeout=10) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        status, headers = read_response(conn)
    return status, headers.get("x-served-by", "")


def read_response(conn: socket.socket) -> tuple[int, dict[str, str]]:
    """One response framed by ``Content-Length``: its status and headers (body read, dropped)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, headers = parse_head(head)
    left = int(headers.get("content-length", "0")) - len(body)
    while left > 0:
        chunk = conn.recv(min(left, 65536))
        if not chunk:
            raise ConnectionError("closed within a response body")
        left -= len(chunk)
    return status, headers


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """``HTTP/1.1 200 OK`` and header lines: the status and the headers, names lower-cased."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


def keep_alive(
    context: ssl.SSLContext, address: tuple[str, int], count: int, path: str = "/healthz"
) -> list[str]:
    """``count`` requests on one connection (one handshake): the node that answered each."""
    host, port = address
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    served = []
    with (
        socket.create_connection(address, timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as conn,
    ):
        for _ in range(count):
            conn.sendall(request)
            served.append(read_response(conn)[1].get("x-served-by", ""))
    return served
