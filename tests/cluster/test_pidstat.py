"""``/proc/<pid>/stat`` read once for everyone: identity (state, start time) and CPU time."""

from __future__ import annotations

import os
import time

from cluster.runtime.pidstat import ProcStat, cpu_seconds, parse_proc_stat, read_proc_stat

# A real /proc/<pid>/stat line, with a command name that contains ") (" to trip naive parsers.
STAT = (
    "4242 (python (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 2 0 "
    "987654 123456789 4000 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0"
)


def test_fields_are_counted_from_the_last_parenthesis() -> None:
    assert parse_proc_stat(STAT) == ProcStat(
        state="S", ppid=1, utime=250, stime=50, start_ticks=987654
    )


def test_cpu_seconds_add_user_and_system_time() -> None:
    assert parse_proc_stat(STAT).cpu_seconds(ticks_per_second=100) == 3.0


def test_a_gone_process_has_no_stat_and_no_cpu_time() -> None:
    assert read_proc_stat(2**22 + 1) is None  # above the kernel's pid_max
    assert cpu_seconds(2**22 + 1) == 0.0
    assert cpu_seconds(None) == 0.0


def test_cpu_seconds_of_this_process_grow_with_work() -> None:
    stat = read_proc_stat(os.getpid())
    assert stat is not None and stat.state == "R" and stat.ppid == os.getppid()
    before, start = cpu_seconds(os.getpid()), time.process_time()
    while time.process_time() - start < 0.2:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.1  # ticks are 10 ms: allow for the rounding
