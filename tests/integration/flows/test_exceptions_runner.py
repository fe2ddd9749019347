"""The order flow's exceptions through the FlowRunner on a real SQLite store.

Routing (the ERP's own order echoes are not the flow's, early webhooks, stock checks, part
shipments found by their key or number) with the static availability, and the hub's stock holds
with the real availability: `AvailabilityReadModel` fed by ``inventory.changed`` events,
`Reservations` in the store, `ReservingAvailability` as the flow's `StockReservations` port.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crossdock.availability.promise import ReservingAvailability
from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.availability.reservations import Reservations
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import Command, JSONObject, Store
from crossdock.canonical.envelope import Event
from crossdock.flows.engine import EVENT_REJECTED, FlowRunner, StepOutcome
from crossdock.flows.order_fulfilment import (
    OrderFulfilment,
    OrderFulfilmentSettings,
    StaticAvailability,
    StockReservations,
    order_key_for,
)
from crossdock.flows.order_fulfilment.ports import RESERVATION_RELEASE, RESERVATIONS_DESTINATION

from .delivery import deliver as shared_deliver
from .delivery import status

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "flows"
SPLIT = json.loads((FIXTURES / "backorder_split.json").read_text(encoding="utf-8"))
RESULTS: dict[str, JSONObject] = {
    "sales_order.create": {"netsuite_id": "9001", "tran_id": "SO9001"},
    "order.create": {"order_id": "801xx01", "order_number": "00000101", "created": True},
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db")
    await opened.start()
    yield opened
    await opened.close()


def settings(backorder: str = "hold") -> OrderFulfilmentSettings:
    return OrderFulfilmentSettings.from_dict({**SPLIT["settings"], "backorder": backorder})


def placed(n: int, lines: list[tuple[str, str, int]], *, type_: str = "order.placed") -> Event:
    """Order #20<n> from Shopify with `lines` (line id, SKU, units) at 10.00 each."""
    raw = copy.deepcopy(SPLIT["events"][0])
    raw["id"] = f"00000000-0000-5000-8000-{n:012d}"
    raw["type"] = type_
    raw["subject"] = f"gid://shopify/Order/20{n}"
    data = raw["data"]
    data["number"] = f"#20{n}"
    data["lines"] = [
        {**data["lines"][0], "line_id": lid, "sku": sku, "title": sku, "quantity": units}
        | {"unit_price": {"amount": "10.00", "currency": "EUR"}}
        for lid, sku, units in lines
    ]
    total = sum(units for _, _, units in lines) * 10
    data["totals"]["total"]["amount"] = f"{total}.00"
    return Event.model_validate(raw)


def key_of(event: Event) -> str:
    return order_key_for("shopify", event.subject or "")


def level(sku: str, available: int, minute: int) -> Event:
    return Event(
        source="netsuite:acme",
        type="inventory.changed",
        subject=f"{sku}@main",
        correlationid="levels",
        data={
            "schema_version": "inventory_level.v1",
            "sku": sku,
            "location": "main",
            "available": available,
            "as_of": datetime(2026, 11, 27, 9, minute, tzinfo=UTC).isoformat(),
            "source": "netsuite",
        },
    )


def stock_check(key: str, n: int) -> Event:
    return Event(
        source="crossdock:hub",
        type="order.stock_check",
        subject=key,
        correlationid=f"check-{n}",
        data={"order_id": key, "skus": []},
    )


async def deliver(store: Store, destination: str) -> list[Command]:
    """Complete every pending command of `destination` with this module's `RESULTS`."""
    return await shared_deliver(store, destination, RESULTS)


async def release_holds(store: Store, port: StockReservations) -> list[Command]:
    """Perform the flow's ``reservation.release`` commands as the hub's worker would."""
    done: list[Command] = []
    while claims := await store.claim(
        "test-worker", destinations=[RESERVATIONS_DESTINATION], limit=10
    ):
        for claim in claims:
            assert claim.command.kind == RESERVATION_RELEASE
            await port.release(str(claim.command.payload["order_id"]))
            await store.complete(claim, {"released": True})
            done.append(claim.command)
    return done


