"""Drive one full-speed chaos run against a started cluster, or start one (``main``).

    python -m loadtest.fullspeed.run [--runtime local|docker] [--duration 25] [--connections 32]
                                     [--chaos all|stop] [--stop-seconds 3]

Two wrk processes run side by side through the balancer, each with ``--connections``
connections: GET /whoami, and keyed creates with a fresh ``Idempotency-Key`` per request.
Meanwhile ``chaos-kill`` SIGKILLs one node (restarted 2 s later), SIGTERMs another (it drains,
then is replaced) and SIGSTOPs a third for ``--stop-seconds``, never more than one node out at
a time; with ``--chaos stop`` it only SIGSTOPs one node, once, a third into the run (what
hedging is measured on: docs/balancer.md). Then
every acknowledged create is checked through the API (``loadtest.verify``), the figures are
printed and written to ``summary.json``, and the exit code says whether anything broke.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError, Runtime
from cluster.runtime.choice import get_runtime
from loadtest import report
from loadtest.api import login
from loadtest.bench import wrk
from loadtest.fullspeed.outcome import (
    CHAOS_ACTIONS,
    Lane,
    parse_script_output,
    unacknowledged_verdict,
    verdict,
)
from loadtest.verify import check_orders, fetch_orders, read_acks

UNACKNOWLEDGED = "no unacknowledged order"  # the name loadtest.verify gives that invariant

SCRIPT = Path(__file__).with_name("load.lua")
USER = "alice"


@dataclass(frozen=True, slots=True)
class Settings:
    duration: float = 25.0
    connections: int = 32  # per lane
    seed: int = 11
    chaos: str = "all"  # "all": KILL, TERM, STOP in turn; "stop": one SIGSTOP, a third in
    stop_seconds: float = 3.0  # how long a STOPped node stays frozen

    #: Seconds between chaos attempts. An attempt that would take a second node out (the one
    #: before is not back yet: a killed container is restarted 2 s later and answers its
    #: probes 3-6 s after that on a loaded 2-core machine) is skipped, and the rotation
    #: KILL, TERM, STOP waits for the next attempt, so a longer run gets every action in.
    chaos_interval: float = 6.0

    @property
    def chaos_for(self) -> float:
        """How long chaos-kill makes attempts: the last STOP is thawed before wrk stops."""
        return max(self.chaos_interval, self.duration - 5.0)


def wrk_command(url: str, kind: str, token: str, prefix: str, acks: Path, s: Settings) -> list[str]:
    binary = shutil.which("wrk")
    if binary is None:
        raise wrk.WrkError("wrk is not installed (Debian: apt-get install wrk)")
    # A frozen node holds a try for the balancer's per-try timeout (3 s): wrk must wait longer.
    return [binary, "-t1", f"-c{s.connections}", f"-d{round(s.duration)}s", "--timeout=15s",
            "--latency", "-s", str(SCRIPT), url,
            "--", kind, token, USER, prefix, str(acks)]  # fmt: skip


def chaos_command(runtime: Runtime, events: Path, s: Settings) -> list[str]:
    if s.chaos == "stop":  # one freeze, a third into the run: nothing else moves
        schedule = ["--interval", f"{s.duration / 3:.1f}", "--count", "1", "--signal", "STOP"]
    else:
        schedule = ["--interval", f"{s.chaos_interval:.1f}", "--duration", f"{s.chaos_for:.1f}",
                    "--signal", "KILL,TERM,STOP", "--restart-after", "2"]  # fmt: skip
    return [
        sys.executable, "-m", "cluster.chaos.kill", "--runtime", runtime.name,
        "--state-dir", str(runtime.config.state_dir), *schedule,
        "--pause-for", f"{s.stop_seconds:g}", "--min-alive", "2", "--seed", str(s.seed),
        "--events", str(events),
    ]  # fmt: skip


def required_actions(s: Settings) -> tuple[str, ...]:
    """The chaos actions that must have happened for the run to count."""
    return ("stop",) if s.chaos == "stop" else CHAOS_ACTIONS


def balancer_counters(runtime: Runtime) -> dict[str, int]:
    """Retries and hedges from the balancer's ``/_lb/status`` (empty when it cannot be read)."""
    try:
        status = runtime.balancer_status()
    except (OSError, ValueError, ClusterError):
        return {}
    return {k: int(status.get(k, 0)) for k in ("retries", "hedges", "hedges_won")}


def read_lane(kind: str, proc: subprocess.Popen[str], timeout: float) -> Lane:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise wrk.WrkError(f"wrk ({kind}) failed ({proc.returncode}): {err.strip()}")
    figures = wrk.parse(out)
    statuses, errors, sent = parse_script_output(out)
    return Lane(kind, figures.requests, figures.requests_per_s, figures.p50_ms, figures.p99_ms,
                statuses, errors, sent)  # fmt: skip


