"""``make bench-balancer``: this balancer against HAProxy, nginx and no balancer at all.

One run, one process tree: three backends (real ``python -m nodes`` processes with their own
Redis server when ``--backends nodes``, the default; three minimal aiohttp apps with
``--backends stub``), then the same wrk load (``-t1 -c32`` by default, after a warm-up) straight
at one backend, through this balancer, through HAProxy and through nginx (configs generated
in ``loadtest.bench.peers``, both with health checks and retries). The targets are measured in
interleaved rounds (``loadtest.bench.measure``) so that noise from other work on the machine
spreads over all of them. Prints requests/s, p50, p99 (median over rounds, with the spread) and
the ratio to HAProxy; writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from loadtest.bench.measure import measure, summarise
from loadtest.bench.peers import installed, start_haproxy, start_nginx
from loadtest.bench.targets import start_backends, start_balancer

TARGETS = ("direct", "balancer", "haproxy", "nginx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", choices=("nodes", "stub"), default="nodes")
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--proxy-threads",
        type=int,
        default=0,
        help="HAProxy nbthread and nginx worker_processes (default: theirs, one per core); "
        "1 gives them the single thread this balancer has",
    )
    parser.add_argument("--json", type=Path, default=Path("reports/bench-balancer.json"))
    args = parser.parse_args(argv)
    for tool in ("wrk", "haproxy"):
        if not installed(tool):
            print(
                f"error: {tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr
            )
            return 2
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-lb-") as tmp:
        work = Path(tmp)
        ports = start_backends(stack, args.backends, work)
        targets: dict[str, tuple[str, int | None]] = {
            "direct": (f"http://127.0.0.1:{ports[0]}{args.path}", None)
        }
        for name, start in (
            ("balancer", start_balancer),
            ("haproxy", start_haproxy),
            ("nginx", start_nginx),
        ):
            if name == "nginx" and not installed("nginx"):
                print("nginx is not installed (Debian: apt-get install nginx): left out")
                continue
            port, pid = start(stack, ports, work, args.proxy_threads)
            targets[name] = (f"http://127.0.0.1:{port}{args.path}", pid)
        backend_kind = (
            "3 × python -m nodes + their Redis server"
            if args.backends == "nodes"
            else "3 × minimal aiohttp app"
        )
        print(
            f"backends: {backend_kind}; wrk -t1 -c{args.connections} -d{args.duration:g}s "
            f"(after {args.warmup:g}s warm-up) GET {args.path}; {args.rounds} interleaved rounds; "
            f"HAProxy/nginx threads: {args.proxy_threads or 'default (one per core)'}"
        )
        summary = summarise(measure(args, targets))
    print(
        f"\n{'target':10}{'req/s':>9}{'spread':>17}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'×HAProxy':>10}{'p99×':>7}{'CPU µs/req':>12}"
    )
    for name, row in summary.items():
        spread = f"{row['rps_min']:.0f}–{row['rps_max']:.0f}"
        print(
            f"{name:10}{row['rps']:9.0f}{spread:>17}{row['p50_ms']:9.2f}{row['p99_ms']:9.2f}"
            f"{row['rps_vs_haproxy']:10.2f}{row['p99_vs_haproxy']:7.2f}"
            + (f"{row['proxy_cpu_us_per_request']:12.1f}" if name != "direct" else f"{'-':>12}")
        )
    ours = summary["balancer"]
    print(
        "balancer/HAProxy req/s paired per round: median "
        f"{ours['rps_vs_haproxy_per_round_median']:.2f} "
        f"(min {ours['rps_vs_haproxy_per_round_min']:.2f}, "
        f"max {ours['rps_vs_haproxy_per_round_max']:.2f})"
    )
    met = ours["rps_vs_haproxy"] >= 0.8 and ours["p99_vs_haproxy"] <= 1.5
    print(f"\ntarget (≥ 0.8× HAProxy's req/s, p99 ≤ 1.5× HAProxy's): {'met' if met else 'NOT met'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "backends": args.backends,
                "connections": args.connections,
                "duration": args.duration,
                "rounds": args.rounds,
                "summary": summary,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
