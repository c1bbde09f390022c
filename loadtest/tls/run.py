"""``make tls``: TLS session resumption at the balancer, measured, and where its state lives.

*"State exists at the TLS level; REST stays stateless at the application level."*

1. A local cluster with TLS on the balancer (``cluster up --tls``: a self-signed pair under the
   state directory), on free ports in a temporary directory.
2. For TLS 1.2 and 1.3: batches of new connections with a full handshake, batches that resume
   the session the previous connection left, and requests on one open connection; one GET each.
   The client's handshake time, how many resumed, the balancer's CPU from ``/proc``, and which
   node answered each resumed connection (``X-Served-By``): resumption pins nothing.
3. The session's life: one that resumed a moment ago, offered after ``restart_balancer`` (a new
   process, the same port and files), then to a second balancer with its own context.

Prints the tables, writes ``reports/tls/tls.json`` and ``tls.png``; exits 1 when a request
failed, a resumed batch did not resume, or an old session resumed where it cannot.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cluster.config import ClusterConfig
from cluster.runtime import procs
from cluster.runtime.base import ClusterError
from cluster.runtime.local import LocalRuntime
from cluster.runtime.net import free_port, free_ports, wait_port
from cluster.runtime.pidstat import cpu_seconds
from cluster.runtime.tls_pair import TlsPair, existing_pair
from loadtest.tls import report
from loadtest.tls.client import client_context, visit
from loadtest.tls.lifetime import Offer, across_instances, across_restart
from loadtest.tls.measure import Cell, measure

VERSIONS = ("1.2", "1.3")


def cluster_config(state_dir: Path, nodes: int) -> ClusterConfig:
    """The environment's cluster settings, on free ports in ``state_dir``, with TLS."""
    ports = free_ports(3 + nodes)
    return dataclasses.replace(
        ClusterConfig.from_env(),
        state_dir=state_dir,
        balancer_port=ports[0],
        admin_port=ports[1],
        redis_port=ports[2],
        node_ports=tuple(ports[3:]),
        nodes=nodes,
        tls=True,
    )


def balancer_pid(runtime: LocalRuntime) -> int:
    return next(p.pid for p in runtime.processes() if p.role == "balancer")


@contextlib.contextmanager
def second_balancer(runtime: LocalRuntime, pair: TlsPair, log: Path) -> Iterator[tuple[str, int]]:
    """Another balancer process over the same nodes with the same files (its own context)."""
    host, port = runtime.config.host, free_port()
    settings = {
        "BALANCER_HOST": host,
        "BALANCER_PORT": str(port),
        "BALANCER_ADMIN_PORT": "0",
        "BALANCER_BACKENDS": ",".join(n.url for n in runtime.status().nodes),
        "BALANCER_TLS_CERT": str(pair.cert),
        "BALANCER_TLS_KEY": str(pair.key),
        "LOG_LEVEL": "WARNING",
    }
    argv = [runtime.config.python, "-m", "balancer"]
    proc, _ = procs.launch("balancer", "balancer-b", port, argv, {**os.environ, **settings}, log)
    try:
        if not wait_port(host, port, 20, lambda: proc.poll() is None):
            raise ClusterError(
                f"the second balancer did not listen; {log}:\n{procs.log_tail(str(log))}"
            )
        _wait_answering(pair.cert, (host, port))
        yield host, port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_answering(cafile: Path, address: tuple[str, int], within: float = 15.0) -> None:
    """Until a GET through it gets 200 (its probes have found the nodes up)."""
    context = client_context(cafile, "1.3")
    deadline = time.monotonic() + within
    while visit(context, address).status != 200:
        if time.monotonic() > deadline:
            raise ClusterError(f"the balancer at {address} answered no 200 within {within:g} s")
        time.sleep(0.1)


def session_facts(cafile: Path, address: tuple[str, int]) -> dict[str, Any]:
    """What the client holds per version: a ticket (stateless resumption) and its lifetime."""
    facts = {}
    for version in VERSIONS:
        session = visit(client_context(cafile, version), address).session
        assert session is not None
        facts[version] = {
            "has_ticket": session.has_ticket,
            "lifetime_hint_s": session.ticket_lifetime_hint,
        }
    return facts


def run(runtime: LocalRuntime, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    pair = existing_pair(runtime.dir)
    if pair is None:
        raise ClusterError("the cluster runs without TLS")
    address = (runtime.config.host, runtime.config.balancer_port)
    pid = balancer_pid(runtime)
    cells = measure(
        pair.cert, address, VERSIONS, args.connections, args.rounds, lambda: cpu_seconds(pid)
    )
    facts = session_facts(pair.cert, address)
    offers = [across_restart(pair.cert, address, v, runtime.restart_balancer) for v in VERSIONS]
    with second_balancer(runtime, pair, work / "balancer-b.log") as other:
        offers += [across_instances(pair.cert, address, other, v) for v in VERSIONS]
    return {
        "nodes": len(runtime.status().nodes),
        "connections_per_batch": args.connections,
        "rounds": args.rounds,
        "cells": [c.to_json() for c in cells],
        "sessions": facts,
        "offers": [o.to_json() for o in offers],
        "broken": broken(cells, offers),
    }


def broken(cells: list[Cell], offers: list[Offer]) -> list[str]:
    """What contradicts the claim: failed requests, resumption that did not (or did) happen."""
    found = []
    for cell in cells:
        failed = cell.connections - cell.statuses.get(200, 0) if cell.mode != "keep-alive" else 0
        if failed:
            found.append(f"TLS {cell.version} {cell.mode}: {failed} requests not 200")
        if cell.mode == "resumed" and cell.reused != cell.connections:
            found.append(f"TLS {cell.version}: {cell.connections - cell.reused} did not resume")
        if cell.mode == "full" and cell.reused:
            found.append(f"TLS {cell.version}: {cell.reused} resumed without a session")
    for offer in offers:
        if not (offer.before and offer.control) or offer.after:
            found.append(f"TLS {offer.version}, {offer.event}: {offer.to_json()}")
    return found


def print_result(result: dict[str, Any]) -> None:
    print()
    print("\n".join(report.handshake_table(result["cells"])))
    print()
    print(report.spread_line(result["cells"]))
    for version, facts in result["sessions"].items():
        hint = facts["lifetime_hint_s"]
        print(f"TLS {version} session: ticket {facts['has_ticket']}, lifetime hint {hint} s")
    print()
    print("\n".join(report.lifetime_table(result["offers"])))
    for line in result["broken"]:
        print(f"BROKEN: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tls", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--connections", type=int, default=500, help="per batch (500)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved batches per cell (3)")
    parser.add_argument("--out", type=Path, default=Path("reports/tls"))
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tls-") as tmp:
        runtime = LocalRuntime(cluster_config(Path(tmp) / "cluster", args.nodes))
        try:
            runtime.up(args.nodes)
            result = run(runtime, args, Path(tmp))
        except ClusterError as exc:
            print(f"tls: {exc}", file=sys.stderr)
            return 1
        finally:
            runtime.down()
    print_result(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tls.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_plot:
        report.draw(result["cells"], args.out / "tls.png")
    print(
        f"\nwrote {args.out / 'tls.json'}"
        + ("" if args.no_plot else f" and {args.out / 'tls.png'}")
    )
    return 1 if result["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
