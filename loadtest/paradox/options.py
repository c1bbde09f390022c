"""The paradox run's settings: ``Options`` and the command line that fills them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MODES = ("none", "denylist", "denylist-fail-open", "cached")


@dataclass(frozen=True, slots=True)
class Options:
    """The run's settings (see ``--help``)."""

    modes: tuple[str, ...] = MODES
    nodes: int = 3
    trials: int = 100
    deadline: float = 1.0
    rounds: int = 7
    duration: float = 2.0
    connections: int = 32
    outage: tuple[float, float, float] = (2.0, 3.0, 4.0)
    workers: int = 8
    out: Path = Path("reports/paradox")
    redis_aof: bool = True
    keep: bool = False


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="paradox", description="The JWT revocation modes measured side by side."
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--nodes", type=int, default=3, help="nodes per mode (3)")
    parser.add_argument("--trials", type=int, default=100, help="propagation trials (100)")
    parser.add_argument("--deadline", type=float, default=1.0, help="seconds a trial waits")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved wrk rounds (7)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--outage", default="2,3,4", help="seconds before the kill, down, after the restart"
    )
    parser.add_argument("--workers", type=int, default=8, help="clients during the outage")
    parser.add_argument("--out", type=Path, default=Path("reports/paradox"))
    parser.add_argument(
        "--redis-ephemeral",
        action="store_true",
        help="Redis without AOF, like the local cluster's: a restart forgets the denylist",
    )
    parser.add_argument("--keep", action="store_true", help="keep the lanes' logs directory")
    args = parser.parse_args(argv)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        parser.error(f"--modes: unknown {unknown}; known: {', '.join(MODES)}")
    try:
        before, down, after = (float(x) for x in args.outage.split(","))
    except ValueError:
        parser.error("--outage takes three numbers: before,down,after (seconds)")
    return Options(
        modes=modes,
        nodes=args.nodes,
        trials=args.trials,
        deadline=args.deadline,
        rounds=args.rounds,
        duration=args.duration,
        connections=args.connections,
        outage=(before, down, after),
        workers=args.workers,
        out=args.out,
        redis_aof=not args.redis_ephemeral,
        keep=args.keep,
    )
