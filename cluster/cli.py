"""``cluster up|down|status|restart|scale``: the console script behind the make targets.

    cluster up [--nodes 3] [--runtime auto|local|docker] [--ha] [--variant stateful|…]
    cluster status [--json]
    cluster restart --rolling | cluster restart node-2
    cluster scale 5
    cluster down
    cluster check-sticky URL [--requests N] [--manifest FILE]   (cluster/sticky/cli.py)
    cluster trace ID [--logs DIR] [--json]                      (cluster/trace/cli.py)

Ports and the state directory come from ``CLUSTER_*`` variables (see ``cluster.config``) or
from the options below, so that tests run a whole cluster on free ports in a temp dir.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cluster.config import VARIANTS, ClusterConfig
from cluster.runtime.base import ClusterError, ClusterStatus, Runtime
from cluster.runtime.choice import RUNTIMES, find_runtime, get_runtime
from cluster.sticky.cli import main as check_sticky
from cluster.trace.cli import main as trace
from servicekit.settings import SettingError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--runtime", choices=RUNTIMES, default=None, help="default: $RUNTIME or auto"
    )
    common.add_argument("--state-dir", type=Path, help="run files and logs (default .cluster)")
    common.add_argument("--balancer-port", type=int)
    common.add_argument("--node-port", type=int, help="port of node-1; node-i gets +i-1")
    common.add_argument("--redis-port", type=int)
    common.add_argument(
        "--variant",
        choices=VARIANTS,
        help="stateless (default, or $CLUSTER_VARIANT), or the stateful twin `make compare` "
        "measures; give restarts and scale-outs the same (new nodes are started with it)",
    )
    parser = argparse.ArgumentParser(
        prog="cluster",
        description="Start, inspect, restart and stop the cluster.",
        epilog="Commands, ports and settings: docs/operations.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", parents=[common], help="start Redis, the nodes and the balancer")
    up.add_argument("--nodes", type=int, help="how many nodes (default $NODES or 3)")
    up.add_argument(
        "--ha",
        action="store_true",
        default=None,
        help="Redis as 1 primary + 2 replicas + 3 sentinels (default $CLUSTER_HA)",
    )
    up.add_argument(
        "--tls", action="store_true", default=None, help="HTTPS on the balancer's port (local)"
    )
    sub.add_parser("down", parents=[common], help="stop everything `up` started")
    status = sub.add_parser("status", parents=[common], help="what runs, where, healthy or not")
    status.add_argument(
        "--json", action="store_true", help="the JSON document of docs/operations.md"
    )
    restart = sub.add_parser("restart", parents=[common], help="replace nodes")
    which = restart.add_mutually_exclusive_group(required=True)
    which.add_argument("--rolling", action="store_true", help="every node in turn, zero downtime")
    which.add_argument("node", nargs="?", help="one node, e.g. node-2")
    scale = sub.add_parser("scale", parents=[common], help="run this many nodes")
    scale.add_argument("count", type=int)
    sub.add_parser("check-sticky", help="does a balancer pin clients? (check-sticky --help)")
    sub.add_parser("trace", help="one request's path through the logs (trace --help)")
    return parser


def config_from(args: argparse.Namespace) -> ClusterConfig:
    config = ClusterConfig.from_env()
    overrides = {
        "state_dir": args.state_dir,
        "balancer_port": args.balancer_port,
        "node_port": args.node_port,
        "redis_port": args.redis_port,
        "nodes": getattr(args, "nodes", None),
        "ha": getattr(args, "ha", None),
        "variant": args.variant,
        "tls": getattr(args, "tls", None),
    }
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def runtime_for(args: argparse.Namespace, config: ClusterConfig) -> Runtime:
    requested = args.runtime or config.runtime or "auto"
    pick = get_runtime if args.command == "up" else find_runtime
    runtime, reason = pick(requested, config)
    print(reason, file=sys.stderr)
    return runtime


def render_status(status: ClusterStatus, lb: dict[str, object] | None) -> str:
    """The human form of ``status``: one line per node, with the balancer's view of it."""
    views: dict[str, object] = {}
    if lb is not None:
        for backend in lb.get("backends", []):  # type: ignore[attr-defined]
            views[str(backend.get("url", "")).rstrip("/")] = backend.get("state")
    lines = [
        f"runtime   {status.runtime}",
        f"balancer  {status.balancer}  ({'answers' if lb is not None else 'NOT answering'})",
        f"admin     {status.admin or '-'}",
        f"redis     {status.redis}" + (f"  ({status.redis_server})" if status.redis_server else ""),
        *([f"sentinels {', '.join(status.sentinels)}"] if status.sentinels else []),
        f"{'node':<8}  {'url':<24}  {'pid':>7}  {'process':<8}  balancer",
    ]
    for node in status.nodes:
        ident = node.pid if node.pid is not None else (node.container or "-")
        view = views.get(node.url.rstrip("/"), "?") if lb is not None else "?"
        lines.append(f"{node.name:<8}  {node.url:<24}  {ident!s:>7}  {node.state!s:<8}  {view}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    runtime = runtime_for(args, config)
    if args.command == "up":
        if config.tls and runtime.name != "local":
            raise ClusterError("--tls (CLUSTER_TLS) needs the local runtime (--runtime local)")
        status = runtime.up(config.nodes)
        print(render_status(status, runtime.balancer_status()))
        print(f"cluster up: {len(status.nodes)} nodes behind {status.balancer}")
    elif args.command == "down":
        stopped = runtime.down()
        print(
            f"cluster down: stopped {', '.join(stopped)}"
            if stopped
            else "cluster down: nothing ran"
        )
    elif args.command == "status":
        status = runtime.status()
        if args.json:
            print(json.dumps(status.to_json()))
        else:
            try:
                lb: dict[str, object] | None = runtime.balancer_status()
            except OSError:
                lb = None
            print(render_status(status, lb))
    elif args.command == "restart":
        if args.rolling:
            runtime.rolling_restart()
            print("rolling restart done: every node replaced and up again")
        else:
            info = runtime.restart(args.node)
            print(f"{info.name} restarted (pid {info.pid})")
    elif args.command == "scale":
        status = runtime.scale(args.count)
        print(f"cluster scaled to {len(status.nodes)} nodes")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check-sticky"]:  # its own parser and exit codes: 0, 3 sticky, 2 error
        return check_sticky(argv[1:])
    if argv[:1] == ["trace"]:  # its own parser (cluster/trace/cli.py): 0 found, 1 not, 2 error
        return trace(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ClusterError, SettingError) as exc:
        print(f"cluster {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"cluster {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
