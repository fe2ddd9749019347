"""Canonical entities to NetSuite bodies, and lines allocated on a real-shaped salesOrder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossdock.canonical.customer import Customer
from crossdock.canonical.money import decimal_json_loads
from crossdock.canonical.order import Order
from crossdock.connectorkit.http import encode_json
from crossdock.connectors.netsuite import (
    Cursor,
    MappingFailedError,
    allocate_lines,
    customer_body,
    record_id_from_location,
    rest_url,
    sales_order_body,
)

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "netsuite"
HUB_ORDER = "0193b7a2-5c1e-7c3a-9a41-2f1d9e8b7c60"


def load(name: str) -> Any:
    return decimal_json_loads((PAYLOADS / name).read_text(encoding="utf-8"))


def canonical_order(**changes: Any) -> Order:
    usd = "USD"
    data: dict[str, Any] = {
        "id": HUB_ORDER,
        "number": "#1042",
        "channel": "shopify",
        "currency": usd,
        "email": "buyer@example.com",
        "lines": [
            {
                "line_id": "1",
                "sku": "CAF-ESP-1KG",
                "title": "Espresso 1 kg",
                "quantity": 3,
                "unit_price": {"amount": "17.85", "currency": usd},
            }
        ],
        "shipping_lines": [{"title": "UPS", "price": {"amount": "9.90", "currency": usd}}],
        "totals": {"total": {"amount": "63.45", "currency": usd}},
        "status": "open",
        "placed_at": "2026-11-27T04:00:00+01:00",
    }
    data.update(changes)
    return Order.model_validate(data)


def test_sales_order_body_references_by_external_id_and_keeps_money_exact() -> None:
    body = sales_order_body(canonical_order(), customer_external_id="cust-1", location_id="3")
    assert body["entity"] == {"externalId": "cust-1"}
    assert body["location"] == {"id": "3"}
    line = body["item"]["items"][0]
    assert line["item"] == {"externalId": "CAF-ESP-1KG"}
    assert (line["quantity"], line["rate"]) == (3, Decimal("17.85"))
    assert body["shippingCost"] == Decimal("9.90")
    assert body["tranDate"] == "2026-11-27"
    assert b'"rate":17.85' in encode_json(body)


def test_a_line_without_sku_cannot_become_a_sales_order_line() -> None:
    order = canonical_order()
    lines = [order.lines[0].model_copy(update={"sku": None})]
    with pytest.raises(MappingFailedError, match="no SKU"):
        sales_order_body(order.model_copy(update={"lines": lines}), customer_external_id="c")


def test_customer_bodies() -> None:
    business = Customer.model_validate(
        {"id": HUB_ORDER, "kind": "business", "account": {"name": "Café Ünïcode GmbH"}}
    )
    assert customer_body(business) == {"isPerson": False, "companyName": "Café Ünïcode GmbH"}
    person = Customer.model_validate(
        {"kind": "consumer", "first_name": "Ada", "last_name": "Lovelace", "email": "a@x.example"}
    )
    assert customer_body(person) == {
        "isPerson": True,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "a@x.example",
    }


def test_allocate_lines_on_a_real_shaped_sales_order() -> None:
    record = load("sales_order_48213.json")
    picks = allocate_lines(record, [("CAF-FIL-1KG", 5), ("CAF-ESP-1KG", 30)], room="fulfil")
    assert picks == [{"orderLine": 1, "quantity": 30}, {"orderLine": 2, "quantity": 5}]
    with pytest.raises(MappingFailedError, match="CAF-ESP-1KG: 1 more"):
        allocate_lines(record, [("CAF-ESP-1KG", 31)], room="fulfil")
    with pytest.raises(MappingFailedError, match="NOT-ON-ORDER"):
        allocate_lines(record, [("NOT-ON-ORDER", 1)], room="fulfil")
    with pytest.raises(MappingFailedError):  # nothing fulfilled yet, so nothing to bill
        allocate_lines(record, [("GRIND-HAND", 1)], room="bill")


def test_location_headers_and_rest_urls() -> None:
    location = (
        "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder/48213"
    )
    assert record_id_from_location(location) == "48213"
    with pytest.raises(MappingFailedError):
        record_id_from_location(None)
    assert rest_url("1234567_SB1") == "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"


def test_the_cursor_skips_what_it_saw_in_its_own_second() -> None:
    page = load("suiteql_inventory_page.json")
    rows = [(r["lastmodifieddate"], f"{r['item']}@{r['location']}") for r in page["items"]]
    cursor = Cursor().advance(rows)
    assert cursor.since == "2026-11-27 04:10:02"
    assert cursor.seen == {"5501@1", "5502@1"}
    later = cursor.advance([("2026-11-27 04:10:02", "5503@1")])
    assert later.seen == {"5501@1", "5502@1", "5503@1"}
    moved = later.advance([("2026-11-27 04:11:00", "5501@1")])
    assert (moved.since, moved.seen) == ("2026-11-27 04:11:00", {"5501@1"})
    assert Cursor.load(moved.dump()) == moved
    assert Cursor.load(None) == Cursor()
    with pytest.raises(ValueError, match="does not match"):
        Cursor.load({"since": "yesterday"})


def test_custom_and_gift_card_lines_go_to_their_configured_items() -> None:
    order = canonical_order()
    custom = order.lines[0].model_copy(
        update={"line_id": "2", "sku": None, "title": "Engraving «Ada»", "quantity": 2}
    )
    gift = order.lines[0].model_copy(
        update={"line_id": "3", "sku": "GIFT-50", "title": "Gift card", "gift_card": True}
    )
    lines = [order.lines[0], custom, gift]
    total = sum((line.gross.amount for line in lines), Decimal("9.90"))
    mixed = order.model_copy(update={"lines": lines})  # the body never reads the totals
    body = sales_order_body(
        mixed, customer_external_id="c", custom_item="CUSTOM", gift_card_item="GIFTCARD"
    )
    items = body["item"]["items"]
    assert [(i["item"], i["description"], i["quantity"], i["rate"]) for i in items] == [
        ({"externalId": "CAF-ESP-1KG"}, "Espresso 1 kg", 3, Decimal("17.85")),
        ({"externalId": "CUSTOM"}, "Engraving «Ada»", 2, Decimal("17.85")),
        ({"externalId": "GIFTCARD"}, "Gift card", 3, Decimal("17.85")),
    ]
    lines_total = sum((i["quantity"] * i["rate"] for i in items), Decimal(0))
    assert lines_total + body["shippingCost"] == total
