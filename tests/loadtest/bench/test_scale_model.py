"""bench-scale's figures from measurements: efficiency, the bottleneck, the table (no process)."""

from __future__ import annotations

from loadtest.bench.cgroup import unavailable
from loadtest.bench.scale.model import Point, bottleneck, efficiency, table, utilisation


def point(front: str, nodes: int, rps: float, cpu: dict[str, float], lane: str = "get") -> Point:
    statuses = {200 if lane == "get" else 201: int(rps * 10)}
    return Point(front, lane, nodes, rps, 5.0, 20.0, 0, 10.0, cpu, statuses)


POINTS = [
    point("balancer", 1, 1000, {"nodes": 2.0, "front": 1.0, "redis": 0.0, "wrk": 0.5}),
    point("balancer", 2, 1900, {"nodes": 4.0, "front": 2.0, "redis": 0.0, "wrk": 1.0}),
    point("balancer", 4, 3000, {"nodes": 6.0, "front": 9.5, "redis": 0.0, "wrk": 2.0}),
    point("haproxy", 1, 1000, {"nodes": 2.0, "front": 0.5, "redis": 0.0, "wrk": 0.5}),
]


def test_efficiency_is_x_n_over_n_x_1() -> None:
    assert efficiency(POINTS, "balancer", "get", 1) == 1.0
    assert efficiency(POINTS, "balancer", "get", 2) == 0.95
    assert efficiency(POINTS, "balancer", "get", 4) == 0.75
    assert efficiency(POINTS, "haproxy", "get", 4) is None  # not measured
    assert efficiency(POINTS, "balancer", "post", 1) is None


def test_the_bottleneck_is_the_part_nearest_its_ceiling() -> None:
    one, _, four = POINTS[:3]
    # 1 node at 0.2 CPU: 2 CPU s in 10 s = 0.2 cores = 100 % of its quota.
    assert utilisation(one, 0.2, 2)["nodes"] == 1.0
    assert bottleneck(one, 0.2, 2) == "nodes 100 %"
    # 4 nodes used 0.6 of their 0.8 cores while the balancer's loop was at 95 %.
    assert bottleneck(four, 0.2, 2) == "front 95 %"
    # Without quotas the nodes' ceiling is the machine's cores.
    assert utilisation(one, None, 2)["nodes"] == 0.1


def test_the_table_has_a_row_per_point_and_names_wrong_answers() -> None:
    rows = table(
        [*POINTS, Point("haproxy", "post", 1, 90, 1, 2, 5, 10.0, {}, {201: 900, 409: 5})],
        0.2,
        2,
    )
    assert len(rows) == 2 + 5
    assert "| balancer | GET /whoami | 4 | 3000 |" in rows[4] and "75 %" in rows[4]
    assert "409 × 5" in rows[-1]


def test_cgroup_reason_or_none() -> None:
    reason = unavailable()
    assert reason is None or "cgroup" in reason or "writable" in reason
