"""SuiteQL paging and cursor polling against the simulator, with the cursor in a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crossdock.backbone import SqlStore, open_store
from crossdock.canonical.ids import new_id
from crossdock.connectors.netsuite import (
    CUSTOMER_UPSERT,
    FULFILLMENT_RECORD,
    POLL_FLOW,
    SALES_ORDER_CREATE,
    Cursor,
    suiteql_pages,
)

from .builders import command, customer, order, shipment
from .conftest import Rig


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(str(tmp_path / "hub.db"))
    yield opened
    await opened.close()


async def test_suiteql_pages_through_has_more(rig: Rig) -> None:
    connector = rig.connector()
    query = "SELECT item, location, quantityonhand FROM inventoryitemlocations"
    first = await connector.suiteql_page(query, limit=2, offset=0)
    assert (first["count"], first["hasMore"], first["totalResults"]) == (2, True, 3)
    assert [link["rel"] for link in first["links"]] == ["self", "next"]
    assert first["items"][0]["item"] == "5501"  # values as strings
    pages = [page async for page in suiteql_pages(connector, query, page_size=1)]
    assert [len(p) for p in pages] == [1, 1, 1]
    rows = [(r["item"], r["location"], r["quantityonhand"]) for p in pages for r in p]
    assert rows == [("5501", "1", "50"), ("5501", "2", "10"), ("5502", "1", "3")]
    calls = rig.sim.requests.recent(path_prefix="/services/rest/query")
    assert [c.query for c in calls[-3:]] == [
        "limit=1&offset=0",
        "limit=1&offset=1",
        "limit=1&offset=2",
    ]


async def test_other_statements_are_refused_with_invalid_parameter(rig: Rig) -> None:
    url = f"{rig.rest}/query/v1/suiteql"
    for statement in (
        "UPDATE item SET itemid = 'x'",
        "SELECT id FROM item JOIN location ON 1 = 1",
        "SELECT nosuchcolumn FROM transaction",
        "SELECT id FROM employee",
    ):
        status, body, _ = await rig.signed(
            "POST", url, {"q": statement}, headers={"Prefer": "transient"}
        )
        assert status == 400, statement
        detail = body["o:errorDetails"][0]
        assert detail["o:errorCode"] == "INVALID_PARAMETER"
        assert detail["detail"].startswith("Invalid search query")
    status, body, _ = await rig.signed("POST", url, {"q": "SELECT id FROM item"})
    assert status == 400
    assert body["o:errorDetails"][0]["o:errorHeader"] == "Prefer"


async def test_inventory_polling_emits_changes_once_and_keeps_its_cursor(
    rig: Rig, store: SqlStore
) -> None:
    connector = rig.connector(page_size=1, locations={"1": "MAIN", "2": "EAST"})
    first = await connector.poll_inventory_into(store)
    assert {e.subject for e in first} == {"SKU-RED-M@MAIN", "SKU-RED-M@EAST", "SKU-BLUE-L@MAIN"}
    assert {e.type for e in first} == {"inventory.changed"}
    blue = next(e for e in first if e.subject == "SKU-BLUE-L@MAIN")
    assert (blue.data["on_hand"], blue.data["reserved"], blue.data["available"]) == (3, 0, 3)
    assert await connector.poll_inventory_into(store) == []
    customer_id = new_id()
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    payload = {
        "order": order(new_id(), [("SKU-BLUE-L", 2, "30.00")]),
        "customer_id": customer_id,
        "location_id": "1",
    }
    await connector.perform(command(SALES_ORDER_CREATE, payload))
    changed = await connector.poll_inventory_into(store)
    assert [e.subject for e in changed] == ["SKU-BLUE-L@MAIN"]
    assert (changed[0].data["reserved"], changed[0].data["available"]) == (2, 1)
    state = await store.get_flow_state(POLL_FLOW, "netsuite:inventory")
    assert state is not None
    assert Cursor.load(state.state).since == changed[0].data["as_of"][:19].replace("T", " ")
    stored = await store.read_events(limit=100)
    assert len(stored) == len(first) + 1


async def test_order_polling_emits_status_changes(rig: Rig, store: SqlStore) -> None:
    connector = rig.connector()
    customer_id = new_id()
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    order_id = new_id()
    payload = {"order": order(order_id, [("SKU-RED-M", 2, "25.20")]), "customer_id": customer_id}
    await connector.perform(command(SALES_ORDER_CREATE, payload))
    placed = await connector.poll_orders_into(store)
    assert [(e.type, e.subject) for e in placed] == [("order.updated", order_id)]
    assert placed[0].data["fulfillment_status"] == "unfulfilled"
    assert placed[0].data["totals"]["total"]["amount"] == "50.40"
    assert await connector.poll_orders_into(store) == []
    ship = shipment(new_id(), order_id, [("SKU-RED-M", 1)])
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": ship}))
    moved = await connector.poll_orders_into(store)
    assert [e.subject for e in moved] == [order_id]
    assert moved[0].data["fulfillment_status"] == "partial"
