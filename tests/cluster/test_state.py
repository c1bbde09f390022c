"""The local runtime's pure state handling: the state file, process identity, readiness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster.runtime.base import NodeState
from cluster.runtime.pidstat import ProcStat
from cluster.runtime.state import (
    LocalState,
    ProcRecord,
    StateError,
    all_backends_up,
    backends,
    classify,
    load_state,
    next_node_index,
    save_state,
)


def record(name: str = "node-1", port: int = 8081, pid: int = 4242) -> ProcRecord:
    role = "node" if name.startswith("node") else name
    return ProcRecord(role, name, port, pid, 987654, f"/logs/{name}.log")


def state(*nodes: ProcRecord) -> LocalState:
    return LocalState(
        host="127.0.0.1",
        secret_file="/run/secret",
        redis=record("redis", 6390, 10),
        balancer=record("balancer", 8080, 11),
        nodes=nodes,
        admin_port=9901,
    )


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        (("S", 987654), NodeState.RUNNING),
        (("R", 987654), NodeState.RUNNING),
        (("T", 987654), NodeState.PAUSED),
        (("t", 987654), NodeState.PAUSED),
        (("Z", 987654), NodeState.STOPPED),
        (None, NodeState.STOPPED),
        # Same pid, another start time: the kernel reused the pid for a stranger.
        (("S", 111), NodeState.STOPPED),
    ],
)
def test_classify(stat: tuple[str, int] | None, expected: NodeState) -> None:
    proc = ProcStat(stat[0], 1, 0, 0, stat[1]) if stat else None
    assert classify(record(), proc) is expected


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    original = state(record("node-1", 8081), record("node-2", 8082))
    save_state(path, original)
    assert load_state(path) == original
    assert not path.with_suffix(".tmp").exists()
    older = {k: v for k, v in original.to_json().items() if k != "admin_port"}
    assert LocalState.from_json(older).admin_port is None  # a state from before the admin port


def test_no_state_file_means_no_cluster(tmp_path: Path) -> None:
    assert load_state(tmp_path / "state.json") is None


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"version": 99, "runtime": "local"}', '{"version": 1, "runtime": "local"}'],
)
def test_a_broken_state_file_is_reported(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(StateError):
        load_state(path)


def test_down_order_is_balancer_then_nodes_then_redis() -> None:
    roles = [p.role for p in state(record("node-1")).processes()]
    assert roles == ["balancer", "node", "redis"]


def test_with_node_replaces_by_name_and_appends_new_ones() -> None:
    before = state(record("node-1", 8081, 100), record("node-2", 8082, 200))
    replaced = before.with_node(record("node-1", 8081, 300))
    assert [(n.name, n.pid) for n in replaced.nodes] == [("node-1", 300), ("node-2", 200)]
    grown = replaced.with_node(record("node-3", 8083, 400))
    assert [n.name for n in grown.nodes] == ["node-1", "node-2", "node-3"]
    assert [n.name for n in grown.without_node("node-2").nodes] == ["node-1", "node-3"]


def test_next_node_index_fills_gaps() -> None:
    assert next_node_index(state()) == 1
    assert next_node_index(state(record("node-1"), record("node-3", 8083))) == 2


def test_backends_lists_every_node_url() -> None:
    s = state(record("node-1", 8081), record("node-2", 8082))
    assert backends(s) == "http://127.0.0.1:8081,http://127.0.0.1:8082"


def test_all_backends_up_needs_every_url_up() -> None:
    lb = json.loads(
        '{"backends": [{"url": "http://127.0.0.1:8081", "state": "up"},'
        ' {"url": "http://127.0.0.1:8082/", "state": "draining"}]}'
    )
    assert all_backends_up(lb, {"http://127.0.0.1:8081"})
    assert not all_backends_up(lb, {"http://127.0.0.1:8081", "http://127.0.0.1:8082"})
    assert not all_backends_up(lb, {"http://127.0.0.1:8099"})