def rejected(outcomes: list[StepOutcome]) -> list[str | None]:
    return [o.reason for o in outcomes if o.outcome == "rejected"] + [
        e.data.get("reason") for o in outcomes for e in o.events if e.type == EVENT_REJECTED
    ]


# ---- routing --------------------------------------------------------------------------------


async def test_the_erps_polled_order_update_is_not_the_flows(store: SQLiteStore) -> None:
    runner = FlowRunner(store, [OrderFulfilment(settings(), StaticAvailability({"MUG-BLK": 9}))])
    order = placed(1, [("1", "MUG-BLK", 1)])
    echo = order.model_copy(
        update={"id": "00000000-0000-5000-8000-0000000000e1", "source": "netsuite:acme"}
    )
    echo = echo.model_copy(update={"type": "order.updated", "subject": "SO9001"})
    await store.append_events(order, echo)
    await runner.run_until_idle()
    outcomes = {o.position: o.outcome for o in runner.outcomes}
    assert sorted(outcomes.values()) == ["applied", "ignored"]
    assert rejected(runner.outcomes) == []


async def test_an_early_cancellation_then_the_placement_asks_nothing(store: SQLiteStore) -> None:
    runner = FlowRunner(store, [OrderFulfilment(settings(), StaticAvailability({"MUG-BLK": 9}))])
    order = placed(2, [("1", "MUG-BLK", 1)])
    data = copy.deepcopy(order.data)
    data |= {"status": "cancelled", "financial_status": "voided"}
    data["cancellation"] = {"reason": "customer", "cancelled_at": "2026-11-20T09:00:00Z"}
    cancelled = order.model_copy(
        update={"id": "00000000-0000-5000-8000-0000000000c2", "type": "order.cancelled"}
    ).model_copy(update={"data": data})
    await store.append_events(cancelled, order)
    await runner.run_until_idle()
    assert [o.outcome for o in runner.outcomes] == ["applied", "applied"]
    assert all(o.commands == () for o in runner.outcomes)
    assert await status(store, key_of(order)) == "cancelled"
    assert await store.claim("t", destinations=["netsuite"], limit=10) == []


async def test_a_stock_check_releases_a_held_backorder(store: SQLiteStore) -> None:
    stock = StaticAvailability({"MUG-BLK": 1})
    runner = FlowRunner(store, [OrderFulfilment(settings(), stock)])
    order = placed(3, [("1", "MUG-BLK", 2)])
    key = key_of(order)
    await store.append_events(order)
    await runner.run_until_idle()
    await deliver(store, "netsuite")
    await runner.run_until_idle()
    assert await status(store, key) == "backorder"
    await store.append_events(stock_check(key, 1))
    await runner.run_until_idle()
    assert await status(store, key) == "backorder"
    stock.levels["MUG-BLK"] = 5
    await store.append_events(stock_check(key, 2))
    await runner.run_until_idle()
    assert await status(store, key) == "released_to_warehouse"
    [release] = await deliver(store, "shipstation")
    assert release.payload["order_key"] == key


async def test_split_parts_are_found_by_their_key_and_number(store: SQLiteStore) -> None:
    stock = StaticAvailability({"MUG-BLK": 1})
    runner = FlowRunner(store, [OrderFulfilment(settings("split"), stock)])
    order = placed(4, [("1", "MUG-BLK", 2)])
    key = key_of(order)
    await store.append_events(order)
    await runner.run_until_idle()
    await deliver(store, "netsuite")
    await runner.run_until_idle()
    assert await status(store, key) == "partial_backorder"
    [first] = await deliver(store, "shipstation")
    assert first.payload["order"]["lines"][0]["quantity"] == 1
    stock.levels["MUG-BLK"] = 3
    await store.append_events(stock_check(key, 1))
    await runner.run_until_idle()
    [second] = await deliver(store, "shipstation")
    assert second.payload["order_key"] == f"{key}-2"
    assert await store.canonical_id("order_number:2", "#204-2") == key
    for tracking, ref in (("T1", {"id": key}), ("T2", {"number": "#204-2"})):
        shipment = {
            "schema_version": "shipment.v1",
            "order": ref,
            "lines": [{"line_id": "1", "sku": "MUG-BLK", "quantity": 1}],
            "carrier": "UPS",
            "tracking_number": tracking,
            "status": "pre_transit",
        }
        await store.append_events(
            Event(
                source="crossdock:edi_3pl",
                type="shipment.updated",
                subject=tracking,
                correlationid="c",
                data=shipment,
            )
        )
    await runner.run_until_idle()
    assert rejected(runner.outcomes) == []
    assert await status(store, key) == "shipped"


