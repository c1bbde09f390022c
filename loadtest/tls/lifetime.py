"""How long a TLS session lives: what a balancer restart, or another balancer, does to it.

The session cache and the ticket key are in the balancer process's memory (its ``SSLContext``,
``balancer.tls``). A client holding a session that resumed a moment ago offers it again after
the balancer was replaced by a new process on the same port, with the same certificate and key
file; then to a second balancer with a context of its own, again with the same files. Each
check ends with a control: the session the new process just issued resumes there.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtest.tls.client import client_context, visit


@dataclass(frozen=True, slots=True)
class Offer:
    """One session offered after an event (a restart; another balancer)."""

    version: str
    event: str
    before: bool  # the session resumed right before the event (it was good)
    after: bool  # the old session resumed after it
    control: bool  # a session the new process issued resumes there

    def to_json(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("version", "event", "before", "after", "control")}


def _fresh(context: ssl.SSLContext, address: tuple[str, int]) -> tuple[bool, ssl.SSLSession]:
    """Whether a chain of two connections resumed, and the session it ended with."""
    first = visit(context, address)
    second = visit(context, address, first.session)
    assert second.session is not None, "the balancer issued no session"
    return second.reused, second.session


def across_restart(
    cafile: Path, address: tuple[str, int], version: str, restart: Callable[[], None]
) -> Offer:
    """Resume, restart the balancer (``restart``), offer the same session again."""
    context = client_context(cafile, version)
    before, session = _fresh(context, address)
    restart()
    after = visit(context, address, session).reused
    control, _ = _fresh(context, address)
    return Offer(version, "balancer restarted", before, after, control)


def across_instances(
    cafile: Path, first: tuple[str, int], second: tuple[str, int], version: str
) -> Offer:
    """A session of the first balancer offered to the second (same cert, its own context)."""
    context = client_context(cafile, version)
    before, session = _fresh(context, first)
    after = visit(context, second, session).reused
    control, _ = _fresh(context, second)
    return Offer(version, "another balancer", before, after, control)
