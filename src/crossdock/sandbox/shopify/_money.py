"""Shopify money on the wire: decimal strings with ``*_set`` twins (shop, presentment)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

# ISO 4217 minor units that are not 2 (the ones a shop is likely to sell in).
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2, "KWD": 3, "BHD": 3}


def exponent(currency: str) -> int:
    """Digits after the point for ``currency``."""
    return _EXPONENTS.get(currency, 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half to even (banker's rounding, as Shopify does)."""
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_EVEN)


def text(amount: Decimal, currency: str) -> str:
    """The wire form: a decimal string with the currency's digits (``"19.90"``, ``"1200"``)."""
    return str(quantize(amount, currency))


class Pricing:
    """The currencies of one order: the shop's, and the buyer's with its exchange rate."""

    def __init__(self, shop: str, presentment: str | None = None, rate: Decimal | None = None):
        self.shop = shop
        self.presentment = presentment or shop
        self.rate = rate if rate is not None and self.presentment != shop else Decimal(1)

    def text(self, amount: Decimal) -> str:
        """An amount in shop money as wire text."""
        return text(amount, self.shop)

    def money_set(self, amount: Decimal) -> dict[str, Any]:
        """The ``*_set`` twin of a shop amount."""
        return {
            "shop_money": {"amount": text(amount, self.shop), "currency_code": self.shop},
            "presentment_money": {
                "amount": text(amount * self.rate, self.presentment),
                "currency_code": self.presentment,
            },
        }
