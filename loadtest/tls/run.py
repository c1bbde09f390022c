"""``make tls``: TLS session resumption at the balancer, measured, and where its state lives.

*"State exists at the TLS level; REST stays stateless at the application level."*

1. A local cluster with TLS on the balancer (``cluster up --tls``: a self-signed pair under the
   state directory), on free ports in a temporary directory.
2. For TLS 1.2 and 1.3: batches of new connections with a full handshake, batches that resume
   the session the previous connection left, and requests on one open connection; one GET each.
   The client's handshake time, how many resumed, the balancer's CPU from ``/proc``, and which
   node answered each resumed connection (``X-Served-By``): resumption pins nothing.
   The same GET on new plain TCP connections to another balancer process without TLS is the
   baseline: what a connection costs with no TLS at all.
3. The session's life: one that resumed a moment ago, offered after ``restart_balancer`` (a new
   process, the same port and files), then to a second balancer with its own context.

Prints the tables, writes ``reports/tls/tls.json`` and ``tls.png``; exits 1 when a request
failed, a resumed batch did not resume, or an old session resumed where it cannot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError
from cluster.runtime.local import LocalRuntime
from cluster.runtime.net import free_ports
from cluster.runtime.pidstat import cpu_seconds
from cluster.runtime.tls_pair import existing_pair
from loadtest.tls import report
from loadtest.tls.balancers import Running, another_balancer, cluster_balancer
from loadtest.tls.client import client_context, visit
from loadtest.tls.lifetime import Offer, across_instances, across_restart
from loadtest.tls.measure import Cell, Target, measure

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


def _target(balancer: Running) -> Target:
    return Target(balancer.address, lambda: cpu_seconds(balancer.pid))


def run(runtime: LocalRuntime, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    pair = existing_pair(runtime.dir)
    if pair is None:
        raise ClusterError("the cluster runs without TLS")
    ours = cluster_balancer(runtime)
    address = ours.address
    with another_balancer(runtime, None, work / "balancer-plain.log") as plain:
        cells = measure(
            pair.cert, _target(ours), _target(plain), VERSIONS, args.connections, args.rounds
        )
    facts = session_facts(pair.cert, address)
    offers = [across_restart(pair.cert, address, v, runtime.restart_balancer) for v in VERSIONS]
    with another_balancer(runtime, pair, work / "balancer-b.log") as other:
        offers += [across_instances(pair.cert, address, other.address, v) for v in VERSIONS]
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
        failed = cell.requests - cell.statuses.get(200, 0) if cell.mode != "keep-alive" else 0
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
