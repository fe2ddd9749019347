"""NetSuite: the ship-to address goes with the sales order and an allowed edit reaches it."""

from __future__ import annotations

import pytest

from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.netsuite import (
    CUSTOMER_UPSERT,
    SALES_ORDER_CREATE,
    SALES_ORDER_UPDATE,
    NetSuiteConnector,
)

from .builders import command, customer, order
from .conftest import Rig

ADDRESS = {
    "name": "Zoë Ørsted",
    "line1": "Lange Straße 5",
    "city": "München",
    "region_code": "BY",
    "postal_code": "80331",
    "country_code": "DE",
}
MOVED = {**ADDRESS, "line1": "Kaufingerstraße 9", "postal_code": "80333"}


async def _created(connector: NetSuiteConnector) -> tuple[str, str]:
    customer_id = new_id()
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    order_id = new_id()
    body = {**order(order_id, [("SKU-RED-M", 1, "25.20")]), "shipping_address": ADDRESS}
    created = await connector.perform(
        command(SALES_ORDER_CREATE, {"order": body, "customer_id": customer_id})
    )
    return order_id, str(created["netsuite_id"])


async def test_the_ship_to_is_created_with_the_order_and_an_edit_replaces_it(rig: Rig) -> None:
    connector = rig.connector()
    order_id, record_id = await _created(connector)
    created = rig.sim.erp.get("salesOrder", record_id)["shippingAddress"]
    assert created == {
        "addressee": "Zoë Ørsted",
        "addr1": "Lange Straße 5",
        "city": "München",
        "state": "BY",
        "zip": "80331",
        "country": "DE",
    }
    payload = {"order_id": order_id, "changes": {"shipping_address": MOVED}}
    result = await connector.perform(command(SALES_ORDER_UPDATE, payload))
    assert result["updated"] == ["shipping_address"]
    again = await connector.perform(command(SALES_ORDER_UPDATE, payload), attempt=2)
    assert again["netsuite_id"] == result["netsuite_id"]
    moved = rig.sim.erp.get("salesOrder", record_id)["shippingAddress"]
    assert (moved["addr1"], moved["zip"]) == ("Kaufingerstraße 9", "80333")
    assert moved["city"] == "München"


async def test_a_change_netsuite_cannot_take_is_refused_by_name(rig: Rig) -> None:
    connector = rig.connector()
    order_id, record_id = await _created(connector)
    payload = {"order_id": order_id, "changes": {"lines": [{"line_id": "1", "quantity": 3}]}}
    with pytest.raises(PermanentFailureError, match="cannot take changes of lines"):
        await connector.perform(command(SALES_ORDER_UPDATE, payload))
    assert rig.sim.erp.get("salesOrder", record_id)["item"]["items"][0]["quantity"] == 1
