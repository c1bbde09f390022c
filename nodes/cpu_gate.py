"""CPU-heavy work on a bounded thread pool, behind the admission decision (``nodes.admission``).

The thin async part: it counts the queue and the running jobs exactly, measures each job, and
carries out the verdict. A job's life::

    gate.admit() ──shed──▶ raises Shed (nothing done, nothing counted)
        │ admitted: one place in the queue (``queued``), held while the caller reads Redis
        ▼
    ticket.run(fn) ──a thread is free (FIFO)──▶ running ──fn returns──▶ the next waiter's turn
        ├─ the caller is cancelled, or leaves without running: its place is given back at once
        ├─ the client disconnected while queued: ClientGone, its place given back (noticed
        │  within ``poll`` seconds, and always before a thread would be given to it)
        └─ cancelled while running: the thread is kept counted until ``fn`` returns, since the
           CPU is still busy with it (a thread cannot be stopped)

hashlib.scrypt releases the GIL while it hashes (measured: with one thread hashing, the event
loop's thread kept running Python code), so ``concurrency`` threads use that many cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from nodes.admission import ServiceTime, Verdict, decide

_T = TypeVar("_T")
Clock = Callable[[], float]
#: How often a queued job asks whether its client is still there.
POLL_SECONDS = 0.1


def _never() -> bool:
    return False


class Shed(Exception):
    """The job was refused before any work; ``verdict`` says why and when to come back."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"estimated wait {verdict.wait:.2f} s is over the bound")
        self.verdict = verdict


class ClientGone(Exception):
    """The client went away while its job was queued; the job was not run."""


def default_concurrency() -> int:
    """The CPUs this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CpuGate:
    """At most ``concurrency`` jobs run at once; a job that would wait over ``bound`` is shed."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        concurrency: int,
        bound: float,
        *,
        service_time: ServiceTime | None = None,
        clock: Clock = time.perf_counter,
        observe: Callable[[float], None] | None = None,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.concurrency = concurrency
        self.bound = bound
        self.service_time = service_time or ServiceTime()
        self._executor, self._clock, self._observe, self._poll = executor, clock, observe, poll
        # (future, gone): the future gets True when handed a thread, False when its client left.
        self._waiters: deque[tuple[asyncio.Future[bool], Callable[[], bool]]] = deque()
        self.queued = 0  # admitted, not yet running (reading Redis, or waiting for a thread)
        self.running = 0  # holding a thread: started, and not yet returned

    def admit(self) -> Ticket:
        """A place in the queue, or ``Shed`` when the estimated wait is over the bound."""
        verdict = decide(
            self.queued, self.running, self.concurrency, self.service_time.value, self.bound
        )
        if not verdict.admitted:
            raise Shed(verdict)
        self.queued += 1
        return Ticket(self)

    async def _acquire(self, gone: Callable[[], bool]) -> None:
        # Waiters exist only while every thread is taken (``_release`` hands a freed thread on
        # or empties the queue), so a free thread means nobody waits ahead.
        if self.running < self.concurrency:
            self.running += 1
            return
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, gone))
        poll = None if gone is _never else self._poll
        try:
            while not waiter.done():
                await asyncio.wait((waiter,), timeout=poll)
                if not waiter.done() and gone():
                    waiter.set_result(False)
        except BaseException:  # cancelled: give back the place, or the thread just handed over
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._release()
            waiter.cancel()
            raise
        if not waiter.result():
            raise ClientGone

    def _release(self) -> None:
        """A thread is free: hand it to the first waiter whose client is still there."""
        self.running -= 1
        while self._waiters:
            waiter, gone = self._waiters.popleft()
            if waiter.done():
                continue  # cancelled, or its client was found gone
            if gone():
                waiter.set_result(False)
                continue
            self.running += 1
            waiter.set_result(True)
            return

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        start = self._clock()
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        future.add_done_callback(lambda _: self._finished(self._clock() - start))
        # Shielded: a cancelled caller must not release the thread while it still computes.
        return await asyncio.shield(future)

    def _finished(self, seconds: float) -> None:
        self.service_time.observe(seconds)
        if self._observe is not None:
            self._observe(seconds)
        self._release()


class Ticket:
    """One admitted job's place in the queue; ``run`` it once, or leave the ``with`` block."""

    def __init__(self, gate: CpuGate) -> None:
        self._gate: CpuGate | None = gate

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Give back the place if the job never ran (the caller failed before ``run``)."""
        if self._gate is not None:
            self._gate.queued -= 1
            self._gate = None

    async def run(
        self, fn: Callable[..., _T], *args: object, gone: Callable[[], bool] = _never
    ) -> _T:
        """``fn(*args)`` on a thread of the pool once one is free; ``gone`` tells a left client."""
        gate = self._gate
        if gate is None:
            raise RuntimeError("a ticket runs one job")
        try:
            await gate._acquire(gone)
        finally:
            self.close()
        return await gate._run(fn, *args)


def lower_priority(niceness: int) -> None:
    """Raise the calling thread's niceness by ``niceness`` (Linux: a thread id is a process id
    to ``setpriority``); elsewhere, or when refused, the thread keeps its priority."""
    if niceness <= 0:
        return
    tid = threading.get_native_id()
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)


@contextlib.contextmanager
def thread_pool(concurrency: int, niceness: int = 0) -> Iterator[ThreadPoolExecutor]:
    """The pool the gate submits to; at most ``concurrency`` jobs are ever in it at once.

    Its threads run ``niceness`` steps below the event loop's thread: when hashing fills the
    cores, the scheduler still gives the loop its turn, so probes and the cheap requests keep
    answering in milliseconds while logins wait (measured: see ``LOGIN_THREAD_NICENESS``).
    """
    executor = ThreadPoolExecutor(
        max_workers=concurrency,
        thread_name_prefix="cpu-gate",
        initializer=lower_priority,
        initargs=(niceness,),
    )
    try:
        yield executor
    finally:
        # A job still running (at most one per thread, tens of ms) is waited for.
        executor.shutdown(wait=True, cancel_futures=True)


async def calibrate(gate: CpuGate, fn: Callable[..., object], *args: object) -> float:
    """Run one job through ``gate`` so that its estimate starts from a measurement."""
    with gate.admit() as ticket:
        await ticket.run(fn, *args)
    return gate.service_time.value
