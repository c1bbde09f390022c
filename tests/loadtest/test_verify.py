"""The order invariants over acknowledged writes and the orders listed afterwards."""

from __future__ import annotations

from typing import Any

from loadtest.verify import check_orders, version_of


def create(order: str, item: str, quantity: int = 1) -> dict[str, Any]:
    return {"kind": "create", "user": "alice", "key": f"k-{order}", "order": order,
            "item": item, "quantity": quantity, "etag": '"v1"'}  # fmt: skip


def update(order: str, base: int, quantity: int) -> dict[str, Any]:
    return {"kind": "update", "user": "alice", "order": order, "if_match": f'"v{base}"',
            "etag": f'"v{base + 1}"', "quantity": quantity}  # fmt: skip


def stored(order: str, item: str, quantity: int, version: int = 1) -> dict[str, Any]:
    return {"id": order, "user": "alice", "item": item, "quantity": quantity, "version": version}


def verdicts(acks: list[dict[str, Any]], orders: list[dict[str, Any]]) -> dict[str, bool]:
    return {i.name: i.ok for i in check_orders(acks, {"alice": orders})}


def test_a_clean_run_holds_every_invariant() -> None:
    acks = [create("o1", "a"), create("o2", "b"), update("o1", 1, 2), update("o1", 2, 3)]
    result = verdicts(acks, [stored("o1", "a", 3, 3), stored("o2", "b", 1)])
    assert result == {
        "acknowledged creates exist exactly once": True,
        "no unacknowledged order": True,
        "no duplicate write": True,
        "no lost update": True,
    }


def test_a_lost_create_is_caught() -> None:
    result = verdicts([create("o1", "a"), create("o2", "b")], [stored("o1", "a", 1)])
    assert not result["acknowledged creates exist exactly once"]


def test_an_order_nobody_saw_acknowledged_is_caught() -> None:
    # A POST replayed without its idempotency record creates a second order.
    result = verdicts([create("o1", "a")], [stored("o1", "a", 1), stored("o9", "a", 1)])
    assert not result["no unacknowledged order"]
    assert not result["no duplicate write"]
    assert result["acknowledged creates exist exactly once"]


def test_two_winners_from_one_version_is_a_lost_update() -> None:
    acks = [create("o1", "a"), update("o1", 1, 2), update("o1", 1, 2)]
    assert not verdicts(acks, [stored("o1", "a", 2, 3)])["no lost update"]


def test_a_version_that_does_not_count_every_update_is_a_lost_update() -> None:
    acks = [create("o1", "a"), update("o1", 1, 2), update("o1", 2, 3)]
    assert not verdicts(acks, [stored("o1", "a", 3, 2)])["no lost update"]


def test_the_last_acknowledged_content_must_be_stored() -> None:
    acks = [create("o1", "a"), update("o1", 1, 2), update("o1", 2, 3)]
    assert not verdicts(acks, [stored("o1", "a", 7, 3)])["no lost update"]


def test_an_unacknowledged_but_applied_update_is_not_a_loss() -> None:
    # The response of v1→v2 was lost (node killed); the client re-read and updated v2→v3.
    acks = [create("o1", "a"), update("o1", 2, 4)]
    assert verdicts(acks, [stored("o1", "a", 4, 3)])["no lost update"]


def test_version_of_reads_node_etags_only() -> None:
    assert version_of('"v12"') == 12
    assert version_of('W/"v3"') == 3
    assert version_of('"abc"') is None
    assert version_of(None) is None
