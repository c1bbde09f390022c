"""check-sticky's verdict on real balancers, each configured here and started on free ports:
this project's balancer, HAProxy and nginx, over three stand-in backends (b1 sets its own
``app_session`` cookie, which must never be named)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.sticky.cli import main
from tests.cluster.sticky import peers
from tests.support import require

pytestmark = pytest.mark.slow

NOT_STICKY = ("not sticky", 0)
BY_SRV = ("sticky by cookie SRV", 3)
BY_ADDRESS = ("sticky by client address", 3)


@pytest.fixture(scope="module")
def backends() -> Iterator[peers.Backends]:
    started = peers.Backends(3)
    yield started
    started.close()


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, int, str]:
    """Run the CLI: its first line, its exit status, and everything it printed."""
    started = time.monotonic()
    status = main(list(argv))
    assert time.monotonic() - started < 10, "a check must stay well under 10 s"
    out = capsys.readouterr().out
    return out.splitlines()[0], status, out


def test_this_balancer_is_not_sticky(
    backends: peers.Backends, capsys: pytest.CaptureFixture[str]
) -> None:
    with peers.balancer(backends) as url:
        first, status, out = check(capsys, url)
    assert (first, status) == NOT_STICKY
    assert "jar: app_session" in out and "replaying only cookie app_session" in out


def test_this_balancer_with_cookie_pinning_is_sticky(
    backends: peers.Backends, capsys: pytest.CaptureFixture[str]
) -> None:
    with peers.balancer(backends, {"BALANCER_STICKY": "cookie"}) as url:
        first, status, out = check(capsys, url)
    assert (first, status) == BY_SRV
    assert "sticky by cookie app_session" not in out


def test_a_manifest_with_affinity_makes_it_sticky(
    backends: peers.Backends, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "k8s.yaml"
    manifest.write_text(
        "kind: Service\nmetadata: {name: api}\nspec: {sessionAffinity: ClientIP}\n---\n"
        "kind: Ingress\nmetadata:\n  name: web\n  annotations:\n"
        "    nginx.ingress.kubernetes.io/affinity: cookie\n"
    )
    with peers.balancer(backends) as url:
        first, status, out = check(capsys, url, "--manifest", str(manifest))
    assert (first, status) == BY_ADDRESS
    assert f"probe {url}: not sticky" in out
    assert f"manifest {manifest}: 2 sticky objects" in out
    assert "Ingress web: nginx.ingress.kubernetes.io/affinity: cookie" in out


def need_haproxy() -> None:
    require(Path(peers.HAPROXY).exists(), "haproxy (Debian: apt-get install haproxy)")


def need_nginx() -> None:
    require(Path(peers.NGINX).exists(), "nginx (Debian: apt-get install nginx)")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("roundrobin", NOT_STICKY), ("cookie", BY_SRV), ("source", BY_ADDRESS)],
)
def test_haproxy(
    backends: peers.Backends,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    expected: tuple[str, int],
) -> None:
    need_haproxy()
    with peers.haproxy(backends, mode) as url:
        first, status, out = check(capsys, url)
    assert (first, status) == expected
    assert "sticky by cookie app_session" not in out


def test_haproxy_judged_by_a_json_field(
    backends: peers.Backends, capsys: pytest.CaptureFixture[str]
) -> None:
    need_haproxy()
    with peers.haproxy(backends, "cookie") as url:
        first, status, out = check(capsys, url, "--json-field", "node", "--requests", "12")
    assert (first, status) == BY_SRV
    assert "backend named by JSON field node" in out


@pytest.mark.parametrize(("ip_hash", "expected"), [(False, NOT_STICKY), (True, BY_ADDRESS)])
def test_nginx(
    backends: peers.Backends,
    capsys: pytest.CaptureFixture[str],
    ip_hash: bool,
    expected: tuple[str, int],
) -> None:
    need_nginx()
    with peers.nginx(backends, ip_hash) as url:
        first, status, _ = check(capsys, url)
    assert (first, status) == expected
