"""The paradox's three measurements of one mode: propagation, cost, outage (see ``run``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aiohttp

from loadtest.bench import wrk
from loadtest.paradox.lane import Lane
from loadtest.paradox.options import Options
from loadtest.paradox.probe import (
    ProbeError,
    login,
    logout,
    outage_phase,
    propagation_trial,
    whoami,
)
from loadtest.paradox.stats import ModeResult, recovery_seconds, window


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
