"""``cluster trace ID [--logs DIR | --runtime local|docker] [--state-dir DIR] [--json]``

ID is an ``X-Request-ID`` or a trace id (B3 ``X-B3-TraceId``, or a W3C ``traceparent`` or its
trace-id part). Prints each request it names: every try, node, outcome, timing and the retries.
Exit status 0 when found, 1 when no log line names it, 2 on a usage or runtime error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError
from cluster.runtime.choice import RUNTIMES, find_runtime
from cluster.trace import render
from cluster.trace.path import Line, select
from cluster.trace.sources import file_lines, parse_all, runtime_lines
from servicekit.settings import SettingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster trace", description="One request's path through the balancer and nodes."
    )
    parser.add_argument("id", help="an X-Request-ID, a B3 trace id or a traceparent")
    parser.add_argument("--logs", type=Path, help="a directory of *.log files to read instead")
    parser.add_argument("--runtime", choices=RUNTIMES, default=None)
    parser.add_argument("--state-dir", type=Path, help="run files and logs (default .cluster)")
    parser.add_argument("--json", action="store_true", help="one JSON document per request")
    return parser


def gather(args: argparse.Namespace) -> list[Line]:
    if args.logs is not None:
        return parse_all(file_lines(args.logs))
    config = ClusterConfig.from_env()
    if args.state_dir is not None:
        config = dataclasses.replace(config, state_dir=args.state_dir)
    requested = args.runtime or config.runtime or "auto"
    if requested == "auto" and (config.state_dir / "logs").is_dir():
        requested = "local"  # the logs outlive `cluster down`
    runtime, _ = find_runtime(requested, config)
    return parse_all(runtime_lines(runtime))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lines = gather(args)
    except (ClusterError, SettingError, OSError, TypeError) as exc:
        print(f"cluster trace: {exc}", file=sys.stderr)
        return 2
    paths = select(lines, args.id)
    if not paths:
        print(f"cluster trace: no log line names {args.id!r} ({len(lines)} request lines read)")
        return 1
    for path in paths:
        print(json.dumps(render.as_json(path)) if args.json else render.text(path) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
