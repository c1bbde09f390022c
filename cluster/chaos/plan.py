"""The decisions of ``chaos-kill``, without I/O: which node, which signal, and when to stop.

``choose_target`` is the heart: a random *live* node (seeded ``random.Random``), matching the
``--target`` regex, never one that chaos already has in hand (frozen, draining, waiting to be
restarted), and never when acting would leave fewer than ``--min-alive`` live nodes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cluster.actions import CHAOS_ACTIONS, Action
from cluster.runtime.base import NodeInfo, NodeState


@dataclass(frozen=True, slots=True)
class Choice:
    """A target, or ``None`` with the reason nothing was chosen."""

    target: str | None
    reason: str


def choose_target(
    nodes: Sequence[NodeInfo],
    rng: random.Random,
    *,
    min_alive: int,
    pattern: re.Pattern[str] | None = None,
    busy: Collection[str] = (),
) -> Choice:
    """Pick the node to act on, or say why none may be touched now.

    A node is *alive* when it runs and chaos has not touched it (a node that got SIGTERM still
    runs while it drains, but it is on its way out).
    """
    alive = sorted(n.name for n in nodes if n.state is NodeState.RUNNING and n.name not in busy)
    if len(alive) - 1 < min_alive:
        return Choice(None, f"{len(alive)} node(s) alive, --min-alive {min_alive}")
    candidates = [name for name in alive if pattern is None or pattern.search(name)]
    if not candidates:
        wanted = pattern.pattern if pattern else "*"
        return Choice(None, f"no live node matches --target {wanted!r}")
    return Choice(rng.choice(candidates), "chosen at random among " + ",".join(candidates))


def parse_signals(text: str) -> tuple[Action, ...]:
    """``KILL`` or a rotation such as ``KILL,TERM,STOP`` (the n-th action uses the n-th).

    PARTITION needs the docker runtime (a container network); ``chaos-kill`` checks that.
    """
    names = tuple(part.strip().upper().removeprefix("SIG") for part in text.split(","))
    bad = [name for name in names if name not in CHAOS_ACTIONS]
    if not names or bad:
        raise ValueError(f"--signal {text!r}: expected {'|'.join(CHAOS_ACTIONS)} or a list")
    return tuple(Action(name) for name in names)


def signal_for(signals: Sequence[str], attempt: int) -> Action:
    return Action(signals[attempt % len(signals)])


def parse_seconds(text: str) -> float:
    """``90``, ``90s``, ``1.5m`` → seconds."""
    text = text.strip().lower()
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text[-1:])
    number = text[:-1] if scale else text
    value = float(number) * (scale or 1.0)
    if value < 0:
        raise ValueError(f"{text!r}: a duration cannot be negative")
    return value


def finished(attempts: int, elapsed: float, count: int | None, duration: float | None) -> bool:
    """Whether the schedule is over: ``count`` attempts made, or ``duration`` elapsed."""
    if duration is not None:
        return elapsed >= duration
    return count is not None and attempts >= count
