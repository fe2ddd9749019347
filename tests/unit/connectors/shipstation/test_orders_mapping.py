"""Canonical order -> ShipStation createorder body."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crossdock.canonical.order import Order, parse_order
from crossdock.connectorkit.http import encode_json
from crossdock.connectors.shipstation import (
    createorder_body,
    from_shipstation_time,
    to_shipstation_time,
)


@pytest.fixture
def order(payload: Callable[[str], Any]) -> Order:
    return parse_order(payload("canonical_order_1042.json"))


def test_release_body_has_every_required_field_and_the_order_key(order: Order) -> None:
    body = createorder_body(order, order_key=str(order.id), store_id=12345)

    for name in ("orderNumber", "orderDate", "orderStatus", "billTo", "shipTo"):
        assert body[name], name
    assert body["orderKey"] == "0193f1c2-7a51-7c3e-9d2b-5e8f4a1b2c3d"
    assert body["orderNumber"] == "#1042"
    assert body["orderStatus"] == "awaiting_shipment"
    assert body["advancedOptions"] == {"customField1": "shopify:web", "storeId": 12345}


def test_only_lines_that_ship_become_items_with_decimal_prices(order: Order) -> None:
    items = createorder_body(order, order_key="k")["items"]

    assert [(i["lineItemKey"], i["sku"], i["quantity"]) for i in items] == [
        ("13459672301", "MUG-RED", 2),
        ("13459672302", "BAG-20L", 1),
    ]
    assert items[0]["unitPrice"] == Decimal("14.90")
    assert items[0]["name"] == "Crème brûlée mug - Rouge"
    wire = encode_json(items)
    assert b'"unitPrice":14.90' in wire  # an exact JSON number, never a float or a string


def test_addresses_keep_unicode_and_join_first_and_last_names(order: Order) -> None:
    body = createorder_body(order, order_key="k")

    assert body["shipTo"]["name"] == "Zoë Ørsted"
    assert body["shipTo"]["company"] == "Ørsted Design ApS"
    assert body["shipTo"]["state"] == "Hovedstaden"
    assert body["shipTo"]["country"] == "DK"
    assert body["billTo"]["street2"] == "3. tv."


def test_money_and_dates(order: Order) -> None:
    body = createorder_body(order, order_key="k")

    assert body["amountPaid"] == Decimal("148.70")
    assert body["shippingAmount"] == Decimal("4.90")
    assert body["taxAmount"] == Decimal("0.00")
    # 09:15 at +01:00 is 08:15 UTC, 00:15 in Los Angeles (PST)
    assert body["orderDate"] == "2026-11-20T00:15:00.0000000"
    assert body["paymentDate"] == body["orderDate"]


def test_shipstation_times_read_back_as_aware_instants() -> None:
    moment = datetime(2026, 7, 1, 18, 30, tzinfo=UTC)
    text = to_shipstation_time(moment)

    assert text == "2026-07-01T11:30:00.0000000"  # PDT in summer
    assert from_shipstation_time(text) == moment
    assert from_shipstation_time("2026-11-21T07:42:18.1930000").utcoffset() is not None
    assert from_shipstation_time("2026-11-21T07:42:18Z") == datetime(
        2026, 11, 21, 7, 42, 18, tzinfo=UTC
    )


def test_cancel_and_hold_statuses_are_accepted_and_unknown_ones_refused(order: Order) -> None:
    assert createorder_body(order, order_key="k", order_status="cancelled")["orderStatus"] == (
        "cancelled"
    )
    with pytest.raises(ValueError, match="unknown ShipStation orderStatus"):
        createorder_body(order, order_key="k", order_status="packed")


def test_an_order_without_a_shipping_address_is_refused(order: Order) -> None:
    no_address = order.model_copy(update={"shipping_address": None})
    with pytest.raises(ValueError, match="no shipping address"):
        createorder_body(no_address, order_key="k")
