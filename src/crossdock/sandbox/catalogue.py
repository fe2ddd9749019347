"""Seed data for a small catalogue sold in the Shopify simulator and stocked in NetSuite's.

Tests and benchmarks that run the hub against the simulators need the same SKUs in the
storefront and in the ERP; these build the scenario data of each from one list of products, on
top of each simulator's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossdock.sandbox.netsuite._simulator import DEFAULT_DATA as NETSUITE_DATA
from crossdock.sandbox.shopify._defaults import DEFAULT_DATA as SHOPIFY_DATA

__all__ = ["CatalogueProduct", "netsuite_catalogue_data", "shopify_catalogue_data"]


@dataclass(frozen=True, slots=True)
class CatalogueProduct:
    """One product of one variant: its SKU, title, price (a decimal string) and ERP item id."""

    sku: str
    title: str
    price: str
    item_id: str


def shopify_catalogue_data(
    products: Sequence[CatalogueProduct], *, stock: int, currency: str = "USD"
) -> dict[str, Any]:
    """The Shopify simulator's data: one location (``main``), each product with `stock` there."""
    return {
        **SHOPIFY_DATA,
        "shop": {**SHOPIFY_DATA["shop"], "currency": currency},
        "locations": [{"key": "main", "name": "Main warehouse", "country_code": "US"}],
        "products": [
            {
                "title": p.title,
                "vendor": "Crossdock",
                "product_type": "Goods",
                "tags": "",
                "variants": [
                    {"sku": p.sku, "title": p.title, "price": p.price, "stock": {"main": stock}}
                ],
            }
            for p in products
        ],
        "orders": [],
    }


def netsuite_catalogue_data(
    products: Sequence[CatalogueProduct], *, on_hand: int, **overrides: Any
) -> dict[str, Any]:
    """The NetSuite simulator's data: each product an inventory item (external id = its SKU)
    with `on_hand` units at location 1; `overrides` replace top-level defaults."""
    items: list[Mapping[str, Any]] = [
        {
            "id": p.item_id,
            "itemId": p.sku,
            "externalId": p.sku,
            "displayName": p.title,
            "basePrice": p.price,
            "onHand": {"1": on_hand},
        }
        for p in products
    ]
    return {**NETSUITE_DATA, **overrides, "items": items}