def drive(runtime: Runtime, balancer: str, out: Path, s: Settings) -> list[Lane]:
    """Both wrk lanes and chaos-kill, to the end; the lanes' figures."""
    token = login(balancer, USER)
    prefix = f"fs{int(time.time())}"
    acks = out / "acks.jsonl"
    lanes = {
        kind: subprocess.Popen(
            wrk_command(balancer, kind, token, prefix, acks, s),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for kind in ("get", "post")
    }  # fmt: skip
    with (out / "chaos.log").open("wb") as log:
        chaos = subprocess.Popen(chaos_command(runtime, out / "chaos.jsonl", s),
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            results = [read_lane(kind, proc, s.duration + 60) for kind, proc in lanes.items()]
            if chaos.wait(timeout=60) != 0:
                raise ClusterError(f"chaos-kill failed: see {out / 'chaos.log'}")
        finally:
            procs: list[subprocess.Popen[Any]] = [*lanes.values(), chaos]
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    join_acks(acks)
    return results


def join_acks(acks: Path) -> None:
    """wrk's thread wrote ``acks.jsonl.<thread>``; the verifier reads one file."""
    parts = sorted(acks.parent.glob(acks.name + ".*"))
    acks.write_text("".join(part.read_text() for part in parts))
    for part in parts:
        part.unlink()


@dataclass(frozen=True, slots=True)
class Summary:
    lanes: list[Lane]
    chaos: dict[str, int]
    invariants: list[tuple[str, bool, str]]
    broken: list[str]
    balancer: dict[str, int] = field(default_factory=dict)  # retries, hedges, hedges_won

    @property
    def requests(self) -> int:
        return sum(lane.requests for lane in self.lanes)

    @property
    def requests_per_s(self) -> float:
        return sum(lane.requests_per_s for lane in self.lanes)

    def to_json(self) -> dict[str, object]:
        return {
            "lanes": [asdict(lane) | {"wrong": lane.wrong} for lane in self.lanes],
            "requests": self.requests,
            "requests_per_s": round(self.requests_per_s),
            "chaos": self.chaos,
            "invariants": [{"name": n, "ok": ok, "detail": d} for n, ok, d in self.invariants],
            "broken": self.broken,
            "balancer": self.balancer,
        }


def run(runtime: Runtime, balancer: str, out: Path, s: Settings) -> Summary:
    """One run against a started cluster (also written to ``summary.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    lanes = drive(runtime, balancer, out, s)
    counters = balancer_counters(runtime)
    acks = read_acks(out / "acks.jsonl")
    listed = fetch_orders(balancer, [USER])
    invariants = [(i.name, i.ok, i.detail) for i in check_orders(acks, listed)]
    # wrk drops the requests in flight when it stops: their orders exist, unacknowledged.
    acked = {str(a["order"]) for a in acks}
    unacked = sum(1 for order in listed[USER] if str(order["id"]) not in acked)
    post = next(lane for lane in lanes if lane.kind == "post")
    invariants = [
        (name, *unacknowledged_verdict(unacked, post.in_flight))
        if name == UNACKNOWLEDGED
        else (name, ok, detail)
        for name, ok, detail in invariants
    ]
    events = report.read_events(out / "chaos.jsonl")
    chaos = dict(Counter(str(e.get("action")) for e in events))
    broken = verdict(lanes, invariants, chaos, required_actions(s))
    summary = Summary(lanes, chaos, invariants, broken, counters)
    (out / "summary.json").write_text(json.dumps(summary.to_json(), indent=2, default=str))
    return summary


def print_summary(summary: Summary, runtime: str) -> None:
    print(f"\n== full speed, {runtime} runtime ==")
    for lane in summary.lanes:
        print(
            f"{lane.kind:<5} requests {lane.requests:>7}  {lane.requests_per_s:>7.0f} req/s  "
            f"p50 {lane.p50_ms:.1f} ms  p99 {lane.p99_ms:.1f} ms  "
            f"statuses {dict(lane.statuses)}  socket errors {dict(lane.socket_errors)}"
        )
    print(f"total: {summary.requests} requests, {summary.requests_per_s:.0f} req/s; "
          f"chaos: {summary.chaos}; balancer: {summary.balancer}")  # fmt: skip
    for name, ok, detail in summary.invariants:
        print(f"invariant: {name:<40} {'OK ' if ok else 'BROKEN'}  {detail}")
    for line in summary.broken:
        print(f"BROKEN: {line}")
    print("RESULT:", "FAIL" if summary.broken else "PASS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fullspeed", description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=("local", "docker", "auto"), default="local")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--duration", type=float, default=25.0, help="seconds of load (25)")
    parser.add_argument("--connections", type=int, default=32, help="per wrk lane (32)")
    parser.add_argument(
        "--chaos",
        choices=("all", "stop"),
        default="all",
        help="all: kill, term, stop in turn; stop: one node SIGSTOPped, once",
    )
    parser.add_argument("--stop-seconds", type=float, default=3.0, help="a freeze lasts (3)")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    runtime, reason = get_runtime(args.runtime, ClusterConfig.from_env())
    print(reason, file=sys.stderr)
    out = args.reports / ("fullspeed-" + time.strftime("%Y%m%d-%H%M%S"))
    try:
        status = runtime.up(args.nodes)
        settings = Settings(
            args.duration, args.connections, chaos=args.chaos, stop_seconds=args.stop_seconds
        )
        summary = run(runtime, status.balancer, out, settings)
    except (ClusterError, wrk.WrkError) as exc:
        print(f"fullspeed: {exc}", file=sys.stderr)
        return 1
    finally:
        runtime.down()
    print_summary(summary, runtime.name)
    print(f"details: {out / 'summary.json'}")
    return 1 if summary.broken else 0


if __name__ == "__main__":
    sys.exit(main())
