"""The balancer's own answers, as bytes."""

from __future__ import annotations

from balancer.answers import local_answer, timeout_detail


def test_a_local_answer_says_who_served_it_and_frames_its_body() -> None:
    raw = local_answer(
        503,
        b"application/problem+json",
        b"{}",
        b"r-1",
        [(b"Retry-After", b"1")],
        head_only=False,
        close=True,
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 503 Service Unavailable",
        b"X-Served-By: balancer",
        b"Content-Type: application/problem+json",
        b"Content-Length: 2",
        b"X-Request-ID: r-1",
        b"Retry-After: 1",
        b"Connection: close",
    ]
    assert body == b"{}"


def test_the_answer_to_head_keeps_the_length_and_drops_the_body() -> None:
    raw = local_answer(200, b"application/json", b"{}", b"", [], head_only=True, close=False)
    assert raw.endswith(b"Content-Length: 2\r\n\r\n")
    assert b"X-Request-ID" not in raw and b"Connection" not in raw


def test_timeout_details_name_the_setting() -> None:
    assert "BALANCER_CLIENT_HEADER_TIMEOUT=10 s" in timeout_detail(True, 10.0)
    assert "BALANCER_CLIENT_IDLE_TIMEOUT=0.5 s" in timeout_detail(False, 0.5)
