"""chaos-kill's decisions: which node, which signal, when the schedule is over."""

from __future__ import annotations

import random
import re

import pytest

from cluster.chaos.plan import (
    choose_target,
    finished,
    parse_seconds,
    parse_signals,
    signal_for,
)
from cluster.runtime.base import NodeInfo, NodeState


def nodes(*states: NodeState) -> list[NodeInfo]:
    return [
        NodeInfo(f"node-{i}", f"http://127.0.0.1:{8080 + i}", 100 + i, None, state)
        for i, state in enumerate(states, start=1)
    ]


RUN = NodeState.RUNNING


def test_the_choice_is_seeded() -> None:
    cluster = nodes(RUN, RUN, RUN, RUN)
    first = [choose_target(cluster, random.Random(42), min_alive=1).target for _ in range(5)]
    again = [choose_target(cluster, random.Random(42), min_alive=1).target for _ in range(5)]
    assert first == again


def test_every_live_node_can_be_chosen() -> None:
    rng = random.Random(1)
    chosen = {choose_target(nodes(RUN, RUN, RUN), rng, min_alive=1).target for _ in range(100)}
    assert chosen == {"node-1", "node-2", "node-3"}


def test_only_running_untouched_nodes_are_candidates() -> None:
    cluster = nodes(RUN, NodeState.PAUSED, NodeState.STOPPED, RUN)
    rng = random.Random(3)
    picks = {choose_target(cluster, rng, min_alive=0, busy={"node-4"}).target for _ in range(50)}
    assert picks == {"node-1"}


def test_min_alive_is_never_crossed() -> None:
    choice = choose_target(nodes(RUN, RUN, NodeState.STOPPED), random.Random(0), min_alive=2)
    assert choice.target is None
    assert "--min-alive 2" in choice.reason
    assert choose_target(nodes(RUN, RUN, RUN), random.Random(0), min_alive=2).target is not None


def test_a_draining_node_does_not_count_as_alive() -> None:
    # node-1 got SIGTERM and still runs while it drains: acting on node-2 would leave one.
    choice = choose_target(nodes(RUN, RUN), random.Random(0), min_alive=1, busy={"node-1"})
    assert choice.target is None


def test_target_regex_filters_names() -> None:
    cluster = nodes(RUN, RUN, RUN)
    rng = random.Random(5)
    pattern = re.compile(r"-[23]$")
    picks = {choose_target(cluster, rng, min_alive=0, pattern=pattern).target for _ in range(50)}
    assert picks == {"node-2", "node-3"}
    none = choose_target(cluster, rng, min_alive=0, pattern=re.compile("db"))
    assert none.target is None and "--target 'db'" in none.reason


def test_signals_rotate() -> None:
    signals = parse_signals("kill, SIGTERM,STOP")
    assert signals == ("KILL", "TERM", "STOP")
    assert [signal_for(signals, n) for n in range(4)] == ["KILL", "TERM", "STOP", "KILL"]


@pytest.mark.parametrize("bad", ["HUP", "KILL,", ""])
def test_unknown_signals_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="--signal"):
        parse_signals(bad)


@pytest.mark.parametrize(("text", "seconds"), [("5", 5.0), ("90s", 90.0), ("1.5m", 90.0)])
def test_parse_seconds(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


def test_schedule_ends_by_count_or_duration() -> None:
    assert not finished(2, 100.0, count=3, duration=None)
    assert finished(3, 0.0, count=3, duration=None)
    assert not finished(50, 9.9, count=None, duration=10.0)
    assert finished(0, 10.0, count=None, duration=10.0)
