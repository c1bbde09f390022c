"""What ``make bench``'s summary shows of each benchmark's JSON report. Pure.

Each ``Section`` reads one report (the shape its benchmark writes) into a setup sentence, rows
of figures (every target of the same run side by side, spreads, ratios) and a headline; its
columns are header and format template pairs, a missing value shown as ``–``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loadtest.bench.scale.model import Point, bottleneck, efficiency, utilisation

Column = tuple[str, str]  # header, str.format template over the row's keys
Report = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    columns: list[Column]
    read: Callable[[Any], dict[str, Any]]  # report -> setup, rows, headline


def _rounds(report: Report) -> str:
    return (
        f"wrk -t1 -c{report['connections']}, {report['rounds']} interleaved round(s) of "
        f"{report['duration']:g} s per target; medians over rounds, min–max the spread"
    )


def read_node(report: Report) -> dict[str, Any]:
    rows = [
        {
            "target": name,
            **row,
            "cpu": row["server_cpu_us_per_request"],
            "ratio": row["rps_vs_hello"],
            "paired": row["rps_vs_hello_per_round_median"],
            "paired_min": row["rps_vs_hello_per_round_min"],
            "paired_max": row["rps_vs_hello_per_round_max"],
        }
        for name, row in report["summary"].items()
    ]
    log = report["access_log"]
    whoami = report["summary"]["node /whoami"]
    return {
        "setup": f"{_rounds(report)}; node LOG_LEVEL={report['log_level']}, REVOCATION=none; "
        f"access log: {log['lines']} lines for {log['counted']} GET /whoami counted in /metrics",
        "rows": rows,
        "headline": f"node GET /whoami: {whoami['rps_vs_hello_per_round_median']:.2f}× the bare "
        f"aiohttp handler's req/s, paired per round (min {whoami['rps_vs_hello_per_round_min']:.2f}"
        f", max {whoami['rps_vs_hello_per_round_max']:.2f})",
    }


def read_balancer(report: Report) -> dict[str, Any]:
    rows = [
        {
            "target": name,
            **row,
            "cpu": row["proxy_cpu_us_per_request"] if name != "direct" else None,
            "paired": row["rps_vs_haproxy_per_round_median"],
            "paired_min": row["rps_vs_haproxy_per_round_min"],
            "paired_max": row["rps_vs_haproxy_per_round_max"],
        }
        for name, row in report["summary"].items()
    ]
    ours = report["summary"]["balancer"]
    met = ours["rps_vs_haproxy"] >= 0.8 and ours["p99_vs_haproxy"] <= 1.5
    return {
        "setup": f"3 backends ({report['backends']}); {_rounds(report)}",
        "rows": rows,
        "headline": f"this balancer: {ours['rps_vs_haproxy_per_round_median']:.2f}× HAProxy's "
        f"req/s paired per round (min {ours['rps_vs_haproxy_per_round_min']:.2f}, max "
        f"{ours['rps_vs_haproxy_per_round_max']:.2f}), p99 {ours['p99_vs_haproxy']:.2f}× "
        f"HAProxy's; target (≥ 0.8× req/s, p99 ≤ 1.5×) {'met' if met else 'NOT met'}",
    }


def _points(report: Report) -> list[Point]:
    return [
        Point(**{**p, "statuses": {int(k): v for k, v in p["statuses"].items()}})
        for p in report["points"]
    ]


def read_scale(report: Report) -> dict[str, Any]:
    points, quota, cores = _points(report), report["quota"], report["cores"]
    lanes = sorted({p.lane for p in points})
    rows = []
    for lane in lanes:
        for n in sorted({p.nodes for p in points if p.lane == lane}):
            row: dict[str, Any] = {"lane": "GET /whoami" if lane == "get" else "keyed POST"}
            row["nodes"] = n
            for p in points:
                if p.lane == lane and p.nodes == n:
                    row[f"{p.front}_rps"] = p.rps
                    row[f"{p.front}_p99"] = p.p99_ms
                    share = efficiency(points, p.front, lane, n)
                    row[f"{p.front}_efficiency_pct"] = None if share is None else share * 100
                    row[f"{p.front}_neck"] = bottleneck(p, quota, cores)
                    row[f"{p.front}_machine_pct"] = utilisation(p, quota, cores)["machine"] * 100
            if row.get("haproxy_rps"):
                row["ratio"] = row.get("balancer_rps", 0.0) / row["haproxy_rps"]
            rows.append(row)
    top = max((p.nodes for p in points), default=1)
    eff = {f: efficiency(points, f, "get", top) for f in ("balancer", "haproxy")}
    shown = {f: "n/a" if e is None else f"{e * 100:.0f} %" for f, e in eff.items()}
    limit = f"{quota:g} CPU per node (cgroup quota)" if quota else "no CPU quota per node"
    return {
        "setup": f"{limit}; wrk -t1 -c{report['connections']}, one closed-loop run of "
        f"{report['duration']:g} s per point after a warm-up (no rounds: one figure per point, "
        "no spread); efficiency X(N) / (N·X(1))",
        "rows": rows,
        "headline": f"efficiency 1→{top} nodes, GET /whoami: this balancer {shown['balancer']}, "
        f"HAProxy {shown['haproxy']}",
    }


def read_overload(report: Any) -> dict[str, Any]:
    by_rate: dict[float, dict[str, Any]] = {}
    for step in report:
        row = by_rate.setdefault(step["offered_per_s"], {"offered": step["offered_per_s"]})
        for key in ("served_per_s", "p95_ms", "shed", "failed"):
            row[f"{step['target']}_{key}"] = step[key]
        row["seconds"] = step["seconds"]
    rows = [by_rate[rate] for rate in sorted(by_rate)]
    for row in rows:
        if row.get("haproxy_served_per_s"):
            row["ratio"] = row.get("balancer_served_per_s", 0.0) / row["haproxy_served_per_s"]
    top = rows[-1]
    failed = sum(r.get("balancer_failed", 0) for r in rows)
    return {
        "setup": f"3 nodes (scrypt logins); open loop, {top['seconds']:g} s per offered rate, "
        "the targets interleaved per rate; one step per rate (no spread)",
        "rows": rows,
        "headline": f"at {top['offered']:g} logins/s offered: this balancer served "
        f"{top.get('balancer_served_per_s', 0.0):.1f}/s, HAProxy "
        f"{top.get('haproxy_served_per_s', float('nan')):.1f}/s; this balancer failed {failed} "
        "login(s) over every rate (shed ones may be retried)",
    }


_WRK = [
    ("target", "{target}"),
    ("req/s", "{rps:.0f}"),
    ("min–max", "{rps_min:.0f}–{rps_max:.0f}"),
    ("p50 ms", "{p50_ms:.2f}"),
    ("p99 ms", "{p99_ms:.2f}"),
]
_PAIRED = "{paired:.2f} ({paired_min:.2f}–{paired_max:.2f})"

SECTIONS: dict[str, Section] = {
    "node": Section(
        "node: one node next to a bare aiohttp handler (`make bench-node`)",
        [
            *_WRK,
            ("server CPU µs/req", "{cpu:.1f}"),
            ("× bare req/s", "{ratio:.2f}"),
            ("× bare paired per round (min–max)", _PAIRED),
            ("errors", "{errors:.0f}"),
        ],
        read_node,
    ),
    "balancer": Section(
        "balancer: this balancer vs HAProxy, nginx, direct (`make bench-balancer`)",
        [
            *_WRK,
            ("× HAProxy req/s", "{rps_vs_haproxy:.2f}"),
            ("× HAProxy paired per round (min–max)", _PAIRED),
            ("p99 × HAProxy", "{p99_vs_haproxy:.2f}"),
            ("proxy CPU µs/req", "{cpu:.1f}"),
            ("errors", "{errors:.0f}"),
        ],
        read_balancer,
    ),
    "scale": Section(
        "scale: throughput at 1…N CPU-limited nodes (`make bench-scale`)",
        [
            ("load", "{lane}"),
            ("nodes", "{nodes}"),
            ("balancer req/s", "{balancer_rps:.0f}"),
            ("HAProxy req/s", "{haproxy_rps:.0f}"),
            ("× HAProxy", "{ratio:.2f}"),
            (
                "efficiency balancer / HAProxy",
                "{balancer_efficiency_pct:.0f} / {haproxy_efficiency_pct:.0f} %",
            ),
            ("p99 ms balancer / HAProxy", "{balancer_p99:.1f} / {haproxy_p99:.1f}"),
            ("bottleneck balancer / HAProxy", "{balancer_neck} / {haproxy_neck}"),
            (
                "machine busy balancer / HAProxy run",
                "{balancer_machine_pct:.0f} / {haproxy_machine_pct:.0f} %",
            ),
        ],
        read_scale,
    ),
    "overload": Section(
        "overload: logins offered vs served (`make bench-overload`)",
        [
            ("offered/s", "{offered:g}"),
            ("balancer served/s", "{balancer_served_per_s:.1f}"),
            ("HAProxy served/s", "{haproxy_served_per_s:.1f}"),
            ("× HAProxy", "{ratio:.2f}"),
            ("p95 ms balancer / HAProxy", "{balancer_p95_ms:.0f} / {haproxy_p95_ms:.0f}"),
            ("shed balancer / HAProxy", "{balancer_shed} / {haproxy_shed}"),
            ("failed balancer / HAProxy", "{balancer_failed} / {haproxy_failed}"),
        ],
        read_overload,
    ),
}
