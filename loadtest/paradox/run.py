"""``paradox`` (``make paradox``): the four revocation modes measured side by side.

For each mode a lane of its own (a ``redis-server`` and N nodes on free loopback ports, see
``paradox_lane``) is started, then:

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

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from loadtest.bench import wrk
from loadtest.paradox.lane import Lane, LaneError
from loadtest.paradox.probe import (
    ProbeError,
    login,
    logout,
    outage_phase,
    propagation_trial,
    wait_ready,
    whoami,
)
from loadtest.paradox.report import write_report
from loadtest.paradox.stats import ModeResult, recovery_seconds, render_table, table_rows, window

MODES = ("none", "denylist", "denylist-fail-open", "cached")


@dataclass(frozen=True, slots=True)
class Options:
    """The run's settings (see ``--help``)."""

    modes: tuple[str, ...] = MODES
    nodes: int = 3
    trials: int = 100
    deadline: float = 1.0
    rounds: int = 7
    duration: float = 2.0
    connections: int = 32
    outage: tuple[float, float, float] = (2.0, 3.0, 4.0)
    workers: int = 8
    out: Path = Path("reports/paradox")
    redis_aof: bool = True
    keep: bool = False


def say(message: str) -> None:
    print(f"[paradox {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def measure_propagation(
    session: aiohttp.ClientSession, lane: Lane, result: ModeResult, opts: Options
) -> None:
    for trial in range(opts.trials):
        delays = await propagation_trial(session, lane.urls, opts.deadline)
        result.trials += 1
        if None in delays:
            result.never_rejected += 1
        else:
            result.propagation_ms.append(max(d for d in delays if d is not None))
        if trial >= 2 and result.never_rejected == result.trials:
            break  # three trials without a rejection: this mode does not revoke


async def measure_cost(
    session: aiohttp.ClientSession, lanes: Sequence[Lane], results: dict[str, ModeResult],
    opts: Options,
) -> None:  # fmt: skip
    tokens = {lane.mode: await login(session, lane.urls[0]) for lane in lanes}
    for round_ in range(1, opts.rounds + 1):
        # Every other round in reverse order, so that a drift of the machine's load over the
        # round does not always favour the same mode.
        for lane in lanes if round_ % 2 else list(reversed(lanes)):
            say(f"cost: round {round_}/{opts.rounds}, {lane.mode}")
            node_cpu, redis_cpu = lane.cpu()
            run = await asyncio.to_thread(
                wrk.run,
                lane.urls[0] + "/whoami",
                connections=opts.connections,
                duration=opts.duration,
                headers=(f"Authorization: Bearer {tokens[lane.mode]}",),
            )
            node_after, redis_after = lane.cpu()
            result = results[lane.mode]
            requests = max(run.requests, 1)
            result.node_cpu_us.append((node_after - node_cpu) / requests * 1e6)
            result.redis_cpu_us.append((redis_after - redis_cpu) / requests * 1e6)
            result.rps.append(run.requests_per_s)
            result.p50_ms.append(run.p50_ms)
            result.p99_ms.append(run.p99_ms)
            result.load_non_2xx += run.non_2xx
            result.load_socket_errors += run.socket_errors


async def revoked_everywhere(session: aiohttp.ClientSession, lane: Lane, token: str) -> None:
    """Wait (bounded) until every node rejects ``token``: the outage starts from a known state."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        statuses = await asyncio.gather(*(whoami(session, url, token) for url in lane.urls))
        if all(status == 401 for status in statuses):
            return
        await asyncio.sleep(0.05)
    raise ProbeError(f"{lane.mode}: the revoked token is not rejected by every node after 5 s")


async def measure_outage(
    session: aiohttp.ClientSession, lane: Lane, result: ModeResult, opts: Options
) -> None:
    tokens = {kind: await login(session, lane.urls[0]) for kind in ("valid", "revoked")}
    await logout(session, lane.urls[0], tokens["revoked"])
    if lane.mode != "none":
        await revoked_everywhere(session, lane, tokens["revoked"])
    await asyncio.sleep(1.1)  # past Redis's once-a-second AOF fsync

    async def kill() -> None:
        await asyncio.to_thread(lane.kill_redis)

    async def restart() -> None:
        await asyncio.to_thread(lane.start_redis)

    run = await outage_phase(
        session, lane.urls, tokens, kill, restart, opts.outage, workers=opts.workers
    )
    kill_at, restart_at, end = run.marks["kill"], run.marks["restart"], run.marks["end"]
    result.timeline, result.marks = run.samples, run.marks
    result.before = window(run.samples, 0.0, kill_at)
    result.outage = window(run.samples, kill_at, restart_at)
    result.after = window(run.samples, restart_at, end)
    result.recovery_s = recovery_seconds(
        lane.mode, run.samples, restart_at, end, run.ready_after_restart
    )


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


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="paradox", description="The JWT revocation modes measured side by side."
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--nodes", type=int, default=3, help="nodes per mode (3)")
    parser.add_argument("--trials", type=int, default=100, help="propagation trials (100)")
    parser.add_argument("--deadline", type=float, default=1.0, help="seconds a trial waits")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved wrk rounds (7)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--outage", default="2,3,4", help="seconds before the kill, down, after the restart"
    )
    parser.add_argument("--workers", type=int, default=8, help="clients during the outage")
    parser.add_argument("--out", type=Path, default=Path("reports/paradox"))
    parser.add_argument(
        "--redis-ephemeral",
        action="store_true",
        help="Redis without AOF, like the local cluster's: a restart forgets the denylist",
    )
    parser.add_argument("--keep", action="store_true", help="keep the lanes' logs directory")
    args = parser.parse_args(argv)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        parser.error(f"--modes: unknown {unknown}; known: {', '.join(MODES)}")
    try:
        before, down, after = (float(x) for x in args.outage.split(","))
    except ValueError:
        parser.error("--outage takes three numbers: before,down,after (seconds)")
    return Options(
        modes=modes,
        nodes=args.nodes,
        trials=args.trials,
        deadline=args.deadline,
        rounds=args.rounds,
        duration=args.duration,
        connections=args.connections,
        outage=(before, down, after),
        workers=args.workers,
        out=args.out,
        redis_aof=not args.redis_ephemeral,
        keep=args.keep,
    )


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
