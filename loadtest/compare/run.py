"""``make compare``: the same users, chaos and duration against the three variants, one at a time.

    python -m loadtest.compare.run [--duration 40s] [--users 20] [--nodes 3] [--reports reports]

For each variant (``stateless``, ``stateful+sticky``, ``stateful``: ``cluster.config.VARIANTS``)
it starts the local cluster with that variant, runs the users (``locustfile``, its own
process), starts chaos-kill once they are in (the demo's schedule and seed: SIGKILL, SIGTERM,
SIGSTOP, SIGKILL, one node at a time), adds a node once chaos is over (``Runtime.scale``; on
the local runtime that restarts the balancer today), samples every node's resident memory and
session count each second, and takes the cluster down. Then one table, one picture, and one
closing line per variant. Exit 0 when the three runs completed: the stateful losses are the
finding, not a failure; 1 when a run could not be made.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from cluster.chaos.plan import parse_seconds
from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError, Runtime
from cluster.runtime.choice import get_runtime
from cluster.runtime.pidstat import rss_bytes
from loadtest.compare import plot, table
from loadtest.demo import DemoSettings, chaos_command

HERE = Path(__file__).resolve().parent
SCALE_AT = 0.7  # of the run: the node added then serves the last 30 %
API = {"stateless": "token", "stateful+sticky": "session", "stateful": "session"}


def locust_command(users: int, duration: float, host: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
        "-u", str(users), "-r", "10", "-t", f"{int(duration)}s", "--host", host,
        "--stop-timeout", "5", "--csv", str(out / "locust"), "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip


def node_sessions(url: str) -> int:
    """``node_sessions`` from a node's ``/metrics`` (0 when absent or unreadable)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=0.5) as resp:
            text = resp.read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("node_sessions "):
            return int(float(line.split()[1]))
    return 0


class Sampler(threading.Thread):
    """Every second: each node's RSS (``/proc``) and its sessions, until ``stop``."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(daemon=True)
        self.runtime, self.samples = runtime, list[table.Sample]()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            try:
                nodes = self.runtime.nodes()
            except (ClusterError, OSError, ValueError):
                continue  # the state file is being rewritten (a restart): next second
            now = time.time()
            for node in nodes:
                if node.pid is not None and node.state == "running":
                    rss = rss_bytes(node.pid)
                    self.samples.append(table.Sample(now, node.name, rss, node_sessions(node.url)))

    def stop(self) -> list[table.Sample]:
        self.done.set()
        self.join(5)
        return self.samples


def scale_out(runtime: Runtime, nodes: int, measured: table.Measured) -> None:
    started = time.time()
    status = runtime.scale(nodes + 1)
    measured.scaled_at = time.time()
    measured.scale_seconds = measured.scaled_at - started
    measured.new_node = status.nodes[-1].name


def chaos_argv(demo: DemoSettings, runtime: Runtime, out: Path) -> list[str]:
    """The demo's four actions before ``SCALE_AT``, so that the scale-out meets a whole cluster;
    never closer than a killed node's restart and readiness (else chaos skips an action)."""
    argv = chaos_command(demo, runtime.config.state_dir, out / "chaos.jsonl")
    interval = max(4.5, (demo.duration * SCALE_AT - demo.ramp - 8.0) / 3)
    argv[argv.index("--interval") + 1] = f"{interval:.1f}"
    return argv


def drive(runtime: Runtime, args: argparse.Namespace, out: Path, measured: table.Measured) -> None:
    """Users for the whole run, chaos once they are in, the scale-out after it, if time is left."""
    env = {**os.environ, "COMPARE_API": API[measured.variant],
           "COMPARE_SUMMARY": str(out / "users.json")}  # fmt: skip
    host, started = runtime.status().balancer, time.monotonic()
    demo = DemoSettings(nodes=args.nodes, users=args.users, duration=args.duration)
    with (out / "locust.log").open("wb") as log, (out / "chaos.log").open("wb") as chaos_log:
        locust = subprocess.Popen(locust_command(args.users, args.duration, host, out),
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            time.sleep(demo.ramp + 2.0)
            # chaos-kill restarts what it kills through its own runtime: with this variant.
            chaos_env = {**os.environ, "CLUSTER_VARIANT": measured.variant}
            chaos = subprocess.Popen(chaos_argv(demo, runtime, out), stdout=chaos_log,
                                     stderr=subprocess.STDOUT, env=chaos_env)  # fmt: skip
            chaos.wait(args.duration + 60)
            time.sleep(max(0.0, started + args.duration * SCALE_AT - time.monotonic()))
            if time.monotonic() - started < args.duration * 0.85:
                scale_out(runtime, args.nodes, measured)
            locust.wait(args.duration + 60)
        finally:
            if locust.poll() is None:
                locust.terminate()
                locust.wait(30)


def run_variant(variant: str, args: argparse.Namespace, out: Path) -> table.Measured:
    config = dataclasses.replace(ClusterConfig.from_env(), variant=variant)
    runtime, _ = get_runtime("local", config)
    out.mkdir(parents=True, exist_ok=True)
    measured = table.Measured(variant, {})
    runtime.up(args.nodes)
    sampler = Sampler(runtime)
    try:
        sampler.start()
        drive(runtime, args, out, measured)
    finally:
        measured.samples = sampler.stop()
        runtime.down()
    summary = out / "users.json"
    measured.counts = json.loads(summary.read_text()) if summary.exists() else {}
    return measured


def save(results: Sequence[table.Measured], out: Path) -> Path:
    rows = [{**dataclasses.asdict(r), "samples": [dataclasses.asdict(s) for s in r.samples]}
            for r in results]  # fmt: skip
    (out / "compare.json").write_text(json.dumps(rows, indent=1))
    (out / "compare.md").write_text(table.render(results) + "\n")
    return plot.draw(results, out / "compare.png")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=parse_seconds, default=40.0, help="per variant")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--variants", default=",".join(table.VARIANTS), help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = args.reports / time.strftime("compare-%Y%m%d-%H%M%S")
    results = []
    try:
        for variant in args.variants.split(","):
            print(f"compare: {variant}, {args.users} users, {args.duration:.0f} s", flush=True)
            results.append(run_variant(variant, args, out / variant.replace("+", "-")))
    except (ClusterError, subprocess.SubprocessError, OSError) as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    picture = save(results, out)
    print("\n" + table.render(results) + f"\n\npicture: {picture}\n")
    for measured in results:
        print(table.closing_line(measured))
    return 0 if all(r.counts for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
