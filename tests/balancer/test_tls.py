"""TLS on the public port (``BALANCER_TLS_CERT``/``BALANCER_TLS_KEY``): the settings, a handshake
and a proxied request over TLS 1.2 and 1.3, ``X-Forwarded-Proto: https``, and resumption kept in
the balancer's context (tickets: nothing per client in its session cache)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path

import pytest

from balancer.config import BalancerConfig
from balancer.headers import rewrite_request
from cluster.runtime.tls_pair import TlsPair, make_pair
from servicekit.settings import SettingError
from tests.balancer.conftest import Backend, StartBalancer
from tests.balancer.test_process import run_balancer

BACKENDS = {"BALANCER_BACKENDS": "http://127.0.0.1:8081"}
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> TlsPair:
    return make_pair(tmp_path_factory.mktemp("tls"))


def tls_env(cert: Path | str, key: Path | str) -> dict[str, str]:
    return {**BACKENDS, "BALANCER_TLS_CERT": str(cert), "BALANCER_TLS_KEY": str(key)}


def test_tls_is_off_by_default_and_on_with_both_files(pair: TlsPair) -> None:
    assert BalancerConfig.from_env(BACKENDS).tls_cert is None
    config = BalancerConfig.from_env(tls_env(pair.cert, pair.key))
    assert (config.tls_cert, config.tls_key) == (pair.cert, pair.key)


@pytest.mark.parametrize("unset", ["BALANCER_TLS_CERT", "BALANCER_TLS_KEY"])
def test_both_or_neither(pair: TlsPair, unset: str) -> None:
    env = tls_env(pair.cert, pair.key)
    del env[unset]
    with pytest.raises(SettingError, match=f"^{unset}: required with"):
        BalancerConfig.from_env(env)


def test_a_bad_file_is_named_by_its_variable(pair: TlsPair, tmp_path: Path) -> None:
    other = make_pair(tmp_path)
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    cases = [
        (tmp_path / "missing.pem", pair.key, "BALANCER_TLS_CERT: cannot read"),
        (empty, pair.key, "BALANCER_TLS_CERT: .* holds no PEM certificate"),
        (pair.key, pair.key, "BALANCER_TLS_CERT: .* holds no PEM certificate"),
        (pair.cert, tmp_path / "missing.pem", "BALANCER_TLS_KEY: cannot use"),
        (pair.cert, pair.cert, "BALANCER_TLS_KEY: cannot use"),
        (pair.cert, other.key, "BALANCER_TLS_KEY: .*KEY_VALUES_MISMATCH"),
    ]
    for cert, key, message in cases:
        with pytest.raises(SettingError, match=message):
            BalancerConfig.from_env(tls_env(cert, key))


def test_a_bad_file_stops_the_process_with_one_line(pair: TlsPair) -> None:
    proc = run_balancer(tls_env(pair.cert, "/nonexistent/key.pem"))
    _, err = proc.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("config error: BALANCER_TLS_KEY: cannot use '/nonexistent/key.pem'")


def test_the_scheme_is_forwarded() -> None:
    headers = [(b"Host", b"x"), (b"X-Forwarded-Proto", b"gopher")]
    assert b"X-Forwarded-Proto: http\r\n" in rewrite_request(headers, b"1.2.3.4").lines
    forward = rewrite_request(headers, b"1.2.3.4", scheme=b"https")
    assert b"X-Forwarded-Proto: https\r\n" in forward.lines and b"gopher" not in forward.lines


def client(cafile: Path, version: str) -> ssl.SSLContext:
    """Verifying, exactly TLS ``version``; a session resumes only with the context it came from."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.minimum_version = context.maximum_version = VERSIONS[version]
    return context


def get_echo(
    port: int, context: ssl.SSLContext, session: ssl.SSLSession | None = None
) -> tuple[tuple[str | None, bool], dict[str, object], ssl.SSLSession | None]:
    """A TLS connection, one GET /echo, and the session after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        conn = context.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
        with conn:
            conn.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert b"\r\nX-Served-By: stand-in-" in head
            # Read after the response: TLS 1.3 tickets arrive after the handshake.
            return (conn.version(), conn.session_reused), json.loads(body), conn.session


@pytest.mark.slow
@pytest.mark.parametrize("version", ["1.2", "1.3"])
async def test_a_proxied_request_over_tls_and_a_resumed_one(
    shared_backends: list[Backend], start_balancer: StartBalancer, pair: TlsPair, version: str
) -> None:
    balancer = await start_balancer(
        [b.url for b in shared_backends], tls_cert=pair.cert, tls_key=pair.key
    )
    assert balancer.tls is not None
    context = client(pair.cert, version)
    seen, echoed, session = await asyncio.to_thread(get_echo, balancer.port, context)
    assert seen == (f"TLSv{version}", False)
    sent = {name.lower(): value for name, value in echoed["headers"]}  # type: ignore[attr-defined]
    assert sent["x-forwarded-proto"] == "https"
    again, _, _ = await asyncio.to_thread(get_echo, balancer.port, context, session)
    assert again == (f"TLSv{version}", True)
    stats = balancer.tls.session_stats()
    # Resumed from a ticket: the balancer's session cache holds no entry for the client.
    assert stats["hits"] >= 1 and stats["number"] == 0


@pytest.mark.slow
async def test_plain_http_is_refused_on_a_tls_port(
    shared_backends: list[Backend], start_balancer: StartBalancer, pair: TlsPair
) -> None:
    balancer = await start_balancer([shared_backends[0].url], tls_cert=pair.cert, tls_key=pair.key)
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert b"200" not in answer and balancer.proxy.pool.backends[0].counts.requests == 0
