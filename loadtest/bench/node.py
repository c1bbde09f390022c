"""``make bench-node``: what one node's request costs, next to a bare aiohttp handler.

One run, one process tree: a minimal aiohttp app (one handler, no middleware: the ceiling of
the framework on this machine) and one ``python -m nodes`` with its own Redis server
child, both on free loopback ports. The same wrk load (``-t1 -c32`` by default, after a
warm-up) goes, in interleaved rounds, to the bare handler, to the node's ``/healthz`` (the
node's middleware: request id, metrics, log line) and to an authenticated ``GET /whoami`` (the
same plus JWT verification; ``REVOCATION=none``). Prints requests/s, p50, p99 and the server's
CPU per request (from /proc), and the ratios to the bare handler.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from cluster.runtime.net import free_port, free_ports
from loadtest.api import login
from loadtest.bench.measure import measure
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--log-level", default="INFO", help="the node's LOG_LEVEL (INFO: one line per request)"
    )
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
    print(f"\n{'target':15}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'×hello':>8}")
    base_rps = statistics.median(r.requests_per_s for r, _ in results["aiohttp hello"])
    for name, runs in results.items():
        rps = statistics.median(r.requests_per_s for r, _ in runs)
        p50 = statistics.median(r.p50_ms for r, _ in runs)
        p99 = statistics.median(r.p99_ms for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        errors = sum(r.errors for r, _ in runs)
        print(
            f"{name:15}{rps:9.0f}{p50:9.2f}{p99:9.2f}{cpu:12.1f}{rps / base_rps:8.2f}"
            + (f"  ({errors} errors)" if errors else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
