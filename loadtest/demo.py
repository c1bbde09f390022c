"""``make demo``: cluster up, Locust load, chaos mid-load, verification, report, cluster down.

    python -m loadtest.demo [--nodes 3] [--users 50] [--spawn-rate 10] [--duration 60s]

Locust and chaos-kill run as their own processes (Locust monkey-patches its process with
gevent; chaos-kill is the same console script a user runs). This process only orchestrates:
it starts the local cluster through the runtime, waits for the load, reads the balancer's
counters, verifies the orders through the API, writes ``reports/<timestamp>/`` and always
takes the cluster down, on success, error or Ctrl-C. Exit status 1 when a request failed or an
invariant broke.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from cluster.actions import Action
from cluster.chaos.plan import parse_seconds
from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterError, ClusterStatus, Runtime
from cluster.runtime.choice import get_runtime
from cluster.trace import path as trace_path
from cluster.trace import render as trace_render
from cluster.trace.sources import parse_all, runtime_lines
from loadtest import report
from loadtest.verify import verify
from servicekit.demo_users import DEMO_USERS
from servicekit.settings import SettingError

HERE = Path(__file__).resolve().parent
#: One SIGKILL, one SIGTERM, one SIGSTOP, another SIGKILL.
CHAOS_ROTATION = (Action.KILL, Action.TERM, Action.STOP, Action.KILL)


@dataclasses.dataclass(frozen=True, slots=True)
class DemoSettings:
    nodes: int = 3
    users: int = 50
    spawn_rate: float = 10.0
    duration: float = 60.0
    reports: Path = Path("reports")
    seed: int = 7

    @property
    def ramp(self) -> float:
        return self.users / self.spawn_rate

    @property
    def chaos_interval(self) -> float:
        """Four actions spread over the loaded part of the run, the last one recovered in time."""
        return max(2.0, (self.duration - self.ramp - 8.0) / 4.5)


def locust_command(settings: DemoSettings, host: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
        "-u", str(settings.users), "-r", str(settings.spawn_rate),
        "-t", f"{int(settings.duration)}s", "--host", host, "--stop-timeout", "5",
        "--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "locust.html"),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip


def chaos_command(
    settings: DemoSettings, state_dir: Path, events: Path, runtime: str = "local"
) -> list[str]:
    """One SIGKILL, one SIGTERM, one SIGSTOP, another SIGKILL; one node down at a time."""
    return [
        sys.executable, "-m", "cluster.chaos.kill", "--runtime", runtime,
        "--state-dir", str(state_dir), "--interval", f"{settings.chaos_interval:.1f}",
        "--count", str(len(CHAOS_ROTATION)), "--signal", ",".join(CHAOS_ROTATION),
        "--restart-after", "2",
        "--pause-for", "4", "--min-alive", str(max(1, settings.nodes - 1)),
        "--seed", str(settings.seed), "--events", str(events),
    ]  # fmt: skip


def balancer_metrics(admin_url: str) -> str:
    """The balancer's Prometheus text from its admin listener (empty when it cannot be read)."""
    try:
        with urllib.request.urlopen(f"{admin_url}/_lb/metrics", timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def metric(text: str, name: str) -> int | str:
    """The count in sample ``name`` of Prometheus text, 0 when absent, "?" when unread."""
    if not text:
        return "?"
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[-1]))
    return 0


def summarize(
    locust: dict[str, Any], lb: dict[str, Any], events: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    actions = Counter(str(e.get("action")) for e in events)
    return {
        "requests": locust.get("requests", 0),
        "failures": locust.get("failures", 0),
        "creates acknowledged": locust.get("creates_acknowledged", 0),
        "updates acknowledged": locust.get("updates_acknowledged", 0),
        "client retries on 412 (stale ETag)": locust.get("retries_412_stale_etag", 0),
        "client retries on 409 (in progress)": locust.get("retries_409_in_progress", 0),
        "shed (503 not processed, retried)": locust.get("shed_503", 0),
        "client logins sent again (node died)": locust.get("logins_lost_with_node", 0),
        "login p95 (ms)": locust.get("login_p95_ms", "?"),
        "balancer retries": lb.get("retries", "?"),
        # Chaos takes nodes out on purpose; any ejection beyond its kills, stops and terms
        # would be a live node called dead.
        "balancer ejections": sum(int(b.get("ejections", 0)) for b in lb.get("backends", [])),
        "chaos": ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) or "none",
        "requests per node": ", ".join(
            f"{name}={n}" for name, n in sorted(report.node_spread(lb).items())
        ),
    }


