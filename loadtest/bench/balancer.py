"""``make bench-balancer``: this balancer against HAProxy, nginx and no balancer at all.

One run, one process tree: three backends (real ``python -m nodes`` processes with their own
``redis-server`` child when ``--backends nodes``, the default; three minimal aiohttp apps with
``--backends stub``), then the same wrk load (``-t1 -c32`` by default, after a warm-up) straight
at one backend, through this balancer, through HAProxy and through nginx (configs generated
here, both with health checks and retries). The targets are measured in interleaved rounds so
that noise from other work on the machine spreads over all of them. Prints requests/s, p50, p99
(median over rounds, with the spread) and the ratio to HAProxy; writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from loadtest.bench import wrk

PY = sys.executable
TARGETS = ("direct", "balancer", "haproxy", "nginx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


@contextmanager
def child(
    command: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, terminated (then killed) when the block ends."""
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if log:
            out.close()  # type: ignore[union-attr]


STUB = """
import sys
from aiohttp import web
name = sys.argv[2]
async def ok(request):
    return web.Response(text="ok", headers={"X-Served-By": name})
app = web.Application()
app.router.add_get("/healthz", ok)
app.router.add_get("/readyz", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def start_backends(stack: ExitStack, kind: str, work: Path) -> list[int]:
    ports = [free_port() for _ in range(3)]
    if kind == "stub":
        for i, port in enumerate(ports, 1):
            stack.enter_context(child([PY, "-c", STUB, str(port), f"stub-{i}"]))
    else:
        redis_port = free_port()
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        stack.enter_context(
            child(
                [
                    redis,
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(work),
                ]
            )
        )
        secret = secrets.token_hex(32)
        for i, port in enumerate(ports, 1):
            env = {
                "NODE_NAME": f"node-{i}",
                "NODE_HOST": "127.0.0.1",
                "NODE_PORT": str(port),
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "JWT_SECRET": secret,
                "LOG_LEVEL": "WARNING",
            }
            stack.enter_context(child([PY, "-m", "nodes"], env, work / f"node-{i}.log"))
    for port in ports:
        wait_http(f"http://127.0.0.1:{port}/readyz")
    return ports


def start_balancer(stack: ExitStack, ports: list[int], work: Path, threads: int) -> tuple[int, int]:
    port, admin = free_port(), free_port()
    env = {
        "BALANCER_HOST": "127.0.0.1",
        "BALANCER_PORT": str(port),
        "BALANCER_ADMIN_PORT": str(admin),
        "LOG_LEVEL": "WARNING",
        "BALANCER_BACKENDS": ",".join(f"http://127.0.0.1:{p}" for p in ports),
    }
    proc = stack.enter_context(child([PY, "-m", "balancer"], env, work / "balancer.log"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/_lb/status", timeout=1) as r:
                if all(b["state"] == "up" for b in json.load(r)["backends"]):
                    return port, proc.pid
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the balancer's backends did not come up")


def start_haproxy(stack: ExitStack, ports: list[int], work: Path, threads: int) -> tuple[int, int]:
    port = free_port()
    servers = "\n".join(
        f"    server n{i} 127.0.0.1:{p} check inter 500ms rise 2 fall 2"
        for i, p in enumerate(ports, 1)
    )
    config = f"""global
    maxconn 4096
{f"    nbthread {threads}" if threads else ""}
defaults
    mode http
    timeout connect 250ms
    timeout client 30s
    timeout server 3s
    retries 2
    option redispatch
    retry-on conn-failure empty-response response-timeout 502 503
    option forwardfor
frontend fe
    bind 127.0.0.1:{port}
    unique-id-format %{{+X}}o%ci%cp%fp%Ts%rt%pid
    unique-id-header X-Request-ID
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""
    path = work / "haproxy.cfg"
    path.write_text(config)
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = stack.enter_context(child([binary, "-f", str(path), "-db"], log=work / "haproxy.log"))
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return port, proc.pid


def start_nginx(stack: ExitStack, ports: list[int], work: Path, threads: int) -> tuple[int, int]:
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in ports)
    config = f"""worker_processes {threads or "auto"};
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream be {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 250ms;
            proxy_read_timeout 3s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""
    path = work / "nginx.conf"
    path.write_text(config)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [binary, "-p", str(work), "-e", f"{work}/nginx-error.log", "-c", str(path)]
    proc = stack.enter_context(child(command))
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return port, proc.pid


def _installed(name: str) -> bool:
    return shutil.which(name) is not None or Path(f"/usr/sbin/{name}").exists()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (nginx's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / tick


Run = tuple[wrk.WrkResult, float]  # wrk's figures, the proxy's CPU µs per request


def measure(
    args: argparse.Namespace,
    targets: dict[str, tuple[str, int | None]],
    headers: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, list[Run]]:
    """Interleaved rounds: every target once per round, each after its own warm-up.

    ``headers`` adds request headers for some targets (an ``Authorization`` line, say).
    """
    results: dict[str, list[Run]] = {name: [] for name in targets}
    for round_ in range(1, args.rounds + 1):
        for name, (url, pid) in targets.items():
            extra = (headers or {}).get(name, ())
            wrk.run(url, connections=args.connections, duration=args.warmup, headers=extra)
            before = cpu_seconds(pid) if pid else 0.0
            result = wrk.run(
                url, connections=args.connections, duration=args.duration, headers=extra
            )
            cpu = (cpu_seconds(pid) - before) / max(result.requests, 1) * 1e6 if pid else 0.0
            results[name].append((result, cpu))
            print(
                f"  round {round_} {name:9} {result.requests_per_s:9.0f} req/s  p50 "
                f"{result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  errors {result.errors}"
                + (f"  server CPU {cpu:5.1f} µs/req" if pid else ""),
                flush=True,
            )
    return results


def summarise(results: dict[str, list[Run]]) -> dict[str, dict[str, float]]:
    summary = {}
    for name, pairs in results.items():
        runs = [r for r, _ in pairs]
        rates = [r.requests_per_s for r in runs]
        summary[name] = {
            "rps": statistics.median(rates),
            "rps_min": min(rates),
            "rps_max": max(rates),
            "p50_ms": statistics.median(r.p50_ms for r in runs),
            "p99_ms": statistics.median(r.p99_ms for r in runs),
            "errors": sum(r.errors for r in runs),
            "proxy_cpu_us_per_request": statistics.median(cpu for _, cpu in pairs),
        }
    base = summary["haproxy"]
    for name, row in summary.items():
        row["rps_vs_haproxy"] = row["rps"] / base["rps"]
        row["p99_vs_haproxy"] = row["p99_ms"] / base["p99_ms"]
        # Paired within each round (same moment, same noise): steadier than medians' ratio.
        paired = [
            ours.requests_per_s / theirs.requests_per_s
            for (ours, _), (theirs, _) in zip(results[name], results["haproxy"], strict=True)
        ]
        row["rps_vs_haproxy_per_round_median"] = statistics.median(paired)
        row["rps_vs_haproxy_per_round_min"] = min(paired)
        row["rps_vs_haproxy_per_round_max"] = max(paired)
    return summary


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
        if not _installed(tool):
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
            if name == "nginx" and not _installed("nginx"):
                print("nginx is not installed (Debian: apt-get install nginx): left out")
                continue
            port, pid = start(stack, ports, work, args.proxy_threads)
            targets[name] = (f"http://127.0.0.1:{port}{args.path}", pid)
        backend_kind = (
            "3 × python -m nodes + redis-server"
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
