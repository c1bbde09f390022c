"""``make bench``'s summary from small reports shaped like each benchmark's JSON (no process)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from loadtest.bench.summary import NOISY, cell, clean, markdown, part, summarise


def wrk_row(rps: float, ratio: float, paired: tuple[float, float, float]) -> dict[str, float]:
    return {
        "rps": rps, "rps_min": rps * 0.9, "rps_max": rps * 1.1, "p50_ms": 2.0, "p99_ms": 8.0,
        "errors": 0, "ratio": ratio, "median": paired[0], "min": paired[1], "max": paired[2],
    }  # fmt: skip


def node_report() -> dict[str, Any]:
    summary = {}
    for name, rps, paired in (
        ("aiohttp hello", 16000.0, (1.0, 1.0, 1.0)),
        ("node /healthz", 11000.0, (0.69, 0.66, 0.70)),
        ("node /whoami", 10000.0, (0.63, 0.61, 0.65)),
    ):
        row = wrk_row(rps, rps / 16000, paired)
        summary[name] = {
            **{k: row[k] for k in ("rps", "rps_min", "rps_max", "p50_ms", "p99_ms", "errors")},
            "server_cpu_us_per_request": 90.0,
            "rps_vs_hello": row["ratio"],
            "rps_vs_hello_per_round_median": row["median"],
            "rps_vs_hello_per_round_min": row["min"],
            "rps_vs_hello_per_round_max": row["max"],
        }
    return {
        "connections": 32, "duration": 10.0, "rounds": 3, "log_level": "INFO",
        "access_log": {"lines": 1000, "counted": 1000}, "summary": summary,
    }  # fmt: skip


def balancer_report(ours: float = 0.81, p99: float = 0.84) -> dict[str, Any]:
    summary = {}
    for name, rps, ratio in (
        ("direct", 6500.0, 1.19), ("balancer", 4400.0, ours), ("haproxy", 5460.0, 1.0),
        ("nginx", 5800.0, 1.07),
    ):  # fmt: skip
        summary[name] = {
            "rps": rps, "rps_min": rps - 100, "rps_max": rps + 100, "p50_ms": 5.0,
            "p99_ms": 14.0, "errors": 0, "proxy_cpu_us_per_request": 0.0 if name == "direct"
            else 100.0, "rps_vs_haproxy": ratio, "p99_vs_haproxy": p99 if name == "balancer"
            else 1.0, "rps_vs_haproxy_per_round_median": ratio,
            "rps_vs_haproxy_per_round_min": ratio - 0.1, "rps_vs_haproxy_per_round_max": ratio,
        }  # fmt: skip
    return {"backends": "nodes", "connections": 32, "duration": 10.0, "rounds": 3,
            "summary": summary}  # fmt: skip


def scale_point(front: str, nodes: int, rps: float) -> dict[str, Any]:
    # as ``dataclasses.asdict(Point)`` goes through JSON: the status codes are strings
    return {
        "front": front, "lane": "get", "nodes": nodes, "rps": rps, "p50_ms": 30.0,
        "p99_ms": 90.0, "errors": 0, "seconds": 8.0,
        "cpu": {"nodes": 1.2 * nodes, "front": 2.0, "redis": 0.1, "wrk": 1.0, "all": 6.0},
        "statuses": {"200": int(rps * 8)},
    }  # fmt: skip


def scale_report() -> dict[str, Any]:
    points = [scale_point(f, n, rps * n) for f, rps in (("balancer", 800), ("haproxy", 900))
              for n in (1, 2)]  # fmt: skip
    points[1]["rps"] = 1440.0  # balancer at 2 nodes: 90 % efficiency
    return {"quota": 0.15, "cores": 2, "connections": 64, "duration": 8.0, "points": points}


def overload_report() -> list[dict[str, Any]]:
    def step(target: str, rate: float, served: float, shed: int, p95: float) -> dict[str, Any]:
        return {"target": target, "offered_per_s": rate, "seconds": 8.0, "shed": shed,
                "served_per_s": served, "failed": 0, "p50_ms": p95 / 2, "p95_ms": p95,
                "p99_ms": p95}  # fmt: skip

    return [
        step("balancer", 10, 10.0, 0, 60.0), step("haproxy", 10, 10.0, 0, 62.0),
        step("balancer", 100, 45.0, 400, 300.0), step("haproxy", 100, 44.0, 380, math.nan),
    ]  # fmt: skip


MACHINE = {
    "cpu_count": 2, "seconds": 100.0, "loadavg_before": [1.2, 1.0, 0.9],
    "loadavg_after": [2.4, 1.5, 1.0], "busy_share": 0.8, "busy_share_max_1s": 0.97,
    "own_share": 0.7, "other_share": 0.1,
}  # fmt: skip


def run(name: str, report: Any, code: int = 0, **machine: float) -> dict[str, Any]:
    return {"name": name, "command": f"python -m loadtest.bench.{name}", "exit_code": code,
            "machine": {**MACHINE, **machine}, "report": report,
            "stderr_tail": ["Traceback (most recent call last):",
                            "WrkError: wrk failed"]}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "report", "first_row", "headline"),
    [
        ("node", node_report(), {"target": "aiohttp hello", "rps": 16000.0, "cpu": 90.0},
         "node GET /whoami: 0.63× the bare aiohttp handler's req/s, paired per round "
         "(min 0.61, max 0.65)"),
        ("balancer", balancer_report(), {"target": "direct", "cpu": None, "paired": 1.19},
         "target (≥ 0.8× req/s, p99 ≤ 1.5×) met"),
        ("scale", scale_report(), {"nodes": 1, "balancer_rps": 800.0, "haproxy_rps": 900.0},
         "efficiency 1→2 nodes, GET /whoami: this balancer 90 %, HAProxy 100 %"),
        ("overload", overload_report(), {"offered": 10, "balancer_served_per_s": 10.0,
                                         "ratio": 1.0},
         "at 100 logins/s offered: this balancer served 45.0/s, HAProxy 44.0/s"),
    ],
)  # fmt: skip
def test_each_report_becomes_rows_and_a_headline(
    name: str, report: Any, first_row: dict[str, Any], headline: str
) -> None:
    summary = part(run(name, report))
    assert summary["status"] == "ok" and summary["reason"] is None
    assert first_row.items() <= summary["rows"][0].items()
    assert headline in summary["headline"]


def test_the_peers_sit_in_one_row_with_their_ratio() -> None:
    rows = part(run("scale", scale_report()))["rows"]
    assert rows[1]["ratio"] == pytest.approx(1440 / 1800)
    assert rows[1]["balancer_efficiency_pct"] == pytest.approx(90.0)
    assert rows[1]["haproxy_neck"].startswith("nodes")
    overload = part(run("overload", overload_report()))["rows"]
    assert overload[1]["haproxy_p95_ms"] is None  # NaN (no login served) is not JSON


def test_a_missed_balancer_target_says_so() -> None:
    assert "NOT met" in part(run("balancer", balancer_report(ours=0.7)))["headline"]
    assert "NOT met" in part(run("balancer", balancer_report(p99=1.6)))["headline"]


@pytest.mark.parametrize(
    ("code", "report", "reason"),
    [
        (1, None, "exit code 1; no report written"),
        (0, None, "no report written"),
        (1, overload_report(), "exit code 1"),  # overload: the balancer failed logins
        (0, {"quota": 0.15}, "report not understood: KeyError"),
    ],
)
def test_a_failed_part_says_why(code: int, report: Any, reason: str) -> None:
    summary = part(run("overload" if isinstance(report, list) else "scale", report, code))
    assert summary["status"] == "failed"
    assert summary["reason"].startswith(reason)
    assert summary["stderr_tail"][-1] == "WrkError: wrk failed"


@pytest.mark.parametrize(
    ("other", "noisy"), [(0.0, False), (NOISY, False), (NOISY + 0.01, True)]
)  # fmt: skip
def test_a_run_with_other_work_is_flagged_noisy(other: float, noisy: bool) -> None:
    assert part(run("node", node_report(), other_share=other))["noisy"] is noisy


@pytest.mark.parametrize(
    ("template", "row", "shown"),
    [
        ("{rps:.0f}", {"rps": 1234.5}, "1234"),
        ("{a:.0f}–{b:.0f}", {"a": 1.0, "b": 2.0}, "1–2"),
        ("{cpu:.1f}", {"cpu": None}, "–"),
        ("{haproxy_rps:.0f}", {}, "–"),
    ],
)
def test_a_missing_value_is_a_dash(template: str, row: dict[str, Any], shown: str) -> None:
    assert cell(template, row) == shown


def test_clean_replaces_nan_everywhere() -> None:
    assert clean({"a": [math.nan, 1.0], "b": {"c": math.inf}}) == {
        "a": [None, 1.0],
        "b": {"c": None},
    }


def test_the_whole_summary_is_json_and_markdown() -> None:
    runs = [
        run("node", node_report()), run("balancer", balancer_report()),
        run("scale", scale_report()), run("overload", overload_report(), other_share=0.4),
        run("scale", None, 1),
    ]  # fmt: skip
    summary = summarise(runs, started="2026-12-02 06:00 UTC", quick=True)
    assert summary["ok"] is False and summary["cpu_count"] == 2
    json.dumps(summary, allow_nan=False)  # raises on NaN
    page = markdown(summary)
    assert "failed: scale" in page and "Quick settings" in page
    assert "| node | ok | 100 | 1.20 → 2.40 | 80 % | 97 % | 70 % | 10 % |" in page
    assert "| overload | ok (noisy) |" in page
    assert "**FAILED**: exit code 1; no report written." in page
    assert (
        "| node /whoami | 10000 | 9000–11000 | 2.00 | 8.00 | 90.0 | 0.62 | 0.63 (0.61–0.65) | 0 |"
        in page
    )
    assert "| balancer | 4400 | 4300–4500 |" in page and "| nginx | 5800 |" in page
    assert "| GET /whoami | 2 | 1440 | 1800 | 0.80 | 90 / 100 % |" in page
    assert "| 100 | 45.0 | 44.0 | 1.02 | 300 / – | 400 / 380 | 0 / 0 |" in page
    assert summarise(runs[:2], started="x", quick=False)["ok"] is True
