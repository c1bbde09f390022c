"""The paradox's figures, computed from hand-made samples (no processes, no network)."""

from __future__ import annotations

import pytest

from loadtest.paradox.options import parse_args
from loadtest.paradox.stats import (
    ModeResult,
    Sample,
    Window,
    best_run,
    cpu_cost,
    cpu_per_request,
    expected_status,
    percentile,
    recovery_seconds,
    render_table,
    table_rows,
    window,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    ("mode", "kind", "status"),
    [("none", "revoked", 200), ("cached", "revoked", 401), ("denylist", "valid", 200)],
)
def test_expected_status(mode: str, kind: str, status: int) -> None:
    assert expected_status(mode, kind) == status


def test_window_counts_valid_served_and_revoked_accepted() -> None:
    samples = [
        Sample(0.5, "valid", 200),
        Sample(1.0, "valid", 503),
        Sample(1.5, "revoked", 200),
        Sample(1.6, "revoked", 401),
        Sample(2.5, "valid", 200),  # outside
    ]
    w = window(samples, 0.0, 2.0)
    assert w == Window(valid=2, valid_ok=1, revoked=2, revoked_accepted=1)
    assert w.valid_ok_pct == 50.0
    assert w.revoked_accepted_pct == 50.0
    assert window([], 0, 1).valid_ok_pct is None


def test_recovery_waits_for_the_last_wrong_answer_and_for_readiness() -> None:
    samples = [Sample(5.0, "valid", 503), Sample(5.3, "valid", 503), Sample(5.4, "valid", 200)]
    assert recovery_seconds("denylist", samples, restart=5.0, end=9.0, ready=5.1) == pytest.approx(
        0.3
    )
    assert recovery_seconds("denylist", samples, 5.0, 9.0, ready=6.0) == pytest.approx(1.0)


def test_recovery_is_none_when_wrong_answers_last_or_nodes_never_get_ready() -> None:
    forgot = [Sample(t / 10, "revoked", 200) for t in range(50, 90)]  # accepted to the end
    assert recovery_seconds("denylist", forgot, 5.0, 9.0, ready=5.1) is None
    assert recovery_seconds("none", forgot, 5.0, 9.0, ready=5.1) == pytest.approx(0.1)
    assert recovery_seconds("cached", [], 5.0, 9.0, ready=None) is None


def result(mode: str, rps: list[float], **kw: object) -> ModeResult:
    r = ModeResult(mode, rps=rps, p50_ms=[1.0] * len(rps), p99_ms=[9.0] * len(rps))
    for key, value in kw.items():
        setattr(r, key, value)
    return r


def test_best_run_takes_the_fastest_round_with_its_latencies() -> None:
    r = ModeResult("cached", rps=[900, 1000, 950], p50_ms=[3, 2, 4], p99_ms=[30, 20, 40])
    assert best_run(r) == (1000, 2, 20)
    assert best_run(ModeResult("none")) is None


def test_cpu_cost_is_the_throughput_lost_at_equal_cpu_paired_by_round() -> None:
    none = result("none", [1000.0], node_cpu_us=[100.0, 90.0, 500.0], redis_cpu_us=[0.0] * 3)
    assert cpu_per_request(none) == 100.0  # the median resists one disturbed round
    # Round 3 was busy for both modes: the pairing keeps it from distorting the cost.
    denylist = result("denylist", [600.0], node_cpu_us=[120.0, 100.0, 700.0])
    denylist.redis_cpu_us = [30.0, 35.0, 50.0]
    assert cpu_cost(denylist, none) == pytest.approx(100 * (1 - 100 / 150))
    assert cpu_cost(denylist, None) is None
    assert cpu_cost(ModeResult("cached"), none) is None


def test_table_reports_cost_against_none_and_never_for_no_rejection() -> None:
    none = result("none", [1000.0], trials=3, never_rejected=3, recovery_s=0.1)
    none.node_cpu_us, none.redis_cpu_us = [600.0], [0.0]
    denylist = result("denylist", [600.0], trials=4, propagation_ms=[1.0, 2.0, 3.0, 4.0])
    denylist.node_cpu_us, denylist.redis_cpu_us = [800.0], [200.0]
    denylist.outage = Window(valid=10, valid_ok=0, revoked=10, revoked_accepted=0)
    rows = table_rows([none, denylist])
    assert rows[1][:5] == ["none", "never / never", "1000", "600", "baseline"]
    assert rows[2][:6] == ["denylist", "2.0 / 4.0", "600", "1000", "40.0%", "1.0 / 9.0"]
    assert rows[2][6:] == ["0%", "0%", "not recovered"]
    text = render_table(rows)
    assert text.count("\n") == 3  # header, rule, two rows
    assert all(line.startswith("| ") for line in text.splitlines())


def test_options_parse_and_reject_unknown_modes() -> None:
    opts = parse_args(["--modes", "none,cached", "--outage", "1,2,3", "--redis-ephemeral"])
    assert opts.modes == ("none", "cached")
    assert opts.outage == (1.0, 2.0, 3.0)
    assert opts.redis_aof is False
    with pytest.raises(SystemExit):
        parse_args(["--modes", "jwks"])
