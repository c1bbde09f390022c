"""What the kernel says about a process, from ``/proc/<pid>/stat``, parsed in one place.

The command name (field 2) is in parentheses and may itself contain spaces or ``)``, so fields
are counted from the *last* closing parenthesis. Used for a process's identity (state letter and
start time: a pid alone is not an identity once the kernel reuses it) and for CPU time (the
benchmarks' and the paradox's CPU per request). ``parse_proc_stat`` is pure; the rest reads
``/proc``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` this project reads (``man 5 proc``)."""

    #: Field 3: R running, S sleeping, T stopped, Z zombie, X dead, …
    state: str
    #: Field 4.
    ppid: int
    #: Fields 14 and 15: user and system CPU time, in clock ticks.
    utime: int
    stime: int
    #: Field 22: when the process started, in clock ticks since boot.
    start_ticks: int

    @property
    def cpu_ticks(self) -> int:
        return self.utime + self.stime

    def cpu_seconds(self, ticks_per_second: int) -> float:
        return self.cpu_ticks / ticks_per_second


def parse_proc_stat(text: str) -> ProcStat:
    """The fields of one ``/proc/<pid>/stat`` text; ``ValueError``/``IndexError`` if malformed."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3, so field n is rest[n - 3].
    return ProcStat(
        state=rest[0],
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        start_ticks=int(rest[19]),
    )


def read_proc_stat(pid: int) -> ProcStat | None:
    """``pid``'s stat, or ``None`` when there is no such process (or it cannot be read)."""
    try:
        return parse_proc_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds ``pid`` has used so far; 0.0 when it is gone."""
    stat = read_proc_stat(pid) if pid is not None else None
    return stat.cpu_seconds(ticks_per_second()) if stat else 0.0


def cpu_seconds_with_children(pid: int) -> float:
    """CPU seconds of ``pid`` and of its direct children (nginx's workers, say)."""
    total = 0
    for path in PROC.glob("[0-9]*/stat"):
        try:
            stat = parse_proc_stat(path.read_text())
        except (OSError, ValueError, IndexError):
            continue
        if path.parent.name == str(pid) or stat.ppid == pid:
            total += stat.cpu_ticks
    return total / ticks_per_second()


def rss_bytes(pid: int | None) -> int:
    """The resident set of ``pid`` in bytes (``/proc/<pid>/statm``, field 2); 0 when gone."""
    if pid is None:
        return 0
    try:
        pages = int((PROC / str(pid) / "statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
