"""The canonical product (``product.v1``) with its variants, each a SKU.

Only identifiers that mean the same everywhere are in the model: the SKU and the GTIN. Each
system's own ids (Shopify variant and inventory item ids, NetSuite internal ids, ...) live in links.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from crossdock.canonical.base import CanonicalModel, HubId, NonEmptyStr, Timestamp
from crossdock.canonical.money import ExactDecimal

__all__ = ["Gtin", "Product", "ProductOption", "Variant", "Weight", "gtin_is_valid"]


def gtin_is_valid(code: str) -> bool:
    """Tell whether `code` is a GTIN-8/12/13/14 with a correct check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    weighted = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - weighted % 10) % 10 == check


def _check_gtin(code: str) -> str:
    if not gtin_is_valid(code):
        raise ValueError(f"{code!r} is not a valid GTIN (8, 12, 13 or 14 digits with check digit)")
    return code


Gtin = Annotated[
    str, StringConstraints(pattern=r"^(\d{8}|\d{12,14})$"), AfterValidator(_check_gtin)
]
"""A GTIN (EAN/UPC) whose check digit is verified."""


class Weight(CanonicalModel):
    """A shipping weight."""

    value: ExactDecimal = Field(ge=0)
    unit: Literal["g", "kg", "lb", "oz"]


class ProductOption(CanonicalModel):
    """An option axis of a product, e.g. Size with its values."""

    name: NonEmptyStr
    values: list[str] = Field(default_factory=list)


class Variant(CanonicalModel):
    """One sellable variant: a SKU.

    Attributes:
        sku: the stock-keeping unit, unique across the catalogue.
        gtin: barcode number, check digit verified.
        option_values: values of the product's options, in the options' order.
    """

    sku: NonEmptyStr
    gtin: Gtin | None = None
    title: str | None = None
    option_values: list[str] = Field(default_factory=list)
    weight: Weight | None = None
    requires_shipping: bool = True
    taxable: bool = True
    inventory_tracked: bool = True


class Product(CanonicalModel):
    """A product and its variants (``product.v1``)."""

    schema_version: Literal["product.v1"] = "product.v1"
    id: HubId | None = None
    title: NonEmptyStr
    description: str | None = None
    status: Literal["active", "draft", "archived"] = "active"
    vendor: str | None = None
    brand: str | None = None
    product_type: str | None = None
    tags: list[str] = Field(default_factory=list)
    options: list[ProductOption] = Field(default_factory=list)
    variants: list[Variant] = Field(min_length=1)
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None

    @model_validator(mode="after")
    def _unique_skus(self) -> Self:
        skus = [v.sku for v in self.variants]
        duplicates = sorted({s for s in skus if skus.count(s) > 1})
        if duplicates:
            raise ValueError(f"product {self.title!r}: duplicate SKUs {duplicates}")
        return self
