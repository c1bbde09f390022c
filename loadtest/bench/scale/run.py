"""``make bench-scale``: maximum throughput at 1, 2, 3 and 4 nodes, each node capacity-limited.

One run: a Redis server and four nodes each held to ``--quota`` cores (``fleet``): with
``--runtime local`` ``python -m nodes`` processes in a cgroup v1 CPU quota each
(``loadtest.bench.cgroup``; without one, say so: the nodes then share the machine's cores and
scaling stops at the core count), with ``--runtime docker`` containers of the project's image
with Docker's CPU limit (``--cpus``; ``containers``). This balancer and HAProxy (one thread,
like this balancer) run as processes here, in front of the same nodes. For N = 1…4 the
balancer's pool is set with ``PUT /_lb/backends`` (the same balancer process throughout) and a
fresh HAProxy is started on the first N; then, for each load, each front gets a warm-up and a
closed-loop wrk run at saturation (``wrk -t1``, ``--connections``): GET /whoami, and keyed
POSTs (a fresh ``Idempotency-Key`` per order; ``loadtest/fullspeed/load.lua``). CPU seconds of
every part come from ``/proc`` (a container's from its cgroup, wrk's from its rusage), so each
row names its bottleneck (``model``). Prints the table, writes JSON and a PNG, and ends with
``efficiency 1→4 nodes: NN %`` (this balancer, GET /whoami).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from functools import partial
from pathlib import Path
from types import FrameType

from cluster.runtime.docker.config import DEFAULT_APP_IMAGE
from cluster.runtime.net import free_ports, get_json
from cluster.runtime.pidstat import cpu_seconds
from cluster.runtime.pool_api import set_backends
from loadtest.api import login
from loadtest.bench import machine, wrk
from loadtest.bench.peers import installed, start_haproxy
from loadtest.bench.scale.fleet import CpuReader, Fleet, local_quota, start_local
from loadtest.bench.scale.model import Point, bottleneck, efficiency, table
from loadtest.bench.targets import PY, child, wait_http

SCRIPT = Path(__file__).resolve().parents[2] / "fullspeed" / "load.lua"
LANES = {"get": "GET /whoami", "post": "keyed POST /users/alice/orders"}


def options(argv: list[str] | None, env: dict[str, str] | None = None) -> argparse.Namespace:
    """The run's options; ``--json``/``--png`` default to ``reports/bench-scale[-docker].*``."""
    parser = argparse.ArgumentParser(prog="bench-scale", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runtime",
        choices=("local", "docker"),
        default="local",
        help="the nodes as processes (cgroup quota) or containers (--cpus)",
    )
    parser.add_argument(
        "--image",
        default=(os.environ if env is None else env).get("APP_IMAGE", DEFAULT_APP_IMAGE),
        help="the nodes' image (docker; default: $APP_IMAGE)",
    )
    parser.add_argument(
        "--via",
        choices=("ip", "published"),
        default="ip",
        help="docker: reach a node at its network address or published port",
    )
    parser.add_argument(
        "--period-ms",
        type=float,
        default=0,
        help="docker: the quota's CFS period (0: Docker's --cpus, 100 ms; local: always 20 ms)",
    )
    parser.add_argument("--max-nodes", type=int, default=4)
    # 0.15: four nodes (0.6 core), this balancer (~0.35), wrk and Redis fit in 2 cores with room
    # for other work; at 0.2 the machine neared saturation at 4 nodes (measured: 1.7 of 2 cores
    # busy) and the nodes' CPU per request rose by half, which a quota cannot hold constant.
    parser.add_argument("--quota", type=float, default=0.15, help="cores per node (0: none)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--lanes", default="get,post")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--png", type=Path)
    parser.add_argument("--replot", type=Path, help="no run: the table and PNG of a JSON file")
    args = parser.parse_args(argv)
    name = "bench-scale" if args.runtime == "local" else f"bench-scale-{args.runtime}"
    args.json = args.json or Path(f"reports/{name}.json")
    args.png = args.png or Path(f"reports/{name}.png")
    return args


def start_fleet(stack: ExitStack, args: argparse.Namespace, quota: float | None,
                work: Path) -> Fleet:  # fmt: skip
    """Redis and ``--max-nodes`` nodes on the chosen runtime (the Docker SDK only when asked)."""
    if args.runtime == "docker":
        from loadtest.bench.scale.containers import start_docker

        period = round(args.period_ms * 1000) or None
        return start_docker(stack, work, args.max_nodes, quota, args.image, args.via,
                            period_us=period)  # fmt: skip
    return start_local(stack, work, args.max_nodes, quota)


