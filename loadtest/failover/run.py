"""Kill the Redis primary under load, with and without ``WAIT``, and print the table.

    python -m loadtest.failover [--runtime local|docker] [--kills 2] [--workers 8]
                                [--variants 0,1] [--max-failed 0] [--out reports/failover]

Per variant (``REDIS_WAIT_REPLICAS`` 0: replication stays asynchronous; 1: every create and
update waits for one replica before its 201/200) an HA cluster is started (``cluster up --ha``:
1 primary, 2 replicas, 3 sentinels, 3 nodes), correct clients run through the balancer
(``loadtest.failover.clients``), and ``--kills`` times the primary the sentinels name is
SIGKILLed; the time until the sentinels name another is measured, the killed server is brought
back as a replica, and the next kill waits until the set is whole again. Afterwards the orders
are read back through the API and checked (``loadtest.verify``). Exit 1 when a request failed
beyond ``--max-failed``, when an invariant broke, or when an acknowledged write was lost *with*
WAIT (without WAIT a loss is a possible outcome that the table reports).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from cluster.actions import Action
from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError, Runtime
from cluster.runtime.choice import get_runtime
from cluster.runtime.net import free_ports
from loadtest.failover.clients import Clients, run_until
from loadtest.failover.measure import Kill, Row, row, table
from loadtest.verify import check_orders, fetch_orders
from servicekit.demo_users import DEMO_USERS

WARMUP_SECONDS = 3.0
#: After the sentinels named a new primary: let the clients run on it before the restart.
SETTLE_SECONDS = 2.0
#: After the restart: the restarted replica syncs, the sentinels see it, before the next kill.
REJOIN_SECONDS = 4.0


def kill_primary(runtime: Runtime, timeout: float = 60.0) -> Kill:
    """SIGKILL the primary, wait until the sentinels name another, bring it back as a replica."""
    primary = runtime.redis_primary()
    if primary is None:
        raise ClusterError("the sentinels name no primary")
    at = time.time()
    runtime.signal_redis(primary, Action.KILL)
    new, named_at = None, None
    while time.time() - at < timeout:
        found = runtime.redis_primary()
        if found not in (None, primary):
            new, named_at = found, time.time()
            break
        time.sleep(0.02)
    time.sleep(SETTLE_SECONDS)
    runtime.restart_redis(primary)
    return Kill(primary, at, new, named_at)


def variant_config(base: ClusterConfig, runtime: str, wait: int, state_dir: Path) -> ClusterConfig:
    config = dataclasses.replace(base, ha=True, wait_replicas=wait, state_dir=state_dir)
    if runtime != "local":
        return config
    balancer, *ports = free_ports(10)
    return dataclasses.replace(
        config, balancer_port=balancer, redis_port=ports[0], replica_ports=tuple(ports[1:3]),
        sentinel_ports=tuple(ports[3:6]), node_ports=tuple(ports[6:9]), ready_timeout=60.0,
    )  # fmt: skip


async def _measure(runtime: Runtime, kills: int, workers: int) -> tuple[list[Kill], Clients]:
    clients = Clients(runtime.status().balancer, workers)

    async def chaos() -> list[Kill]:
        await asyncio.sleep(WARMUP_SECONDS)
        done = []
        for index in range(kills):
            if index:
                await asyncio.sleep(REJOIN_SECONDS)
            done.append(await asyncio.to_thread(kill_primary, runtime))
        await asyncio.sleep(1.0)
        return done

    plan = asyncio.ensure_future(chaos())
    await run_until(clients, plan)
    return plan.result(), clients


def run_variant(
    config: ClusterConfig, runtime_name: str, wait: int, args: argparse.Namespace
) -> Row:
    runtime, reason = get_runtime(runtime_name, config)
    print(f"WAIT {wait}: {reason}", file=sys.stderr)
    runtime.up(args.nodes)
    try:
        kills, clients = asyncio.run(_measure(runtime, args.kills, args.workers))
        listed = fetch_orders(runtime.status().balancer, DEMO_USERS)
        invariants = check_orders(clients.record.acks, listed)
        for invariant in invariants:
            print(f"  WAIT {wait}: {invariant.name}: {'OK' if invariant.ok else 'BROKEN'} "
                  f"{invariant.detail}", file=sys.stderr)  # fmt: skip
        for failure in clients.record.failures[:10]:
            print(f"  WAIT {wait}: failed: {failure.what}", file=sys.stderr)
        name = "no WAIT (async)" if wait == 0 else f"WAIT {wait} (REDIS_WAIT_REPLICAS={wait})"
        return row(name, wait, clients.record, kills, listed, all(i.ok for i in invariants))
    finally:
        runtime.down()


def verdict(rows: Sequence[Row], max_failed: int) -> list[str]:
    """What makes the run fail (empty: pass). Without WAIT a lost write is reported, not failed."""
    problems = [f"{r.variant}: {r.failed} failed requests" for r in rows if r.failed > max_failed]
    for r in (r for r in rows if r.wait):
        if not r.invariants_ok:
            problems.append(f"{r.variant}: an invariant broke")
        if r.lost_creates + r.lost_updates:
            problems.append(f"{r.variant}: {r.lost_creates + r.lost_updates} writes lost")
    return problems


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.failover.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runtime", choices=("local", "docker"), default="local")
    parser.add_argument("--kills", type=int, default=2, help="primary kills per variant (2)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--variants", default="0,1", help="REDIS_WAIT_REPLICAS values (0,1)")
    parser.add_argument("--max-failed", type=int, default=0, help="failed requests allowed (0)")
    parser.add_argument("--out", type=Path, default=Path("reports/failover"))
    parser.add_argument(
        "--state-dir", type=Path, help="keep the clusters' logs here (default: a temp dir)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    waits = [int(v) for v in args.variants.split(",")]
    base = ClusterConfig.from_env()
    rows = []
    with tempfile.TemporaryDirectory(prefix="failover-") as tmp:
        for wait in waits:
            where = (args.state_dir or Path(tmp)) / f"wait-{wait}"
            config = variant_config(base, args.runtime, wait, where)
            rows.append(run_variant(config, args.runtime, wait, args))
    text = table(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text + "\n")
    (args.out / "summary.json").write_text(
        json.dumps([dataclasses.asdict(r) for r in rows], indent=2) + "\n"
    )
    problems = verdict(rows, args.max_failed)
    print("RESULT: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    return 0 if not problems else 1
