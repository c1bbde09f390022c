"""The async gate (``nodes.cpu_gate``): exact counts, FIFO, shedding, and no leak on leaving.

Jobs are ``Job``s that block their thread until the test lets them finish, so every state is
reached on purpose, without timing guesses and without burning the shared machine's CPU.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from nodes.admission import ServiceTime
from nodes.cpu_gate import ClientGone, CpuGate, Shed, calibrate, thread_pool
from tests.nodes.helpers import settle

TIMEOUT = 5.0


class Job:
    """A job that runs on a thread until ``finish()``; it records that it ran."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = threading.Event()
        self._finish = threading.Event()

    def __call__(self) -> str:
        self.started.set()
        assert self._finish.wait(TIMEOUT)
        return self.name

    def finish(self) -> None:
        self._finish.set()


@pytest.fixture
async def pool() -> AsyncIterator[ThreadPoolExecutor]:
    with thread_pool(4) as executor:
        yield executor


def gate_of(pool: ThreadPoolExecutor, concurrency: int = 1, bound: float = 10.0) -> CpuGate:
    return CpuGate(pool, concurrency, bound, service_time=ServiceTime(prior=1.0), poll=0.01)


def submit(gate: CpuGate, job: Job, gone: Callable[[], bool] = lambda: False) -> asyncio.Task[str]:
    async def go() -> str:
        with gate.admit() as ticket:
            return await ticket.run(job, gone=gone)

    return asyncio.create_task(go())


async def test_at_most_concurrency_jobs_run_and_the_rest_wait_in_order(
    pool: ThreadPoolExecutor,
) -> None:
    gate = gate_of(pool, concurrency=2)
    jobs = [Job(str(i)) for i in range(4)]
    tasks = [submit(gate, job) for job in jobs]
    await settle(lambda: gate.running == 2 and gate.queued == 2)
    assert [j.started.is_set() for j in jobs] == [True, True, False, False]
    jobs[1].finish()
    await settle(lambda: jobs[2].started.is_set())
    assert (gate.running, gate.queued) == (2, 1) and not jobs[3].started.is_set()
    for job in jobs:
        job.finish()
    assert await asyncio.gather(*tasks) == ["0", "1", "2", "3"]
    assert (gate.running, gate.queued) == (0, 0)


async def test_a_job_over_the_bound_is_shed_and_counts_nowhere(pool: ThreadPoolExecutor) -> None:
    gate = gate_of(pool, concurrency=1, bound=1.5)  # 1 s a job: one may wait, a second not
    first, second = Job("first"), Job("second")
    tasks = [submit(gate, first), submit(gate, second)]
    await settle(lambda: gate.queued == 1)
    with pytest.raises(Shed) as shed:
        gate.admit()
    assert shed.value.verdict.wait == 2.0 and shed.value.verdict.retry_after == 2
    assert (gate.running, gate.queued) == (1, 1)
    first.finish()
    second.finish()
    await asyncio.gather(*tasks)


async def test_a_job_cancelled_while_queued_gives_its_place_back_and_never_runs(
    pool: ThreadPoolExecutor,
) -> None:
    gate = gate_of(pool)
    running, leaving, next_one = Job("running"), Job("leaving"), Job("next")
    tasks = [submit(gate, running), submit(gate, leaving), submit(gate, next_one)]
    await settle(lambda: gate.queued == 2)
    tasks[1].cancel()
    await settle(lambda: gate.queued == 1)  # at once, not when its turn would have come
    running.finish()
    next_one.finish()
    assert await tasks[2] == "next"
    assert tasks[1].cancelled() and not leaving.started.is_set()
    assert (gate.running, gate.queued) == (0, 0)


async def test_a_job_cancelled_while_running_keeps_its_thread_until_it_returns(
    pool: ThreadPoolExecutor,
) -> None:
    gate = gate_of(pool)
    running, waiting = Job("running"), Job("waiting")
    tasks = [submit(gate, running), submit(gate, waiting)]
    await settle(lambda: running.started.is_set() and gate.queued == 1)
    tasks[0].cancel()
    await asyncio.gather(tasks[0], return_exceptions=True)
    # The thread still computes: the CPU is not free, so nothing else may start yet.
    await asyncio.sleep(0.05)
    assert (gate.running, gate.queued) == (1, 1) and not waiting.started.is_set()
    running.finish()
    waiting.finish()
    assert await tasks[1] == "waiting"
    assert (gate.running, gate.queued) == (0, 0)


async def test_a_client_that_left_while_queued_is_dropped_within_a_poll(
    pool: ThreadPoolExecutor,
) -> None:
    gate = gate_of(pool)
    running, leaving = Job("running"), Job("leaving")
    left = threading.Event()
    tasks = [submit(gate, running), submit(gate, leaving, gone=left.is_set)]
    await settle(lambda: gate.queued == 1)
    left.set()
    await settle(lambda: gate.queued == 0)
    with pytest.raises(ClientGone):
        await tasks[1]
    running.finish()
    await tasks[0]
    assert not leaving.started.is_set() and (gate.running, gate.queued) == (0, 0)


async def test_a_thread_is_never_handed_to_a_client_that_left(pool: ThreadPoolExecutor) -> None:
    gate = CpuGate(pool, 1, 10.0, service_time=ServiceTime(prior=1.0), poll=60.0)  # no polling
    running, leaving, staying = Job("running"), Job("leaving"), Job("staying")
    left = threading.Event()
    tasks = [submit(gate, running), submit(gate, leaving, left.is_set), submit(gate, staying)]
    await settle(lambda: gate.queued == 2)
    left.set()
    running.finish()  # the freed thread skips the client that left
    staying.finish()
    assert await tasks[2] == "staying"
    with pytest.raises(ClientGone):
        await tasks[1]
    assert not leaving.started.is_set() and (gate.running, gate.queued) == (0, 0)


async def test_a_ticket_left_unused_gives_its_place_back(pool: ThreadPoolExecutor) -> None:
    gate = gate_of(pool)
    with pytest.raises(KeyError), gate.admit():
        assert gate.queued == 1
        raise KeyError("the user lookup failed before the hash")
    assert gate.queued == 0


async def test_each_duration_feeds_the_estimate_and_the_observer(
    pool: ThreadPoolExecutor,
) -> None:
    ticks = iter([10.0, 10.3, 20.0, 20.1])
    seen: list[float] = []
    gate = CpuGate(pool, 1, 1.0, clock=lambda: next(ticks), observe=seen.append)
    assert await calibrate(gate, lambda: None) == pytest.approx(0.3)
    with gate.admit() as ticket:
        await ticket.run(lambda: None)
    assert seen == pytest.approx([0.3, 0.1])
    assert gate.service_time.value == pytest.approx(0.8 * 0.3 + 0.2 * 0.1)


async def test_a_failing_job_frees_its_thread(pool: ThreadPoolExecutor) -> None:
    gate = gate_of(pool)

    def boom() -> None:
        raise ValueError("bad hash")

    with pytest.raises(ValueError), gate.admit() as ticket:
        await ticket.run(boom)
    assert (gate.running, gate.queued) == (0, 0)


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="needs os.setpriority (Linux)")
def test_the_pool_threads_run_below_the_callers_priority() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = niceness()
    with thread_pool(2, niceness=5) as executor:
        theirs = {executor.submit(niceness).result(TIMEOUT) for _ in range(4)}
    assert theirs == {min(mine + 5, 19)}
    assert niceness() == mine  # the event loop's thread is left as it was
    with thread_pool(1) as executor:
        assert executor.submit(niceness).result(TIMEOUT) == mine
