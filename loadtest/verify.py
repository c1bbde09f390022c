"""After a run: did every write the clients saw acknowledged survive, exactly once, unharmed?

The clients (Locust users, or a test's load loop) append each acknowledged write to a JSON-lines
file: ``{"kind": "create", "user", "order", "item", "quantity", …}`` and ``{"kind": "update",
"user", "order", "if_match", "etag", "quantity"}``. Each update sets ``quantity`` to what it
read plus one, with ``If-Match`` on the version it read. ``check_orders`` compares those with
the orders the API lists afterwards (pure, unit-tested); ``fetch_orders`` asks the API through
the balancer, as a client would (it knows nothing of the nodes' Redis layout).

Invariants:

- *acknowledged creates exist exactly once*: each acknowledged order id is listed once;
- *no unacknowledged order*: nothing is listed that no client saw acknowledged (a retried POST
  that created a second order would show up here);
- *no duplicate write*: no item (every create uses a fresh, unique item name) is listed twice;
- *no lost update*: no two acknowledged updates of one order were based on the same version
  (``If-Match``), the order's final version counts at least every acknowledged update, and
  the stored content is that of the update that produced the final version.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.api import call, login

Order = Mapping[str, Any]
PAGE = 500
_VERSION_TAG = re.compile(r'(?:W/)?"v(\d+)"')


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def read_acks(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _sample(items: Iterable[str], limit: int = 5) -> str:
    items = sorted(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def check_orders(
    acks: Sequence[Mapping[str, Any]], listed: Mapping[str, Sequence[Order]]
) -> list[Invariant]:
    """The four invariants for acknowledged writes ``acks`` and the orders ``listed`` per user."""
    creates = [a for a in acks if a.get("kind") == "create"]
    updates = [a for a in acks if a.get("kind") == "update"]
    seen = Counter(str(o.get("id")) for orders in listed.values() for o in orders)
    acked = {str(c["order"]) for c in creates}

    wrong = {o for o in acked if seen[o] != 1}
    exist = Invariant(
        "acknowledged creates exist exactly once",
        not wrong,
        f"{len(acked)} acknowledged, all listed once"
        if not wrong
        else f"{len(wrong)} missing or repeated: {_sample(wrong)}",
    )
    extra = set(seen) - acked
    unacked = Invariant(
        "no unacknowledged order",
        not extra,
        f"{sum(seen.values())} listed, none unexpected"
        if not extra
        else f"{len(extra)} listed that no client saw acknowledged: {_sample(extra)}",
    )
    items = Counter(str(o.get("item")) for orders in listed.values() for o in orders)
    doubled = {item for item, n in items.items() if n > 1}
    duplicate = Invariant(
        "no duplicate write",
        not doubled,
        "every item listed once" if not doubled else f"items listed twice: {_sample(doubled)}",
    )
    return [exist, unacked, duplicate, check_updates(creates, updates, listed)]


def version_of(etag: str | None) -> int | None:
    """The version in a node ETag (``"v3"`` → 3), or ``None`` for any other shape."""
    match = _VERSION_TAG.fullmatch(etag or "")
    return int(match.group(1)) if match else None


def lost_updates(
    created: Mapping[str, Any], updates: Sequence[Mapping[str, Any]], final: Order | None
) -> list[str]:
    """Why the acknowledged ``updates`` of one order show a lost update (empty: none lost)."""
    problems = []
    bases = Counter(str(u["if_match"]) for u in updates)
    if any(n > 1 for n in bases.values()):
        problems.append("two acknowledged updates were based on the same version")
    if final is None:
        return [*problems, "the order is not listed"]
    base = version_of(created.get("etag")) or 1
    if "version" in final and int(final["version"]) - base < len(updates):
        problems.append(f"version {final['version']} after {len(updates)} updates from v{base}")
    last = [u for u in updates if version_of(u.get("etag")) == final.get("version")]
    if last and int(last[0]["quantity"]) != int(final.get("quantity", -1)):
        problems.append("the last acknowledged update is not what is stored")
    return problems


def check_updates(
    creates: Sequence[Mapping[str, Any]],
    updates: Sequence[Mapping[str, Any]],
    listed: Mapping[str, Sequence[Order]],
) -> Invariant:
    """No lost update: one winner per base version, every winner counted in the final version,
    and the final content is the last acknowledged update's."""
    final = {str(o.get("id")): o for orders in listed.values() for o in orders}
    created = {str(c["order"]): c for c in creates}
    per_order: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for update in updates:
        per_order[str(update["order"])].append(update)
    lost = {
        order: problems
        for order, acked in per_order.items()
        if (problems := lost_updates(created.get(order, {}), acked, final.get(order)))
    }
    first = next(iter(lost.items()), None)
    return Invariant(
        "no lost update",
        not lost,
        f"{len(updates)} acknowledged updates on {len(per_order)} orders, all reflected"
        if first is None
        else f"{len(lost)} orders lost an update, e.g. {first[0]}: {'; '.join(first[1])}",
    )


def fetch_orders(base_url: str, accounts: Sequence[str]) -> dict[str, list[Order]]:
    """Every order of each seeded account, read through the API as that account."""
    listed: dict[str, list[Order]] = {}
    for user in accounts:
        token = login(base_url, user)
        orders: list[Order] = []
        while True:  # the listing is paged
            page = call(
                f"{base_url}/users/{user}/orders?offset={len(orders)}&limit={PAGE}", token=token
            )
            orders.extend(page["orders"])
            if not page["orders"] or len(orders) >= int(page.get("total", len(orders))):
                break
        listed[user] = orders
    return listed


def verify(base_url: str, ack_file: Path, accounts: Sequence[str]) -> list[Invariant]:
    try:
        listed = fetch_orders(base_url, accounts)
    except (OSError, KeyError, ValueError) as exc:
        return [Invariant("orders readable through the API", False, str(exc))]
    return check_orders(read_acks(ack_file), listed)
