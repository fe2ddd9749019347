"""Orders that were edited or partly refunded map as they now stand, with exact totals."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crossdock.canonical.money import Money
from crossdock.canonical.order import Order
from crossdock.connectors.shopify import DecodeContext, OrderQuarantined, decode_order

from .conftest import load

CTX = DecodeContext(
    source="shopify:crossdock-sandbox.myshopify.com",
    correlation_id="corr-edit",
    currency="EUR",
    price_list="retail-eur",
    triggered_at=datetime(2026, 11, 27, 5, 0, tzinfo=UTC),
)
FIXTURE = "orders_updated_edited_shipping_refunded.json"


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def test_an_edited_order_carries_current_quantities_and_current_totals() -> None:
    payload = load(FIXTURE)
    order = Order.model_validate(decode_order("orders/updated", payload, CTX).data)
    by_sku = {line.sku: line for line in order.lines}
    # 3 mugs became 1, a blue mug was added by the edit, the bag is untouched.
    assert {sku: line.quantity for sku, line in by_sku.items()} == {
        "MUG-RED": 1,
        "BAG-20L": 1,
        "MUG-BLU": 1,
    }
    assert by_sku["MUG-RED"].net == eur("13.41")  # 40.23 net for 3, less the 26.82 taken off
    assert by_sku["MUG-RED"].tax_total == eur("2.68")  # 8.05 less 5.37
    assert by_sku["MUG-RED"].discount_allocations[0].code == "WELCOME10"
    assert by_sku["MUG-BLU"].net == eur("14.90")
    # The shipping was refunded in full: it counts as a shipping discount, its tax stays.
    assert order.shipping_lines[0].net == eur("0.00")
    assert order.totals.total == eur(payload["current_total_price"]) == eur("131.07")
    assert order.totals.tax == eur(payload["current_total_tax"]) == eur("22.66")
    assert order.totals.subtotal == eur(payload["current_subtotal_price"])
    order.check_totals()
    assert payload["total_price"] == "150.28"  # the order as placed is not what the hub gets


def test_units_no_refund_record_covers_are_taken_off_pro_rata() -> None:
    payload = load(FIXTURE)
    bare = copy.deepcopy(payload)
    for refund in bare["refunds"]:
        refund["refund_line_items"] = []
    with_records = Order.model_validate(decode_order("orders/updated", payload, CTX).data)
    pro_rata = Order.model_validate(decode_order("orders/updated", bare, CTX).data)
    assert [(ln.line_id, ln.net, ln.tax_total) for ln in pro_rata.lines] == [
        (ln.line_id, ln.net, ln.tax_total) for ln in with_records.lines
    ]
    pro_rata.check_totals()


def test_a_change_of_the_current_total_alone_is_quarantined() -> None:
    payload = load(FIXTURE)
    payload["current_total_price"] = str(Decimal(payload["current_total_price"]) - Decimal("1"))
    with pytest.raises(OrderQuarantined) as caught:
        decode_order("orders/updated", payload, CTX)
    assert caught.value.difference == eur("-1.00")


def test_an_order_with_no_unit_left_maps_as_placed() -> None:
    payload = load(FIXTURE)
    # Every unit refunded (the line the edit added aside: REST cannot tell it from the others).
    payload["line_items"] = [ln for ln in payload["line_items"] if ln["sku"] != "MUG-BLU"]
    for line in payload["line_items"]:
        line["current_quantity"] = 0
    payload["current_total_price"] = "0.00"
    order = Order.model_validate(decode_order("orders/updated", payload, CTX).data)
    assert order.totals.total == eur(payload["total_price"])
    assert [line.quantity for line in order.lines] == [
        line["quantity"] for line in payload["line_items"]
    ]
