"""The request target a listener acts on, and what the public port will not forward. Pure.

Absolute-form targets (``GET http://lb/x HTTP/1.1``, RFC 9112 §3.2.2) are turned into
origin-form (``/x``) before any check and before forwarding, so ``http://lb/_lb/status`` meets
the same rule as ``/_lb/status``. The rule for ``Host``: the target's authority must equal the
``Host`` header (case-insensitive, the port as written), else 400: two names for one request is
an ambiguity (cache poisoning, routing confusion) that HAProxy refuses too, so the balancer
neither picks one nor rewrites ``Host``. A userinfo part (``http://u@lb/``) and schemes other
than http/https are 400 as well; ``*`` passes for ``OPTIONS`` only.

``Host`` itself (RFC 9112 §3.2, RFC 9110 §7.2): ``host[:port]``, the host an IP literal or a
reg-name; anything else, or two ``Host`` headers, is 400 (``headers.rewrite_request``).

On the public port, the balancer's own paths (``/_lb``, ``/_lb/…``) and the nodes' ``/metrics``
(``/metrics/…``) are 404 and never proxied. The nodes route on the percent-decoded path
(aiohttp: ``/%6detrics`` is ``/metrics``), so a path that holds ``%``, a dot segment or an empty
segment is compared in its decoded, dot-free form; the common path costs one ``startswith`` and
three substring scans, all in C.
"""

from __future__ import annotations

import functools
import re

#: First path segments the public port answers 404 for: the admin surface, the nodes' metrics.
HIDDEN_SEGMENTS = frozenset({b"_lb", b"metrics"})
_HIDDEN_PREFIXES = (b"/_lb", b"/metrics")
_ABSOLUTE = re.compile(rb"(?i)(https?)://([^/?#]*)(.*)", re.DOTALL)
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")  # (urllib.parse is not imported: urllib is I/O)
# RFC 9110 §7.2: Host = uri-host [ ":" port ]; uri-host an IP literal or a reg-name (RFC 3986).
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")
DUPLICATE_HOST = "more than one Host header (RFC 9112 §3.2)"
INVALID_HOST = "the Host header is not a valid host[:port] (RFC 9112 §3.2)"


@functools.lru_cache(maxsize=256)
def valid_host(value: bytes) -> bool:
    """Whether ``value`` is a well-formed ``Host`` (clients send few distinct ones: cached, the
    check costs about 0.1 µs instead of the regular expression's 0.4 µs)."""
    return _HOST.fullmatch(value.rstrip(b" \t")) is not None


class BadTarget(Exception):
    """The target cannot be acted on: answered with ``status`` (400 or 404) and ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def origin_form(target: bytes, method: str, host: bytes | None) -> bytes:
    """``target`` in origin-form (``/path?query``); ``BadTarget(400)`` when it cannot be."""
    if target[:1] == b"/":
        return target
    if target == b"*" and method == "OPTIONS":
        return target
    match = _ABSOLUTE.fullmatch(target)
    if match is None:
        raise BadTarget(400, "the request target is neither a path nor an http(s) URL")
    authority, rest = match.group(2), match.group(3)
    if not authority or b"@" in authority:
        raise BadTarget(400, "the request target's authority is empty or holds user information")
    if host is not None and authority.lower() != host.lower():
        raise BadTarget(400, "the request target's authority and the Host header disagree")
    if not rest.startswith(b"/"):
        rest = b"/" + rest
    return rest


def public_target(target: bytes, method: str, host: bytes | None) -> bytes:
    """The target to forward from the public port; ``BadTarget`` (400, or 404 when hidden)."""
    target = origin_form(target, method, host)
    path = target.partition(b"?")[0]
    suspect = path.startswith(_HIDDEN_PREFIXES) or b"%" in path or b"/." in path or b"//" in path
    if suspect and first_segment(path) in HIDDEN_SEGMENTS:
        raise BadTarget(404, "no such resource")
    return target


def first_segment(path: bytes) -> bytes:
    """The first segment of ``path`` once percent-decoded, with dot and empty segments gone."""
    path = _PERCENT.sub(lambda m: bytes((int(m.group(1), 16),)), path.partition(b"#")[0])
    kept: list[bytes] = []
    for segment in path.split(b"/"):
        if segment == b"..":
            if kept:
                kept.pop()
        elif segment and segment != b".":
            kept.append(segment)
    return kept[0] if kept else b""
