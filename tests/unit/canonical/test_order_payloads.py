"""Canonical orders built from real-shaped Shopify, Salesforce, NetSuite and BC payloads.

Each fixture under tests/fixtures/payloads/ follows the wire reference. The tests check that every
amount survives exactly (compared with the fixture's own text), that the totals check passes, that
a one-cent doctored payload is refused with the order and the difference named, and that integer
ids never turn into floats.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossdock.canonical.mapping import MappingError
from crossdock.canonical.money import Money, decimal_json_loads
from crossdock.canonical.order import Order, OrderTotalsMismatch
from crossdock.connectors.businesscentral import order_from_businesscentral
from crossdock.connectors.netsuite import order_from_netsuite
from crossdock.connectors.salesforce import order_from_salesforce
from crossdock.connectors.shopify import (
    order_from_shopify,
    refund_from_shopify,
    return_lines_from_shopify_refund,
)

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"

SHOPIFY_ORDERS = [
    "orders_create_1042_eur_taxes_included.json",
    "orders_create_1043_usd_taxes_added.json",
    "orders_cancelled_1044_jpy.json",
]


def load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = decimal_json_loads((PAYLOADS / relative).read_bytes())
    return data


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, Mapping):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def exact(money: Money | None, text: object) -> bool:
    """True when `money` holds exactly the decimal written in the fixture (same digits)."""
    assert money is not None
    return money.amount == Decimal(str(text)) and str(money.amount) == str(Decimal(str(text)))


# --- every fixture decodes without a single float ----------------------------------------------


@pytest.mark.parametrize("path", sorted(p.relative_to(PAYLOADS) for p in PAYLOADS.rglob("*.json")))
def test_fixtures_decode_without_floats(path: Path) -> None:
    assert not any(isinstance(v, float) for v in walk(load(str(path))))


# --- Shopify -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHOPIFY_ORDERS)
def test_shopify_amounts_are_exact_and_totals_check(name: str) -> None:
    payload = load(f"shopify/{name}")
    order = order_from_shopify(payload)

    currency = payload["currency"]
    assert order.currency == currency
    assert order.taxes_included is payload["taxes_included"]
    assert exact(order.totals.total, payload["total_price"])
    assert exact(order.totals.tax, payload["total_tax"])
    assert exact(order.totals.subtotal, payload["subtotal_price"])
    assert exact(order.totals.discounts, payload["total_discounts"])
    for line, raw in zip(order.lines, payload["line_items"], strict=True):
        assert line.line_id == str(raw["id"])
        assert exact(line.unit_price, raw["price"])
        assert line.quantity == raw["quantity"]
        for allocation, raw_allocation in zip(
            line.discount_allocations, raw["discount_allocations"], strict=True
        ):
            assert exact(allocation.amount, raw_allocation["amount"])
        for tax, raw_tax in zip(line.tax_lines, raw["tax_lines"], strict=True):
            assert exact(tax.amount, raw_tax["price"])
            assert tax.rate == raw_tax["rate"]
    for shipping, raw in zip(order.shipping_lines, payload["shipping_lines"], strict=True):
        assert exact(shipping.price, raw["price"])
        assert exact(shipping.net, raw["discounted_price"])
    # The check ran on construction; the recomputed totals equal the stated ones.
    computed = order.computed_totals()
    assert computed.total == order.totals.total
    assert computed.tax == order.totals.tax


def test_shopify_taxes_included_are_not_added_twice() -> None:
    order = order_from_shopify(load("shopify/orders_create_1042_eur_taxes_included.json"))
    computed = order.computed_totals()
    assert computed.total == computed.lines + computed.shipping  # tax is inside the prices
    assert computed.tax == Money("8.66", "EUR")


def test_shopify_taxes_added_on_top() -> None:
    order = order_from_shopify(load("shopify/orders_create_1043_usd_taxes_added.json"))
    computed = order.computed_totals()
    assert computed.total == computed.lines + computed.shipping + computed.tax


def test_shopify_custom_line_split_tender_and_non_ascii() -> None:
    order = order_from_shopify(load("shopify/orders_create_1042_eur_taxes_included.json"))
    custom = order.lines[1]
    assert custom.sku is None  # "" in the payload, variant_id null
    assert custom.title == "Gravur: »Für Zoë – alles Gute«"
    assert [(p.method, p.gateway) for p in order.payments] == [
        ("gift_card", "gift_card"),
        ("card", "shopify_payments"),
    ]
    assert order.shipping_address is not None
    assert order.shipping_address.line1 == "Leopoldstraße 77"
    assert order.shipping_address.name == "Zoë Müller-Lüdenscheidt"
    assert [c.code for c in order.discount_codes] == ["WILLKOMMEN10"]
    assert order.lines[0].discount_allocations[0].code == "WILLKOMMEN10"


def test_shopify_gift_card_purchase_and_free_shipping() -> None:
    order = order_from_shopify(load("shopify/orders_create_1043_usd_taxes_added.json"))
    gift = next(line for line in order.lines if line.gift_card)
    assert (gift.requires_shipping, gift.taxable, gift.tax_lines) == (False, False, [])
    shipping = order.shipping_lines[0]
    assert shipping.net == Money("0.00", "USD")
    assert shipping.discount_allocations[0].code == "FREESHIP"


def test_shopify_cancelled_order_in_a_currency_without_minor_units() -> None:
    order = order_from_shopify(load("shopify/orders_cancelled_1044_jpy.json"))
    assert order.status == "cancelled"
    assert order.cancellation is not None
    assert order.cancellation.reason == "customer"
    assert order.totals.total == Money("8150", "JPY")
    assert order.lines[0].title == "煎茶 (Sencha)"


def test_shopify_refund_numbers_stay_exact() -> None:
    payload = load("shopify/refunds_create_1043.json")
    # The quirk: subtotal and total_tax are JSON numbers here, decoded as Decimal.
    assert isinstance(payload["refund_line_items"][0]["subtotal"], Decimal)
    refund = refund_from_shopify(payload)
    assert refund.subtotal == Money("12.33", "USD")
    assert refund.tax == Money("1.17", "USD")
    assert refund.total == Money("13.50", "USD")
    assert refund.total == refund.subtotal + refund.tax
    assert refund.restock is True
    lines = return_lines_from_shopify_refund(payload)
    assert [(r.line_id, r.sku, r.quantity) for r in lines] == [("13456789099002", "SOCK-MER-M", 1)]


# --- Salesforce ----------------------------------------------------------------------------------


def test_salesforce_amounts_are_exact_and_totals_check() -> None:
    payload = load("salesforce/order_query_00000107.json")
    record = payload["records"][0]
    order = order_from_salesforce(payload)
    assert (order.number, order.currency, order.purchase_order) == (
        "00000107",
        "EUR",
        "PO-2026-4471",
    )
    assert exact(order.totals.total, record["TotalAmount"])
    assert order.totals.total.amount == Decimal("1291.1")
    for line, raw in zip(order.lines, record["OrderItems"]["records"], strict=True):
        assert line.line_id == raw["Id"]
        assert exact(line.unit_price, raw["UnitPrice"])
        assert line.quantity == int(raw["Quantity"])
        assert isinstance(line.quantity, int)
        assert line.net.amount == raw["TotalPrice"]
    assert order.customer is not None
    assert order.customer.account_name == "Café Größenwahn GmbH"
    assert order.shipping_address is not None
    assert (order.shipping_address.line1, order.shipping_address.line2) == (
        "Lagerstraße 4",
        "Hof 2, Tor B",
    )


# --- NetSuite ------------------------------------------------------------------------------------


def test_netsuite_amounts_are_exact_and_totals_check() -> None:
    payload = load("netsuite/sales_order_48213.json")
    order = order_from_netsuite(payload)
    assert (order.number, order.currency) == ("SO10482", "EUR")
    assert exact(order.totals.total, payload["total"])
    assert exact(order.totals.tax, payload["taxTotal"])
    assert order.order_discounts[0].amount.amount == -payload["discountTotal"]
    assert exact(order.shipping_lines[0].price, payload["shippingCost"])
    for line, raw in zip(order.lines, payload["item"]["items"], strict=True):
        assert line.sku == raw["item"]["refName"]
        assert exact(line.unit_price, raw["rate"])
        assert line.net.amount == raw["amount"]
    assert order.computed_totals().total == Money("1211.74", "EUR")


# --- Business Central ----------------------------------------------------------------------------

BC_CASES = [
    ("businesscentral/sales_order_S-ORD101005_lcy.json", "DKK"),
    ("businesscentral/sales_order_S-ORD101006_eur_prices_incl_tax.json", None),
]


@pytest.mark.parametrize(("name", "local_currency"), BC_CASES)
def test_businesscentral_amounts_are_exact_and_totals_check(
    name: str, local_currency: str | None
) -> None:
    payload = load(name)
    order = order_from_businesscentral(payload, local_currency=local_currency)
    assert order.taxes_included is payload["pricesIncludeTax"]
    assert exact(order.totals.total, payload["totalAmountIncludingTax"])
    assert exact(order.totals.tax, payload["totalTaxAmount"])
    raw_lines = [x for x in payload["salesOrderLines"] if x["lineType"] != "Comment"]
    for line, raw in zip(order.lines, raw_lines, strict=True):
        assert exact(line.unit_price, raw["unitPrice"])
        assert line.tax_total.amount == raw["amountIncludingTax"] - raw["amountExcludingTax"]
        priced = (
            raw["amountIncludingTax"] if payload["pricesIncludeTax"] else raw["amountExcludingTax"]
        )
        assert line.net.amount == priced


def test_businesscentral_local_currency_must_be_given() -> None:
    with pytest.raises(MappingError, match="local currency"):
        order_from_businesscentral(load(BC_CASES[0][0]))


# --- doctored payloads: one cent off -------------------------------------------------------------


def _shopify_doctored() -> tuple[Callable[[dict[str, Any]], Order], dict[str, Any], str, Money]:
    payload = load("shopify/orders_create_1042_eur_taxes_included.json")
    payload["total_price"] = "54.23"
    return order_from_shopify, payload, "#1042", Money("0.01", "EUR")


def _salesforce_doctored() -> tuple[Callable[[dict[str, Any]], Order], dict[str, Any], str, Money]:
    payload = load("salesforce/order_query_00000107.json")
    payload["records"][0]["OrderItems"]["records"][2]["UnitPrice"] = Decimal("63.951")
    return order_from_salesforce, payload, "00000107", Money("-0.01", "EUR")


def _netsuite_doctored() -> tuple[Callable[[dict[str, Any]], Order], dict[str, Any], str, Money]:
    payload = load("netsuite/sales_order_48213.json")
    payload["total"] = Decimal("1211.73")
    return order_from_netsuite, payload, "SO10482", Money("-0.01", "EUR")


def _businesscentral_doctored() -> tuple[
    Callable[[dict[str, Any]], Order], dict[str, Any], str, Money
]:
    payload = load("businesscentral/sales_order_S-ORD101006_eur_prices_incl_tax.json")
    payload["totalAmountIncludingTax"] = Decimal("613.5")
    return order_from_businesscentral, payload, "S-ORD101006", Money("0.01", "EUR")


@pytest.mark.parametrize(
    "doctor",
    [_shopify_doctored, _salesforce_doctored, _netsuite_doctored, _businesscentral_doctored],
    ids=["shopify", "salesforce", "netsuite", "businesscentral"],
)
def test_one_cent_off_raises_totals_mismatch_naming_order_and_difference(
    doctor: Callable[[], tuple[Callable[[dict[str, Any]], Order], dict[str, Any], str, Money]],
) -> None:
    mapper, payload, ref, difference = doctor()
    with pytest.raises(OrderTotalsMismatch) as caught:
        mapper(payload)
    assert caught.value.order_ref == ref
    assert caught.value.difference == difference
    message = str(caught.value)
    assert message.startswith(f"order {ref}: total ")
    assert f"by {difference.amount_text()}" in message


def test_shopify_mismatch_message_reads_naturally() -> None:
    mapper, payload, _, _ = _shopify_doctored()
    with pytest.raises(
        OrderTotalsMismatch,
        match=r"^order #1042: total 54\.23 EUR differs from computed 54\.22 EUR by 0\.01$",
    ):
        mapper(payload)


def test_shopify_doctored_line_tax_is_caught_too() -> None:
    payload = load("shopify/orders_create_1043_usd_taxes_added.json")
    doctored = copy.deepcopy(payload)
    doctored["line_items"][0]["tax_lines"][0]["price"] = "6.59"
    with pytest.raises(OrderTotalsMismatch, match="total tax") as caught:
        order_from_shopify(doctored)
    assert caught.value.difference == Money("-0.01", "USD")


# --- ids and floats ------------------------------------------------------------------------------


def test_integer_ids_stay_integers_and_become_exact_strings() -> None:
    payload = load("shopify/orders_create_1043_usd_taxes_added.json")
    assert isinstance(payload["id"], int)
    assert all(isinstance(item["id"], int) for item in payload["line_items"])
    order = order_from_shopify(payload)
    assert [line.line_id for line in order.lines] == [str(i["id"]) for i in payload["line_items"]]
    dumped = json.loads(order.model_dump_json())
    assert not any(isinstance(v, float) for v in walk(dumped))
    # A 64-bit id survives a decode where a float would have lost digits.
    big = decimal_json_loads(b'{"id": 9007199254740993}')["id"]
    assert big == 9007199254740993
    assert isinstance(big, int)


def test_a_payload_decoded_with_floats_is_refused() -> None:
    raw = (PAYLOADS / "salesforce/order_query_00000107.json").read_bytes()
    with pytest.raises(MappingError, match="float"):
        order_from_salesforce(json.loads(raw))


def test_fractional_quantities_are_refused() -> None:
    payload = load("netsuite/sales_order_48213.json")
    payload["item"]["items"][0]["quantity"] = Decimal("2.5")
    with pytest.raises(MappingError, match="fractional quantity"):
        order_from_netsuite(payload)


def test_canonical_order_json_round_trip() -> None:
    for name in SHOPIFY_ORDERS:
        order = order_from_shopify(load(f"shopify/{name}"))
        assert Order.model_validate_json(order.model_dump_json()) == order
        assert Order.model_validate(json.loads(order.model_dump_json())) == order
