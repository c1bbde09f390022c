"""Thin process I/O for the local runtime: start in a new process group, signal, wait, stop.

Every child the runtime starts runs in its own session (``start_new_session=True``), so its pid
is also its process-group id: a signal to the group reaches whatever the child spawned, and
Ctrl-C in the terminal that ran ``cluster up`` does not reach the cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cluster.actions import Action
from cluster.runtime.base import ClusterError, NodeState
from cluster.runtime.pidstat import read_proc_stat
from cluster.runtime.state import ProcRecord, classify

#: What each process action is, as a signal (``cluster.actions.PROCESS_ACTIONS``).
SIGNALS = {
    Action.KILL: signal.SIGKILL,
    Action.TERM: signal.SIGTERM,
    Action.STOP: signal.SIGSTOP,
    Action.CONT: signal.SIGCONT,
}


def launch(
    role: str,
    name: str,
    port: int,
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path | None,
    *,
    detach: bool = True,
) -> tuple[subprocess.Popen[bytes], ProcRecord]:
    """Start ``argv``, output appended to ``log`` (``None``: discarded); its identity too.

    ``detach`` gives it a session of its own (see above); without, it stays in ours, so that a
    Ctrl-C that ends a test run or a benchmark ends it too.
    """
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") if log is not None else open(os.devnull, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
    stat = read_proc_stat(proc.pid)
    ticks = stat.start_ticks if stat else 0
    return proc, ProcRecord(role, name, port, proc.pid, ticks, str(log or os.devnull))


def spawn(
    role: str, name: str, port: int, argv: Sequence[str], env: Mapping[str, str], log: Path
) -> ProcRecord:
    """Start ``argv`` detached, output appended to ``log``; record its identity."""
    # The Popen object is dropped on purpose: the process outlives this one; ``reap`` collects it
    # when it is our child and exits while we still run (tests, ``restart``).
    return launch(role, name, port, argv, env, log)[1]


def reap(pid: int) -> None:
    """Collect ``pid`` if it is an exited child of ours, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def state_of(record: ProcRecord) -> NodeState:
    reap(record.pid)
    return classify(record, read_proc_stat(record.pid))


def send(record: ProcRecord, action: Action) -> bool:
    """Send ``action``'s signal to ``record``'s process group if it is still ours; False if gone."""
    if state_of(record) is NodeState.STOPPED:
        return False
    try:
        os.killpg(record.pid, SIGNALS[action])
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
        send(record, Action.CONT)
        send(record, Action.TERM)
    for record in wait_gone(running, timeout):
        send(record, Action.KILL)
    stuck = wait_gone(running, 5.0)
    if stuck:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in stuck)
        raise ClusterError(f"still running after SIGKILL: {names}")
    return running


def log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
