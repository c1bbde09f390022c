"""The lane's pure part: CPU seconds read from ``/proc/<pid>/stat``."""

from __future__ import annotations

import os
import time

from loadtest.paradox.lane import parse_cpu_seconds


def test_cpu_seconds_add_user_and_system_time() -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    stat = "4242 (python -m (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 3 0"
    assert parse_cpu_seconds(stat, ticks_per_second=100) == 3.0


def own_cpu() -> float:
    with open(f"/proc/{os.getpid()}/stat") as stat:
        return parse_cpu_seconds(stat.read(), os.sysconf("SC_CLK_TCK"))


def test_cpu_seconds_of_this_process_grow_with_work() -> None:
    before, start = own_cpu(), time.process_time()
    while time.process_time() - start < 0.2:
        pass
    assert own_cpu() - before >= 0.1  # ticks are 10 ms: allow for the rounding
