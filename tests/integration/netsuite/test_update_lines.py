"""NetSuite: quantity edits reach the sales order's item sublist (set, close, add), once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.netsuite import (
    CUSTOMER_UPSERT,
    FULFILLMENT_RECORD,
    SALES_ORDER_CREATE,
    SALES_ORDER_UPDATE,
    NetSuiteConnector,
)
from crossdock.connectors.netsuite.payloads import spread_units

from .builders import command, customer, order, shipment
from .conftest import Rig

RED, BLUE = "5501", "5502"
"""Internal ids of SKU-RED-M and SKU-BLUE-L in the default scenario (location 1 holds both)."""


async def _created(connector: NetSuiteConnector, lines: list[tuple[str, int, str]]) -> str:
    customer_id = new_id()
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    order_id = new_id()
    await connector.perform(
        command(SALES_ORDER_CREATE, {"order": order(order_id, lines), "customer_id": customer_id})
    )
    return order_id


def _record(rig: Rig, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = rig.sim.erp.get(
        "salesOrder", rig.sim.erp.resolve("salesOrder", f"eid:{order_id}")
    )
    return found


def _lines(rig: Rig, order_id: str) -> list[tuple[str, int, bool, int]]:
    return [
        (line["item"]["refName"], line["quantity"], line["isClosed"], line["quantityCommitted"])
        for line in _record(rig, order_id)["item"]["items"]
    ]


def _update(order_id: str, lines: list[dict[str, Any]]) -> Any:
    return command(SALES_ORDER_UPDATE, {"order_id": order_id, "changes": {"lines": lines}})


async def test_new_quantities_are_set_closed_and_added_and_stock_is_recommitted(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 2, "25.20"), ("SKU-BLUE-L", 1, "30.00")])
    committed_before = rig.sim.erp.stock_at(RED, "1").committed
    edit = _update(
        order_id,
        [
            {"line_id": "1", "sku": "SKU-RED-M", "quantity": 5},
            {"line_id": "2", "sku": "SKU-BLUE-L", "quantity": 0},
        ],
    )

    result = await connector.perform(edit)

    assert result["updated"] == ["lines"]
    assert _lines(rig, order_id) == [("SKU-RED-M", 5, False, 5), ("SKU-BLUE-L", 1, True, 0)]
    assert rig.sim.erp.stock_at(RED, "1").committed == committed_before + 3
    assert rig.sim.erp.stock_at(BLUE, "1").committed == 0
    assert _record(rig, order_id)["total"] == 5 * Decimal("25.20") + 1 * Decimal("30.00")


async def test_a_sku_the_order_lacks_becomes_a_new_line_once_across_retries(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 1, "25.20")])
    edit = _update(
        order_id,
        [
            {
                "line_id": "9",
                "sku": "SKU-BLUE-L",
                "quantity": 2,
                "unit_price": {"amount": "29.00", "currency": "USD"},
                "title": "Blue shirt L (gift wrap)",
            }
        ],
    )

    await connector.perform(edit)
    await connector.perform(edit, attempt=2)
    await connector.perform(edit, attempt=3)

    items = _record(rig, order_id)["item"]["items"]
    assert [(i["line"], i["item"]["refName"], i["quantity"]) for i in items] == [
        (1, "SKU-RED-M", 1),
        (2, "SKU-BLUE-L", 2),
    ]
    assert str(items[1]["rate"]) == "29.00"
    assert items[1]["description"] == "Blue shirt L (gift wrap)"
    assert items[1]["quantityCommitted"] == 2


async def test_setting_the_quantities_the_order_has_sends_nothing(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 2, "25.20")])
    modified = _record(rig, order_id)["lastModifiedDate"]
    patches_before = _patches(rig)

    await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 2}]))
    await connector.perform(_update(order_id, [{"sku": "SKU-BLUE-L", "quantity": 0}]))

    assert _patches(rig) == patches_before
    assert _record(rig, order_id)["lastModifiedDate"] == modified


async def test_a_quantity_below_what_is_fulfilled_is_refused_with_netsuites_error(
    rig: Rig,
) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 3, "25.20")])
    ship = shipment(new_id(), order_id, [("SKU-RED-M", 2)])
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": ship}))

    with pytest.raises(PermanentFailureError, match="below the quantity already fulfilled"):
        await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 1}]))

    assert _lines(rig, order_id) == [("SKU-RED-M", 3, False, 1)]


async def test_zero_on_a_partly_fulfilled_line_cancels_only_its_unshipped_rest(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 3, "25.20")])
    ship = shipment(new_id(), order_id, [("SKU-RED-M", 2)])
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": ship}))

    await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 0}]))

    line = _record(rig, order_id)["item"]["items"][0]
    assert (line["quantity"], line["quantityFulfilled"], line["quantityCommitted"]) == (2, 2, 0)
    assert _record(rig, order_id)["status"]["refName"] == "Pending Billing"


async def test_a_closed_line_set_to_a_quantity_again_is_reopened(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 2, "25.20")])
    await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 0}]))
    assert _lines(rig, order_id) == [("SKU-RED-M", 2, True, 0)]

    await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 4}]))

    assert _lines(rig, order_id) == [("SKU-RED-M", 4, False, 4)]


async def test_an_address_and_quantities_go_in_one_patch(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 1, "25.20")])
    address = {"name": "Ada Byron", "line1": "1 Loom St", "city": "Leeds", "country_code": "GB"}
    patches_before = _patches(rig)
    payload = {
        "order_id": order_id,
        "changes": {
            "shipping_address": address,
            "lines": [{"sku": "SKU-RED-M", "quantity": 2}],
        },
    }

    result = await connector.perform(command(SALES_ORDER_UPDATE, payload))

    assert result["updated"] == ["lines", "shipping_address"]
    assert _patches(rig) == patches_before + 1
    record = _record(rig, order_id)
    assert record["shippingAddress"]["addr1"] == "1 Loom St"
    assert record["item"]["items"][0]["quantity"] == 2


async def test_an_item_netsuite_does_not_know_is_refused_and_nothing_changes(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 1, "25.20")])
    edit = _update(
        order_id,
        [{"sku": "SKU-RED-M", "quantity": 3}, {"sku": "SKU-NOPE", "quantity": 1}],
    )

    with pytest.raises(PermanentFailureError, match="SKU-NOPE"):
        await connector.perform(edit)

    assert _lines(rig, order_id) == [("SKU-RED-M", 1, False, 1)]


def _patches(rig: Rig) -> int:
    return sum(1 for r in rig.sim.requests.recent() if r.method == "PATCH")


async def test_a_sku_on_two_lines_has_its_new_units_spread_over_them(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 2, "25.20"), ("SKU-RED-M", 1, "20.00")])

    await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 5}]))
    assert _lines(rig, order_id) == [("SKU-RED-M", 2, False, 2), ("SKU-RED-M", 3, False, 3)]

    await connector.perform(_update(order_id, [{"sku": "SKU-RED-M", "quantity": 1}]))
    assert _lines(rig, order_id) == [("SKU-RED-M", 1, False, 1), ("SKU-RED-M", 3, True, 0)]


def test_units_are_spread_last_line_first_and_never_below_what_is_fulfilled() -> None:
    assert spread_units([(2, 0), (1, 0)], 5) == [2, 3]
    assert spread_units([(2, 1), (3, 2)], 3) == [1, 2]
    assert spread_units([(2, 1), (3, 2)], 0) == [1, 2]  # 0: only the unfulfilled units go
    assert spread_units([(3, 2)], 1) == [1]  # below what is fulfilled: NetSuite refuses it
