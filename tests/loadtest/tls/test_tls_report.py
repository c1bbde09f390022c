"""The pure parts of ``make tls``: response heads, percentiles, the tables."""

from __future__ import annotations

from loadtest.tls.client import parse_head
from loadtest.tls.measure import Cell, percentile
from loadtest.tls.report import handshake_table, lifetime_table, spread_line


def test_parse_head() -> None:
    status, headers = parse_head(b"HTTP/1.1 503 Service Unavailable\r\nX-Served-By: node-2\r\nA: b")
    assert status == 503 and headers == {"x-served-by": "node-2", "a": "b"}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0 and percentile([], 50) is None


def cell(version: str, mode: str, cpu_s: float, reused: int, served: dict[str, int]) -> Cell:
    made = Cell(version, mode, connections=10, requests=10, reused=reused, cpu_s=cpu_s)
    made.handshakes_s = [0.001] * 10 if mode != "keep-alive" else []
    made.served_by.update(served)
    return made


def test_tables() -> None:
    cells = [
        cell("1.2", "full", 0.01, 0, {"node-1": 5, "node-2": 5}).to_json(),
        cell("1.2", "resumed", 0.005, 10, {"node-1": 4, "node-2": 6}).to_json(),
        cell("1.2", "keep-alive", 0.001, 0, {"node-1": 10}).to_json(),
    ]
    table = handshake_table(cells)
    assert table[2] == "| 1.2 | full | 10 | 0 | 1.00 / 1.00 | 1000 | 900 |"
    assert table[3] == "| 1.2 | resumed | 10 | 10 | 1.00 / 1.00 | 500 | 400 |"
    assert table[4].startswith("| 1.2 | none (requests on one open connection) | 10 (10 requests)")
    assert spread_line(cells).endswith("node-1 4, node-2 6 (of 10)")
    offer = {"version": "1.3", "event": "balancer restarted", "before": True, "after": False}
    row = lifetime_table([{**offer, "control": True}])[2]
    assert row == "| 1.3 | balancer restarted | yes | **no** (full handshake) | yes |"
