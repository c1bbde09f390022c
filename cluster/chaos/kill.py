"""``chaos-kill``: kill, terminate or freeze random live nodes on a schedule, and log each action.

    chaos-kill [--runtime local|docker] [--interval S] [--count N | --duration S]
               [--signal KILL|TERM|STOP|PARTITION[,…]] [--restart-after S] [--pause-for S]
               [--min-alive N] [--target REGEX] [--seed N] [--dry-run] [--events FILE]

Every ``--interval`` seconds one attempt: a target is chosen (``cluster.chaos.plan``) and
signalled. A STOPped node gets CONT after ``--pause-for``; with ``--restart-after`` a killed or
terminated node is brought back through the runtime (in a worker thread, so the schedule keeps
its pace). A comma list in ``--signal`` is a rotation: ``KILL,TERM,STOP`` uses each in turn.

One JSON line per action goes to ``--events`` (and stdout): ``ts`` (Unix seconds), ``action``
(a ``cluster.actions.Event``: ``kill``, ``term``, ``stop``, ``cont``, ``partition``, ``heal``,
``restart``, ``ready``, ``skip``, ``restart-failed``), ``target``, ``signal``, ``pid`` and
details; each line is also POSTed to the balancer's ``/_lb/events`` (the live dashboard shows
it), best effort. Ctrl-C (or SIGTERM) thaws and restarts whatever chaos touched before it
exits, so no node is left frozen. ``--target redis-primary`` acts on Redis instead
(``chaos.targets``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from cluster.actions import CHAOS_ACTIONS, Action, Event
from cluster.chaos.plan import (
    choose_target,
    finished,
    parse_seconds,
    parse_signals,
    signal_for,
)
from cluster.chaos.targets import targets_for
from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError, NodeState, Runtime
from cluster.runtime.choice import RUNTIMES, find_runtime
from servicekit.settings import SettingError


@dataclasses.dataclass(frozen=True, slots=True)
class ChaosSettings:
    interval: float = 5.0
    count: int | None = 3
    duration: float | None = None
    signals: tuple[str, ...] = (Action.KILL,)
    restart_after: float | None = None
    pause_for: float = 5.0
    min_alive: int = 1
    target: re.Pattern[str] | None = None
    seed: int | None = None
    dry_run: bool = False


#: How long a TERMed node may take to drain and exit before it is restarted anyway (seconds).
TERM_EXIT_TIMEOUT = 30.0


class EventLog:
    """JSON lines to a file (appended, flushed per line), to a stream, and to the balancer's
    admin listener (``admin``: its URL) for the live dashboard."""

    def __init__(self, path: Path | None, echo: TextIO, runtime: str, admin: str = "") -> None:
        self._file = path.open("a") if path else None
        self._echo = echo
        self._runtime = runtime
        self._admin = admin

    def write(self, action: Event, target: str | None, sig: str | None, **extra: Any) -> None:
        entry = {"ts": round(time.time(), 3), "action": action, "target": target, "signal": sig}
        entry.update(runtime=self._runtime, **extra)
        line = json.dumps(entry, separators=(",", ":"))
        if self._file:
            self._file.write(line + "\n")
            self._file.flush()
        print(line, file=self._echo, flush=True)
        if self._admin and action is not Event.SKIP:
            self._post(line)

    def _post(self, line: str) -> None:
        """Best effort: the dashboard misses the event, the run goes on (and says so)."""
        request = urllib.request.Request(
            f"{self._admin}/_lb/events",
            data=line.encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=0.5).close()
        except OSError as exc:
            print(f"chaos-kill: the dashboard did not take the event: {exc}", file=sys.stderr)

    def close(self) -> None:
        if self._file:
            self._file.close()


class Chaos:
    """The schedule's I/O loop around the pure choices."""

    def __init__(self, runtime: Runtime, settings: ChaosSettings, log: EventLog) -> None:
        self.runtime = runtime
        self.settings = settings
        self.log = log
        self.rng = random.Random(settings.seed)
        self.targets = targets_for(runtime, settings.target)  # nodes, or Redis (targets.py)
        self.pending: list[tuple[float, Event, str]] = []  # (due, CONT|HEAL|RESTART, node)
        self.busy: dict[str, str] = {}  # node -> what chaos did to it, until it is back
        self.restarts: dict[str, Future[None]] = {}
        self.terminated: set[str] = set()  # TERMed nodes to restart once they drained and exited
        self.actions = 0  # the signal rotation advances only when a node was acted on
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chaos-restart")

    def run(self) -> int:
        start = time.monotonic()
        next_at = start + self.settings.interval
        attempts = 0
        try:
            while True:
                now = time.monotonic()
                self._due(now)
                over = finished(attempts, now - start, self.settings.count, self.settings.duration)
                if not over and now >= next_at:
                    self._attempt()
                    attempts += 1
                    next_at += self.settings.interval
                if over and not self.pending and not self.restarts:
                    return 0
                time.sleep(0.05)
        except KeyboardInterrupt:
            self._recover_all()
            return 130
        finally:
            self.pool.shutdown(wait=True)

    def _attempt(self) -> None:
        sig = signal_for(self.settings.signals, self.actions)
        choice = choose_target(
            self.targets.nodes(),
            self.rng,
            min_alive=self.settings.min_alive,
            pattern=self.targets.pattern(),
            busy=self.busy,
        )
        if choice.target is None:
            self.log.write(Event.SKIP, None, sig, reason=choice.reason)
            return
        node = choice.target
        self.actions += 1
        pid = next((n.pid for n in self.targets.nodes() if n.name == node), None)
        if self.settings.dry_run:
            self.log.write(sig.event, node, sig, pid=pid, dry_run=True)
            return
        # The way back is planned before the signal goes out, so that a Ctrl-C arriving in
        # between still thaws or restarts the node.
        now = time.monotonic()
        if sig.undo is not None:  # STOP and PARTITION: undone after --pause-for (CONT / HEAL)
            self.busy[node] = "paused" if sig is Action.STOP else "partitioned"
            self.pending.append((now + self.settings.pause_for, sig.undo.event, node))
        elif self.settings.restart_after is not None:
            self.busy[node] = "down"
            self.pending.append((now + self.settings.restart_after, Event.RESTART, node))
            if sig is Action.TERM:
                self.terminated.add(node)
        elif sig is Action.TERM:
            self.busy[node] = "down"  # draining, then gone for good
        self.targets.signal(node, sig)
        self.log.write(sig.event, node, sig, pid=pid)

    def _due(self, now: float) -> None:
        for item in [p for p in self.pending if p[0] <= now]:
            self.pending.remove(item)
            _, event, node = item
            if event is Event.RESTART:
                self._start_restart(node)
            else:
                self._undo(node, event)
        for node, future in list(self.restarts.items()):
            if future.done():
                del self.restarts[node]
                self.busy.pop(node, None)
                self.terminated.discard(node)
                error = future.exception()
                if error is not None:
                    self.log.write(Event.RESTART_FAILED, node, None, error=str(error))
                else:
                    pid = next((n.pid for n in self.targets.nodes() if n.name == node), None)
                    self.log.write(Event.READY, node, None, pid=pid)

    def _undo(self, node: str, event: Event) -> None:
        """CONT a frozen node, or HEAL a partitioned one (the docker runtime reconnects it)."""
        action = Action(event.upper())
        self.targets.signal(node, action)
        self.busy.pop(node, None)
        self.log.write(event, node, action)

    def _start_restart(self, node: str) -> None:
        self.log.write(Event.RESTART, node, None)
        self.restarts[node] = self.pool.submit(self._restart, node)

    def _restart(self, node: str) -> None:
        if node in self.terminated:
            # A TERMed node drains for DRAIN_SECONDS, then exits by itself. Restarting it sooner
            # would signal it again, which a node takes as "hurry" and cuts the drain short.
            self._wait_exited(node, TERM_EXIT_TIMEOUT)
        self.targets.restart(node)

    def _wait_exited(self, node: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n.state is NodeState.STOPPED for n in self.targets.nodes() if n.name == node):
                return
            time.sleep(0.1)

    def _recover_all(self) -> None:
        """Ctrl-C: thaw what is frozen and restart what is down, now, then wait for them."""
        for _, event, node in sorted(self.pending):
            if event is Event.RESTART:
                self._start_restart(node)
            else:
                self._undo(node, event)
        self.pending.clear()
        for node, future in list(self.restarts.items()):
            future.result()
            self.busy.pop(node, None)
            self.log.write(Event.READY, node, None)
        self.restarts.clear()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaos-kill",
        description="Kill, terminate or freeze random live nodes on a schedule; log each action.",
    )
    parser.add_argument("--runtime", choices=RUNTIMES, default=None)
    parser.add_argument("--state-dir", type=Path, help="the local cluster's state (.cluster)")
    parser.add_argument("--interval", type=parse_seconds, default=5.0, help="seconds (5)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--count", type=int, help="attempts before stopping (3)")
    stop.add_argument("--duration", type=parse_seconds, help="seconds before stopping")
    parser.add_argument(
        "--signal",
        type=parse_signals,
        default=(Action.KILL,),
        help=f"{'|'.join(CHAOS_ACTIONS)} (PARTITION: docker only), or a rotation: KILL,TERM,STOP",
    )
    parser.add_argument("--restart-after", type=parse_seconds, help="bring killed nodes back")
    parser.add_argument("--pause-for", type=parse_seconds, default=5.0, help="STOP→CONT (5)")
    parser.add_argument("--min-alive", type=int, default=1, help="never fewer live nodes (1)")
    parser.add_argument("--target", type=re.compile, help="node regex, redis-primary|replica")
    parser.add_argument("--seed", type=int, help="seed of the random choice")
    parser.add_argument("--dry-run", action="store_true", help="choose and log, touch nothing")
    parser.add_argument("--events", type=Path, help="append one JSON line per action here")
    return parser


