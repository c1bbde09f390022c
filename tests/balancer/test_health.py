from __future__ import annotations

import pytest

from balancer.health import Health, State

# Each row: a sequence of events and the states after each one (rise=2, fall=2).
# ok: probe 200, 503: probe draining, fail: probe failed, req: proxied request failed.
TABLE = [
    ("new backend needs rise good probes", ["ok", "ok"], ["down", "up"]),
    (
        "a failed probe resets the rise count",
        ["ok", "fail", "ok", "ok"],
        ["down", "down", "down", "up"],
    ),
    ("fall failed probes take it out", ["ok", "ok", "fail", "fail"], ["down", "up", "up", "down"]),
    (
        "a good probe resets the fall count",
        ["ok", "ok", "fail", "ok", "fail"],
        ["down", "up", "up", "up", "up"],
    ),
    ("a request failure ejects at once", ["ok", "ok", "req"], ["down", "up", "down"]),
    ("503 drains at once", ["ok", "ok", "503"], ["down", "up", "draining"]),
    (
        "draining comes back after rise",
        ["ok", "ok", "503", "ok", "ok"],
        ["down", "up", "draining", "draining", "up"],
    ),
    (
        "draining then dead goes down",
        ["ok", "ok", "503", "fail", "fail"],
        ["down", "up", "draining", "draining", "down"],
    ),
    (
        "a request failure while draining ejects",
        ["ok", "ok", "503", "req"],
        ["down", "up", "draining", "down"],
    ),
    ("503 while down stays down", ["503", "ok", "ok"], ["down", "down", "up"]),
    (
        "back after rise good probes",
        ["ok", "ok", "req", "ok", "ok"],
        ["down", "up", "down", "down", "up"],
    ),
]


def apply(health: Health, event: str, now: float) -> bool:
    if event == "ok":
        return health.probe_ok()
    if event == "503":
        return health.probe_draining()
    if event == "fail":
        return health.probe_failed(now)
    return health.request_failed(now)


@pytest.mark.parametrize(("why", "events", "states"), TABLE, ids=[row[0] for row in TABLE])
def test_transitions(why: str, events: list[str], states: list[str]) -> None:
    health = Health(rise=2, fall=2)
    seen = []
    for now, event in enumerate(events, 1):
        apply(health, event, float(now))
        seen.append(health.state.value)
    assert seen == states


def test_an_ejection_is_reported_once_for_the_caller_to_count() -> None:
    health = Health(rise=1, fall=1)
    assert health.probe_ok() is True
    assert health.probe_ok() is False
    assert health.request_failed(10.0) is True  # UP to DOWN: one ejection
    assert health.request_failed(11.0) is False  # already down: no second ejection
    assert health.last_failure == 11.0
    assert health.probe_ok() is True
    assert health.probe_failed(12.0) is True
    assert health.state is State.DOWN
