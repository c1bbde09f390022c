"""The public port in memory: no admin surface (``/_lb/``), no node ``/metrics``, absolute-form
targets normalised first, ``X-LB-Explain`` only with ``BALANCER_EXPLAIN`` (issue 10, item 5).

No socket and no sleep: see ``playbook`` for the events (``>>``) and effects (``<<``).
"""

from __future__ import annotations

import pytest

from tests.balancer.playbook import (
    OK,
    OK_TO_CLIENT,
    BackendSends,
    ClientSends,
    Connected,
    Dial,
    Playbook,
    Starts,
    ToBackend,
    ToClient,
    request,
)

PROBLEM = (b"X-Served-By: balancer\r\n", b"Content-Type: application/problem+json\r\n")
NOT_FOUND = ToClient(Starts(b"HTTP/1.1 404 ", *PROBLEM, b"X-Request-ID: r-1\r\n"))


def raw(target: str, host: str = "lb", method: str = "GET") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: r-1\r\n"
    return (head + ("Content-Length: 2\r\n\r\n{}" if method == "POST" else "\r\n")).encode()


def served_by_the_node(pb: Playbook, target: bytes = b"/x") -> None:
    """The next request on the connection is forwarded as usual (the connection was kept)."""
    pb >> ClientSends(request("GET")) << Dial("a")
    pb >> Connected("a") << ToBackend("a", Starts(b"GET " + target + b" HTTP/1.1\r\n"))
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


@pytest.mark.parametrize(
    "target",
    [
        "/_lb/status",
        "/_lb/metrics",
        "/_lb/backends",
        "/_lb",
        "/_lb?x=1",
        "/metrics",
        "/metrics/",
        "/metrics/x",
        "/metrics?name=up",
        "/%6detrics",  # aiohttp routes the decoded path: this would reach the node's /metrics
        "/%5Flb/status",
        "/a/../metrics",
        "//metrics",
        "/./_lb/status",
        "http://lb/_lb/status",  # absolute-form: normalised before the check
        "HTTP://LB/metrics",
        "http://lb/_lb/metrics?x",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_admin_paths_and_node_metrics_are_404_on_the_public_port(target: str, method: str) -> None:
    pb = Playbook("a")
    host = "LB" if target.startswith("HTTP://") else "lb"
    pb >> ClientSends(raw(target, host, method)) << NOT_FOUND
    assert pb.backend("a").counts.requests == 0  # never proxied
    served_by_the_node(pb)  # and the connection goes on


@pytest.mark.parametrize(
    "target", ["/metricsx", "/_lbx", "/x/metrics", "/x/_lb/status", "/x?a=/_lb/"]
)
def test_paths_that_only_look_alike_are_forwarded(target: str) -> None:
    pb = Playbook("a")
    pb >> ClientSends(raw(target)) << Dial("a")
    pb >> Connected("a") << ToBackend("a", Starts(f"GET {target} HTTP/1.1\r\n".encode()))
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


@pytest.mark.parametrize(
    ("target", "sent"),
    [
        ("http://lb/x?q=1", b"/x?q=1"),
        ("http://lb", b"/"),
        ("http://lb?q", b"/?q"),
        ("https://lb/x", b"/x"),
        ("http://LB/x", b"/x"),  # the authority is case-insensitive
    ],
)
def test_an_absolute_form_target_is_forwarded_in_origin_form(target: str, sent: bytes) -> None:
    pb = Playbook("a")
    pb >> ClientSends(raw(target)) << Dial("a")
    pb >> Connected("a") << ToBackend("a", Starts(b"GET " + sent + b" HTTP/1.1\r\n", b"Host: lb"))
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


@pytest.mark.parametrize(
    "target", ["http://other/x", "http://lb:8080/x", "http://u@lb/x", "ftp://lb/x", "*"]
)
def test_a_target_that_disagrees_with_host_or_is_no_url_is_400(target: str) -> None:
    pb = Playbook("a")
    pb >> ClientSends(raw(target)) << ToClient(Starts(b"HTTP/1.1 400 ", *PROBLEM))
    assert pb.backend("a").counts.requests == 0
    served_by_the_node(pb)


def test_options_asterisk_is_forwarded() -> None:
    pb = Playbook("a")
    pb >> ClientSends(raw("*", method="OPTIONS")) << Dial("a")
    pb >> Connected("a") << ToBackend("a", Starts(b"OPTIONS * HTTP/1.1\r\n"))
    pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()


@pytest.mark.parametrize("explain", [False, True])
def test_x_lb_explain_is_honoured_only_when_enabled(explain: bool) -> None:
    pb = Playbook("a", explain=explain)
    pb >> ClientSends(request("GET", "/x", "X-LB-Explain: 1")) << Dial("a")
    sent = Starts(b"GET /x HTTP/1.1\r\n", without=b"X-LB-Explain")  # stripped either way
    pb >> Connected("a") << ToBackend("a", sent)
    answer = b"X-LB-Explain: try=1 backend=a:80 outcome=200\r\n"
    if explain:
        pb >> BackendSends("a", OK) << ToClient(Starts(b"HTTP/1.1 200 ", answer))
    else:
        pb >> BackendSends("a", OK) << ToClient(OK_TO_CLIENT)
    pb.done()
