"""The failover table from what the clients recorded and the orders read back (pure).

*Lost acknowledged writes* are counted as the verifier sees them (``loadtest.verify``): a create
whose order is not listed afterwards, and for updates, per order, the larger of "two acknowledged
updates from the same base version" (the first was lost and its version number given again) and
"the final version is short of the acknowledged updates".
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.failover.clients import Failure, Record
from loadtest.verify import version_of

#: A failure this long after the new primary was named still counts as the failover's.
SLACK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Kill:
    """One primary killed: when, which, and when the sentinels named another (``time.time``)."""

    killed: str
    at: float
    new_primary: str | None
    named_at: float | None

    @property
    def seconds(self) -> float | None:
        return None if self.named_at is None else self.named_at - self.at

    def covers(self, moment: float) -> bool:
        end = (self.named_at if self.named_at is not None else self.at + 30.0) + SLACK_SECONDS
        return self.at <= moment <= end


@dataclass(frozen=True, slots=True)
class Row:
    variant: str
    wait: int  # REDIS_WAIT_REPLICAS
    requests: int
    failed: int
    failed_in_failover: int
    kills: tuple[Kill, ...]
    slowest_in_failover: float
    creates: int
    updates: int
    lost_creates: int
    lost_updates: int
    client_retries: int
    invariants_ok: bool


def lost_writes(
    acks: Sequence[Mapping[str, Any]], listed: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[int, int]:
    """``(lost creates, lost updates)`` among the acknowledged ``acks``."""
    final = {str(o.get("id")): o for orders in listed.values() for o in orders}
    creates = {str(a["order"]): a for a in acks if a.get("kind") == "create"}
    per_order: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for ack in acks:
        if ack.get("kind") == "update":
            per_order[str(ack["order"])].append(ack)
    lost_updates = 0
    for order, updates in per_order.items():
        stored = final.get(order)
        if stored is None:
            lost_updates += len(updates)
            continue
        repeated = sum(n - 1 for n in Counter(str(u["if_match"]) for u in updates).values())
        base = version_of(creates.get(order, {}).get("etag")) or 1
        short = max(0, base + len(updates) - int(stored.get("version", 0)))
        lost_updates += max(repeated, short)
    return sum(1 for order in creates if order not in final), lost_updates


def row(
    variant: str,
    wait: int,
    record: Record,
    kills: Sequence[Kill],
    listed: Mapping[str, Sequence[Mapping[str, Any]]],
    invariants_ok: bool,
) -> Row:
    lost_creates, lost_updates = lost_writes(record.acks, listed)
    in_window: list[Failure] = [f for f in record.failures if any(k.covers(f.at) for k in kills)]
    slowest = [s for at, s in record.latencies if any(k.covers(at) for k in kills)]
    return Row(
        variant=variant, wait=wait, requests=record.requests, failed=len(record.failures),
        failed_in_failover=len(in_window), kills=tuple(kills),
        slowest_in_failover=max(slowest, default=0.0),
        creates=sum(1 for a in record.acks if a["kind"] == "create"),
        updates=sum(1 for a in record.acks if a["kind"] == "update"),
        lost_creates=lost_creates, lost_updates=lost_updates,
        client_retries=record.client_retries, invariants_ok=invariants_ok,
    )  # fmt: skip


def _seconds(kills: Sequence[Kill]) -> str:
    values = [k.seconds for k in kills if k.seconds is not None]
    if not values:
        return "never"
    missing = len(kills) - len(values)
    text = f"{statistics.median(values):.2f} (max {max(values):.2f})"
    return text + (f", {missing} never" if missing else "")


HEADER = (
    "| variant | primary kills | requests | failed (in the failover windows) "
    "| time to a new primary s, median (max) | slowest answer in a window s "
    "| acknowledged creates / updates | acknowledged writes lost (creates + updates) "
    "| client 409/412 retries | invariants |"
)


def table(rows: Sequence[Row]) -> str:
    lines = [HEADER, "|" + " --- |" * HEADER.count(" | ") + " --- |"]
    for r in rows:
        lines.append(
            f"| {r.variant} | {len(r.kills)} | {r.requests} | {r.failed} ({r.failed_in_failover}) "
            f"| {_seconds(r.kills)} | {r.slowest_in_failover:.2f} | {r.creates} / {r.updates} "
            f"| {r.lost_creates + r.lost_updates} ({r.lost_creates} + {r.lost_updates}) "
            f"| {r.client_retries} | {'OK' if r.invariants_ok else 'BROKEN'} |"
        )
    return "\n".join(lines)
