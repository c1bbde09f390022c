"""A small runner for ``wrk`` and a parser for its report (``--latency``).

``run(url, …)`` runs wrk once, bounded by its own ``-d`` and a hard subprocess timeout, and
returns a ``WrkResult``; ``parse(text)`` is pure and unit-tested on wrk's real output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON2XX = re.compile(r"^\s+Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)


_STATUSES_LINE = "fullspeed-statuses "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed something this parser does not understand."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse(text: str) -> WrkResult:
    """The figures of one wrk report printed with ``--latency``."""
    rate, total = _RATE.search(text), _TOTAL.search(text)
    percentiles = {
        m.group(1): float(m.group(2)) * _UNITS[m.group(3)] for m in _PERCENTILE.finditer(text)
    }
    if rate is None or total is None or "50" not in percentiles or "99" not in percentiles:
        raise WrkError(f"unexpected wrk output:\n{text}")
    non2xx = _NON2XX.search(text)
    sockets = _SOCKET.search(text)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
    )


def script_statuses(text: str) -> dict[int, int]:
    """The answers per status a wrk script printed (``loadtest/fullspeed/load.lua``'s
    ``fullspeed-statuses {"200": n, …}`` line); empty when it printed none."""
    for line in text.splitlines():
        if line.startswith(_STATUSES_LINE):
            return {int(k): int(v) for k, v in json.loads(line[len(_STATUSES_LINE) :]).items()}
    return {}


def run(
    url: str,
    *,
    threads: int = 1,
    connections: int = 32,
    duration: float = 10.0,
    timeout: float = 2.0,
    headers: tuple[str, ...] = (),
) -> WrkResult:
    """Run wrk once against ``url`` (loopback only, bounded by ``duration``).

    wrk takes whole seconds: ``duration`` is rounded, and at least 1.
    """
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkError("wrk is not installed (Debian: apt-get install wrk)")
    command = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "--latency",
    ]
    for header in headers:
        command += ["-H", header]
    command.append(url)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(command)}") from exc
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
    return parse(done.stdout)
