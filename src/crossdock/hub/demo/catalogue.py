"""One catalogue for every simulator, taken from the Shopify simulator's own scenario.

The storefront's traffic generator sells the SKUs of the Shopify scenario; the order flow needs
the very same SKUs in the ERP (NetSuite items with ``externalId`` = SKU and stock at its
locations; Business Central items numbered by SKU), in the CRM (Salesforce ``Product2`` with
``SKU__c`` and a ``PricebookEntry`` in the standard price book) and at the EDI 3PL. The
scenarios built here derive all of them from the Shopify scenario, so they cannot drift.

Variants without a SKU (the gift card) are not catalogue items: no other system knows them by
SKU. The CRM gets the catch-all products the Salesforce connector maps such lines to (its
default ``custom_product`` and ``gift_card_product`` ProductCodes), so custom lines and sold
gift cards reach it too.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from crossdock.connectors.salesforce import DEFAULT_CUSTOM_PRODUCT, DEFAULT_GIFT_CARD_PRODUCT
from crossdock.sandbox.kit import Scenario

__all__ = [
    "DEMO_AUTO_SHIP",
    "ERP_STOCK",
    "CatalogueItem",
    "demo_scenarios",
    "storefront_catalogue",
]

ERP_STOCK: Final = 100_000
"""Units on hand per item and location in the ERP and at the EDI 3PL (never the limit)."""

DEMO_AUTO_SHIP: Final[Mapping[str, Any]] = {
    "first_after_s": 0.3,
    "rest_after_s": 0.3,
    "split": True,
}
"""ShipStation ships each released order on its own: about half first, then the rest."""

_EDI_TIME_SCALE: Final = 0.002  # 600 s pick delay -> 1.2 s; 5 s mailbox poll -> 10 ms


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One sellable SKU.

    Attributes:
        sku: The SKU every system knows it by.
        title: Its display name.
        price: Its unit price (decimal text in the shop's currency).
    """

    sku: str
    title: str
    price: str


def storefront_catalogue(shopify: Mapping[str, Any]) -> tuple[CatalogueItem, ...]:
    """The SKU'd, non-gift-card variants of a Shopify scenario's ``data``."""
    items: dict[str, CatalogueItem] = {}
    for product in shopify.get("products", []):
        for variant in product.get("variants", []):
            sku = str(variant.get("sku") or "").strip()
            if not sku or variant.get("gift_card"):
                continue
            title = str(product.get("title", sku))
            if variant.get("title") and variant["title"] != "Default Title":
                title = f"{title} ({variant['title']})"
            items.setdefault(sku, CatalogueItem(sku, title, str(Decimal(str(variant["price"])))))
    return tuple(items.values())


def _netsuite(base: Mapping[str, Any], catalogue: tuple[CatalogueItem, ...]) -> dict[str, Any]:
    locations = [str(loc["id"]) for loc in base.get("locations", [])] or ["1"]
    data = copy.deepcopy(dict(base))
    data["items"] = [
        {
            "id": str(9100 + n),
            "itemId": item.sku,
            "externalId": item.sku,
            "displayName": item.title,
            "basePrice": item.price,
            "onHand": dict.fromkeys(locations, ERP_STOCK),
        }
        for n, item in enumerate(catalogue)
    ]
    return data


def _salesforce(base: Mapping[str, Any], catalogue: tuple[CatalogueItem, ...]) -> dict[str, Any]:
    data = copy.deepcopy(dict(base))
    data["catalog"] = [{"sku": i.sku, "name": i.title, "price": i.price} for i in catalogue]
    data["catch_all_products"] = [
        {"code": DEFAULT_CUSTOM_PRODUCT, "name": "Custom item", "price": "0.00"},
        {"code": DEFAULT_GIFT_CARD_PRODUCT, "name": "Gift card", "price": "0.00"},
    ]
    return data


def _businesscentral(
    base: Mapping[str, Any], catalogue: tuple[CatalogueItem, ...]
) -> dict[str, Any]:
    data = copy.deepcopy(dict(base))
    company = dict(data.get("company", {}))
    company["items"] = [
        {
            "number": item.sku,
            "displayName": item.title,
            "gtin": f"0571234{n:06d}",
            "unitPrice": item.price,
            "unitCost": str((Decimal(item.price) * Decimal("0.6")).quantize(Decimal("0.01"))),
            "inventory": ERP_STOCK,
        }
        for n, item in enumerate(catalogue, start=1)
    ]
    data["company"] = company
    return data


def _edi3pl(
    base: Mapping[str, Any], catalogue: tuple[CatalogueItem, ...], mailbox: Path | None
) -> dict[str, Any]:
    data = copy.deepcopy(dict(base))
    data["stock"] = {item.sku: ERP_STOCK for item in catalogue}
    data["time_scale"] = _EDI_TIME_SCALE
    if mailbox is not None:  # a drop folder the 3PL's loop and the hub's poller share
        mailbox.mkdir(parents=True, exist_ok=True)
        data["mailbox"] = str(mailbox)
    return data


def _shipstation(base: Mapping[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(dict(base))
    data["auto_ship"] = dict(DEMO_AUTO_SHIP)
    return data


def demo_scenarios(
    names: set[str] | frozenset[str] | None = None, *, edi_mailbox: Path | None = None
) -> dict[str, Scenario]:
    """The demo's scenario of each simulator in `names` (default: every one it seeds).

    `edi_mailbox` is the directory the EDI 3PL simulator serves as its mailbox (None: the
    simulator runs without one, so it never reads a 940).

    A simulator whose package cannot be imported is left out (it gets its own default, or is
    reported as not running by `start_simulators`).
    """
    try:
        shopify = importlib.import_module("crossdock.sandbox.shopify").default_scenario()
    except ImportError:
        return {}  # no storefront, no traffic: the demo reports the Shopify simulator missing
    catalogue = storefront_catalogue(shopify.data)
    scenarios: dict[str, Scenario] = {}
    builders: dict[str, Any] = {
        "netsuite": ("crossdock.sandbox.netsuite", lambda d: _netsuite(d, catalogue)),
        "salesforce": ("crossdock.sandbox.salesforce", lambda d: _salesforce(d, catalogue)),
        "businesscentral": (
            "crossdock.sandbox.businesscentral",
            lambda d: _businesscentral(d, catalogue),
        ),
        "edi3pl": ("crossdock.sandbox.edi3pl", lambda d: _edi3pl(d, catalogue, edi_mailbox)),
        "shipstation": ("crossdock.sandbox.shipstation", _shipstation),
    }
    for name, (module, build) in builders.items():
        if names is not None and name not in names:
            continue
        try:
            default = importlib.import_module(module).default_scenario()
        except (ImportError, AttributeError):
            continue
        scenarios[name] = Scenario(seed=default.seed, data=build(default.data), name=f"demo-{name}")
    return scenarios
