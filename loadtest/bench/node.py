"""``make bench-node``: what one node's request costs, next to a bare aiohttp handler.

One run, one process tree: a minimal aiohttp app (one handler, no middleware: the ceiling of
the framework on this machine) and one ``python -m nodes`` with its own Redis server
child, both on free loopback ports. The same wrk load (``-t1 -c32`` by default, after a
warm-up) goes, in interleaved rounds, to the bare handler, to the node's ``/healthz`` (the
node's middleware: request id, metrics, log line) and to an authenticated ``GET /whoami`` (the
same plus JWT verification; ``REVOCATION=none``). Prints requests/s, p50, p99 and the server's
CPU per request (from /proc), and the ratios to the bare handler; writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from cluster.runtime.net import free_port, free_ports
from loadtest.api import login
from loadtest.bench.measure import Run, measure
from loadtest.bench.targets import PY, STUB, child, node_env, start_redis, wait_http


def start_node(stack: ExitStack, work: Path, log_level: str) -> tuple[str, int]:
    """Redis and one node; returns the node's base URL and pid."""
    redis_port, port = free_ports(2)
    start_redis(stack, work, redis_port)
    env = node_env("bench-node", port, redis_port, secrets.token_hex(32), log_level)
    proc = stack.enter_context(child([PY, "-m", "nodes"], env, work / "node.log"))
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/readyz")
    return base, proc.pid


def access_lines(base: str, log: Path, route: str) -> tuple[int, int]:
    """The node's access log lines for ``route`` and its requests counted in ``/metrics``: one
    line per request is kept, written off the request's path (they must be equal)."""
    time.sleep(1.0)  # the node drains its log buffer every 0.2 s
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        text = response.read().decode()
    sample = re.compile(r"^node_http_requests_total\{(.*)\} (\S+)$", re.MULTILINE)
    counted = sum(
        float(value) for labels, value in sample.findall(text) if f'route="{route}"' in labels
    )
    lines = 0
    for line in log.read_text().splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        lines += entry.get("msg") == "request" and entry.get("route") == route
    return lines, int(counted)


def summarise(results: dict[str, list[Run]]) -> dict[str, dict[str, float]]:
    """Medians with the range over rounds, and req/s against the bare handler's: the ratio of the
    medians and, steadier on a shared machine, the median of the ratios paired per round."""
    hello = [r.requests_per_s for r, _ in results["aiohttp hello"]]
    base_rps = statistics.median(hello)
    summary = {}
    for name, runs in results.items():
        rates = [r.requests_per_s for r, _ in runs]
        paired = [ours / theirs for ours, theirs in zip(rates, hello, strict=True)]
        summary[name] = {
            "rps": statistics.median(rates),
            "rps_min": min(rates),
            "rps_max": max(rates),
            "p50_ms": statistics.median(r.p50_ms for r, _ in runs),
            "p99_ms": statistics.median(r.p99_ms for r, _ in runs),
            "errors": sum(r.errors for r, _ in runs),
            "server_cpu_us_per_request": statistics.median(c for _, c in runs),
            "rps_vs_hello": statistics.median(rates) / base_rps,
            "rps_vs_hello_per_round_median": statistics.median(paired),
            "rps_vs_hello_per_round_min": min(paired),
            "rps_vs_hello_per_round_max": max(paired),
        }
    return summary


def print_table(summary: dict[str, dict[str, float]]) -> None:
    print(
        f"\n{'target':15}{'req/s':>9}{'(min-max)':>14}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'CPU µs/req':>12}{'×hello':>8}{'paired (min-max)':>19}"
    )
    for name, row in summary.items():
        spread = f"({row['rps_min']:.0f}-{row['rps_max']:.0f})"
        paired = (
            f"{row['rps_vs_hello_per_round_median']:.2f} "
            f"({row['rps_vs_hello_per_round_min']:.2f}-{row['rps_vs_hello_per_round_max']:.2f})"
        )
        print(
            f"{name:15}{row['rps']:9.0f}{spread:>14}{row['p50_ms']:8.2f}{row['p99_ms']:8.2f}"
            f"{row['server_cpu_us_per_request']:12.1f}{row['rps_vs_hello']:8.2f}{paired:>19}"
            + (f"  ({row['errors']:.0f} errors)" if row["errors"] else "")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--log-level", default="INFO", help="the node's LOG_LEVEL (INFO: one line per request)"
    )
    parser.add_argument("--json", type=Path, default=Path("reports/bench-node.json"))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        hello_port = free_port()
        hello = stack.enter_context(child([PY, "-c", STUB, str(hello_port), "hello"]))
        wait_http(f"http://127.0.0.1:{hello_port}/healthz")
        base, pid = start_node(stack, Path(tmp), args.log_level)
        token = login(base)
        targets: dict[str, tuple[str, int | None]] = {
            "aiohttp hello": (f"http://127.0.0.1:{hello_port}/healthz", hello.pid),
            "node /healthz": (f"{base}/healthz", pid),
            "node /whoami": (f"{base}/whoami", pid),
        }
        print(
            f"wrk -t1 -c{args.connections} -d{args.duration:g}s (after {args.warmup:g}s warm-up); "
            f"{args.rounds} interleaved rounds; node LOG_LEVEL={args.log_level}, REVOCATION=none"
        )
        results = measure(args, targets, {"node /whoami": (f"Authorization: Bearer {token}",)})
        lines, counted = access_lines(base, Path(tmp) / "node.log", "/whoami")
    summary = summarise(results)
    print_table(summary)
    print(f"node access log: {lines} lines for /whoami, {counted} /whoami requests in /metrics")
    print("load average after the run: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "connections": args.connections,
        "duration": args.duration,
        "rounds": args.rounds,
        "log_level": args.log_level,
        "access_log": {"lines": lines, "counted": counted},
        "summary": summary,
    }
    args.json.write_text(json.dumps(report, indent=2))
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