def settings_from(args: argparse.Namespace) -> ChaosSettings:
    count = args.count if args.count is not None or args.duration is not None else 3
    return ChaosSettings(
        interval=args.interval,
        count=count,
        duration=args.duration,
        signals=args.signal,
        restart_after=args.restart_after,
        pause_for=args.pause_for,
        min_alive=args.min_alive,
        target=args.target,
        seed=args.seed,
        dry_run=args.dry_run,
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = ClusterConfig.from_env()
    except SettingError as exc:
        print(f"chaos-kill: {exc}", file=sys.stderr)
        return 1
    if args.state_dir is not None:
        config = dataclasses.replace(config, state_dir=args.state_dir)
    requested = args.runtime or config.runtime or "auto"
    # `kill <chaos>` cleans up like Ctrl-C; SIGINT too even when started in the background.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        runtime, reason = find_runtime(requested, config)
        print(reason, file=sys.stderr)
        runtime.status()  # fails clearly when no cluster runs
        if Action.PARTITION in args.signal and runtime.name != "docker":
            raise ClusterError("--signal PARTITION needs the docker runtime (a container network)")
        log = EventLog(args.events, sys.stdout, runtime.name, runtime.status().admin)
        try:
            return Chaos(runtime, settings_from(args), log).run()
        finally:
            log.close()
    except ClusterError as exc:
        print(f"chaos-kill: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
