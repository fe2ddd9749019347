"""The canonical price (``price.v1``): the price of one SKU in one price list, for a time window."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from crossdock.canonical.base import CanonicalModel, HubId, NonEmptyStr, Timestamp
from crossdock.canonical.money import Money, currency_exponent

__all__ = ["Price"]


class Price(CanonicalModel):
    """A price (``price.v1``).

    Attributes:
        price_list: the price list's code, e.g. ``"retail-eur"`` or ``"b2b-wholesale"``.
        currency: the price list's currency; `amount` and `compare_at_amount` are in it.
        min_quantity: the smallest quantity this price applies to (tier pricing).
        valid_from: start of validity, inclusive; None = always.
        valid_to: end of validity, exclusive; None = open-ended.
    """

    schema_version: Literal["price.v1"] = "price.v1"
    id: HubId | None = None
    price_list: NonEmptyStr
    sku: NonEmptyStr
    currency: NonEmptyStr
    amount: Money
    compare_at_amount: Money | None = None
    min_quantity: Annotated[int, Field(ge=1)] = 1
    valid_from: Timestamp | None = None
    valid_to: Timestamp | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        currency_exponent(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name, money in (("amount", self.amount), ("compare_at_amount", self.compare_at_amount)):
            if money is not None and money.currency != self.currency:
                raise ValueError(
                    f"{name} is in {money.currency}, the price list in {self.currency}"
                )
        if self.amount.amount < 0:
            raise ValueError("a price cannot be negative")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self
