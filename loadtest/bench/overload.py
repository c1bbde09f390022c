"""``make bench-overload``: logins offered against logins served, for this balancer and HAProxy.

    python -m loadtest.bench.overload [--rates 10,25,50,100] [--seconds 8] [--out DIR]

Three real nodes (scrypt logins, about 42 ms of CPU each) behind this balancer and behind
HAProxy with ``maxconn`` per server and its queue (HAProxy's documented way to protect servers),
in the same run, interleaved per rate. Each step is open loop (``capacity``): logins are sent at
the offered rate whatever the answers. It prints the table and writes ``table.md``,
``results.json`` and ``capacity.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import aiohttp

from loadtest.bench import peers, targets
from loadtest.bench.capacity import Answer, Step, is_shed, table
from servicekit.demo_users import DEMO_USERS, login_body


async def _login(session: aiohttp.ClientSession, url: str, user: str) -> Answer:
    start = time.monotonic()
    try:
        async with session.post(f"{url}/auth/login", json=login_body(user)) as resp:
            await resp.read()
            shed = is_shed(resp.status, dict(resp.headers))
            return Answer(resp.status, time.monotonic() - start, shed)
    except (aiohttp.ClientError, TimeoutError):
        return Answer(0, time.monotonic() - start)


async def offer(url: str, rate: float, seconds: float, client_timeout: float) -> list[Answer]:
    """Logins at ``rate`` per second for ``seconds``, open loop, each answered within ``wait``
    seconds or counted as no answer; every answer."""
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=client_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for i in range(round(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            user = DEMO_USERS[i % len(DEMO_USERS)]
            tasks.append(asyncio.create_task(_login(session, url, user)))
        return list(await asyncio.gather(*tasks))


def start_targets(stack: ExitStack, work: Path, names: list[str]) -> dict[str, str]:
    """Three real nodes, and each named proxy in front of them: name → URL."""
    ports = targets.start_backends(stack, "nodes", work)
    urls = {}
    if "balancer" in names:
        port, _ = targets.start_balancer(stack, ports, work, 0)
        urls["balancer"] = f"http://127.0.0.1:{port}"
    if "haproxy" in names:
        port, _ = peers.start_haproxy(stack, ports, work, 0, server_maxconn=2)
        urls["haproxy"] = f"http://127.0.0.1:{port}"
    return urls


def run(args: argparse.Namespace) -> list[Step]:
    steps: list[Step] = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="overload-")))
        urls = start_targets(stack, work, args.targets)
        for rate in args.rates:
            for name, url in urls.items():
                answers = asyncio.run(offer(url, rate, args.seconds, args.timeout))
                step = Step(name, rate, args.seconds, answers)
                steps.append(step)
                print(f"  {name:9} offered {rate:5g}/s  served {step.served_per_s:5.1f}/s  "
                      f"p95 {step.percentile_ms(95):6.0f} ms  shed {step.shed:4}  "
                      f"failed {step.failed}", flush=True)  # fmt: skip
                time.sleep(args.pause)  # let the queues empty before the next step
    return steps


def write(steps: list[Step], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table(steps) + "\n")
    rows = [asdict(s) | {"served_per_s": s.served_per_s, "shed": s.shed, "failed": s.failed,
                         "p50_ms": s.percentile_ms(50), "p95_ms": s.percentile_ms(95),
                         "p99_ms": s.percentile_ms(99)} for s in steps]  # fmt: skip
    for row in rows:
        row.pop("answers")
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    from loadtest.bench.capacity_plot import plot  # matplotlib only when writing

    plot(steps, out / "capacity.png")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench-overload", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="10,25,50,100", help="logins/s offered (10,25,50,100)")
    parser.add_argument("--seconds", type=float, default=8.0, help="per step (8)")
    parser.add_argument("--targets", default="balancer,haproxy")
    parser.add_argument("--timeout", type=float, default=35.0, help="client timeout (35 s)")
    parser.add_argument("--pause", type=float, default=3.0, help="between steps (3 s)")
    parser.add_argument("--out", type=Path, default=Path("reports/overload"))
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r]
    args.targets = [t for t in args.targets.split(",") if t]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "haproxy" in args.targets and not peers.installed("haproxy"):
        print("bench-overload: haproxy is not installed (Debian: apt-get install haproxy)")
        return 2
    steps = run(args)
    print(table(steps))
    write(steps, args.out)
    print(f"written: {args.out / 'table.md'}, {args.out / 'capacity.png'}")
    failed = sum(s.failed for s in steps if s.target == "balancer")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
