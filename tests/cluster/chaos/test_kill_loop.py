"""chaos-kill's loop against an in-memory runtime: what it signals, restarts and thaws."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from cluster.chaos.kill import Chaos, ChaosSettings, EventLog
from cluster.config import ClusterConfig
from cluster.runtime.base import ClusterStatus, NodeInfo, NodeState, Runtime


class FakeRuntime(Runtime):
    """Nodes as dictionary entries; signals change their state like the kernel would."""

    name = "fake"

    def __init__(self, nodes: int = 3, interrupt_after: int | None = None) -> None:
        super().__init__(ClusterConfig())
        self.states = {f"node-{i}": NodeState.RUNNING for i in range(1, nodes + 1)}
        self.calls: list[tuple[str, str]] = []
        self.interrupt_after = interrupt_after

    def status(self) -> ClusterStatus:
        nodes = tuple(
            NodeInfo(name, f"http://x/{name}", 1, None, state)
            for name, state in self.states.items()
        )
        return ClusterStatus("fake", "http://x", "redis://x", nodes)

    def signal(self, node: str, signal: str) -> None:
        self.calls.append((signal, node))
        effect = {"KILL": NodeState.STOPPED, "TERM": NodeState.STOPPED,
                  "STOP": NodeState.PAUSED, "CONT": NodeState.RUNNING}  # fmt: skip
        self.states[node] = effect[signal]
        if self.interrupt_after is not None and len(self.calls) >= self.interrupt_after:
            self.interrupt_after = None
            raise KeyboardInterrupt

    def restart(self, node: str, *, wait: bool = True) -> NodeInfo:
        self.calls.append(("restart", node))
        self.states[node] = NodeState.RUNNING
        return self.status().nodes[0]

    def up(self, nodes: int) -> ClusterStatus:
        raise NotImplementedError

    def down(self) -> list[str]:
        raise NotImplementedError

    def rolling_restart(self) -> None:
        raise NotImplementedError

    def scale(self, nodes: int) -> ClusterStatus:
        raise NotImplementedError

    def balancer_status(self) -> dict[str, Any]:
        raise NotImplementedError


def run(runtime: FakeRuntime, **settings: Any) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    base: dict[str, Any] = {"interval": 0.05, "seed": 1, "pause_for": 0.05}
    code = Chaos(runtime, ChaosSettings(**{**base, **settings}), EventLog(None, out, "fake")).run()
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_kill_then_restart_through_the_runtime() -> None:
    runtime = FakeRuntime()
    code, events = run(runtime, count=2, signals=("KILL",), restart_after=0.05)
    assert code == 0
    kills = [e for e in events if e["action"] == "kill"]
    assert len(kills) == 2
    assert all({"ts", "action", "target", "signal"} <= set(e) for e in events)
    assert [c for c in runtime.calls if c[0] == "restart"] == [
        ("restart", k["target"]) for k in kills
    ]
    assert set(runtime.states.values()) == {NodeState.RUNNING}


def test_stop_is_always_followed_by_cont() -> None:
    runtime = FakeRuntime()
    _, events = run(runtime, count=3, signals=("STOP",), min_alive=0)
    stops = [e["target"] for e in events if e["action"] == "stop"]
    conts = [e["target"] for e in events if e["action"] == "cont"]
    assert stops and sorted(stops) == sorted(conts)
    assert set(runtime.states.values()) == {NodeState.RUNNING}


def test_min_alive_turns_attempts_into_skips() -> None:
    runtime = FakeRuntime(nodes=2)
    _, events = run(runtime, count=3, signals=("KILL",), min_alive=1)
    assert [e["action"] for e in events] == ["kill", "skip", "skip"]
    assert list(runtime.states.values()).count(NodeState.RUNNING) == 1


def test_signal_rotation_advances_only_on_actions() -> None:
    runtime = FakeRuntime()
    _, events = run(runtime, count=3, signals=("KILL", "TERM", "STOP"), restart_after=0.01,
                    interval=0.3)  # fmt: skip
    assert [e["signal"] for e in events if e["action"] in ("kill", "term", "stop")] == [
        "KILL", "TERM", "STOP",
    ]  # fmt: skip


def test_dry_run_touches_nothing() -> None:
    runtime = FakeRuntime()
    _, events = run(runtime, count=2, signals=("KILL",), dry_run=True)
    assert runtime.calls == []
    assert all(e["dry_run"] for e in events)


@pytest.mark.parametrize("signal", ["STOP", "KILL"])
def test_interrupt_leaves_no_node_stopped(signal: str) -> None:
    # Ctrl-C arrives right after the second action, long before CONT or restart were due.
    runtime = FakeRuntime(interrupt_after=2)
    code, _ = run(runtime, count=5, signals=(signal,), min_alive=0, pause_for=60,
                  restart_after=60)  # fmt: skip
    assert code == 130
    assert set(runtime.states.values()) == {NodeState.RUNNING}


class DrainingRuntime(FakeRuntime):
    """A TERMed node keeps running for ``drain`` seconds, then exits, like a real node."""

    def __init__(self, drain: float) -> None:
        super().__init__()
        self.drain = drain
        self.exits: dict[str, float] = {}
        self.restarted_at: dict[str, float] = {}

    def status(self) -> ClusterStatus:
        now = time.monotonic()
        for node, at in self.exits.items():
            if now >= at and node not in self.restarted_at:
                self.states[node] = NodeState.STOPPED
        return super().status()

    def signal(self, node: str, signal: str) -> None:
        super().signal(node, signal)
        if signal == "TERM":
            self.states[node] = NodeState.RUNNING  # draining: still serving
            self.exits[node] = time.monotonic() + self.drain

    def restart(self, node: str, *, wait: bool = True) -> NodeInfo:
        self.restarted_at[node] = time.monotonic()
        return super().restart(node, wait=wait)


def test_a_termed_node_is_restarted_only_after_it_drained_and_exited() -> None:
    # Restarting sooner would signal it a second time and cut its drain short.
    runtime = DrainingRuntime(drain=0.4)
    code, events = run(runtime, count=1, signals=("TERM",), restart_after=0.05)
    assert code == 0
    (term,) = [e["target"] for e in events if e["action"] == "term"]
    assert runtime.restarted_at[term] >= runtime.exits[term]
    assert [c for c in runtime.calls if c[1] == term] == [("TERM", term), ("restart", term)]
