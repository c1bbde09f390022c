"""The measuring loop of the benchmarks: interleaved wrk rounds, the server's CPU per request
(from ``/proc``, the process and its children), and the summary with ratios to HAProxy.

Interleaving spreads the noise of other work on the machine over every target alike; ratios
paired within one round are steadier than the ratio of medians.
"""

from __future__ import annotations

import argparse
import statistics

from cluster.runtime.pidstat import cpu_seconds_with_children as cpu_seconds
from loadtest.bench import wrk

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
