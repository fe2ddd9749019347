"""References from one entity to another (an order's customer, a shipment's order)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from crossdock.canonical.base import CanonicalModel, HubId

__all__ = ["CustomerKind", "CustomerRef", "OrderRef"]

CustomerKind = Literal["business", "consumer"]


class CustomerRef(CanonicalModel):
    """Who an order or invoice is for.

    The hub id is set once the customer is linked; until then the contact details identify it.
    """

    id: HubId | None = None
    kind: CustomerKind | None = None
    email: str | None = None
    name: str | None = None
    account_name: str | None = None


class OrderRef(CanonicalModel):
    """A reference to an order by hub id, by its display number, or both."""

    id: HubId | None = None
    number: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if self.id is None and not self.number:
            raise ValueError("an order reference needs an id or a number")
        return self

    def __str__(self) -> str:
        return self.number or self.id or "?"
