"""The scale scenario's pure parts: the balancer's metrics turned into samples, the phases."""

from __future__ import annotations

from loadtest import lbsample
from loadtest.fullspeed.outcome import Lane
from loadtest.report import Sample
from loadtest.scale_phases import broken, phases

METRICS = """# HELP balancer_responses_total responses by status
balancer_responses_total{{code="200"}} {ok}
balancer_responses_total{{code="503"}} {bad}
balancer_request_duration_seconds_bucket{{le="0.01"}} {fast}
balancer_request_duration_seconds_bucket{{le="0.1"}} {total}
balancer_request_duration_seconds_bucket{{le="+Inf"}} {total}
balancer_backend_requests_total{{backend="node-1",url="http://127.0.0.1:1"}} {ok}
"""


def reading(ts: float, ok: int, bad: int, fast: int) -> lbsample.Reading:
    text = METRICS.format(ok=ok, bad=bad, fast=fast, total=ok + bad)
    return lbsample.parse(text, ts)


def test_readings_become_rates_and_a_p95() -> None:
    first = reading(100.0, 0, 0, 0)
    second = reading(101.0, 1000, 0, 900)  # 90 % under 10 ms, the rest under 100 ms
    third = reading(102.0, 1500, 10, 1410)
    (one, two) = lbsample.samples([first, second, third], connections=64)
    assert (one.rps, one.fails, one.users) == (1000.0, 0.0, 64)
    # p95: half way through the 10-100 ms bucket's 100 requests.
    assert one.p95 is not None and abs(one.p95 - 55.0) < 1e-6
    assert (two.rps, two.fails) == (510.0, 10.0)
    assert lbsample.node_rates([first, second]) == [(101.0, {"node-1": 1000.0})]
    assert lbsample.quantile_ms(second, second, 0.95) is None  # nothing answered


def sample(ts: float, rps: float, p95: float) -> Sample:
    return Sample(ts, 64, rps, 0.0, p95, 0, 0)


def test_the_phases_are_measured_once_the_pool_settled() -> None:
    samples = [sample(t, 1000 if t < 20 else 2000 if t < 40 else 1000, 80 if t < 20 or t >= 40
                      else 40) for t in range(60)]  # fmt: skip
    events = [
        {"ts": 18.0, "action": "scale-out", "target": "2→4"},
        {"ts": 20.0, "action": "scale-out done", "target": "2→4"},
        {"ts": 38.0, "action": "scale-in", "target": "4→2"},
        {"ts": 40.0, "action": "scale-in done", "target": "4→2"},
    ]
    before, ramp, out, back = phases(samples, events, 60.0)
    assert ramp.name == "first 5 s on the new pool" and ramp.rps == 2000
    assert (before.rps, before.p95_ms) == (1000, 80)
    assert (out.rps, out.p95_ms) == (2000, 40)
    assert back.rps == 1000 and back.p95_ms == 80


def test_broken_names_every_shortfall() -> None:
    good = Lane("get", 100, 10.0, 1.0, 2.0, {200: 100}, {"connect": 0, "status": 0})
    refused = Lane("post", 100, 10.0, 1.0, 2.0, {201: 99, 503: 1}, {"connect": 3, "status": 1})
    assert broken([good], [("x", True, "")], True) == []
    problems = broken([good, refused], [("x", False, "lost")], False)
    assert problems == [
        "post: 1 × 503",
        "post: 3 socket errors {'connect': 3}",
        "invariant broken: x: lost",
        "the balancer process changed during the run",
    ]
