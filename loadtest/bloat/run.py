"""``make bloat``: fat tokens (0, 10, 100, 1,000 roles and a profile) against the lean token with
the profile from Redis (cached per node, or read on every request), and where each size breaks.

1. Throughput: wrk (``-t1 -c32``; short rounds) straight at a node, ``GET /whoami`` with each
   token, and ``GET /users/alice/profile`` with the lean one on a node that caches profiles for
   30 s and on one that reads the Redis hash every time. Header bytes, req/s, p99, the node's
   CPU per request (``/proc``). A token the node refuses is not loaded.
2. Limits, probed with real requests (bisection over the token's size): the node itself
   (aiohttp's defaults), this balancer (``BALANCER_MAX_HEADER``), HAProxy (``tune.bufsize``) and
   nginx (``large_client_header_buffers``), each at its default, the proxies in front of a
   stub whose own limits are raised.

Prints two tables, writes ``reports/bloat/bloat.json`` and ``bloat.png``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from statistics import median
from typing import Any

import redis

from loadtest.api import login
from loadtest.bench.measure import measure
from loadtest.bench.peers import installed
from loadtest.bloat import limits, plot, tokens
from loadtest.bloat.servers import Nodes, start_nodes, start_proxies
from nodes.tokens import TokenSettings, claims_for

USER = "alice"
CEILING = 96 << 10  # bytes of padding: past every default here


def fat_token(nodes: Nodes, roles: int, pad: int = 0) -> str:
    settings = TokenSettings(nodes.secret, "stateless-cluster", "stateless-cluster-api", 900)
    base = claims_for(settings, USER, int(time.time()))
    return tokens.sign(tokens.fat_claims(base, roles, pad), nodes.secret)


def get(port: int, path: str, header: str) -> int | None:
    """One request on a new connection; the answer's status (None: closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(limits.request(f"127.0.0.1:{port}", path, header))
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return limits.status_of(answer)


def probe(port: int, path: str, make: Callable[[int], str]) -> limits.Limit:
    def status_at(pad: int) -> tuple[int, int | None]:
        header = tokens.header_line(make(pad))
        try:
            return len(header), get(port, path, header)
        except OSError:
            return len(header), None

    return limits.find_limit(status_at, 0, CEILING)


def throughput_targets(nodes: Nodes) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    (cached, cached_pid), (uncached, uncached_pid) = nodes.cached, nodes.uncached
    lean = tokens.header_line(login(cached))
    targets: dict[str, Any] = {"lean, /whoami": (f"{cached}/whoami", cached_pid)}
    headers: dict[str, tuple[str, ...]] = {"lean, /whoami": (lean,)}
    for roles in tokens.ROLE_COUNTS:
        header = tokens.header_line(fat_token(nodes, roles))
        name = f"fat {roles} roles, /whoami"
        status = get(int(cached.rsplit(":", 1)[1]), "/whoami", header)
        targets[name] = (f"{cached}/whoami", cached_pid, status)
        headers[name] = (header,)
    for name, base, pid in (
        ("fix: lean + profile cached 30 s", cached, cached_pid),
        ("fix: lean + HGETALL per request", uncached, uncached_pid),
    ):
        targets[name] = (f"{base}/users/{USER}/profile", pid)
        headers[name] = (lean,)
    return targets, headers


def run_throughput(args: argparse.Namespace, nodes: Nodes) -> list[dict[str, Any]]:
    client = redis.Redis(port=nodes.redis_port)
    profile: dict[Any, Any] = tokens.redis_profile(USER, 100)  # the roles of the 100 token
    client.hset(f"profile:{USER}", mapping=profile)
    targets, headers = throughput_targets(nodes)
    loadable = {k: v[:2] for k, v in targets.items() if len(v) == 2 or v[2] == 200}
    results = measure(args, loadable, headers)
    rows = []
    for name, target in targets.items():
        row: dict[str, Any] = {"target": name, "header_bytes": len(headers[name][0])}
        if name in results:  # the median of each figure over the rounds
            runs = results[name]
            row |= {"status": 200, "rps": median(r.requests_per_s for r, _ in runs),
                    "p99_ms": median(r.p99_ms for r, _ in runs),
                    "cpu_us": median(cpu for _, cpu in runs),
                    "errors": sum(r.errors for r, _ in runs)}  # fmt: skip
        else:
            row["status"] = target[2]
        rows.append(row)
    return rows


def run_limits(stack: ExitStack, work: Path, nodes: Nodes) -> list[dict[str, Any]]:
    node_port = int(nodes.cached[0].rsplit(":", 1)[1])
    servers = {"node (32 KiB, nodes/lifecycle.py)": (node_port, "/whoami")}
    servers |= {name: (port, "/healthz") for name, port in start_proxies(stack, work).items()}
    sizes = {r: len(tokens.header_line(fat_token(nodes, r))) for r in tokens.ROLE_COUNTS}
    rows = []
    for name, (port, path) in servers.items():
        found = probe(port, path, lambda pad: fat_token(nodes, 0, pad))
        fits = [r for r, size in sizes.items() if size <= found.accepted]
        most = limits.most_that_fit(
            lambda n: len(tokens.header_line(fat_token(nodes, n))), found.accepted
        )
        rows.append({"server": name, "accepted": found.accepted, "refused": found.refused,
                     "status": found.status, "fits": fits, "max_roles": most})  # fmt: skip
    return rows


def print_tables(throughput: list[dict[str, Any]], limit_rows: list[dict[str, Any]]) -> None:
    print(f"\n{'token / request':<34}{'header B':>10}{'status':>8}{'req/s':>8}{'p99 ms':>8}"
          f"{'CPU µs/req':>12}")  # fmt: skip
    for row in throughput:
        if "rps" in row:
            figures = f"{row['rps']:8.0f}{row['p99_ms']:8.1f}{row['cpu_us']:12.0f}"
        else:
            figures = f"{'refused by the node':>28}"
        print(f"{row['target']:<34}{row['header_bytes']:>10}{row['status']!s:>8}{figures}")
    print(f"\n{'server (defaults)':<32}{'largest header line passed':>28}{'first refused':>15}"
          f"{'answer':>8}{'max roles':>11}  tokens that fit (roles)")  # fmt: skip
    for row in limit_rows:
        refused = row["refused"] if row["refused"] is not None else "-"
        print(f"{row['server']:<32}{row['accepted']:>28}{refused!s:>15}{row['status']!s:>8}"
              f"{row['max_roles']:>11}  "
              f"{', '.join(map(str, row['fits'])) or 'none'}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("reports/bloat"))
    parser.add_argument("--no-load", action="store_true", help="only the limit probes")
    args = parser.parse_args(argv)
    for tool in ("wrk", "haproxy", "nginx"):
        if not installed(tool) and not (tool == "wrk" and args.no_load):
            print(
                f"error: {tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr
            )
            return 2
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bloat-") as tmp:
        nodes = start_nodes(stack, Path(tmp))
        throughput = [] if args.no_load else run_throughput(args, nodes)
        limit_rows = run_limits(stack, Path(tmp), nodes)
    print_tables(throughput, limit_rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bloat.json").write_text(
        json.dumps({"throughput": throughput, "limits": limit_rows}, indent=2)
    )
    if throughput:
        plot.draw(throughput, limit_rows, args.out / "bloat.png")
        print(f"\nwrote {args.out / 'bloat.json'} and {args.out / 'bloat.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
