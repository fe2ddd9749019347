"""The order totals check: unit cases, and generated orders whose totals are then checked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crossdock.canonical.charges import DiscountAllocation, TaxLine
from crossdock.canonical.money import Money
from crossdock.canonical.order import (
    Order,
    OrderLine,
    OrderTotals,
    OrderTotalsMismatch,
    ShippingLine,
    parse_order,
    totals_mismatch,
)
from crossdock.canonical.totals import compute_totals

PLACED = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def order_data(total: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": "#1042",
        "channel": "shopify:web",
        "currency": "EUR",
        "lines": [
            OrderLine(
                line_id="1",
                sku="CAF-ESP-1KG",
                title="Espresso",
                quantity=2,
                unit_price=eur("24.90"),
                discount_allocations=[DiscountAllocation(amount=eur("4.98"), code="TEN")],
                tax_lines=[TaxLine(title="VAT", rate=Decimal("0.19"), amount=eur("8.52"))],
            )
        ],
        "shipping_lines": [
            ShippingLine(
                title="DHL",
                price=eur("4.90"),
                tax_lines=[TaxLine(title="VAT", amount=eur("0.93"))],
            )
        ],
        "totals": OrderTotals(total=eur(total)),
        "status": "open",
        "placed_at": PLACED,
    }
    data.update(overrides)
    return data


def test_lines_less_discounts_plus_tax_plus_shipping() -> None:
    # 2 × 24.90 − 4.98 = 44.82; + 4.90 shipping; + 8.52 + 0.93 tax = 59.17
    order = Order.model_validate(order_data("59.17"))
    assert order.computed_totals().total == eur("59.17")


def test_taxes_included_does_not_add_tax() -> None:
    order = Order.model_validate(order_data("49.72", taxes_included=True))
    assert order.computed_totals().total == eur("49.72")


def test_mismatch_inside_model_validation_names_order_and_difference() -> None:
    with pytest.raises(
        ValidationError,
        match=r"order #1042: total 59\.18 EUR differs from computed 59\.17 EUR by 0\.01",
    ) as caught:
        Order.model_validate(order_data("59.18"))
    mismatch = totals_mismatch(caught.value)
    assert mismatch is not None
    assert mismatch.difference == eur("0.01")


def test_parse_order_raises_the_mismatch_itself() -> None:
    with pytest.raises(OrderTotalsMismatch) as caught:
        parse_order(order_data("59.16"))
    assert (caught.value.order_ref, caught.value.field) == ("#1042", "total")
    assert caught.value.difference == eur("-0.01")
    assert isinstance(caught.value, ValueError)


def test_stated_tax_is_checked_when_given() -> None:
    with pytest.raises(
        OrderTotalsMismatch, match=r"total tax 9\.46 EUR differs from computed 9\.45 EUR"
    ):
        parse_order(order_data("59.17", totals=OrderTotals(total=eur("59.17"), tax=eur("9.46"))))


def test_order_level_discount_and_tax() -> None:
    data = order_data(
        "57.17",
        order_discounts=[DiscountAllocation(amount=eur("2.50"))],
        order_tax_lines=[TaxLine(title="Eco levy", amount=eur("0.50"))],
    )
    assert parse_order(data).computed_totals().total == eur("57.17")


def test_amounts_in_another_currency_are_refused() -> None:
    data = order_data("59.17")
    data["shipping_lines"] = [ShippingLine(title="UPS", price=Money("4.90", "USD"))]
    with pytest.raises(ValidationError, match=r"shipping_lines\.0\.price is in USD"):
        Order.model_validate(data)


def test_cancelled_status_needs_a_cancellation() -> None:
    with pytest.raises(ValidationError, match="disagrees with the cancellation"):
        Order.model_validate(order_data("59.17", status="cancelled"))


def test_duplicate_line_ids_are_refused() -> None:
    line = order_data("0")["lines"][0]
    with pytest.raises(ValidationError, match="line ids are not unique"):
        Order.model_validate(order_data("118.34", lines=[line, line]))


def test_rounding_per_line_is_explicit() -> None:
    line = OrderLine(line_id="1", title="Bolts", quantity=1, unit_price=eur("0.125"))
    assert compute_totals(currency="EUR", lines=[line]).total == eur("0.12")
    assert compute_totals(currency="EUR", lines=[line], rounding=ROUND_HALF_UP).total == eur("0.13")


# --- generated orders ----------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "KWD"])


def cents(currency: str, low: int = 0, high: int = 10**7) -> st.SearchStrategy[Money]:
    return st.integers(low, high).map(lambda minor: Money.from_minor(minor, currency))


@st.composite
def generated_order(draw: st.DrawFn) -> tuple[dict[str, Any], Money]:
    currency = draw(CURRENCIES)
    lines = []
    for index in range(draw(st.integers(1, 5))):
        quantity = draw(st.integers(1, 50))
        unit_price = draw(cents(currency, 1, 10**6))
        gross = (unit_price * quantity).amount
        discount = draw(st.integers(0, int(gross.scaleb(Money.zero(currency).exponent))))
        lines.append(
            OrderLine(
                line_id=str(index),
                title=f"Line {index}",
                quantity=quantity,
                unit_price=unit_price,
                discount_allocations=(
                    [DiscountAllocation(amount=Money.from_minor(discount, currency))]
                    if discount
                    else []
                ),
                tax_lines=[TaxLine(title="VAT", amount=draw(cents(currency, 0, 10**5)))],
            )
        )
    shipping = [
        ShippingLine(
            title="Carrier",
            price=draw(cents(currency, 0, 10**4)),
            tax_lines=[TaxLine(title="VAT", amount=draw(cents(currency, 0, 10**3)))],
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    taxes_included = draw(st.booleans())
    computed = compute_totals(
        currency=currency, lines=lines, shipping_lines=shipping, taxes_included=taxes_included
    )
    data = {
        "number": "#G",
        "channel": "test",
        "currency": currency,
        "lines": lines,
        "shipping_lines": shipping,
        "taxes_included": taxes_included,
        "totals": OrderTotals(total=computed.total, tax=computed.tax),
        "status": "open",
        "placed_at": PLACED,
    }
    return data, computed.total


@settings(max_examples=150)
@given(generated_order())
def test_generated_orders_with_computed_totals_verify(case: tuple[dict[str, Any], Money]) -> None:
    data, total = case
    order = parse_order(data)
    assert order.totals.total == total
    # The JSON form validates back to the same order, totals check included.
    assert Order.model_validate_json(order.model_dump_json()) == order


@settings(max_examples=100)
@given(generated_order(), st.integers(min_value=1, max_value=500), st.booleans())
def test_generated_orders_off_by_any_minor_unit_are_refused(
    case: tuple[dict[str, Any], Money], minor_units: int, up: bool
) -> None:
    data, total = case
    delta = Money.from_minor(minor_units if up else -minor_units, total.currency)
    data["totals"] = OrderTotals(total=total + delta)
    with pytest.raises(OrderTotalsMismatch) as caught:
        parse_order(data)
    assert caught.value.difference == delta
    assert caught.value.order_ref == "#G"
