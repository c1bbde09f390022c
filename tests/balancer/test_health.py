from __future__ import annotations

import pytest

from balancer.health import Health, State

# Each row: a sequence of events and the states after each one (rise=2, fall=2,
# eject_after=3). ok: probe 200, 503: probe draining, fail: probe failed, slow: probe timed out
# while proxied requests got answers; proxied tries:
# refused: connect failure, req: a timeout or reset on an accepted connection, ans: an answer.
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
    ("a connect failure ejects at once", ["ok", "ok", "refused"], ["down", "up", "down"]),
    ("one slow try ejects nothing", ["ok", "ok", "req"], ["down", "up", "up"]),
    (
        "eject_after failed tries in a row eject",
        ["ok", "ok", "req", "req", "req"],
        ["down", "up", "up", "up", "down"],
    ),
    (
        "an answer between failed tries resets the streak",
        ["ok", "ok", "req", "req", "ans", "req", "req", "req"],
        ["down", "up", "up", "up", "up", "up", "up", "down"],
    ),
    (
        "a good probe does not reset the streak (only answers to real requests do)",
        ["ok", "ok", "req", "req", "ok", "req"],
        ["down", "up", "up", "up", "up", "down"],
    ),
    (
        "a failed probe and a failed try count apart",
        ["ok", "ok", "req", "fail", "req", "fail"],
        ["down", "up", "up", "up", "up", "down"],
    ),
    (
        "the streak starts over after an ejection",
        ["ok", "ok", "req", "req", "req", "ok", "ok", "req", "req"],
        ["down", "up", "up", "up", "down", "down", "up", "up", "up"],
    ),
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
        "a connect failure while draining ejects",
        ["ok", "ok", "503", "refused"],
        ["down", "up", "draining", "down"],
    ),
    (
        "failed tries in a row while draining eject",
        ["ok", "ok", "503", "req", "req", "req"],
        ["down", "up", "draining", "draining", "draining", "down"],
    ),
    ("503 while down stays down", ["503", "ok", "ok"], ["down", "down", "up"]),
    (
        "a slow probe (timed out, answers meanwhile) counts for nothing",
        ["ok", "ok", "slow", "slow", "slow"],
        ["down", "up", "up", "up", "up"],
    ),
    (
        "a slow probe neither counts nor forgives a failed one",
        ["ok", "ok", "fail", "slow", "fail"],
        ["down", "up", "up", "up", "down"],
    ),
    ("a slow probe is no good probe either", ["ok", "slow", "ok"], ["down", "down", "down"]),
    (
        "back after rise good probes",
        ["ok", "ok", "refused", "ok", "ok"],
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
    if event == "slow":
        return health.probe_slow()
    if event == "refused":
        return health.request_refused(now)
    if event == "ans":
        health.request_ok()
        return False
    return health.request_failed(now)


@pytest.mark.parametrize(("why", "events", "states"), TABLE, ids=[row[0] for row in TABLE])
def test_transitions(why: str, events: list[str], states: list[str]) -> None:
    health = Health(rise=2, fall=2, eject_after=3)
    seen = []
    for now, event in enumerate(events, 1):
        apply(health, event, float(now))
        seen.append(health.state.value)
    assert seen == states


def test_an_ejection_is_reported_once_for_the_caller_to_count() -> None:
    health = Health(rise=1, fall=1)
    assert health.probe_ok() is True
    assert health.probe_ok() is False
    assert health.request_refused(10.0) is True  # UP to DOWN: one ejection
    assert health.request_refused(11.0) is False  # already down: no second ejection
    assert health.last_failure == 11.0
    assert health.probe_ok() is True
    assert health.probe_failed(12.0) is True
    assert health.state is State.DOWN


def test_an_outlier_ejection_is_reported_once_too() -> None:
    health = Health(rise=1, fall=1, eject_after=2)
    health.probe_ok()
    assert health.request_failed(10.0) is False  # one slow try: still up
    assert health.request_failed(11.0) is True  # the second in a row: UP to DOWN
    assert health.request_failed(12.0) is False  # already down
    assert health.streak == 0 and health.last_failure == 12.0


def test_eject_after_one_is_todays_rule() -> None:
    health = Health(rise=1, fall=1, eject_after=1)
    health.probe_ok()
    assert health.request_failed(10.0) is True
