"""``make demo SCENARIO=scale``: 2 nodes saturated, scaled to 4 mid-run, then back to 2.

    python -m loadtest.scale_demo [--duration 45] [--connections 32] [--quota 0.2]

The local cluster starts with 2 nodes, each held to ``--quota`` cores by a cgroup v1 CPU quota
(``loadtest.bench.cgroup``; the demo says so when the machine has none, and then the nodes
share its cores), so that the node count is what limits throughput. Two wrk lanes of the
full-speed run (``loadtest.fullspeed``: GET /whoami and keyed creates) saturate them for the
whole run; a third of the way in, ``cluster scale 4``; two thirds in, ``cluster scale 2`` (the
balancer keeps running: its pool changes through ``PUT /_lb/backends``; removed nodes drain).
Every second the balancer's metrics are read for the timeline (``loadtest.lbsample``); each
scale event is a line on it. Then every acknowledged create is checked through the API, and the
exit status says whether any request failed, any connection was refused, any write was lost
or duplicated, or the balancer process changed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from subprocess import Popen
from typing import Any

from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError
from cluster.runtime.local import LocalRuntime
from loadtest import lbsample, report
from loadtest.api import login
from loadtest.bench import cgroup, wrk
from loadtest.demo import balancer_metrics
from loadtest.fullspeed.outcome import Lane, unacknowledged_verdict
from loadtest.fullspeed.run import (
    UNACKNOWLEDGED,
    USER,
    Settings,
    join_acks,
    read_lane,
    wrk_command,
)
from loadtest.scale_phases import Phase, broken, phases, print_figures
from loadtest.verify import check_orders, fetch_orders, read_acks


class Quotas:
    """A CPU quota for every node process of the cluster, kept in step with ``scale``."""

    def __init__(self, stack: ExitStack, cpus: float | None) -> None:
        self.stack, self.cpus = stack, cpus
        self.groups: dict[int, Path] = {}
        stack.callback(self.release_all)

    def apply(self, runtime: LocalRuntime) -> None:
        if not self.cpus:
            return
        for node in runtime.nodes():
            if node.pid is not None and node.pid not in self.groups:
                group = cgroup.ROOT / f"scale-demo-{node.name}-{node.pid}"
                self.groups[node.pid] = self.stack.enter_context(
                    cgroup.limited(group.name, node.pid, self.cpus)
                )

    def release_all(self) -> None:
        for group in self.groups.values():
            cgroup.release(group)


class Sampler(threading.Thread):
    """Reads the balancer's metrics every second until stopped."""

    def __init__(self, admin: str) -> None:
        super().__init__(daemon=True)
        self.admin = admin
        self.readings: list[lbsample.Reading] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0 - time.time() % 1.0):
            text = balancer_metrics(self.admin)
            if text:
                self.readings.append(lbsample.parse(text, time.time()))


def scale(runtime: LocalRuntime, quotas: Quotas, nodes: int, events: list[dict[str, Any]]) -> None:
    before = len(runtime.nodes())
    kind = "scale-out" if nodes > before else "scale-in"
    label = f"{before}→{nodes}"
    events.append({"ts": time.time(), "action": kind, "target": label, "signal": "scale"})
    print(f"scale: {label} …", flush=True)
    runtime.scale(nodes)
    quotas.apply(runtime)
    events.append({"ts": time.time(), "action": f"{kind} done", "target": label})
    print(f"scale: {label} done", flush=True)


def screenshot(url: str, path: Path, wait: float) -> None:
    """The live dashboard in headless Chromium after ``wait`` seconds, saved to ``path``."""
    from loadtest.csrf import browser

    if not browser.available():
        print(f"screenshot: needs {browser.WHAT}", file=sys.stderr)
        return
    driver = browser.start()
    try:
        driver.set_window_size(1280, 860)
        driver.get(url)
        time.sleep(wait)
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
        print(f"screenshot: {path}", flush=True)
    finally:
        driver.quit()


