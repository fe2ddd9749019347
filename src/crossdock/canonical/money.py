"""Money: an exact `Decimal` amount in one ISO 4217 currency, never a float.

`Money` is a frozen value object. Arithmetic is allowed only between amounts of the same
currency; mixing currencies raises `CurrencyMismatch`. Amounts keep every digit they were given
(a B2B unit price may carry more decimals than the currency's minor unit); rounding to the minor
unit happens only when asked, through `Money.quantize`, with an explicit rounding mode.

In JSON a `Money` is ``{"amount": "12.30", "currency": "EUR"}``: the amount is a string with at
least the currency's minor-unit digits, so no JSON reader can turn it into a binary float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, Final

from babel.numbers import get_currency_precision, list_currencies
from pydantic import (
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "DECIMAL_PATTERN",
    "CurrencyMismatch",
    "ExactDecimal",
    "Money",
    "MoneyError",
    "currency_exponent",
    "decimal_json_loads",
    "is_known_currency",
    "to_decimal",
]

DEFAULT_ROUNDING: Final = ROUND_HALF_EVEN
DECIMAL_PATTERN: Final = r"^-?\d+(\.\d+)?$"
_DECIMAL_RE: Final = re.compile(DECIMAL_PATTERN)
_CURRENCY_RE: Final = re.compile(r"^[A-Z]{3}$")


class MoneyError(ValueError):
    """An amount or currency that cannot be money (a float, a malformed string, an unknown code)."""


class CurrencyMismatch(MoneyError):  # noqa: N818 - reads as what happened
    """Arithmetic or comparison between amounts of two different currencies."""


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_known_currency(code: str) -> bool:
    """Tell whether `code` is an ISO 4217 currency code known to babel (e.g. ``"EUR"``)."""
    return code in _known_currencies()


def currency_exponent(code: str) -> int:
    """Return the number of minor-unit digits of a currency: 2 for EUR, 0 for JPY, 3 for BHD.

    Raises:
        MoneyError: `code` is not a known ISO 4217 code.
    """
    if not is_known_currency(code):
        raise MoneyError(f"unknown ISO 4217 currency code {code!r}")
    return int(get_currency_precision(code))


def to_decimal(value: object) -> Decimal:
    """Convert an exact number to `Decimal`, refusing binary floats.

    Accepts `Decimal`, `int` and decimal strings such as ``"12.30"`` or ``"-0.5"``.

    Raises:
        MoneyError: `value` is a float, a bool, NaN or infinite, or a malformed string.
    """
    if isinstance(value, bool):
        raise MoneyError(f"a bool is not an amount: {value!r}")
    if isinstance(value, float):
        raise MoneyError(
            f"refusing binary float {value!r}: pass a Decimal or a string "
            "(decode JSON with decimal_json_loads)"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_RE.match(text):
            raise MoneyError(f"not a decimal number: {value!r}")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
            raise MoneyError(f"not a decimal number: {value!r}") from exc
    else:
        raise MoneyError(f"not an exact number: {value!r} ({type(value).__name__})")
    if not result.is_finite():
        raise MoneyError(f"not a finite number: {value!r}")
    return result


def _exact_decimal(value: object) -> Decimal:
    return to_decimal(value)


ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]
"""A pydantic field type for exact non-money numbers (tax rates, quantities): no floats accepted."""


def decimal_json_loads(raw: bytes | str) -> Any:
    """Decode JSON keeping every non-integer number exact as `Decimal`.

    Integers stay `int` (so 64-bit ids such as Shopify's survive unchanged); numbers with a
    fraction or an exponent become `Decimal`. This is how every payload on the money path is read.
    """
    return json.loads(raw, parse_float=Decimal)


def _serialize(value: Money, info: core_schema.SerializationInfo) -> Money | dict[str, str]:
    # JSON gets the string form; Python-mode dumps keep the value object.
    return value.to_json() if info.mode_is_json() else value


def _plain(amount: Decimal) -> str:
    return format(amount, "f")


class Money:
    """An exact amount of one currency.

    Args:
        amount: a `Decimal`, an `int` or a decimal string; floats are refused.
        currency: an ISO 4217 code (upper case), e.g. ``"EUR"``.

    Raises:
        MoneyError: the amount is not exact or the currency is unknown.
    """

    __slots__ = ("amount", "currency")
    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        if not isinstance(currency, str) or not _CURRENCY_RE.match(currency):
            raise MoneyError(f"currency must be an upper-case ISO 4217 code, got {currency!r}")
        if not is_known_currency(currency):
            raise MoneyError(f"unknown ISO 4217 currency code {currency!r}")
        object.__setattr__(self, "amount", to_decimal(amount))
        object.__setattr__(self, "currency", currency)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Money is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Money is immutable; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __reduce__(self) -> tuple[type[Money], tuple[Decimal, str]]:
        return (Money, (self.amount, self.currency))

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return zero in `currency`."""
        return cls(0, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """Build from an integer count of minor units, e.g. ``from_minor(1230, "EUR")`` = 12.30."""
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise MoneyError(f"minor units must be an int, got {minor!r}")
        return cls(Decimal(minor).scaleb(-currency_exponent(currency)), currency)

    @classmethod
    def parse(cls, value: object, currency: str | None = None) -> Money:
        """Build from a `Money`, a mapping ``{"amount", "currency"}`` or an exact number.

        Args:
            value: the amount or a JSON-shaped mapping.
            currency: the currency when `value` is a bare number; when `value` carries its own
                currency and this is given too, they must agree.

        Raises:
            MoneyError: the value is a float, malformed, or its currency disagrees.
        """
        if isinstance(value, Money):
            money = value
        elif isinstance(value, Mapping):
            if set(value) != {"amount", "currency"}:
                raise MoneyError(
                    "money must be an object with exactly 'amount' and 'currency', "
                    f"got {dict(value)!r}"
                )
            money = cls(value["amount"], value["currency"])
        else:
            if currency is None:
                raise MoneyError(f"a currency is needed to read {value!r} as money")
            return cls(value, currency)  # type: ignore[arg-type]  # to_decimal checks the type
        if currency is not None and money.currency != currency:
            raise CurrencyMismatch(f"expected {currency}, got {money}")
        return money

    # --- properties ---------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Minor-unit digits of this currency (2 for EUR, 0 for JPY, 3 for KWD)."""
        return currency_exponent(self.currency)

    @property
    def is_quantized(self) -> bool:
        """Tell whether the amount has no digit below the currency's minor unit."""
        return self.amount == self.quantize().amount

    def is_zero(self) -> bool:
        """Tell whether the amount is zero."""
        return self.amount.is_zero()

    def to_minor(self) -> int:
        """Return the amount as an integer of minor units.

        Raises:
            MoneyError: the amount has digits below the minor unit (quantize it first).
        """
        if not self.is_quantized:
            raise MoneyError(f"{self} has digits below the minor unit; quantize it first")
        return int(self.amount.scaleb(self.exponent))

    # --- rounding -----------------------------------------------------------------------------

    def quantize(self, rounding: str = DEFAULT_ROUNDING) -> Money:
        """Round to the currency's minor unit.

        Args:
            rounding: a `decimal` rounding mode; banker's rounding (`ROUND_HALF_EVEN`) by default.
        """
        exp = Decimal(1).scaleb(-self.exponent)
        return Money(self.amount.quantize(exp, rounding=rounding), self.currency)

    # --- arithmetic ---------------------------------------------------------------------------

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self} with {other}: currencies differ")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __radd__(self, other: object) -> Money:
        # Lets the built-in sum() start from 0.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return self._same(other) + self

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise TypeError(f"money can be multiplied by an int or a Decimal, not {factor!r}")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    # --- text and JSON ------------------------------------------------------------------------

    def amount_text(self) -> str:
        """Return the amount as plain decimal text padded to the minor unit: ``"12.30"``."""
        exponent = self.exponent
        amount = self.amount
        if amount.as_tuple().exponent > -exponent:  # type: ignore[operator]  # finite only
            amount = amount.quantize(Decimal(1).scaleb(-exponent))  # adds zeros only: exact
        return _plain(amount)

    def to_json(self) -> dict[str, str]:
        """Return the JSON form ``{"amount": "12.30", "currency": "EUR"}``."""
        return {"amount": self.amount_text(), "currency": self.currency}

    def __str__(self) -> str:
        return f"{self.amount_text()} {self.currency}"

    def __repr__(self) -> str:
        return f"Money('{_plain(self.amount)}', '{self.currency}')"

    # --- pydantic -----------------------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: object) -> Money:
            if not isinstance(value, Money | Mapping):
                raise MoneyError(
                    'money must be {"amount": "<decimal string>", "currency": "<ISO 4217>"}, '
                    f"got {value!r}"
                )
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize, info_arg=True
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "title": "Money",
            "description": "An exact amount as a decimal string, in one ISO 4217 currency.",
            "type": "object",
            "properties": {
                "amount": {"type": "string", "pattern": DECIMAL_PATTERN},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
            "required": ["amount", "currency"],
            "additionalProperties": False,
        }
