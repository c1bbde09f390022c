"""The request target, pure: origin-form, the paths the public port hides, ``Host`` syntax."""

from __future__ import annotations

import pytest

from balancer.target import BadTarget, first_segment, origin_form, public_target, valid_host


@pytest.mark.parametrize(
    ("path", "first"),
    [
        (b"/metrics", b"metrics"),
        (b"/%6detrics/x", b"metrics"),
        (b"/a/%2e%2e/_lb/status", b"_lb"),  # encoded dot segments are dot segments
        (b"/a/../../metrics", b"metrics"),
        (b"//./metrics#frag", b"metrics"),
        (b"/", b""),
        (b"/x/metrics", b"x"),
    ],
)
def test_first_segment(path: bytes, first: bytes) -> None:
    assert first_segment(path) == first


def test_origin_form_keeps_a_path_and_turns_a_url_into_one() -> None:
    assert origin_form(b"/x?y", "GET", b"lb") == b"/x?y"
    assert origin_form(b"http://lb:8080/x", "GET", b"LB:8080") == b"/x"
    assert origin_form(b"http://lb/x", "GET", None) == b"/x"  # HTTP/1.0 without Host
    with pytest.raises(BadTarget) as bad:
        origin_form(b"http://lb:8080/x", "GET", b"lb")  # the port as written counts
    assert bad.value.status == 400


def test_public_target_hides_the_admin_surface_and_node_metrics() -> None:
    assert public_target(b"/whoami", "GET", b"lb") == b"/whoami"
    for target in (b"/_lb/status", b"/metrics?x", b"http://lb/_lb/"):
        with pytest.raises(BadTarget) as hidden:
            public_target(target, "GET", b"lb")
        assert hidden.value.status == 404


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        (b"lb", True),
        (b"lb:8080", True),
        (b"[::1]:8080", True),
        (b"a_b-c.example", True),
        (b"lb  ", True),  # trailing whitespace the parser leaves in
        (b"", True),  # RFC 9110: empty when the target has no authority
        (b"a b", False),
        (b"a@b", False),
        (b"a/b", False),
        (b"lb:8o", False),
        (b"[::1", False),
    ],
)
def test_valid_host(host: bytes, ok: bool) -> None:
    assert valid_host(host) is ok
