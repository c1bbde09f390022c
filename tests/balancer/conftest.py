"""Stand-in backends as real processes, and a balancer running in the test's event loop."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from balancer.app import Balancer, create_balancer
from balancer.config import BalancerConfig
from balancer.discovery import Resolver
from tests.support import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]

# Short intervals so that tests see state changes quickly, generous enough for a busy machine.
TEST_CONFIG = BalancerConfig(
    host="127.0.0.1",
    port=0,
    admin_port=0,  # the admin listener on a port the OS picks (``Balancer.admin_port``)
    health_interval=0.1,
    health_timeout=1.0,
    connect_timeout=1.0,
    try_timeout=1.5,
    shutdown_grace=3.0,
    log_level="WARNING",
)


@dataclass
class Backend:
    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path  # the POSTs it processed (shared by the stand-ins of one ``Backends``)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)


class Backends:
    """Starts stand-in backends (``backend_app``); every one is SIGCONTed and killed at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / "posts.jsonl"
        self.started: list[Backend] = []

    def start(
        self, count: int = 0, hosts: list[str] | None = None, drain: float = 1.5
    ) -> list[Backend]:
        """``count`` stand-ins on 127.0.0.1, or one per address of ``hosts`` on a shared port."""
        hosts = hosts or ["127.0.0.1"] * count
        shared = _free_port_everywhere(hosts) if len(set(hosts)) > 1 else None
        new = []
        for i, host in enumerate(hosts, len(self.started) + 1):
            port = shared or free_port(host)
            name = f"stand-in-{i}"
            command = [sys.executable, "-m", "tests.balancer.backend_app", "--host", host]
            command += ["--port", str(port), "--name", name, "--log", str(self.log)]
            command += ["--drain", str(drain)]
            proc = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            new.append(Backend(name, host, port, proc, self.log))
        self.started += new
        for backend in new:
            wait_for_port(backend.host, backend.port, timeout=30)
        return new

    def posts(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def cleanup(self) -> None:
        for backend in self.started:
            if backend.proc.poll() is None:
                backend.proc.send_signal(signal.SIGCONT)
                backend.proc.kill()
            backend.proc.wait(timeout=10)


def _free_port_everywhere(hosts: list[str]) -> int:
    """A port free on each of ``hosts`` (discovery: same port, several addresses)."""
    for _ in range(50):
        port = free_port()
        try:
            for host in hosts:
                with socket.socket() as sock:
                    sock.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no common free port")


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Backends]:
    pool = Backends(tmp_path)
    yield pool
    pool.cleanup()


@pytest.fixture(scope="module")
def shared_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Backend]]:
    """Three stand-ins for tests that never harm them (started once per module)."""
    pool = Backends(tmp_path_factory.mktemp("shared"))
    yield pool.start(3)
    pool.cleanup()


StartBalancer = Callable[..., Awaitable[Balancer]]


@pytest.fixture
async def start_balancer() -> AsyncIterator[StartBalancer]:
    """``await start_balancer(urls, wait_up=True, resolver=None, **config_overrides)``."""
    running: list[Balancer] = []

    async def start(
        urls: list[str] | None = None,
        *,
        wait_up: bool = True,
        resolver: Resolver | None = None,
        **overrides: object,
    ) -> Balancer:
        config = replace(TEST_CONFIG, backends=tuple(urls or ()), **overrides)  # type: ignore[arg-type]
        balancer = create_balancer(config, resolver)
        await balancer.start()
        running.append(balancer)
        if wait_up:
            await wait_until(
                lambda: all(b.state.value == "up" for b in balancer.proxy.pool.backends)
            )
        return balancer

    yield start
    for balancer in running:
        await balancer.stop()


async def wait_until(condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


def lb_url(balancer: Balancer, path: str = "") -> str:
    return f"http://127.0.0.1:{balancer.port}{path}"


def admin_url(balancer: Balancer, path: str = "") -> str:
    """The admin listener's URL (``/_lb/status``, ``/_lb/metrics``)."""
    return f"http://127.0.0.1:{balancer.admin_port}{path}"
