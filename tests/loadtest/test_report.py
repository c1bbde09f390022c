"""The report builder on a small synthetic run (no cluster, no Locust)."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.report import build, node_spread, read_history

HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)


def history(path: Path) -> Path:
    rows = [HEADER]
    for t in range(10):
        p95 = "N/A" if t == 0 else str(20 + t)
        rows.append(
            f"{1000 + t},5,GET,/whoami,{t}.0,0.0" + f",{p95}" * 11 + f",{t * 3},0,1,1,1,1,1"
        )
        rows.append(
            f"{1000 + t},5,,Aggregated,{t * 2}.0,0.0" + f",{p95}" * 11 + f",{t * 9},0,1,1,1,1,1"
        )
    path.write_text("\n".join(rows) + "\n")
    return path


def test_history_keeps_the_aggregated_rows(tmp_path: Path) -> None:
    samples = read_history(history(tmp_path / "h.csv"))
    assert len(samples) == 10
    assert samples[0].p95 is None and samples[3].p95 == 23.0
    assert [s.rps for s in samples[:3]] == [0.0, 2.0, 4.0]


def test_node_spread_reads_the_balancer_counters() -> None:
    lb = {"backends": [{"name": "node-1", "requests": 7}, {"name": "node-2", "requests": 9}]}
    assert node_spread(lb) == {"node-1": 7, "node-2": 9}


def test_build_writes_a_png_and_a_self_contained_page(tmp_path: Path) -> None:
    events = tmp_path / "chaos.jsonl"
    events.write_text(
        json.dumps({"ts": 1003.5, "action": "kill", "target": "node-2", "signal": "KILL"}) + "\n"
        + json.dumps({"ts": 1005.0, "action": "restart", "target": "node-2", "signal": None}) + "\n"
    )  # fmt: skip
    lb = {"backends": [{"name": "node-1", "requests": 40}, {"name": "node-2", "requests": 41}]}
    invariants = [{"name": "no lost update", "ok": True, "detail": "fine"}]
    page = build(tmp_path, history(tmp_path / "h.csv"), events, lb, {"ok": True}, invariants)
    png = (tmp_path / "timeline.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    text = page.read_text()
    assert "data:image/png;base64," in text and "PASS" in text
    assert "node-2" in text and "<td>3.5</td>" in text  # the kill, 3.5 s after the load began
