"""Quantity edits through the FlowRunner on a real SQLite store, with the hub's real holds
(`ReservingAvailability` over `Reservations`): an edit before release holds what it adds
until the ERP has it, an edit before the ERP confirmed the order holds the edited order."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crossdock.availability.promise import ReservingAvailability
from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.availability.reservations import Reservations
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import JSONObject
from crossdock.canonical.envelope import Event
from crossdock.flows.engine import FlowRunner
from crossdock.flows.order_fulfilment import OrderFulfilment

from .test_exceptions_runner import (
    deliver,
    key_of,
    level,
    placed,
    release_holds,
    settings,
    status,
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db")
    await opened.start()
    yield opened
    await opened.close()


@pytest.fixture
async def reserving(store: SQLiteStore) -> tuple[ReservingAvailability, Reservations]:
    model = AvailabilityReadModel(store)
    return ReservingAvailability(model, Reservations(store, model)), Reservations(store, model)


def pending(event: Event) -> Event:
    """The order waiting for its payment (so it stays before release)."""
    data = copy.deepcopy(event.data) | {"financial_status": "pending"}
    return event.model_copy(update={"data": data})


def edited(event: Event, n: int, lines: list[tuple[str, str, int]], **data: str) -> Event:
    """An ``order.updated`` of `event` with `lines` (10.00 each)."""
    again = placed(0, lines)
    body: JSONObject = copy.deepcopy(event.data)
    body |= {"lines": again.data["lines"], "totals": again.data["totals"], **data}
    return event.model_copy(
        update={"id": f"00000000-0000-5000-8000-0000000e{n:04d}", "type": "order.updated"}
    ).model_copy(update={"data": body})


async def test_added_units_are_held_until_the_erp_has_them(
    store: SQLiteStore, reserving: tuple[ReservingAvailability, Reservations]
) -> None:
    port, reservations = reserving
    runner = FlowRunner(store, [OrderFulfilment(settings(), port)])
    order = pending(placed(31, [("1", "MUG-BLK", 2)]))
    key = key_of(order)
    await store.append_events(level("MUG-BLK", 5, 0), order)
    await runner.run_until_idle()
    await deliver(store, "netsuite")
    await runner.run_until_idle()
    assert await status(store, key) == "payment_held"
    [committed] = await release_holds(store, port)
    assert committed.payload["reason"] == "committed"
    # The ERP's next level carries the 2 committed units.
    await store.append_events(level("MUG-BLK", 3, 5), edited(order, 1, [("1", "MUG-BLK", 4)]))
    await runner.run_until_idle()

    assert await reservations.held(key) == {("MUG-BLK", "main"): 2}
    [update] = await deliver(store, "netsuite")
    assert update.kind == "sales_order.update"
    assert update.payload["changes"] == {
        "lines": [{"line_id": "1", "sku": "MUG-BLK", "quantity": 4}]
    }
    await runner.run_until_idle()
    [done] = await release_holds(store, port)
    assert (done.payload["reason"], done.payload["order_id"]) == ("committed", key)
    assert await reservations.held(key) == {}
    assert await status(store, key) == "payment_held"


async def test_an_edit_the_stock_cannot_cover_waits_as_a_backorder(
    store: SQLiteStore, reserving: tuple[ReservingAvailability, Reservations]
) -> None:
    port, reservations = reserving
    runner = FlowRunner(store, [OrderFulfilment(settings(), port)])
    order = pending(placed(32, [("1", "MUG-BLK", 2)]))
    key = key_of(order)
    await store.append_events(level("MUG-BLK", 2, 0), order)
    await runner.run_until_idle()
    await deliver(store, "netsuite")
    await runner.run_until_idle()
    await release_holds(store, port)
    await store.append_events(level("MUG-BLK", 1, 5), edited(order, 1, [("1", "MUG-BLK", 5)]))
    await runner.run_until_idle()
    assert await reservations.held(key) == {}  # 3 added, 1 there: all or nothing

    await store.append_events(edited(order, 2, [("1", "MUG-BLK", 5)], financial_status="paid"))
    await runner.run_until_idle()

    assert await status(store, key) == "backorder"
    found = await store.get_flow_state("order_fulfilment", key)
    assert found is not None
    assert found.state["state"]["short"] == {"MUG-BLK": 2}
    assert [c.kind for c in await deliver(store, "netsuite")] == ["sales_order.update"]


async def test_an_edit_before_the_erp_confirmed_the_order_holds_the_edited_order(
    store: SQLiteStore, reserving: tuple[ReservingAvailability, Reservations]
) -> None:
    port, reservations = reserving
    runner = FlowRunner(store, [OrderFulfilment(settings(), port)])
    order = pending(placed(33, [("1", "MUG-BLK", 2), ("2", "GRN-BRG", 1)]))
    key = key_of(order)
    await store.append_events(level("MUG-BLK", 9, 0), level("GRN-BRG", 9, 0), order)
    await runner.run_until_idle()
    assert await reservations.held(key) == {("MUG-BLK", "main"): 2, ("GRN-BRG", "main"): 1}

    await store.append_events(edited(order, 1, [("1", "MUG-BLK", 3)]))
    await runner.run_until_idle()

    assert await status(store, key) == "validated"
    assert await reservations.held(key) == {("MUG-BLK", "main"): 3}
    commands = await deliver(store, "netsuite")
    assert [c.kind for c in commands] == [
        "customer.upsert",
        "sales_order.create",
        "sales_order.update",
    ]
    update = commands[-1]
    assert update.payload["changes"]["lines"] == [
        {"line_id": "1", "sku": "MUG-BLK", "quantity": 3},
        {"line_id": "2", "sku": "GRN-BRG", "quantity": 0},
    ]