# ---- the hub's holds, with the real availability ---------------------------------------------


@pytest.fixture
async def reserving(store: SQLiteStore) -> tuple[ReservingAvailability, Reservations]:
    model = AvailabilityReadModel(store)
    reservations = Reservations(store, model)
    return ReservingAvailability(model, reservations), reservations


async def test_a_held_order_keeps_its_units_from_the_next_until_the_erp_has_it(
    store: SQLiteStore, reserving: tuple[ReservingAvailability, Reservations]
) -> None:
    port, reservations = reserving
    assert isinstance(port, StockReservations)
    runner = FlowRunner(store, [OrderFulfilment(settings(), port)])
    first, second = placed(5, [("1", "MUG-BLK", 2)]), placed(6, [("1", "MUG-BLK", 2)])
    await store.append_events(level("MUG-BLK", 3, 0), first, second)
    await runner.run_until_idle()
    assert await reservations.held(key_of(first)) == {("MUG-BLK", "main"): 2}
    assert await reservations.held(key_of(second)) == {}
    await deliver(store, "netsuite")
    await runner.run_until_idle()
    assert await status(store, key_of(first)) == "released_to_warehouse"
    assert await status(store, key_of(second)) == "backorder"
    [done] = await release_holds(store, port)
    assert done.payload["order_id"] == key_of(first)
    assert done.payload["reason"] == "committed"
    assert await reservations.held(key_of(first)) == {}
    # The ERP's next level carries the committed order; stock arrives for the second one.
    await store.append_events(level("MUG-BLK", 4, 5), stock_check(key_of(second), 1))
    await runner.run_until_idle()
    assert await status(store, key_of(second)) == "released_to_warehouse"
    [done] = await release_holds(store, port)
    assert (done.payload["order_id"], done.payload["reason"]) == (key_of(second), "committed")


async def test_split_holds_what_it_releases_and_a_cancellation_frees_it(
    store: SQLiteStore, reserving: tuple[ReservingAvailability, Reservations]
) -> None:
    port, reservations = reserving
    runner = FlowRunner(store, [OrderFulfilment(settings("split"), port)])
    order = placed(7, [("1", "MUG-BLK", 3), ("2", "GRN-BRG", 1)])
    key = key_of(order)
    await store.append_events(level("MUG-BLK", 1, 0), level("GRN-BRG", 4, 0), order)
    await runner.run_until_idle()
    assert await reservations.held(key) == {("MUG-BLK", "main"): 1, ("GRN-BRG", "main"): 1}
    data = copy.deepcopy(order.data)
    data |= {"status": "cancelled", "financial_status": "voided"}
    data["cancellation"] = {"reason": "customer", "cancelled_at": "2026-11-20T09:30:00Z"}
    cancel = order.model_copy(
        update={"id": "00000000-0000-5000-8000-0000000000c7", "type": "order.cancelled"}
    ).model_copy(update={"data": data})
    await store.append_events(cancel)
    await runner.run_until_idle()
    assert await status(store, key) == "cancelled"
    [done] = await release_holds(store, port)
    assert done.payload["reason"] == "cancelled"
    assert await reservations.held(key) == {}


async def test_an_unknown_sku_holds_nothing_and_quarantines(
    store: SQLiteStore, reserving: tuple[ReservingAvailability, Reservations]
) -> None:
    port, reservations = reserving
    runner = FlowRunner(store, [OrderFulfilment(settings("split"), port)])
    order = placed(8, [("1", "MUG-BLK", 1), ("2", "NOPE", 1)])
    await store.append_events(level("MUG-BLK", 5, 0), order)
    await runner.run_until_idle()
    assert await status(store, key_of(order)) == "quarantined"
    assert await reservations.held(key_of(order)) == {}
    assert await release_holds(store, port) == []
