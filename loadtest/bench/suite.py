"""``make bench``: every benchmark, one after the other, and one summary of them all.

    python -m loadtest.bench.suite [--quick] [--parts node,balancer,scale,overload]
                                   [--part-args 'scale=--quota 0.2'] [--out reports]

Each part is the benchmark's own command (``python -m loadtest.bench.node --json …`` and so
on), run as a child process whose output is shown as it comes, prefixed with the part and the
time elapsed. Around each part the machine's load is recorded (``loadtest.bench.machine``).
The parts' JSON reports go under ``OUT/bench/``; ``loadtest.bench.summary`` turns them into
``OUT/bench.json`` and ``OUT/bench.md``. A part that fails (its exit code, no report) is
reported as failed with the last lines of its stderr; the others still run, and the command
exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from loadtest.bench.machine import Watch
from loadtest.bench.summary import markdown, summarise

STDERR_TAIL = 20
QUIET = 30.0  # seconds without a line from a part before a "still running" line


@dataclass(frozen=True, slots=True)
class Part:
    """One benchmark: its module, its options (given the part's report directory) and the
    options ``--quick`` adds (fewer rounds, shorter runs)."""

    module: str
    options: Callable[[Path], list[str]]
    report: Callable[[Path], Path]
    quick: tuple[str, ...]


PARTS: dict[str, Part] = {
    "node": Part(
        "loadtest.bench.node",
        lambda d: ["--json", str(d / "node.json")],
        lambda d: d / "node.json",
        ("--rounds", "2", "--duration", "2", "--warmup", "1"),
    ),
    "balancer": Part(
        "loadtest.bench.balancer",
        lambda d: ["--json", str(d / "balancer.json")],
        lambda d: d / "balancer.json",
        ("--rounds", "2", "--duration", "2", "--warmup", "1"),
    ),
    "scale": Part(
        "loadtest.bench.scale",
        lambda d: ["--json", str(d / "scale.json"), "--png", str(d / "scale.png")],
        lambda d: d / "scale.json",
        ("--max-nodes", "2", "--duration", "2", "--warmup", "1", "--lanes", "get"),
    ),
    "overload": Part(
        "loadtest.bench.overload",
        lambda d: ["--out", str(d / "overload")],
        lambda d: d / "overload" / "results.json",
        ("--rates", "10,40", "--seconds", "3", "--pause", "1", "--timeout", "10"),
    ),
}


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs")
    parser.add_argument("--parts", default=",".join(PARTS), help="which, in order (all four)")
    parser.add_argument(
        "--part-args",
        action="append",
        default=[],
        metavar="PART=ARGS",
        help="more options for one part, after --quick's: 'scale=--quota 0.2' (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    args.parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    extra: dict[str, list[str]] = {}
    for item in args.part_args:
        name, sep, rest = item.partition("=")
        if not sep or name not in PARTS:
            parser.error(f"--part-args {item!r}: expected PART=ARGS with PART in {list(PARTS)}")
        extra.setdefault(name, []).extend(shlex.split(rest))
    args.extra = extra
    return args


def command(name: str, args: argparse.Namespace) -> list[str]:
    part = PARTS[name]
    quick = list(part.quick) if args.quick else []
    return [sys.executable, "-m", part.module, *part.options(args.out / "bench"), *quick,
            *args.extra.get(name, [])]  # fmt: skip


def _clock(started: float) -> str:
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    return f"{minutes}:{seconds:02d}"


def _pump(
    stream: IO[str], prefix: Callable[[], str], out: IO[str], keep: deque[str], last: list[float]
) -> None:
    """Echo a child's stream line by line, prefixed; keep its last lines and when it spoke."""
    for line in stream:
        keep.append(line.rstrip("\n"))
        last[0] = time.monotonic()
        print(f"{prefix()} {line}", end="", file=out, flush=True)


def run_part(index: int, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one part to its end; what the summary needs of it (its report read back)."""
    argv = command(name, args)
    report_path = PARTS[name].report(args.out / "bench")
    report_path.unlink(missing_ok=True)  # a report left by an earlier run is not this run's
    shown = shlex.join(["python", *argv[1:]])
    print(f"\n== [{index}/{len(args.parts)}] {name}: {shown}", flush=True)
    watch = Watch()
    started = time.monotonic()

    def prefix() -> str:
        return f"[{name} {_clock(started)}]"

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, bufsize=1)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    stdout_tail: deque[str] = deque(maxlen=STDERR_TAIL)
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
    last = [started]
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, prefix, sys.stdout, stdout_tail, last)),
        threading.Thread(target=_pump, args=(proc.stderr, prefix, sys.stderr, stderr_tail, last)),
    ]
    for pump in pumps:
        pump.start()
    try:
        while proc.poll() is None:
            time.sleep(1.0)
            watch.sample()
            if time.monotonic() - last[0] > QUIET:
                print(f"{prefix()} (still running)", flush=True)
                last[0] = time.monotonic()
    except KeyboardInterrupt:  # the child got the same SIGINT and unwinds its process tree
        proc.wait(timeout=60)
        raise
    finally:
        for pump in pumps:
            pump.join(timeout=10)
    machine = watch.stop()
    status = "ok" if proc.returncode == 0 else f"exit code {proc.returncode}"
    print(f"== {name}: {status} after {_clock(started)}", flush=True)
    return {
        "name": name,
        "command": shown,
        "exit_code": proc.returncode,
        "machine": machine,
        "report_path": str(report_path),
        "report": _read_report(report_path),
        "stderr_tail": list(stderr_tail),
        "stdout_tail": list(stdout_tail),
    }


def _read_report(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    (args.out / "bench").mkdir(parents=True, exist_ok=True)
    begun = datetime.now(UTC)
    runs = [run_part(i, name, args) for i, name in enumerate(args.parts, 1)]
    summary = summarise(runs, started=begun.strftime("%Y-%m-%d %H:%M UTC"), quick=args.quick)
    (args.out / "bench.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
    text = markdown(summary)
    (args.out / "bench.md").write_text(text)
    print(f"\n{text}")
    print(f"written: {args.out / 'bench.json'}, {args.out / 'bench.md'}")
    failed = [p["name"] for p in summary["parts"] if p["status"] != "ok"]
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
