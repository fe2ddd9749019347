"""Parts shared by orders, invoices and returns: tax lines, discount allocations, discount codes."""

from __future__ import annotations

from typing import Literal

from crossdock.canonical.base import CanonicalModel, NonEmptyStr
from crossdock.canonical.money import ExactDecimal, Money

__all__ = ["DiscountAllocation", "DiscountCode", "TaxLine"]


class TaxLine(CanonicalModel):
    """One tax charged on a line, a shipping line or a whole document.

    Attributes:
        title: the tax's name as the source shows it ("VAT", "CA State Tax").
        rate: the rate as a fraction (0.19 for 19 %), when the source gives it.
        amount: the tax amount, as computed by the source system (never recomputed here).
    """

    title: NonEmptyStr
    rate: ExactDecimal | None = None
    amount: Money


class DiscountAllocation(CanonicalModel):
    """The part of a discount that was applied to one line (or to a shipping line, or an order).

    Attributes:
        amount: the money taken off, positive.
        code: the discount code that produced it, if any.
        title: a description for automatic or manual discounts.
    """

    amount: Money
    code: str | None = None
    title: str | None = None


class DiscountCode(CanonicalModel):
    """A discount code the customer entered, with the amount it was worth on the order."""

    code: NonEmptyStr
    amount: Money
    kind: Literal["percentage", "fixed_amount", "shipping"]