def start_ours(stack: ExitStack, first: str, work: Path) -> tuple[int, str, int]:
    """This balancer in front of the first node (``host:port``); its port, admin URL and pid."""
    port, admin = free_ports(2)
    env = {
        "BALANCER_HOST": "127.0.0.1", "BALANCER_PORT": str(port),
        "BALANCER_ADMIN_PORT": str(admin), "LOG_LEVEL": "WARNING",
        "BALANCER_BACKENDS": f"http://{first}",
    }  # fmt: skip
    proc = stack.enter_context(child([PY, "-m", "balancer"], env, work / "balancer.log"))
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    return port, f"http://127.0.0.1:{admin}", proc.pid


def pool_of(admin: str, urls: list[str]) -> None:
    """Set this balancer's pool to ``urls`` and wait until exactly those are up."""
    set_backends(admin, urls)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = get_json(f"{admin}/_lb/status")
        states = {b["url"]: b["state"] for b in status["backends"]}
        if set(states) == set(urls) and set(states.values()) == {"up"}:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the balancer did not report {urls} up")


def wrk_once(url: str, lane: str, token: str, args: argparse.Namespace, seconds: float,
             work: Path) -> tuple[wrk.WrkResult, float, dict[int, int]]:  # fmt: skip
    """One closed-loop wrk run: its figures, its own CPU seconds (rusage of the child) and the
    answers per status (the script's count)."""
    binary = shutil.which("wrk") or "wrk"
    prefix = f"bs-{secrets.token_hex(4)}"
    command = [binary, "-t1", f"-c{args.connections}", f"-d{max(1, round(seconds))}s",
               "--timeout=5s", "--latency", "-s", str(SCRIPT), url,
               "--", lane, token, "alice", prefix, str(work / f"acks-{prefix}")]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise wrk.WrkError(f"wrk failed: {done.stderr.strip()}")
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    statuses = wrk.script_statuses(done.stdout)
    if not statuses:  # wrk goes on without its script, sending plain GET / (404s)
        raise wrk.WrkError(f"wrk ran without {SCRIPT}: {done.stderr.strip()[:300]}")
    return wrk.parse(done.stdout), used, statuses


def machine_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (``/proc/stat``)."""
    busy, _ = machine.jiffies(machine.PROC_STAT.read_text())
    return busy / os.sysconf("SC_CLK_TCK")


def used(readers: Sequence[CpuReader]) -> float:
    return sum(read() for read in readers)


def measure(front: str, url: str, parts: dict[str, list[CpuReader]], lane: str, token: str,
            args: argparse.Namespace, work: Path) -> Point:  # fmt: skip
    """Warm-up, then one measured run; the point with every part's CPU seconds."""
    wrk_once(url, lane, token, args, args.warmup, work)
    before = {part: used(readers) for part, readers in parts.items()}
    before["all"] = machine_seconds()
    started = time.monotonic()
    result, wrk_cpu, statuses = wrk_once(url, lane, token, args, args.duration, work)
    seconds = time.monotonic() - started
    cpu = {part: used(readers) - before[part] for part, readers in parts.items()}
    cpu["wrk"] = wrk_cpu
    cpu["all"] = machine_seconds() - before["all"]
    n = len(parts["nodes"])
    # Throughput counts the successful answers only: a fast error is not capacity.
    ok = statuses.get(200 if lane == "get" else 201, 0) / max(1, sum(statuses.values()))
    return Point(front, lane, n, result.requests_per_s * ok, result.p50_ms, result.p99_ms,
                 result.errors, seconds, cpu, statuses)  # fmt: skip


