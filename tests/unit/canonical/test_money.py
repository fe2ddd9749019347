"""Money: exactness, currency rules, rounding and the JSON form (unit and property tests)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from crossdock.canonical.money import (
    CurrencyMismatch,
    Money,
    MoneyError,
    currency_exponent,
    decimal_json_loads,
)

CURRENCIES = ["EUR", "USD", "JPY", "KWD", "GBP", "DKK", "CHF", "BHD"]


def test_minor_units_come_from_babel() -> None:
    assert (currency_exponent("EUR"), currency_exponent("JPY"), currency_exponent("KWD")) == (
        2,
        0,
        3,
    )


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError, match="XYZ"):
        Money("1.00", "XYZ")
    with pytest.raises(MoneyError, match="upper-case"):
        Money("1.00", "eur")


@pytest.mark.parametrize("bad", [0.1, 1.0, float("nan"), True])
def test_floats_and_bools_are_refused(bad: object) -> None:
    with pytest.raises(MoneyError):
        Money(bad, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["1e3", "", "12,30", "NaN", "Infinity", "1.2.3"])
def test_malformed_strings_are_refused(bad: str) -> None:
    with pytest.raises(MoneyError, match="not a decimal number"):
        Money(bad, "EUR")


def test_parse_accepts_strings_ints_decimals_and_keeps_every_digit() -> None:
    assert Money("12.30", "EUR").amount == Decimal("12.30")
    assert Money(12, "EUR").amount == Decimal(12)
    assert Money(Decimal("0.12345"), "EUR").amount == Decimal("0.12345")


def test_arithmetic_within_one_currency() -> None:
    a, b = Money("10.10", "EUR"), Money("0.20", "EUR")
    assert a + b == Money("10.30", "EUR")
    assert a - b == Money("9.90", "EUR")
    assert a * 3 == Money("30.30", "EUR")
    assert Decimal("0.5") * a == Money("5.05", "EUR")
    assert sum([a, b]) == Money("10.30", "EUR")
    assert -a == Money("-10.10", "EUR")
    assert b < a


def test_mixing_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatch, match="currencies differ"):
        Money("1", "EUR") + Money("1", "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money("1", "EUR") < Money("1", "USD")


def test_multiplying_by_a_float_raises() -> None:
    with pytest.raises(TypeError, match="int or a Decimal"):
        Money("1", "EUR") * 1.5  # type: ignore[operator]


def test_quantize_uses_explicit_rounding() -> None:
    half = Money("2.345", "EUR")
    assert half.quantize() == Money("2.34", "EUR")  # banker's rounding by default
    assert half.quantize(ROUND_HALF_UP) == Money("2.35", "EUR")
    assert Money("2.5", "JPY").quantize() == Money("2", "JPY")
    assert Money("1.2345", "KWD").quantize() == Money("1.234", "KWD")


def test_minor_unit_conversion() -> None:
    assert Money.from_minor(1230, "EUR") == Money("12.30", "EUR")
    assert Money("12.30", "EUR").to_minor() == 1230
    assert Money("500", "JPY").to_minor() == 500
    with pytest.raises(MoneyError, match="quantize"):
        Money("0.001", "EUR").to_minor()


def test_json_form_has_amount_as_string_padded_to_minor_units() -> None:
    assert Money("12.3", "EUR").to_json() == {"amount": "12.30", "currency": "EUR"}
    assert Money(Decimal("1E+2"), "EUR").to_json() == {"amount": "100.00", "currency": "EUR"}
    assert Money("0.12345", "EUR").to_json()["amount"] == "0.12345"
    assert str(Money("8150", "JPY")) == "8150 JPY"


def test_decimal_json_loads_keeps_ints_and_decimals() -> None:
    data = decimal_json_loads(b'{"id": 5812345678901234567, "rate": 0.19, "amount": 1291.1}')
    assert data == {"id": 5812345678901234567, "rate": Decimal("0.19"), "amount": Decimal("1291.1")}
    assert isinstance(data["id"], int)


class _Holder(BaseModel):
    price: Money


def test_money_as_a_pydantic_field() -> None:
    holder = _Holder.model_validate_json('{"price": {"amount": "12.30", "currency": "EUR"}}')
    assert holder.price == Money("12.30", "EUR")
    assert json.loads(holder.model_dump_json()) == {"price": {"amount": "12.30", "currency": "EUR"}}
    assert _Holder(price=Money("1", "EUR")).model_dump()["price"] == Money("1", "EUR")


@pytest.mark.parametrize(
    "raw",
    [
        '{"price": {"amount": 12.3, "currency": "EUR"}}',
        '{"price": "12.30"}',
        '{"price": 12.3}',
        '{"price": {"amount": "12.30"}}',
        '{"price": {"amount": "12.30", "currency": "EUR", "extra": 1}}',
    ],
)
def test_pydantic_field_refuses_floats_and_malformed_money(raw: str) -> None:
    with pytest.raises(ValidationError):
        _Holder.model_validate_json(raw)


# --- properties ------------------------------------------------------------------------------

amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False
)
currencies = st.sampled_from(CURRENCIES)


@given(amounts, amounts, amounts, currencies)
def test_addition_is_exact_associative_and_commutative(
    a: Decimal, b: Decimal, c: Decimal, cur: str
) -> None:
    x, y, z = Money(a, cur), Money(b, cur), Money(c, cur)
    assert x + y == y + x
    assert (x + y) + z == x + (y + z)
    assert (x + y - y) == x
    assert (x + y).amount == a + b


@given(amounts, currencies, st.sampled_from([ROUND_HALF_EVEN, ROUND_HALF_UP]))
def test_quantize_is_idempotent_and_within_half_a_minor_unit(
    a: Decimal, cur: str, rounding: str
) -> None:
    money = Money(a, cur)
    once = money.quantize(rounding)
    assert once.quantize(rounding) == once
    assert once.is_quantized
    half_unit = Decimal(1).scaleb(-currency_exponent(cur)) / 2
    assert abs(once.amount - a) <= half_unit


@given(amounts, currencies)
def test_json_round_trip_is_exact(a: Decimal, cur: str) -> None:
    money = Money(a, cur)
    text = json.dumps({"price": money.to_json()})
    back = _Holder.model_validate_json(text).price
    assert back == money
    assert Money.parse(decimal_json_loads(text)["price"]) == money


@given(st.integers(min_value=-(10**15), max_value=10**15), currencies)
def test_minor_units_round_trip(minor: int, cur: str) -> None:
    assert Money.from_minor(minor, cur).to_minor() == minor


def test_money_is_immutable_and_hashable() -> None:
    money = Money("1.50", "EUR")
    with pytest.raises(AttributeError, match="immutable"):
        money.amount = Decimal(2)  # type: ignore[misc]
    assert len({money, Money("1.5", "EUR"), Money("1.50", "USD")}) == 2