def drive(settings: DemoSettings, runtime: Runtime, balancer: str, out: Path) -> tuple[int, int]:
    """Locust for the whole run, chaos-kill once the users are in; their exit codes."""
    env = {"LOAD_ACK_FILE": str(out / "acks.jsonl"),
           "LOAD_SUMMARY_FILE": str(out / "locust-summary.json")}  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (out / "locust.log").open("wb") as log, (out / "chaos.log").open("wb") as chaos_log:
            locust = subprocess.Popen(
                locust_command(settings, balancer, out),
                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            procs.append(locust)
            time.sleep(settings.ramp + 2.0)  # every user logged in before the first action
            chaos = subprocess.Popen(
                chaos_command(settings, runtime.config.state_dir, out / "chaos.jsonl",
                              runtime.name),
                stdout=chaos_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            procs.append(chaos)
            return locust.wait(settings.duration + 120), chaos.wait(60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # chaos thaws/restarts what it touched
                proc.wait(timeout=60)


def conclude(runtime: Runtime, balancer: str, out: Path, locust_rc: int, chaos_rc: int) -> int:
    """Read the counters, verify the orders, write the report, print the summary."""
    lb = runtime.balancer_status()
    (out / "balancer-status.json").write_text(json.dumps(lb, indent=2))
    metrics = balancer_metrics(runtime.status().admin)
    (out / "balancer-metrics.txt").write_text(metrics)
    invariants = [i.to_json() for i in verify(balancer, out / "acks.jsonl", DEMO_USERS)]
    counters = out / "locust-summary.json"
    locust = json.loads(counters.read_text()) if counters.exists() else {}
    summary = summarize(locust, lb, report.read_events(out / "chaos.jsonl"))
    summary["balancer retries refused by the budget"] = metric(
        metrics, "balancer_retry_budget_denied_total"
    )
    summary["balancer 504s (no answer in time)"] = metric(
        metrics, 'balancer_local_responses_total{code="504"}'
    )
    ok = locust_rc == 0 and chaos_rc == 0 and all(i["ok"] for i in invariants)
    summary.update({"locust exit": locust_rc, "chaos exit": chaos_rc, "ok": ok})
    history = out / "locust_stats_history.csv"
    page = report.build(out, history, out / "chaos.jsonl", lb, summary, invariants)
    print_summary(summary, invariants, page)
    print_traced_retry(runtime, out)
    return 0 if ok else 1


def keep_balancer_log(lines: Iterable[tuple[str, str]], path: Path) -> None:
    """The lines whose source (a log file or a container's name) is the balancer's, one a line."""
    with path.open("w", encoding="utf-8") as kept:
        kept.writelines(
            text if text.endswith("\n") else text + "\n"
            for source, text in lines
            if "balancer" in source
        )


def print_traced_retry(runtime: Runtime, out: Path) -> None:
    """One request the balancer retried, traced through the logs (``cluster trace ID``); the
    balancer's own log is kept in the report (``balancer.log``: health changes, ejections, the
    requests it retried or gave up on), since the cluster's logs go with the cluster."""
    try:
        raw = list(runtime_lines(runtime))
    except (OSError, TypeError, ClusterError) as exc:
        print(f"trace: the logs could not be read ({exc})")
        return
    keep_balancer_log(raw, out / "balancer.log")
    lines = parse_all(raw)
    ids = trace_path.retried(lines)
    if not ids:
        print("trace: no request needed a retry in this run")
        return
    (path, *_) = trace_path.select(lines, ids[0])
    print(f"\n== one retried request ({len(ids)} in all): cluster trace {ids[0]} ==")
    print(trace_render.text(path))


def run(settings: DemoSettings, runtime: Runtime, status: ClusterStatus, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    print(f"demo: {len(status.nodes)} nodes up behind {status.balancer}; load for "
          f"{settings.duration:.0f}s with {settings.users} users", flush=True)  # fmt: skip
    if status.redis_server:
        print(f"demo: Redis server {status.redis_server}", flush=True)
    print(f"demo: live dashboard {status.admin}/_lb/dashboard", flush=True)
    try:
        locust_rc, chaos_rc = drive(settings, runtime, status.balancer, out)
    except subprocess.TimeoutExpired as exc:
        print(f"demo: {exc}", file=sys.stderr)
        locust_rc = chaos_rc = 1
    return conclude(runtime, status.balancer, out, locust_rc, chaos_rc)


def print_summary(
    summary: dict[str, Any], invariants: Sequence[dict[str, Any]], page: Path
) -> None:
    print("\n== demo summary ==")
    for key, value in summary.items():
        print(f"{key:<38} {value}")
    for inv in invariants:
        print(f"invariant: {inv['name']:<40} {'OK ' if inv['ok'] else 'BROKEN'}  {inv['detail']}")
    print(f"report: {page}  (timeline: {page.parent / 'timeline.png'})")
    print("RESULT:", "PASS" if summary["ok"] else "FAIL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo", description="Cluster up, load, chaos, verification, report, cluster down."
    )
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--duration", type=parse_seconds, default=60.0, help="e.g. 60s, 2m")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--seed", type=int, default=7, help="chaos target choice")
    # Added by the Docker runtime (issue 5): `make demo RUNTIME=docker` runs on containers.
    parser.add_argument(
        "--runtime",
        choices=("local", "docker", "auto"),
        default=None,
        help="local (default; or $RUNTIME)",
    )
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Ctrl-C, and SIGTERM or SIGINT from a script, all end in the same clean `down`.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = DemoSettings(args.nodes, args.users, args.spawn_rate, args.duration,
                            args.reports, args.seed)  # fmt: skip
    try:
        config = ClusterConfig.from_env()
    except SettingError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    runtime, reason = get_runtime(args.runtime or config.runtime or "local", config)
    print(reason, file=sys.stderr)
    out = settings.reports / time.strftime("%Y%m%d-%H%M%S")
    try:
        status = runtime.up(settings.nodes)  # cleans up after itself when it fails
    except ClusterError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        return run(settings, runtime, status, out)
    except ClusterError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130
    finally:
        stopped = runtime.down()
        print(f"demo: cluster down ({len(stopped)} processes stopped)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
