"""Thin process I/O for the local runtime: start in a new process group, signal, wait, probe.

Every child runs in its own session (``start_new_session=True``), so its pid is also its
process-group id: a signal to the group reaches whatever the child spawned, and Ctrl-C in the
terminal that ran ``cluster up`` does not reach the cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cluster.runtime import ClusterError, NodeState
from cluster.runtime.state import ProcRecord, classify, read_proc_stat

SIGNALS = {
    "KILL": signal.SIGKILL,
    "TERM": signal.SIGTERM,
    "STOP": signal.SIGSTOP,
    "CONT": signal.SIGCONT,
}


def spawn(
    role: str, name: str, port: int, argv: Sequence[str], env: Mapping[str, str], log: Path
) -> ProcRecord:
    """Start ``argv`` detached, output appended to ``log``; record its identity."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stat = read_proc_stat(proc.pid)
    ticks = stat[1] if stat else 0
    # The Popen object is dropped on purpose: the process outlives this one; ``reap`` collects it
    # when it is our child and exits while we still run (tests, ``restart``).
    return ProcRecord(role, name, port, proc.pid, ticks, str(log))


def reap(pid: int) -> None:
    """Collect ``pid`` if it is an exited child of ours, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def state_of(record: ProcRecord) -> NodeState:
    reap(record.pid)
    return classify(record, read_proc_stat(record.pid))


def send(record: ProcRecord, name: str) -> bool:
    """Send signal ``name`` to ``record``'s process group if it is still ours; False if gone."""
    if state_of(record) is NodeState.STOPPED:
        return False
    try:
        os.killpg(record.pid, SIGNALS[name])
    except ProcessLookupError:
        return False
    except PermissionError:
        # The group leader may be gone while the pid was reused: never signal a stranger.
        return False
    return True


def wait_gone(records: Sequence[ProcRecord], timeout: float) -> list[ProcRecord]:
    """Wait until every record's process is gone; return those still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    left = list(records)
    while left and time.monotonic() < deadline:
        left = [r for r in left if state_of(r) is not NodeState.STOPPED]
        if left:
            time.sleep(0.05)
    return [r for r in left if state_of(r) is not NodeState.STOPPED]


def stop_all(records: Sequence[ProcRecord], timeout: float) -> list[ProcRecord]:
    """CONT then TERM every process, KILL what is left after ``timeout``; return what ran.

    CONT comes first: a SIGSTOPped process would never act on SIGTERM.
    """
    running = [r for r in records if state_of(r) is not NodeState.STOPPED]
    for record in running:
        send(record, "CONT")
        send(record, "TERM")
    for record in wait_gone(running, timeout):
        send(record, "KILL")
    stuck = wait_gone(running, 5.0)
    if stuck:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in stuck)
        raise ClusterError(f"still running after SIGKILL: {names}")
    return running


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (bound like aiohttp binds, SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_port(host: str, port: int, timeout: float, record: ProcRecord) -> bool:
    """Wait until ``host:port`` accepts connections; False if ``record`` died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state_of(record) is NodeState.STOPPED:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def get_json(url: str, timeout: float = 2.0) -> dict[str, Any]:
    """GET ``url`` and parse the JSON body; raises ``OSError`` subclasses on failure."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data = json.loads(resp.read())
    if not isinstance(data, dict):
        raise urllib.error.URLError(f"{url} did not return a JSON object")
    return data


def log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
