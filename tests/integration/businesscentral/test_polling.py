"""Change polling: a lastModifiedDateTime cursor kept in the backbone, following nextLink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from crossdock.backbone import SqlStore, open_store
from crossdock.backbone.store import Command, StaleFlowState
from crossdock.connectors.businesscentral import (
    CREATE_ORDER,
    CURSOR_FLOW,
    FULFIL_ORDER,
    BusinessCentralConnector,
    CursorStore,
    PollCursor,
    inventory_level_from_item,
    order_from_businesscentral,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer

from .conftest import admin, order_payload


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A real SQLite backbone in the test's own directory."""
    opened = await open_store(str(tmp_path / "hub.db"))
    yield opened
    await opened.close()


async def _orders(connector: BusinessCentralConnector, *ids: str) -> None:
    for order_id in ids:
        await connector.perform(
            Command(f"flow:{order_id}", "businesscentral", CREATE_ORDER, order_payload(order_id))
        )


async def test_polling_follows_next_links_and_resumes_from_the_stored_cursor(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    store: SqlStore,
) -> None:
    await admin(raw, server, "businesscentral/settings", {"page_size": 2})
    await _orders(connector, "P-1", "P-2", "P-3", "P-4", "P-5")
    cursors = CursorStore(store)

    first = await connector.poll_feed(cursors, "orders")

    assert first.pages == 3
    assert [r["externalDocumentNumber"] for r in first.records] == [
        "P-1",
        "P-2",
        "P-3",
        "P-4",
        "P-5",
    ]
    stored = await store.get_flow_state(CURSOR_FLOW, "businesscentral:orders")
    assert stored is not None
    assert stored.state["since"] == first.records[-1]["lastModifiedDateTime"]

    assert (await connector.poll_feed(cursors, "orders")).records == []

    await _orders(connector, "P-6")
    partial = {"order_id": "P-2", "lines": [{"sku": "1896-S", "quantity_shipped": "1"}]}
    await connector.perform(Command("flow:P-2:fulfil", "businesscentral", FULFIL_ORDER, partial))
    third = await connector.poll_feed(cursors, "orders")

    assert [r["externalDocumentNumber"] for r in third.records] == ["P-6", "P-2"]
    assert third.records[-1]["status"] == "Released"
    orders = [order_from_businesscentral(r, local_currency="USD") for r in third.records]
    assert [o.purchase_order for o in orders] == ["P-6", "P-2"]
    assert [line.sku for line in orders[0].lines] == ["1896-S", "1920-S"]
    assert orders[0].totals.total.amount == Decimal("2651.00")
    next_links = [r for r in sim.requests.recent() if "skiptoken" in r.query]
    assert next_links  # the later pages were fetched through @odata.nextLink
    assert all("lastModifiedDateTime" in r.query for r in next_links)


async def test_inventory_polling_sees_what_a_shipment_moved(
    connector: BusinessCentralConnector, store: SqlStore
) -> None:
    cursors = CursorStore(store)
    initial = await connector.poll_feed(cursors, "inventory")
    assert {r["number"]: r["inventory"] for r in initial.records} == {
        "1896-S": 40,
        "1920-S": 10,
        "1936-S": 100,
    }
    assert set(initial.records[0]) == {
        "@odata.etag",
        "id",
        "number",
        "gtin",
        "inventory",
        "unitPrice",
        "lastModifiedDateTime",
    }

    await _orders(connector, "INV-1")
    await connector.perform(
        Command("flow:INV-1:fulfil", "businesscentral", FULFIL_ORDER, {"order_id": "INV-1"})
    )
    moved = await connector.poll_feed(cursors, "inventory")

    assert {r["number"]: r["inventory"] for r in moved.records} == {"1896-S": 38, "1920-S": 9}
    levels = [inventory_level_from_item(r, location="bc-main") for r in moved.records]
    assert [(level.sku, level.available) for level in levels] == [("1896-S", 38), ("1920-S", 9)]


async def test_records_sharing_the_cursor_millisecond_are_neither_lost_nor_repeated(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    items = list(sim.company.items.values())
    stamp = "2026-11-30T12:00:00.000Z"
    for item in items:
        item.data["lastModifiedDateTime"] = stamp
    first_two = PollCursor(stamp, frozenset({items[0].id, items[1].id}))

    result = await connector.poll_inventory(first_two)

    assert [r["id"] for r in result.records] == [items[2].id]
    assert result.cursor == PollCursor(stamp, frozenset(item.id for item in items))


async def test_a_concurrent_poller_cannot_move_the_cursor_back(
    connector: BusinessCentralConnector, store: SqlStore
) -> None:
    cursors = CursorStore(store)
    _, version = await cursors.load("businesscentral:orders")
    await connector.poll_feed(cursors, "orders")

    with pytest.raises(StaleFlowState):
        await cursors.save("businesscentral:orders", PollCursor(), version)
