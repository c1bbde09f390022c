"""``paradox`` (``make paradox``): the four revocation modes measured side by side.

For each mode a lane of its own (a ``redis-server`` and N nodes on free loopback ports, see
``loadtest.paradox.lane``) is started, then (``loadtest.paradox.phases``):

a. propagation: log in, log out on node 1, poll every node until it answers 401; the time from
   the logout's 204 to the slowest node's first 401, over ``--trials`` trials;
b. cost: ``wrk`` against one node with a valid token, the modes interleaved over ``--rounds``
   rounds so that a noisy neighbour hurts every mode alike; req/s and p50/p99;
c. outage: valid and revoked tokens against every node while Redis is SIGKILLed and restarted;
   valid tokens served and revoked tokens accepted while it is down, and the time from the
   restart until every answer is right again and every node is ready and not stale.

One table is printed (Markdown) and ``reports/paradox/`` gets ``index.html``, ``paradox.png``,
``outage.png``, ``table.md`` and ``results.json``. The whole run is bounded: with the defaults
it takes about two to three minutes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from loadtest.bench import wrk
from loadtest.paradox.lane import Lane, LaneError
from loadtest.paradox.options import Options, parse_args
from loadtest.paradox.phases import measure_cost, measure_outage, measure_propagation, say
from loadtest.paradox.probe import ProbeError, wait_ready
from loadtest.paradox.report import write_report
from loadtest.paradox.stats import ModeResult, render_table, table_rows


def stop_on_signals() -> None:
    """SIGTERM and SIGINT cancel the run, so that every lane is stopped on the way out.

    The cancellation is repeated until the run ends: one can be lost in a race inside a
    library (``asyncio.wait_for`` in Python 3.11 drops a cancel that arrives as it completes).
    """
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    if task is None:
        return

    def cancel() -> None:
        if not task.done():
            task.cancel()
            loop.call_later(0.5, cancel)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, cancel)


async def run(opts: Options, workdir: Path) -> list[ModeResult]:
    lanes = [Lane(m, opts.nodes, workdir / m, redis_aof=opts.redis_aof) for m in opts.modes]
    results = {lane.mode: ModeResult(lane.mode) for lane in lanes}
    stop_on_signals()
    timeout = aiohttp.ClientTimeout(total=5.0, sock_connect=2.0)
    try:
        for lane in lanes:
            lane.start_redis()
            lane.start_nodes()
        if lanes and lanes[0].server is not None:
            say(f"Redis server: {lanes[0].server.describe()}")
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            for lane in lanes:
                await wait_ready(session, lane.urls, 90.0, lane.exited)
            say(f"{len(lanes)} lanes of {opts.nodes} nodes ready")
            for lane in lanes:
                say(f"propagation: {lane.mode}")
                await measure_propagation(session, lane, results[lane.mode], opts)
            await measure_cost(session, lanes, results, opts)
            for lane in lanes:
                say(f"outage: {lane.mode} (Redis killed under load, then restarted)")
                await measure_outage(session, lane, results[lane.mode], opts)
    finally:
        for lane in lanes:
            lane.stop()
    return [results[m] for m in opts.modes]


def notes(results: Sequence[ModeResult], opts: Options, load: Sequence[float]) -> list[str]:
    """What a reader needs besides the table: targets met or not, and what was measured."""
    lines = [
        f"machine: {os.cpu_count()} CPUs, 1-minute load average {load[0]:.1f} at the start "
        f"and {load[1]:.1f} at the end (other work on the machine slows req/s down)",
        f"propagation: {opts.trials} trials of log in, log out on node 1, poll all "
        f"{opts.nodes} nodes; the slowest node counts; 'never': still accepted after "
        f"{opts.deadline:g} s (the token keeps working until exp)",
        f"cost: wrk -t1 -c{opts.connections} -d{opts.duration:g}s GET /whoami on one node, "
        f"{opts.rounds} interleaved rounds; req/s and latencies of the best round (others' "
        "load only slows a round down); the cost vs none is computed from CPU per request "
        "(node + its Redis, from /proc), paired by round, median over the rounds: it depends "
        "far less than req/s on what else the machine runs",
        f"outage: {opts.workers} clients alternate a valid and a logged-out token over all "
        f"nodes; Redis SIGKILLed after {opts.outage[0]:g} s, restarted {opts.outage[1]:g} s "
        f"later ({'with' if opts.redis_aof else 'without'} AOF persistence), observed "
        f"{opts.outage[2]:g} s more",
    ]
    by_mode = {r.mode: r for r in results}
    cached, none = by_mode.get("cached"), by_mode.get("none")
    if cached and none:
        rows = {row[0]: row for row in table_rows([none, cached])[1:]}
        lines.append(
            f"target cached cost <= 5% of none: {rows['cached'][4]}; "
            f"target cached p99 propagation <= 100 ms: {rows['cached'][1].split(' / ')[1]} ms"
        )
    spread = ", ".join(
        f"{r.mode} {min(totals):.0f}-{max(totals):.0f}"
        for r in results
        if (totals := [n + x for n, x in zip(r.node_cpu_us, r.redis_cpu_us, strict=True)])
    )
    lines.append(f"CPU µs/req across rounds (min-max, the machine's noise): {spread}")
    errors = {
        r.mode: f"{r.load_non_2xx} non-2xx, {r.load_socket_errors} socket errors/timeouts"
        for r in results
        if r.load_non_2xx or r.load_socket_errors
    }
    if errors:
        lines.append(f"wrk saw failed requests with a valid token: {errors}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="paradox-"))
    started, load_before = time.monotonic(), os.getloadavg()[0]
    try:
        results = asyncio.run(run(opts, workdir))
    except (LaneError, ProbeError, wrk.WrkError, OSError) as exc:
        print(f"paradox: {exc}\n(lane logs kept in {workdir})", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"paradox: interrupted (lane logs in {workdir})", file=sys.stderr)
        return 130
    if not opts.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = table_rows(results)
    settings = {f: str(getattr(opts, f)) for f in Options.__dataclass_fields__}
    lines = notes(results, opts, (load_before, os.getloadavg()[0]))
    index = write_report(results, opts.out, settings, lines)
    print()
    print(render_table(rows))
    print()
    for line in lines:
        print(f"- {line}")
    print(f"\nreport: {index} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
