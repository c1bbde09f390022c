"""The wheel: many short deadlines on one loop timer (``balancer.wheel``), on the fake loop."""

from __future__ import annotations

from typing import Any, cast

from balancer.wheel import Wheel
from tests.balancer.playbook import FakeLoop


class Owner:
    def __init__(self, loop: FakeLoop) -> None:
        self.loop = loop
        self.fired: list[tuple[float, float]] = []  # (when, at)

    def due(self, when: float) -> None:
        self.fired.append((round(when - 1000.0, 4), round(self.loop.now - 1000.0, 4)))


def wheel() -> tuple[FakeLoop, Wheel, Owner]:
    loop = FakeLoop()  # its clock starts at 1000.0
    return loop, Wheel(cast(Any, loop), tick=0.002), Owner(loop)


def test_a_deadline_fires_when_due_on_one_timer() -> None:
    loop, w, owner = wheel()
    w.add(1000.010, owner)
    w.add(1000.0105, owner)
    assert len(loop.armed()) == 1  # one timer for both
    loop.advance(0.009)
    assert owner.fired == []
    loop.advance(0.001)
    assert owner.fired == [(0.01, 0.01)]
    loop.advance(0.002)  # the next one waits for the tick: 2 ms after the last firing
    assert owner.fired == [(0.01, 0.01), (0.0105, 0.012)]
    assert len(w) == 0 and loop.armed() == []


def test_deadlines_close_together_share_a_firing() -> None:
    loop, w, owner = wheel()
    for i in range(100):  # one every 10 µs: a request rate of 100,000/s
        w.add(1000.010 + i * 0.00001, owner)
    loop.advance(0.013)
    assert len(owner.fired) == 100 and len(w) == 0
    assert len({at for _, at in owner.fired}) == 2  # two firings, never one per deadline
    assert all(at >= when for when, at in owner.fired)  # never early


def test_a_deadline_behind_a_later_one_fires_with_it() -> None:
    loop, w, owner = wheel()
    w.add(1000.020, owner)
    w.add(1000.015, owner)  # the delay went down meanwhile: late by the difference at most
    loop.advance(0.016)
    assert owner.fired == []
    loop.advance(0.004)
    assert [when for when, _ in owner.fired] == [0.02, 0.015]


def test_it_is_armed_again_after_it_emptied() -> None:
    loop, w, owner = wheel()
    w.add(1000.010, owner)
    loop.advance(0.5)
    w.add(loop.now + 0.010, owner)
    assert len(loop.armed()) == 1
    loop.advance(0.010)
    assert len(owner.fired) == 2
