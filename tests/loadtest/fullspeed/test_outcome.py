"""The full-speed run's verdict, from what wrk's script printed (pure)."""

from __future__ import annotations

import pytest

from loadtest.fullspeed.outcome import (
    Lane,
    ScriptOutputError,
    parse_script_output,
    unacknowledged_verdict,
    verdict,
)

OUTPUT = """Running 20s test @ http://127.0.0.1:8080
  1 threads and 32 connections
fullspeed-statuses {"201":36990,"409":20}
fullspeed-sent 37041
fullspeed-errors {"connect":0,"read":0,"write":0,"status":20,"timeout":0}
"""
CHAOS = {"kill": 1, "term": 1, "stop": 1, "cont": 1, "restart": 2}
SOCKETS_OK = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}


def lane(kind: str, statuses: dict[int, int], sockets: dict[str, int] | None = None) -> Lane:
    total = sum(statuses.values())
    return Lane(kind, total, total / 20, 5.0, 50.0, statuses, sockets or SOCKETS_OK, total + 3)


def test_parse_script_output() -> None:
    statuses, errors, sent = parse_script_output(OUTPUT)
    assert statuses == {201: 36990, 409: 20}
    assert errors["status"] == 20 and errors["timeout"] == 0
    assert sent == 37041


def test_parse_without_the_summary_is_an_error() -> None:
    with pytest.raises(ScriptOutputError):
        parse_script_output("Running 20s test @ http://127.0.0.1:8080\n")


def test_in_flight_is_what_was_sent_and_never_answered() -> None:
    assert lane("post", {201: 100}).in_flight == 3


@pytest.mark.parametrize(
    ("lanes", "chaos", "broken"),
    [
        ([lane("get", {200: 9}), lane("post", {201: 9})], CHAOS, []),
        ([lane("get", {200: 9}), lane("post", {201: 9, 409: 2})], CHAOS, ["post: 2 × 409"]),
        ([lane("get", {200: 9, 504: 1, 502: 3})], CHAOS, ["get: 3 × 502, 1 × 504"]),
        ([lane("post", {201: 9})], {"kill": 1, "term": 1}, ["chaos: no stop"]),
        ([lane("get", {})], CHAOS, ["get: no request completed"]),
        (
            [lane("get", {200: 9}, {**SOCKETS_OK, "timeout": 4, "status": 7})],
            CHAOS,
            ["get: 4 socket errors {'timeout': 4}"],
        ),
    ],
)
def test_verdict(lanes: list[Lane], chaos: dict[str, int], broken: list[str]) -> None:
    assert verdict(lanes, [("x", True, "fine")], chaos) == broken


def test_a_broken_invariant_breaks_the_run() -> None:
    lanes = [lane("post", {201: 9})]
    assert verdict(lanes, [("no duplicate write", False, "2 twice")], CHAOS) == [
        "invariant broken: no duplicate write: 2 twice"
    ]


@pytest.mark.parametrize(
    ("unacknowledged", "in_flight", "ok"), [(0, 0, True), (3, 3, True), (4, 3, False)]
)
def test_unacknowledged_orders_only_from_requests_in_flight(
    unacknowledged: int, in_flight: int, ok: bool
) -> None:
    assert unacknowledged_verdict(unacknowledged, in_flight)[0] is ok


def test_a_stop_only_run_needs_only_its_stop() -> None:
    assert verdict([], [], {"stop": 1, "cont": 1}, ("stop",)) == []
    assert verdict([], [], {"stop": 1}) == ["chaos: no kill", "chaos: no term"]
