"""NetSuite: ``sales_order.close``, and order lines that name no stocked item.

A custom line (no SKU) goes to the configured non-inventory sale item and a sold gift card to
the gift-card item, with descriptions and amounts kept exactly; closing an order closes the
lines with something left to fulfil, once, and an ambiguous close is settled by reading.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.netsuite import (
    CUSTOMER_UPSERT,
    DEFAULT_CUSTOM_ITEM,
    DEFAULT_GIFT_CARD_ITEM,
    FULFILLMENT_RECORD,
    INVOICE_CREATE,
    SALES_ORDER_CLOSE,
    SALES_ORDER_CREATE,
    NetSuiteConnector,
)
from crossdock.sandbox.kit import FaultAction, FaultInjector, FaultSpec

from .builders import command, customer, money, order, shipment
from .conftest import Rig

ENGRAVING = "Engraving: «For Ada» ✓"


def _mixed_order(order_id: str) -> dict[str, Any]:
    """A stocked line, a custom line with no SKU, a sold gift card and shipping."""
    return {
        "id": order_id,
        "number": "#2001",
        "channel": "shopify",
        "currency": "USD",
        "lines": [
            {
                "line_id": "11",
                "sku": "SKU-RED-M",
                "title": "Red shirt M",
                "quantity": 2,
                "unit_price": money("25.20"),
            },
            {
                "line_id": "12",
                "sku": None,
                "title": ENGRAVING,
                "quantity": 3,
                "unit_price": money("7.35"),
            },
            {
                "line_id": "13",
                "sku": None,
                "title": "Gift card $50",
                "quantity": 1,
                "unit_price": money("50.00"),
                "gift_card": True,
                "requires_shipping": False,
                "taxable": False,
            },
        ],
        "shipping_lines": [{"title": "UPS Ground", "price": money("9.90")}],
        "totals": {"total": money("132.35")},
        "status": "open",
        "placed_at": "2026-11-27T04:00:00Z",
    }


async def _customer(connector: NetSuiteConnector) -> str:
    customer_id = new_id()
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    return customer_id


async def test_custom_and_gift_card_lines_make_one_order_with_exact_lines(rig: Rig) -> None:
    connector = rig.connector()
    customer_id = await _customer(connector)
    order_id = new_id()
    payload = {"order": _mixed_order(order_id), "customer_id": customer_id}
    created = await connector.perform(command(SALES_ORDER_CREATE, payload))
    again = await connector.perform(command(SALES_ORDER_CREATE, payload), attempt=2)
    assert again == created
    assert len(rig.sim.erp.records["salesOrder"]) == 1
    record = rig.sim.erp.get("salesOrder", created["netsuite_id"])
    lines = [
        (line["item"]["refName"], line["description"], line["quantity"], line["rate"])
        for line in record["item"]["items"]
    ]
    assert lines == [
        ("SKU-RED-M", "Red shirt M", 2, Decimal("25.20")),
        (DEFAULT_CUSTOM_ITEM, ENGRAVING, 3, Decimal("7.35")),
        (DEFAULT_GIFT_CARD_ITEM, "Gift card $50", 1, Decimal("50.00")),
    ]
    amounts = [line["amount"] for line in record["item"]["items"]]
    assert amounts == [Decimal("50.40"), Decimal("22.05"), Decimal("50.00")]
    assert record["total"] == Decimal("132.35")  # the canonical order's total, to the cent
    # Only the stocked line commits stock; the others are billable as they are.
    assert [line["quantityCommitted"] for line in record["item"]["items"]] == [2, 0, 0]

    # The warehouse reports the engraving too; it sits on the non-inventory item, so only the
    # stocked line is fulfilled, and a shipment of custom lines alone fulfils nothing.
    ship = shipment(new_id(), order_id, [("SKU-RED-M", 2)])
    ship["lines"].append({"sku": None, "quantity": 3})
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": ship}))
    assert len(rig.sim.erp.records["itemFulfillment"]) == 1
    only_custom = shipment(new_id(), order_id, [])
    only_custom["lines"] = [{"sku": None, "quantity": 3}]
    nothing = await connector.perform(command(FULFILLMENT_RECORD, {"shipment": only_custom}))
    assert nothing["status"] == "nothing_to_fulfil"
    assert len(rig.sim.erp.records["itemFulfillment"]) == 1
    status = await connector.order_status(order_id)
    assert status is not None
    assert status["status"] == {"id": "F", "refName": "Pending Billing"}
    invoice_id = new_id()
    billed = await connector.perform(
        command(INVOICE_CREATE, {"order_id": order_id, "invoice_id": invoice_id})
    )
    invoice = rig.sim.erp.get("invoice", billed["netsuite_id"])
    assert invoice["total"] == Decimal("122.45")  # every line; shipping is not billed here
    assert billed["status"] == {"id": "A", "refName": "Open"}


async def test_a_line_without_sku_is_refused_when_no_custom_item_is_configured(rig: Rig) -> None:
    connector = rig.connector(custom_item=None)
    customer_id = await _customer(connector)
    payload = {"order": _mixed_order(new_id()), "customer_id": customer_id}
    with pytest.raises(PermanentFailureError, match="no SKU"):
        await connector.perform(command(SALES_ORDER_CREATE, payload))
    assert rig.sim.erp.records["salesOrder"] == {}


async def test_a_custom_item_the_account_lacks_is_a_permanent_failure(rig: Rig) -> None:
    connector = rig.connector(custom_item="NO-SUCH-ITEM")
    customer_id = await _customer(connector)
    payload = {"order": _mixed_order(new_id()), "customer_id": customer_id}
    with pytest.raises(PermanentFailureError, match="NO-SUCH-ITEM"):
        await connector.perform(command(SALES_ORDER_CREATE, payload))


async def _created(connector: NetSuiteConnector, lines: list[tuple[str, int, str]]) -> str:
    customer_id = await _customer(connector)
    order_id = new_id()
    payload = {"order": order(order_id, lines), "customer_id": customer_id}
    await connector.perform(command(SALES_ORDER_CREATE, payload))
    return order_id


def _close(order_id: str, key: str | None = None) -> Any:
    return command(SALES_ORDER_CLOSE, {"order_id": order_id, "reason": "customer"}, key=key)


def _patches(rig: Rig) -> int:
    calls = rig.sim.requests.recent(path_prefix="/services/rest/record/v1/salesOrder")
    return sum(1 for call in calls if call.method == "PATCH")


async def test_close_closes_every_line_frees_stock_and_is_done_when_repeated(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 2, "25.20"), ("SKU-BLUE-L", 1, "30.00")])
    assert rig.sim.erp.stock_at("5501", "1").committed == 2
    closed = await connector.perform(_close(order_id))
    assert closed["status"] == {"id": "H", "refName": "Closed"}
    assert closed["closed_lines"] == 2
    assert closed["erp_id"] == closed["netsuite_id"]
    record = rig.sim.erp.get("salesOrder", str(closed["erp_id"]))
    assert all(line["isClosed"] for line in record["item"]["items"])
    assert rig.sim.erp.stock_at("5501", "1").committed == 0
    again = await connector.perform(_close(order_id), attempt=2)
    assert again["status"] == closed["status"]
    assert again["closed_lines"] == 0
    assert _patches(rig) == 1


async def test_close_leaves_fulfilled_lines_to_be_billed(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 2, "25.20"), ("SKU-BLUE-L", 1, "30.00")])
    ship = shipment(new_id(), order_id, [("SKU-BLUE-L", 1)])
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": ship}))
    closed = await connector.perform(_close(order_id))
    assert closed["closed_lines"] == 1
    assert closed["status"] == {"id": "F", "refName": "Pending Billing"}
    record = rig.sim.erp.get("salesOrder", str(closed["erp_id"]))
    assert [line["isClosed"] for line in record["item"]["items"]] == [True, False]


async def test_closing_an_order_netsuite_never_had_is_done(rig: Rig) -> None:
    connector = rig.connector()
    order_id = new_id()
    result = await connector.perform(_close(order_id))
    assert result == {"erp_id": None, "external_id": order_id, "status": "not_in_erp"}
    assert _patches(rig) == 0


def _seed_for(pattern: list[FaultAction], spec: FaultSpec) -> int:
    for seed in range(10_000):
        probe = FaultInjector(seed)
        probe.configure(spec.model_copy(update={"seed": seed}))
        if [probe.decide().action for _ in pattern] == pattern:
            return seed
    raise AssertionError("no seed gives that pattern")


async def test_an_ambiguous_close_is_settled_by_reading_the_order(rig: Rig) -> None:
    connector = rig.connector()
    order_id = await _created(connector, [("SKU-RED-M", 1, "25.20")])
    # The lookup passes, the PATCH takes effect and its answer is lost (504), the settling
    # lookup passes.
    spec = FaultSpec(error_rate=0.5, error_status=504, fault_phase="after")
    pattern = [FaultAction.PASS, FaultAction.ERROR, FaultAction.PASS]
    rig.sim.faults.configure(spec.model_copy(update={"seed": _seed_for(pattern, spec)}))
    result = await connector.perform(_close(order_id))
    rig.sim.faults.clear()
    assert result["status"] == {"id": "H", "refName": "Closed"}
    calls = rig.sim.requests.recent(path_prefix="/services/rest/record")[-3:]
    assert [(c.method, c.fault) for c in calls] == [
        ("GET", "pass"),
        ("PATCH", "error"),
        ("GET", "pass"),
    ]