def start_lanes(balancer: str, args: argparse.Namespace, acks: Path) -> dict[str, Popen[str]]:
    """The full-speed run's two wrk lanes (GET /whoami, keyed creates), for ``args.duration``."""
    settings = Settings(args.duration, args.connections)
    token = login(balancer, USER)
    prefix = f"sc{int(time.time())}"
    return {kind: subprocess.Popen(
        wrk_command(balancer, kind, token, prefix, acks, settings),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for kind in ("get", "post")}  # fmt: skip


def schedule(runtime: LocalRuntime, quotas: Quotas, args: argparse.Namespace,
             events: list[dict[str, Any]]) -> None:  # fmt: skip
    """Scale out a third of the way in, back two thirds in (and the screenshot in between)."""
    started = time.monotonic()
    shot: threading.Thread | None = None
    for at, nodes in ((args.duration / 3, args.to_nodes), (2 * args.duration / 3, args.nodes)):
        time.sleep(max(0.0, started + at - time.monotonic()))
        scale(runtime, quotas, nodes, events)
        if args.screenshot and shot is None:  # mid-run, on the scaled-out pool
            url = f"{runtime.status().admin}/_lb/dashboard"
            shot = threading.Thread(target=screenshot, args=(url, args.screenshot, 6.0))
            shot.start()
    if shot is not None:
        shot.join(60)


def drive(runtime: LocalRuntime, quotas: Quotas, args: argparse.Namespace, out: Path,
          events: list[dict[str, Any]]) -> tuple[list[Lane], Sampler]:  # fmt: skip
    """Both wrk lanes for the whole run, the sampler, and the two scale steps."""
    status = runtime.status()
    sampler = Sampler(status.admin)
    sampler.start()
    acks = out / "acks.jsonl"
    lanes = start_lanes(status.balancer, args, acks)
    try:
        schedule(runtime, quotas, args, events)
        results = [read_lane(kind, proc, args.duration + 60) for kind, proc in lanes.items()]
    finally:
        for proc in lanes.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sampler.done.set()
        sampler.join(5)
    join_acks(acks)
    return results, sampler


Rows = Sequence[Mapping[str, Any]]


def unacked(acks: Rows, listed: Mapping[str, Rows]) -> int:
    """Orders listed that no client saw acknowledged."""
    seen = {str(a["order"]) for a in acks}
    return sum(1 for order in listed[USER] if str(order["id"]) not in seen)


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="demo SCENARIO=scale", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--to-nodes", type=int, default=4)
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of load (45)")
    parser.add_argument("--connections", type=int, default=32, help="per wrk lane (32)")
    parser.add_argument("--quota", type=float, default=0.2, help="cores per node (0: none)")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--screenshot", type=Path, help="save the dashboard mid-run (PNG)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    quota: float | None = args.quota or None
    why_not = cgroup.unavailable() if quota else None
    if why_not:
        print(f"demo: no CPU quota per node ({why_not}): the nodes share the machine's cores, "
              "so adding nodes raises throughput only up to the core count")  # fmt: skip
        quota = None
    runtime = LocalRuntime(ClusterConfig.from_env())
    out = args.reports / ("scale-" + time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    events: list[dict[str, Any]] = []
    try:
        status = runtime.up(args.nodes)
        with ExitStack() as stack:
            quotas = Quotas(stack, quota)
            quotas.apply(runtime)
            balancer = runtime.processes()[0]
            print(f"demo: {args.nodes} nodes ({f'{quota:g} CPU each' if quota else 'no quota'}) "
                  f"behind {status.balancer}; live dashboard: {status.admin}/_lb/dashboard",
                  flush=True)  # fmt: skip
            lanes, sampler = drive(runtime, quotas, args, out, events)
            same = runtime.processes()[0]
            same_balancer = (same.pid, same.start_ticks) == (balancer.pid, balancer.start_ticks)
            return conclude(runtime, args, out, lanes, sampler, events, same_balancer)
    except (ClusterError, wrk.WrkError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        runtime.down()


def conclude(runtime: LocalRuntime, args: argparse.Namespace, out: Path,
             lanes: list[Lane], sampler: Sampler, events: list[dict[str, Any]],
             same_balancer: bool) -> int:  # fmt: skip
    status = runtime.status()
    acks = read_acks(out / "acks.jsonl")
    listed = fetch_orders(status.balancer, [USER])
    # wrk drops the requests in flight when it stops: their orders exist, unacknowledged.
    post = next(lane for lane in lanes if lane.kind == "post")
    invariants = [(i.name, i.ok, i.detail) if i.name != UNACKNOWLEDGED
                  else (i.name, *unacknowledged_verdict(unacked(acks, listed), post.in_flight))
                  for i in check_orders(acks, listed)]  # fmt: skip
    samples = lbsample.samples(sampler.readings, 2 * args.connections)
    figures: list[Phase] = phases(samples, events, time.time())
    problems = broken(lanes, invariants, same_balancer)
    lb = runtime.balancer_status()
    # Requests per node over the whole run, the removed nodes included (the status lists only
    # the nodes still in the pool): the last count the metrics showed for each.
    seen: dict[str, float] = {}
    for item in sampler.readings:
        seen.update(item.nodes)
    lb = {**lb, "backends": [{"name": n, "requests": int(c)} for n, c in sorted(seen.items())]}
    summary = {"scenario": "scale", "requests": sum(lane.requests for lane in lanes),
               "phases": [{"name": p.name, "rps": round(p.rps), "p95_ms": round(p.p95_ms, 1)}
                          for p in figures],
               "same balancer process": same_balancer, "ok": not problems}  # fmt: skip
    rows = [{"name": name, "ok": ok, "detail": detail} for name, ok, detail in invariants]
    page = report.build_from_samples(out, samples, events, lb, summary, rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print_figures(lanes, figures, invariants, problems, same_balancer)
    print(f"report: {page}  (timeline: {out / 'timeline.png'})")
    print("RESULT:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
