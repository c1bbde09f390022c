"""A CPU quota per process, with cgroup v1's ``cpu`` controller (CFS bandwidth control).

``limited(name, pid, cpus)`` puts ``pid`` in ``/sys/fs/cgroup/cpu/<name>`` with
``cpu.cfs_quota_us / cpu.cfs_period_us = cpus`` for the length of a ``with`` block, then moves
it back to the root group and removes the group. Most machines elsewhere have cgroup v2 (one
unified hierarchy, delegated per user by systemd): there ``unavailable()`` says why not, and a
benchmark runs without quotas, so its scaling stops at the core count.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

ROOT = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 20_000  # 20 ms (the default is 100 ms): a node held back waits at most ~16 ms, not ~80


def unavailable() -> str | None:
    """Why a quota cannot be set here, or ``None`` when it can."""
    if not (ROOT / "cpu.cfs_quota_us").exists():
        return f"no cgroup v1 cpu controller at {ROOT} (cgroup v2 machines need a delegated group)"
    if not os.access(ROOT, os.W_OK):
        return f"{ROOT} is not writable by this user"
    return None


@contextlib.contextmanager
def limited(name: str, pid: int, cpus: float) -> Iterator[Path]:
    """``pid`` limited to ``cpus`` cores (0.2: 4 ms of CPU per 20 ms period) inside the block."""
    group = ROOT / name
    group.mkdir(exist_ok=True)
    try:
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(max(1000, round(cpus * PERIOD_US))))
        (group / "cgroup.procs").write_text(str(pid))
        yield group
    finally:
        release(group)


def release(group: Path) -> None:
    """Move what is left in ``group`` back to the root group and remove it."""
    with contextlib.suppress(OSError):
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # gone already
                (ROOT / "cgroup.procs").write_text(pid)
    with contextlib.suppress(OSError):
        group.rmdir()


def throttled_seconds(group: Path) -> float:
    """How long the group was held back by its quota so far (``cpu.stat`` throttled_time)."""
    with contextlib.suppress(OSError, ValueError):
        for line in (group / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "throttled_time":
                return int(value) / 1e9
    return 0.0
