"""The demo's pure parts: its chaos schedule, its summary, reading the balancer's metrics."""

from __future__ import annotations

from pathlib import Path

from loadtest.demo import DemoSettings, chaos_command, keep_balancer_log, metric, summarize

METRICS = """# HELP balancer_retry_budget_denied_total retries refused by the budget
balancer_retry_budget_denied_total 4.0
balancer_local_responses_total{code="504"} 2.0
"""


def test_the_default_schedule_fits_four_actions_into_the_load() -> None:
    settings = DemoSettings()
    last_recovered = settings.ramp + 2 + 4 * settings.chaos_interval + 6
    assert last_recovered < settings.duration
    command = chaos_command(settings, Path("/s"), Path("/e"))
    assert command[command.index("--signal") + 1] == "KILL,TERM,STOP,KILL"
    assert command[command.index("--min-alive") + 1] == "2"  # one node down at a time


def test_metric_reads_one_sample() -> None:
    assert metric(METRICS, "balancer_retry_budget_denied_total") == 4
    assert metric(METRICS, 'balancer_local_responses_total{code="504"}') == 2
    assert metric(METRICS, "balancer_absent_total") == 0
    assert metric("", "balancer_retry_budget_denied_total") == "?"


def test_summary_counts_chaos_actions_and_the_spread() -> None:
    backends = [{"name": "node-2", "requests": 3}, {"name": "node-1", "requests": 4}]
    lb = {"retries": 5, "backends": backends}
    events = [{"action": "kill"}, {"action": "restart"}, {"action": "kill"}]
    summary = summarize({"requests": 10, "failures": 0}, lb, events)
    assert summary["chaos"] == "2 kill, 1 restart"
    assert summary["requests per node"] == "node-1=4, node-2=3"
    assert summary["balancer retries"] == 5


def test_the_report_keeps_the_balancers_log_lines_only(tmp_path: Path) -> None:
    lines = [
        ("balancer.log", '{"msg": "backend ejected"}\n'),
        ("node-1.log", '{"msg": "request"}\n'),
        ("stateless-cluster_balancer_1", '{"msg": "backend state changed"}'),  # docker: no \n
        ("stateless-cluster_node_2", '{"msg": "request"}'),
    ]
    keep_balancer_log(lines, tmp_path / "balancer.log")
    assert (tmp_path / "balancer.log").read_text().splitlines() == [
        '{"msg": "backend ejected"}',
        '{"msg": "backend state changed"}',
    ]
