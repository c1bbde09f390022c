"""The pure parts of Redis HA: sentinel configuration and replies, chaos's Redis targets, the
HA state file, and the failover table's count of lost writes."""

from __future__ import annotations

from pathlib import Path

from cluster.chaos.targets import REDIS_PRIMARY, REDIS_REPLICA, primary_pattern
from cluster.config import ClusterConfig
from cluster.runtime.docker.redis_ha import parse_master, primary_host
from cluster.runtime.sentinel import config_text, healthy_primary
from cluster.runtime.state import LocalState, ProcRecord
from loadtest.failover.measure import Kill, lost_writes


def test_the_sentinel_is_tuned_for_a_demo() -> None:
    text = config_text(26390, ("127.0.0.1", 6390), bind="127.0.0.1")
    assert "sentinel monitor mymaster 127.0.0.1 6390 2" in text
    assert "sentinel down-after-milliseconds mymaster 1000" in text
    assert "sentinel failover-timeout mymaster 2000" in text
    assert "resolve-hostnames" not in text  # a name lookup blocks a sentinel (compose.ha.yaml)


def test_a_primary_a_sentinel_thinks_down_is_no_primary() -> None:
    up = {"ip": "10.0.0.2", "port": 6379, "is_master": True, "is_sdown": False}
    assert healthy_primary(up) == ("10.0.0.2", 6379)
    assert healthy_primary({**up, "is_sdown": True}) is None
    assert healthy_primary(None) is None
    master = parse_master("name\nmymaster\nip\nredis-2\nflags\nmaster\n")
    assert primary_host(master) == "redis-2"
    assert primary_host({**master, "flags": "s_down,master"}) is None


def test_the_redis_targets_pick_the_primary_or_the_others() -> None:
    names = ["redis", "redis-2", "redis-3"]
    primary = primary_pattern(REDIS_PRIMARY, "redis-2")
    assert [n for n in names if primary.search(n)] == ["redis-2"]
    replica = primary_pattern(REDIS_REPLICA, "redis")
    assert [n for n in names if replica.search(n)] == ["redis-2", "redis-3"]


def test_ha_ports_and_the_state_round_trip() -> None:
    config = ClusterConfig(redis_port=7000, ha=True)
    assert config.redis_ports == (7000, 7001, 7002)
    assert ClusterConfig(redis_port=7000).redis_ports == (7000,)
    rec = ProcRecord("redis", "redis", 7000, 1, 2, "log")
    replica = ProcRecord("redis", "redis-2", 7001, 3, 4, "log")
    sentinel = ProcRecord("redis", "sentinel-1", 26390, 5, 6, "log")
    state = LocalState(
        "127.0.0.1", "s", rec, None, (), "", replicas=(replica,), sentinels=(sentinel,)
    )
    assert LocalState.from_json(state.to_json()) == state
    assert [p.name for p in state.processes()] == ["sentinel-1", "redis", "redis-2"]
    assert "sentinels" not in LocalState("127.0.0.1", "s", rec, None, ()).to_json()
    moved = state.with_redis_member(ProcRecord("redis", "redis-2", 7001, 9, 9, "log"))
    assert moved.replicas[0].pid == 9 and moved.redis == rec
    assert Path(config.state_dir) == Path(".cluster")


def test_lost_writes_count_missing_creates_and_overwritten_updates() -> None:
    acks = [
        {"kind": "create", "order": "a", "etag": '"v1"'},
        {"kind": "create", "order": "b", "etag": '"v1"'},
        {"kind": "update", "order": "a", "if_match": '"v1"', "etag": '"v2"'},
        {"kind": "update", "order": "a", "if_match": '"v1"', "etag": '"v2"'},  # v2 given twice
        {"kind": "update", "order": "b", "if_match": '"v1"', "etag": '"v2"'},
    ]
    assert lost_writes(acks, {"u": [{"id": "a", "version": 2}]}) == (1, 2)
    assert lost_writes(acks[:1], {"u": [{"id": "a", "version": 1}]}) == (0, 0)


def test_a_kill_window_ends_after_the_promotion() -> None:
    kill = Kill("redis", at=100.0, new_primary="redis-2", named_at=102.0)
    assert kill.seconds == 2.0
    assert kill.covers(101.0) and kill.covers(103.9) and not kill.covers(99.0)