def run(args: argparse.Namespace, quota: float | None, work: Path) -> list[Point]:
    points: list[Point] = []
    with ExitStack() as stack:
        fleet = start_fleet(stack, args, quota, work)
        port, admin, ours = start_ours(stack, fleet.addresses[0], work)
        token = login(f"http://127.0.0.1:{port}", "alice")
        for n in range(1, args.max_nodes + 1):
            pool_of(admin, [f"http://{address}" for address in fleet.addresses[:n]])
            with ExitStack() as peer:
                hport, hpid = start_haproxy(peer, fleet.addresses[:n], work, threads=1)
                fronts = {"balancer": (port, ours), "haproxy": (hport, hpid)}
                for lane in args.lanes.split(","):
                    for front, (front_port, pid) in fronts.items():
                        parts: dict[str, list[CpuReader]] = {
                            "nodes": fleet.nodes[:n], "front": [partial(cpu_seconds, pid)],
                            "redis": [fleet.redis]}  # fmt: skip
                        url = f"http://127.0.0.1:{front_port}"
                        point = measure(front, url, parts, lane, token, args, work)
                        points.append(point)
                        print(progress(point, quota), flush=True)
    return points


def progress(p: Point, quota: float | None) -> str:
    return (f"  {p.nodes} node(s) {p.front:8} {p.lane:4} {p.rps:7.0f} req/s  p50 {p.p50_ms:6.1f} "
            f"ms  p99 {p.p99_ms:6.1f} ms  errors {p.wrong()}  bottleneck "
            f"{bottleneck(p, quota, os.cpu_count() or 1)}")  # fmt: skip


def replot(args: argparse.Namespace) -> int:
    """The table, the PNG and the last line again, from a run's JSON (``--replot``)."""
    data = json.loads(args.replot.read_text())
    points = [Point(**{**p, "statuses": {int(k): v for k, v in p["statuses"].items()}})
              for p in data["points"]]  # fmt: skip
    args.runtime = data.get("runtime", "local")
    args.json = Path(tempfile.mkdtemp()) / args.json.name  # the original stays as it is
    return report(args, points, data["quota"], data["cores"])


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    if args.replot:
        return replot(args)
    for tool in ("wrk", "haproxy"):
        if not installed(tool):
            print(f"error: {tool} is not installed (Debian: apt-get install {tool})",
                  file=sys.stderr)  # fmt: skip
            return 2
    if args.runtime == "local":
        quota, why_not = local_quota(args.quota)
    else:  # Docker's --cpus needs no writable cgroup of ours
        quota, why_not = args.quota or None, None
    if why_not:
        print(why_not)
    cores = os.cpu_count() or 1
    print(f"nodes: up to {args.max_nodes}, {describe(args, quota)}; "
          f"wrk -t1 -c{args.connections} -d{args.duration:g}s after {args.warmup:g}s warm-up; "
          f"fronts: this balancer, HAProxy (nbthread 1); machine: {cores} cores, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    # SIGTERM (a timeout, `kill`) unwinds the stacks as Ctrl-C does: nothing started is left.
    signal.signal(signal.SIGTERM, terminated)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        points = run(args, quota, Path(tmp))
    return report(args, points, quota, cores)


def terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def describe(args: argparse.Namespace, quota: float | None) -> str:
    """How the nodes run, for the first line."""
    if args.runtime == "local":
        how = f"limited to {quota:g} CPU (cgroup v1 cfs quota)" if quota else "unlimited"
        return f"processes, each {how}"
    how = (f"--cpu-quota over --cpu-period {args.period_ms:g} ms" if args.period_ms
           else "--cpus, Docker's 100 ms period")  # fmt: skip
    how = f"limited to {quota:g} CPU ({how})" if quota else "unlimited"
    return f"containers of {args.image}, each {how}, reached via {args.via}"


def report(args: argparse.Namespace, points: list[Point], quota: float | None, cores: int) -> int:
    from loadtest.bench.scale.plot import plot

    print()
    print("\n".join(table(points, quota, cores)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {"runtime": args.runtime, "quota": quota, "cores": cores, "connections": args.connections,
         "duration": args.duration, "points": [asdict(p) for p in points]}, indent=2))  # fmt: skip
    plot(points, args.png, quota, args.runtime)
    print(f"\nJSON: {args.json}  PNG: {args.png}")
    for front in ("haproxy", "balancer"):
        for lane in args.lanes.split(","):
            eff = efficiency(points, front, lane, args.max_nodes)
            if eff is not None:
                print(f"{front} {LANES[lane]}: efficiency 1→{args.max_nodes} {eff * 100:.0f} %")
    headline = efficiency(points, "balancer", "get", args.max_nodes)
    value = "n/a" if headline is None else f"{headline * 100:.0f} %"
    print(f"efficiency 1→{args.max_nodes} nodes: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
