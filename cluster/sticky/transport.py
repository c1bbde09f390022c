"""The only network code of check-sticky: one GET on a new connection from a chosen address.

A synchronous ``http.client`` request is enough (the probe sends about a hundred, one after
the other, on loopback) and ``source_address`` binds the client's address, which is what the
client-address case varies.
"""

from __future__ import annotations

import errno
import http.client
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cluster.sticky.probe import Answer, ProbeError, Send, SourceUnavailable

MAX_BODY = 1 << 20  # read no more of a body than a JSON field could need
USER_AGENT = "cluster-check-sticky/1"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the probe sends its requests."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise ProbeError(f"{url!r} has an invalid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeError(f"{url!r} is not an http:// or https:// URL")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = 443 if parts.scheme == "https" else 80
        return cls(url, parts.scheme, parts.hostname, port or default, path)

    def on_loopback(self) -> bool:
        """True when every IPv4 address of the host is a loopback one (127.0.0.0/8): only
        then can the probe speak from other loopback addresses."""
        try:
            infos = socket.getaddrinfo(self.host, self.port, socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def http_sender(target: Target, timeout: float) -> Send:
    """A ``Send`` that makes one request per call, each on its own connection."""

    def send(source: str, cookies: Mapping[str, str]) -> Answer:
        kind = (
            http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        )
        bind = (source, 0) if source else None
        conn = kind(target.host, target.port, timeout=timeout, source_address=bind)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        try:
            conn.request("GET", target.path, headers=headers)
            response = conn.getresponse()
            return Answer(response.status, tuple(response.getheaders()), response.read(MAX_BODY))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise SourceUnavailable(f"cannot bind {source}: {exc.strerror}") from exc
            raise ProbeError(f"cannot reach {target.url} from {source or 'here'}: {exc}") from exc
        except http.client.HTTPException as exc:
            raise ProbeError(f"{target.url} did not answer in HTTP: {exc!r}") from exc
        finally:
            conn.close()

    return send
